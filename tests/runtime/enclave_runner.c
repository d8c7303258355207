// enclave_runner.c — runs an enclave runtime ELF (src/runtime) in an ordinary
// Linux process, with ptrace standing in for the monitor, so the runtime is
// tested end to end while the KVM monitor does not exist yet or without
// /dev/kvm. Test tool, not a sandbox: the traced process can read all of the
// tracer's copy of memory that is mapped (only ELRANGE is reserved).
//
// It lays out one enclave the way image/enclave_abi.h says (runtime ELF at
// CONFIDE_ENCLAVE_BASE, optional Lua function in the function slot, heap,
// TCS, thread-info page and stack in the private part, the window at
// CONFIDE_WINDOW_BASE, shared with this process), forks, and plays the
// monitor's part for each input, in the same enclave (warm reuse):
//
//   * EENTER: RIP = e_entry, RBX = TCS, RAX = CSSA = 0, FS.base = BASEADDR,
//     GS.base = the thread-info page, RSP = 0 (not the enclave's);
//   * syscalls (PTRACE_SYSEMU: the kernel executes none of them): exit and
//     exit_group stop, ocalls are served here, arch_prctl(ARCH_SET_FS) sets
//     FS.base, CONFIDE_SYS_SET_HANDLER registers the handler, everything else
//     is reflected to it exactly as the ABI says (RSP - 136, return address,
//     RCX, R11, `ret $128`), or fails with -ENOSYS before a handler is set;
//   * ENCLU raises SIGILL or SIGSEGV here (#UD or #GP on a CPU without SGX):
//     EEXIT ends the invocation with RDI as the status;
//   * any other signal is a crash, and a timer ends runaway enclaves.
//   * the window's CONFIDE_WINDOW_FSGSBASE is set where the kernel lets user
//     space use WRFSBASE (AT_HWCAP2), as the monitor sets it where the vCPU does.
//
// Output, one line per event, C-escaped:
//   log<fd>: <bytes>        an OCALL_LOG
//   result: status=<n> output=<bytes>
//   exit: <status> | crash: <signal> addr=<hex> rip=<hex> | timeout
//
// Usage: enclave_runner [--lua FILE] [--lua-bytecode FILE] [--heap BYTES]
//          [--stack BYTES] [--window BYTES] [--timeout SECONDS]
//          [--fsgsbase auto|on|off] [--served yes|no]
//          [--header FIELD=VALUE]... ELF INPUT...
// --fsgsbase: whether the window's CONFIDE_WINDOW_FSGSBASE is set (auto:
// where the kernel lets user space use WRFSBASE). --served yes: a last line
// "served: arch_prctl=N", the ARCH_SET_FS calls the runner served.
// An INPUT "@path" is the contents of that file. --header overrides a
// window header field (magic, capacity, op, input_offset, input_len) for
// every invocation, to test request validation.
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <lua.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image/enclave_abi.h"

#define PAGE 4096ull
#define ARCH_SET_FS 0x1002
#define SYS_ARCH_PRCTL 158
#define kHwcap2Fsgsbase (1ul << 1) /* HWCAP2_FSGSBASE, Linux's asm/hwcap2.h */

// What the window says of WRFSBASE (--fsgsbase), and how often the runner
// served arch_prctl(ARCH_SET_FS) (--served prints it).
static int g_fsgsbase = -1;  // -1: as the kernel allows (AT_HWCAP2); 0: off; 1: on
static unsigned long g_arch_prctl_served;

static void die(const char* what) {
  fprintf(stderr, "enclave_runner: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void fail(const char* what) {
  fprintf(stderr, "enclave_runner: %s\n", what);
  exit(2);
}

// Exit status 3: this system does not let us trace (seccomp, Yama, gVisor):
// tests skip instead of failing.
static void no_ptrace(const char* what) {
  fprintf(stderr, "enclave_runner: ptrace unavailable: %s: %s\n", what, strerror(errno));
  exit(3);
}

static uint64_t round_up(uint64_t v) { return (v + PAGE - 1) & ~(PAGE - 1); }

static unsigned char* read_file(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) die(path);
  size_t cap = 1 << 16, n = 0;
  unsigned char* buf = malloc(cap);
  for (;;) {
    if (n == cap) buf = realloc(buf, cap *= 2);
    size_t got = fread(buf + n, 1, cap - n, f);
    if (got == 0) break;
    n += got;
  }
  fclose(f);
  *len = n;
  return buf;
}

