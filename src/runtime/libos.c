// libos.c — the syscall dispatcher of the library OS (see libos.h).
//
// It runs inside a reflected syscall, possibly in the middle of musl's malloc
// or stdio, so it calls no libc function that could itself make a syscall
// or take a lock (memcpy and memset only) and keeps its state in statics.
// Results follow Linux: a value, or -errno for the caller's libc to turn
// into errno.
#define _GNU_SOURCE
#include "runtime/libos.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>

#include "image/enclave_abi.h"
#include "runtime/heap.h"
#include "runtime/rdrand.h"
#include "runtime/window.h"

static struct confide_heap g_heap;
static uint64_t g_window_capacity;
static int g_rdrand = -1;  // CPUID's answer, once asked

enum { kArchSetFs = 0x1002 };  // ARCH_SET_FS, Linux's asm/prctl.h

void confide_libos_init(void* heap, size_t heap_size) {
  confide_heap_init(&g_heap, heap, heap_size);
}

struct confide_heap* confide_libos_heap(void) {
  return &g_heap;
}

void confide_libos_register(uintptr_t base, const struct confide_thread_info* info) {
  // A thread-info page that names this handler (the layout found it in this
  // ELF) has told the monitor already, with no exit (image/enclave_abi.h).
  if (base + info->syscall_handler_offset == (uintptr_t)confide_syscall_handler) return;
  // Without the handler every syscall fails: nothing sensible can run.
  if (confide_monitor_call(CONFIDE_SYS_SET_HANDLER, (long)confide_syscall_handler, 0, 0) != 0) {
    __builtin_trap();
  }
}

void confide_libos_set_fs(uint64_t tp) {
  // WRFSBASE where the monitor says it works (CONFIDE_WINDOW_FSGSBASE: the
  // vCPU has CR4.FSGSBASE), which makes no VM exit, unlike
  // arch_prctl(ARCH_SET_FS); an FS.base anywhere gives the enclave no address
  // it could not use anyway (monitor/vcpu_setup.h). On a CPU without
  // FSGSBASE WRFSBASE raises #UD, so there the monitor serves arch_prctl.
  // "memory": no %fs access may move across either.
  const volatile struct confide_window* w =
      (const volatile struct confide_window*)CONFIDE_WINDOW_BASE;
  if (w->magic == CONFIDE_WINDOW_MAGIC && (w->flags & CONFIDE_WINDOW_FSGSBASE) != 0) {
    __asm__ volatile("wrfsbase %0" : : "r"(tp) : "memory");
    return;
  }
  if (confide_monitor_call(SYS_arch_prctl, kArchSetFs, (long)tp, 0) != 0) __builtin_trap();
}

// musl's internal name for setting the thread pointer, which __init_tp calls
// once at startup. musl 1.2.3's own (src/thread/x86_64/__set_thread_area.s)
// is arch_prctl(ARCH_SET_FS): a syscall, so one VM exit. Defined here, it
// keeps musl's __set_thread_area.o out of the static link (the runtime's
// objects come before libc.a, and ld takes an archive member only for a
// symbol still undefined; clock.c does the same), and the thread pointer is
// set with no exit where the vCPU allows WRFSBASE. musl reads 0 as success
// (and as "threads possible").
int __set_thread_area(void* tp);

int __set_thread_area(void* tp) {
  confide_libos_set_fs((uint64_t)(uintptr_t)tp);
  return 0;
}

void confide_libos_set_window(uint64_t capacity) { g_window_capacity = capacity; }

// ---- stdout and stderr: the host's log ---------------------------------------

// Hands the `*used` bytes gathered in the scratch area to the host.
static long log_flush(int fd, size_t* used) {
  if (*used == 0) return 0;
  long r = confide_monitor_call(CONFIDE_OCALL_LOG, fd,
                                (long)confide_window_log_offset(g_window_capacity), (long)*used);
  *used = 0;
  return r < 0 ? r : 0;
}