static void print_escaped(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = p[i];
    if (c == '\\') {
      fputs("\\\\", stdout);
    } else if (c == '\n') {
      fputs("\\n", stdout);
    } else if (c >= 0x20 && c < 0x7f) {
      putchar(c);
    } else {
      printf("\\x%02x", c);
    }
  }
}

// ---- enclave layout -------------------------------------------------------------

struct enclave {
  uint64_t entry;
  uint64_t tcs;
  uint64_t thread_info;
  uint64_t window_size;
};

static void protect(uint64_t addr, uint64_t len, int prot) {
  if (mprotect((void*)addr, len, prot) != 0) die("mprotect");
}

static void load_elf(const char* path, struct enclave* e) {
  size_t len;
  unsigned char* elf = read_file(path, &len);
  Elf64_Ehdr eh;
  if (len < sizeof eh) fail("ELF too short");
  memcpy(&eh, elf, sizeof eh);
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_type != ET_EXEC) fail("not an ET_EXEC ELF");
  e->entry = eh.e_entry;
  // Per page protection: the union of the PT_LOADs that touch the page.
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < eh.e_phnum; i++) {
      Elf64_Phdr ph;
      memcpy(&ph, elf + eh.e_phoff + (size_t)i * eh.e_phentsize, sizeof ph);
      if (ph.p_type != PT_LOAD) continue;
      uint64_t start = ph.p_vaddr & ~(PAGE - 1), end = round_up(ph.p_vaddr + ph.p_memsz);
      if (start < CONFIDE_ENCLAVE_BASE || end > CONFIDE_ENCLAVE_BASE + CONFIDE_RUNTIME_SLOT_SIZE) {
        fail("PT_LOAD outside the runtime slot");
      }
      if (pass == 0) {
        protect(start, end - start, PROT_READ | PROT_WRITE);
        memcpy((void*)ph.p_vaddr, elf + ph.p_offset, ph.p_filesz);
        if (start < lo) lo = start;
        if (end > hi) hi = end;
      } else {
        int prot = ((ph.p_flags & PF_R) ? PROT_READ : 0) | ((ph.p_flags & PF_W) ? PROT_WRITE : 0) |
                   ((ph.p_flags & PF_X) ? PROT_EXEC : 0);
        protect(start, end - start, prot);
      }
    }
  }
  free(elf);
}

struct dump {
  unsigned char* bytes;
  size_t len;
};

static int dump_writer(lua_State* L, const void* p, size_t n, void* ud) {
  (void)L;
  struct dump* d = ud;
  d->bytes = realloc(d->bytes, d->len + n);
  memcpy(d->bytes + d->len, p, n);
  d->len += n;
  return 0;
}

static void put_lua(const char* path, int bytecode) {
  size_t len;
  unsigned char* code = read_file(path, &len);
  const char* name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  if (bytecode) {  // compile with the host's Lua 5.4: the same version and format
    lua_State* L = luaL_newstate();
    if (luaL_loadbufferx(L, (const char*)code, len, name, "t") != LUA_OK) {
      fail(lua_tostring(L, -1));
    }
    struct dump d = {NULL, 0};
    lua_dump(L, dump_writer, &d, 0);
    lua_close(L);
    free(code);
    code = d.bytes;
    len = d.len;
  }
  uint64_t slot = CONFIDE_ENCLAVE_BASE + CONFIDE_FUNCTION_SLOT;
  uint64_t size = CONFIDE_BLOB_DATA + round_up(len);
  protect(slot, size, PROT_READ | PROT_WRITE);
  struct confide_blob_header* h = (struct confide_blob_header*)slot;
  h->magic = CONFIDE_FUNCTION_MAGIC;
  h->length = len;
  h->kind = bytecode ? CONFIDE_FUNCTION_LUA_BYTECODE : CONFIDE_FUNCTION_LUA_SOURCE;
  snprintf(h->name, sizeof h->name, "%s", name);
  memcpy((void*)(slot + CONFIDE_BLOB_DATA), code, len);
  protect(slot, size, PROT_READ);
  free(code);
}

// Heap, then TCS, thread-info page and stack, in the private part.
static void layout_private(struct enclave* e, uint64_t heap_size, uint64_t stack_size) {
  uint64_t base = CONFIDE_ENCLAVE_BASE;
  uint64_t heap_offset = CONFIDE_PRIVATE_OFFSET;
  uint64_t tcs_offset = heap_offset + heap_size;
  uint64_t info_offset = tcs_offset + PAGE;
  uint64_t stack_offset = info_offset + PAGE;
  if (stack_offset + stack_size > CONFIDE_ENCLAVE_SIZE) fail("heap and stack exceed ELRANGE");
  protect(base + heap_offset, stack_offset + stack_size - heap_offset, PROT_READ | PROT_WRITE);
  // The heap starts out dirty: the runtime must not rely on zero pages.
  memset((void*)(base + heap_offset), 0x5a, heap_size);
  struct confide_thread_info* info = (struct confide_thread_info*)(base + info_offset);
  *info = (struct confide_thread_info){.magic = CONFIDE_THREAD_INFO_MAGIC,
                                       .self_offset = info_offset,
                                       .tcs_offset = tcs_offset,
                                       .stack_offset = stack_offset,
                                       .stack_size = stack_size,
                                       .heap_offset = heap_offset,
                                       .heap_size = heap_size,
                                       .thread_index = 0,
                                       .thread_count = 1,
                                       .enclave_size = CONFIDE_ENCLAVE_SIZE};
  protect(base + info_offset, PAGE, PROT_READ);
  e->tcs = base + tcs_offset;
  e->thread_info = base + info_offset;
}

// ---- the monitor's part -----------------------------------------------------------

static volatile sig_atomic_t g_timed_out;
static pid_t g_child;

static void on_alarm(int sig) {
  (void)sig;
  g_timed_out = 1;
  kill(g_child, SIGKILL);
}

static int in_elrange(uint64_t addr) {
  return addr >= CONFIDE_ENCLAVE_BASE && addr - CONFIDE_ENCLAVE_BASE < CONFIDE_ENCLAVE_SIZE;
}

static void get_regs(struct user_regs_struct* r) {
  if (ptrace(PTRACE_GETREGS, g_child, NULL, r) != 0) die("PTRACE_GETREGS");
}

static void set_regs(const struct user_regs_struct* r) {
  if (ptrace(PTRACE_SETREGS, g_child, NULL, r) != 0) die("PTRACE_SETREGS");
}