// writev(2) to fd 1 or 2, gathering the pieces in the scratch area so that a
// stdio flush (musl writes the buffer and the new bytes as two iovecs) is one
// ocall per 64 KiB.
static long log_writev(int fd, const struct iovec* iov, long iovcnt) {
  if (fd != 1 && fd != 2) return -EBADF;
  if (iovcnt < 0 || iovcnt > IOV_MAX) return -EINVAL;
  size_t total = 0;
  for (long i = 0; i < iovcnt; i++) {
    if (iov[i].iov_len > (size_t)SSIZE_MAX - total) return -EINVAL;
    total += iov[i].iov_len;
  }
  if (total == 0) return 0;
  if (g_window_capacity == 0) return -EIO;
  char* scratch = (char*)(CONFIDE_WINDOW_BASE + confide_window_log_offset(g_window_capacity));
  size_t used = 0, done = 0;
  for (long i = 0; i < iovcnt; i++) {
    const char* p = iov[i].iov_base;
    size_t left = iov[i].iov_len;
    while (left > 0) {
      size_t n =
          left < CONFIDE_WINDOW_LOG_SCRATCH - used ? left : CONFIDE_WINDOW_LOG_SCRATCH - used;
      memcpy(scratch + used, p, n);
      used += n, p += n, left -= n;
      if (used == CONFIDE_WINDOW_LOG_SCRATCH) {
        long r = log_flush(fd, &used);
        if (r < 0) return done > 0 ? (long)done : r;
        done += CONFIDE_WINDOW_LOG_SCRATCH;
      }
    }
  }
  long r = log_flush(fd, &used);
  if (r < 0) return done > 0 ? (long)done : r;
  return (long)total;
}

// ---- time: the host's clocks (untrusted, like a kernel's) ---------------------

// For code that still makes these syscalls (musl's own clock functions do
// not: clock.c); the clock is read by confide_clock_gettime either way.

static long sys_gettimeofday(struct timeval* tv, struct timezone* tz) {
  struct timespec ts;
  long r = confide_clock_gettime(CLOCK_REALTIME, &ts);
  if (r < 0) return r;
  if (tv != NULL) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = (suseconds_t)(ts.tv_nsec / 1000);
  }
  if (tz != NULL) memset(tz, 0, sizeof *tz);  // UTC
  return 0;
}

static long sys_time(time_t* t) {
  struct timespec ts;
  long r = confide_clock_gettime(CLOCK_REALTIME, &ts);
  if (r < 0) return r;
  if (t != NULL) *t = ts.tv_sec;
  return (long)ts.tv_sec;
}

// ---- randomness ---------------------------------------------------------------

static long sys_getrandom(unsigned char* buf, size_t len) {
  if (g_rdrand < 0) g_rdrand = confide_has_rdrand();
  if (!g_rdrand) return -ENOSYS;
  if (len > SSIZE_MAX) len = SSIZE_MAX;
  size_t done = 0;
  while (done < len) {
    uint64_t v;
    if (!confide_rdrand64(&v)) return done > 0 ? (long)done : -EAGAIN;
    size_t n = len - done < sizeof v ? len - done : sizeof v;
    memcpy(buf + done, &v, n);
    done += n;
  }
  return (long)done;
}

// ---- the dispatcher -----------------------------------------------------------

long confide_libos_syscall(long nr, const long a[6]) {
  switch (nr) {
    case SYS_write: {
      struct iovec v = {(void*)a[1], (size_t)a[2]};
      return log_writev((int)a[0], &v, 1);
    }
    case SYS_writev:
      return log_writev((int)a[0], (const struct iovec*)a[1], a[2]);
    case SYS_brk:
      return (long)confide_heap_brk(&g_heap, (uintptr_t)a[0]);
    case SYS_mmap:
      return confide_heap_mmap(&g_heap, (uintptr_t)a[0], (size_t)a[1], (int)a[2], (int)a[3],
                               (int)a[4], a[5]);
    case SYS_munmap:
      return confide_heap_munmap(&g_heap, (uintptr_t)a[0], (size_t)a[1]);
    case SYS_mremap:
      return confide_heap_mremap(&g_heap, (uintptr_t)a[0], (size_t)a[1], (size_t)a[2], (int)a[3],
                                 (uintptr_t)a[4]);
    case SYS_madvise:
      return confide_heap_madvise(&g_heap, (uintptr_t)a[0], (size_t)a[1], (int)a[2]);
    case SYS_clock_gettime:
      return confide_clock_gettime(a[0], (struct timespec*)a[1]);
    case SYS_gettimeofday:
      return sys_gettimeofday((struct timeval*)a[0], (struct timezone*)a[1]);
    case SYS_time:
      return sys_time((time_t*)a[0]);
    case SYS_getrandom:
      return sys_getrandom((unsigned char*)a[0], (size_t)a[1]);
    case SYS_getpid:
    case SYS_gettid:
    case SYS_set_tid_address:  // musl's startup: the result is the thread id
      return 1;
    default:
      return -ENOSYS;
  }
}