// One invocation, from EENTER to EEXIT. Returns 0 if the enclave can take
// another one, 1 if it is gone (exit, crash, timeout).
static int run_once(const struct enclave* e) {
  struct user_regs_struct r;
  get_regs(&r);
  r.rip = e->entry;
  r.rbx = e->tcs;
  r.rax = 0;                         // CSSA
  r.rcx = 0;                         // AEP: unused
  r.rsp = 0;                         // not the enclave's
  r.fs_base = CONFIDE_ENCLAVE_BASE;  // BASEADDR + TCS.OFSBASE (0)
  r.gs_base = e->thread_info;
  r.eflags = 0x202;
  set_regs(&r);
  uint64_t handler = 0;
  int sig = 0;
  for (;;) {
    if (ptrace(PTRACE_SYSEMU, g_child, NULL, (void*)(long)sig) != 0) no_ptrace("PTRACE_SYSEMU");
    sig = 0;
    int st;
    if (waitpid(g_child, &st, 0) < 0) die("waitpid");
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
      if (g_timed_out) {
        printf("timeout\n");
      } else {
        printf("crash: process ended (status %#x)\n", st);
      }
      return 1;
    }
    int stop = WSTOPSIG(st);
    get_regs(&r);
    if (stop == (SIGTRAP | 0x80)) {  // a syscall
      uint64_t nr = r.orig_rax;
      if (nr == 60 || nr == 231) {
        printf("exit: %" PRIu64 "\n", (uint64_t)r.rdi);
        return 1;
      } else if (nr == CONFIDE_SYS_SET_HANDLER) {
        handler = r.rdi;
        r.rax = in_elrange(handler) ? 0 : (uint64_t)-EINVAL;
      } else if (nr == SYS_ARCH_PRCTL && r.rdi == ARCH_SET_FS) {
        g_arch_prctl_served++;
        if (in_elrange(r.rsi)) {
          r.fs_base = r.rsi;
          r.rax = 0;
        } else {
          r.rax = (uint64_t)-EPERM;
        }
      } else if (nr == CONFIDE_OCALL_LOG) {
        uint64_t off = r.rsi, len = r.rdx;
        if (off > e->window_size || len > e->window_size - off) {
          r.rax = (uint64_t)-EFAULT;
        } else {
          printf("log%d: ", (int)r.rdi);
          print_escaped((const unsigned char*)(CONFIDE_WINDOW_BASE + off), len);
          printf("\n");
          r.rax = len;
        }
      } else if (nr == CONFIDE_OCALL_CLOCK) {
        struct timespec ts;
        if (clock_gettime((clockid_t)r.rdi, &ts) != 0) {
          r.rax = (uint64_t)-errno;
        } else {
          r.rax = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        }
      } else if (nr >= 0x1000 && nr <= 0x1fff) {
        r.rax = (uint64_t)-ENOSYS;  // an ocall this runner does not know
      } else if (handler != 0) {    // reflect
        uint64_t sp = r.rsp - 128 - 8;
        if (ptrace(PTRACE_POKEDATA, g_child, (void*)sp, (void*)r.rip) != 0) die("POKEDATA");
        r.rcx = r.rip;
        r.r11 = r.eflags;
        r.rsp = sp;
        r.rip = handler;
        r.rax = nr;
      } else {
        r.rax = (uint64_t)-ENOSYS;
      }
      set_regs(&r);
      continue;
    }
    // ENCLU without SGX: #UD per the ABI, but this CPU may raise #GP(0)
    // (SIGSEGV, SI_KERNEL) instead, as the x86 VMs confide develops on do.
    if (stop == SIGILL || stop == SIGSEGV) {
      errno = 0;
      long word = ptrace(PTRACE_PEEKTEXT, g_child, (void*)r.rip, NULL);
      if (errno == 0 && (word & 0xffffff) == 0xd7010f) {  // ENCLU
        if (r.rax == CONFIDE_ENCLU_EEXIT) {
          volatile struct confide_window* w = (volatile struct confide_window*)CONFIDE_WINDOW_BASE;
          uint64_t off = w->output_offset, len = w->output_len;
          printf("result: status=%" PRIu64 " output=", (uint64_t)r.rdi);
          if (off <= e->window_size && len <= e->window_size - off) {
            print_escaped((const unsigned char*)(CONFIDE_WINDOW_BASE + off), len);
          } else {
            printf("<out of the window: offset %#" PRIx64 " len %#" PRIx64 ">", off, len);
          }
          printf("\n");
          return 0;
        }
        printf("crash: ENCLU leaf %#" PRIx64 " not served by this runner\n", (uint64_t)r.rax);
        return 1;
      }
    }
    if (stop == SIGSTOP) continue;  // a stray stop: ignore it
    siginfo_t si;
    memset(&si, 0, sizeof si);
    ptrace(PTRACE_GETSIGINFO, g_child, NULL, &si);
    printf("crash: %s addr=%#" PRIx64 " rip=%#" PRIx64 "\n", strsignal(stop),
           (uint64_t)(uintptr_t)si.si_addr, (uint64_t)r.rip);
    return 1;
  }
}

struct header_override {
  int set[5];
  uint64_t value[5];
};

static const char* const kHeaderFields[5] = {"magic", "capacity", "op", "input_offset",
                                             "input_len"};

static void write_request(const struct enclave* e, const unsigned char* in, size_t len,
                          const struct header_override* o) {
  volatile struct confide_window* w = (volatile struct confide_window*)CONFIDE_WINDOW_BASE;
  if (CONFIDE_WINDOW_DATA + len > e->window_size) fail("input larger than the window");
  memcpy((void*)(CONFIDE_WINDOW_BASE + CONFIDE_WINDOW_DATA), in, len);
  uint64_t v[5] = {CONFIDE_WINDOW_MAGIC, e->window_size, CONFIDE_OP_RUN, CONFIDE_WINDOW_DATA, len};
  for (int i = 0; i < 5; i++) {
    if (o->set[i]) v[i] = o->value[i];
  }
  w->magic = v[0];
  w->capacity = v[1];
  w->op = v[2];
  w->input_offset = v[3];
  w->input_len = v[4];
  w->output_offset = 0xdeadbeef;  // the runtime clears it
  w->output_len = 0xdeadbeef;
  // The monitor's word on WRFSBASE (image/enclave_abi.h): here the kernel's,
  // which enables FSGSBASE for user space only where the CPU has it.
  int fsgsbase = g_fsgsbase >= 0 ? g_fsgsbase : (getauxval(AT_HWCAP2) & kHwcap2Fsgsbase) != 0;
  w->flags = fsgsbase ? CONFIDE_WINDOW_FSGSBASE : 0;
}

int main(int argc, char** argv) {
  const char* lua = NULL;
  int bytecode = 0;
  uint64_t heap_size = 64ull << 20, stack_size = 1ull << 20, window_size = 1ull << 20;
  unsigned timeout = 10;
  int served = 0;
  struct header_override over = {{0}, {0}};
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    const char* opt = argv[i];
    if (i + 1 >= argc) fail("option without a value");
    const char* val = argv[++i];
    if (strcmp(opt, "--lua") == 0) {
      lua = val;
    } else if (strcmp(opt, "--lua-bytecode") == 0) {
      lua = val, bytecode = 1;
    } else if (strcmp(opt, "--heap") == 0) {
      heap_size = round_up(strtoull(val, NULL, 0));
    } else if (strcmp(opt, "--stack") == 0) {
      stack_size = round_up(strtoull(val, NULL, 0));
    } else if (strcmp(opt, "--window") == 0) {
      window_size = round_up(strtoull(val, NULL, 0));
    } else if (strcmp(opt, "--fsgsbase") == 0) {
      if (strcmp(val, "on") == 0) {
        g_fsgsbase = 1;
      } else if (strcmp(val, "off") == 0) {
        g_fsgsbase = 0;
      } else if (strcmp(val, "auto") != 0) {
        fail("--fsgsbase takes on, off or auto");
      }
    } else if (strcmp(opt, "--served") == 0) {
      served = strcmp(val, "yes") == 0;
    } else if (strcmp(opt, "--timeout") == 0) {
      timeout = (unsigned)strtoul(val, NULL, 0);
    } else if (strcmp(opt, "--header") == 0) {
      const char* eq = strchr(val, '=');
      int found = 0;
      for (int f = 0; eq != NULL && f < 5; f++) {
        if (strlen(kHeaderFields[f]) == (size_t)(eq - val) &&
            strncmp(val, kHeaderFields[f], (size_t)(eq - val)) == 0) {
          over.set[f] = 1;
          over.value[f] = strtoull(eq + 1, NULL, 0);
          found = 1;
        }
      }
      if (!found) fail("--header FIELD=VALUE: unknown field");
    } else {
      fail("unknown option");
    }
  }
  if (i >= argc) fail("usage: enclave_runner [options] ELF INPUT...");
  const char* elf = argv[i++];

  struct enclave e = {.window_size = window_size};
  void* elrange = mmap((void*)CONFIDE_ENCLAVE_BASE, CONFIDE_ENCLAVE_SIZE, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (elrange != (void*)CONFIDE_ENCLAVE_BASE) die("reserving ELRANGE");
  void* window = mmap((void*)CONFIDE_WINDOW_BASE, window_size, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (window != (void*)CONFIDE_WINDOW_BASE) die("mapping the window");
  load_elf(elf, &e);
  if (lua != NULL) put_lua(lua, bytecode);
  layout_private(&e, heap_size, stack_size);
  fflush(stdout);

  g_child = fork();
  if (g_child < 0) die("fork");
  if (g_child == 0) {
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) _exit(98);
    raise(SIGSTOP);
    _exit(99);  // not reached: the tracer moves this process into the enclave
  }
  int st;
  if (waitpid(g_child, &st, 0) < 0) die("waitpid");
  if (WIFEXITED(st) && WEXITSTATUS(st) == 98) no_ptrace("PTRACE_TRACEME");
  if (!WIFSTOPPED(st)) fail("the child did not stop");
  if (ptrace(PTRACE_SETOPTIONS, g_child, NULL,
             (void*)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)) != 0) {
    no_ptrace("PTRACE_SETOPTIONS");
  }
  signal(SIGALRM, on_alarm);
  alarm(timeout);
  int gone = 0;
  for (; i < argc && !gone; i++) {
    size_t len = strlen(argv[i]);
    unsigned char* in = (unsigned char*)argv[i];
    unsigned char* owned = NULL;
    if (argv[i][0] == '@') in = owned = read_file(argv[i] + 1, &len);
    write_request(&e, in, len, &over);
    free(owned);
    gone = run_once(&e);
    fflush(stdout);
  }
  kill(g_child, SIGKILL);
  waitpid(g_child, &st, 0);
  if (served) printf("served: arch_prctl=%lu\n", g_arch_prctl_served);
  return 0;
}
