// runtime.c — what happens at every EENTER, after entry.S has switched to the
// enclave's stack: the library OS is armed, musl is started on the first entry
// only, and one request from the window is served and answered with EEXIT.
//
// musl is a static libc that expects to be started by Linux's execve: it
// reads argc, argv, envp and the auxiliary vector from the initial stack
// (System V x86-64 psABI §3.4.1, "Initial Stack and Register State") and
// sets up TLS with arch_prctl(ARCH_SET_FS) (here libos.c's __set_thread_area:
// WRFSBASE where the vCPU allows it). Here there is no execve, so the runtime builds that
// vector itself and calls __libc_start_main, whose "main" serves the first
// request and never returns; later entries serve directly. The vector is
// static, not on the stack: musl keeps pointers into it (environ, the auxv for
// getauxval, AT_RANDOM for malloc's secret), and every entry reuses the stack.
//
// The runtime may be a PIE plugin mapped copy-on-write into many hosts: its
// statics start as the plugin's pristine copy in every host, and the first
// write to them (g_started below) makes a private copy for that host.
#define _GNU_SOURCE
#include <assert.h>
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/enclave_abi.h"
#include "runtime/asm_abi.h"
#include "runtime/enclu.h"
#include "runtime/function.h"
#include "runtime/libos.h"
#include "runtime/rdrand.h"
#include "runtime/seal.h"
#include "runtime/window.h"

static_assert(offsetof(struct confide_thread_info, magic) == TI_MAGIC, "asm_abi.h");
static_assert(offsetof(struct confide_thread_info, self_offset) == TI_SELF_OFFSET, "asm_abi.h");
static_assert(offsetof(struct confide_thread_info, tcs_offset) == TI_TCS_OFFSET, "asm_abi.h");
static_assert(offsetof(struct confide_thread_info, stack_offset) == TI_STACK_OFFSET, "asm_abi.h");
static_assert(offsetof(struct confide_thread_info, stack_size) == TI_STACK_SIZE, "asm_abi.h");
static_assert(THREAD_INFO_MAGIC == CONFIDE_THREAD_INFO_MAGIC, "asm_abi.h");
static_assert(ENCLU_EEXIT == CONFIDE_ENCLU_EEXIT, "asm_abi.h");

// musl's entry to its startup (src/env/__libc_start_main.c); no header has it.
int __libc_start_main(int (*main)(int, char**, char**), int argc, char** argv, void (*init)(void),
                      void (*fini)(void), void (*ldso)(void));
// The ELF header of this executable, mapped with the first PT_LOAD (ld defines it).
extern const Elf64_Ehdr __ehdr_start;

__attribute__((noreturn)) void confide_runtime_main(uintptr_t base,
                                                    const struct confide_thread_info* info,
                                                    uint64_t cssa);

static int g_started;              // musl is initialized in this enclave
static uint64_t g_thread_pointer;  // musl's FS.base, set again at every entry

static char g_argv0[] = "enclave";
static unsigned char g_at_random[16];
// argv[0], NULL, envp: NULL, then the auxv pairs up to AT_NULL.
static size_t g_initial_stack[3 + 2 * 6];

static const struct confide_thread_info* g_info;
extern int g_confide_data_mapped;  // function.c  // this thread's, set at every entry

// Replaces *status and the output with `message` (a malloc()ed copy).
static int fail(int status, const char* message, uint8_t** out, size_t* out_len) {
  free(*out);
  *out = NULL;
  *out_len = 0;
  return confide_reply_string(out, out_len, status, message);
}

// CONFIDE_OP_CHAIN: each step's plugin is EMAPped over the function slot,
// run on the previous output, and EUNMAPped. The data stays in this
// enclave's heap from the first step to the last (PIE's in-situ chain).
// Takes ownership of `in`.
static int run_chain(const struct confide_request* req, uint8_t* in, size_t in_len, uint8_t** out,
                     size_t* out_len) {
  char message[160];
  const volatile struct confide_chain_step* steps =
      (const volatile struct confide_chain_step*)(CONFIDE_WINDOW_BASE + req->steps_offset);
  uint8_t* data = in;
  size_t len = in_len;
  int status = CONFIDE_STATUS_OK;
  for (uint64_t i = 0; i < req->step_count; i++) {
    // One read of the host's step (no double fetch).
    const struct confide_chain_step step = {.handle = steps[i].handle,
                                            .plugin_index = steps[i].plugin_index};
    if (step.plugin_index >= g_info->plugin_count) {
      snprintf(message, sizeof message, "chain step %llu names plugin %llu; the host has %llu",
               (unsigned long long)i, (unsigned long long)step.plugin_index,
               (unsigned long long)g_info->plugin_count);
      status = CONFIDE_STATUS_BAD_REQUEST;
      break;
    }
    // The expected MRENCLAVE is the measured one, never the host's word.
    uint64_t rc =
        confide_enclu(CONFIDE_ENCLU_EMAP, step.handle,
                      (uint64_t)(uintptr_t)g_info->plugin_mrenclave[step.plugin_index], 0);
    if (rc != 0) {
      snprintf(message, sizeof message, "chain step %llu: EMAP refused the plugin (error %llu)",
               (unsigned long long)i, (unsigned long long)rc);
      status = CONFIDE_STATUS_BAD_REQUEST;
      break;
    }
    uint8_t* next = NULL;
    size_t next_len = 0;
    status = confide_function(data, len, &next, &next_len);
    free(data);
    data = next;
    len = next == NULL ? 0 : next_len;
    rc = confide_enclu(CONFIDE_ENCLU_EUNMAP, step.handle, 0, 0);
    if (status != CONFIDE_STATUS_OK) break;  // data holds the message
    if (rc != 0) {
      snprintf(message, sizeof message, "chain step %llu: EUNMAP failed (error %llu)",
               (unsigned long long)i, (unsigned long long)rc);
      status = CONFIDE_STATUS_BAD_REQUEST;
      break;
    }
  }
  *out = data;
  *out_len = len;
  if (status == CONFIDE_STATUS_BAD_REQUEST) return fail(status, message, out, out_len);
  return status;
}

// Copies the request's input into the heap (opening it if sealed), runs the
// function or the chain, seals the output if asked, places the reply in the
// window. Returns the EEXIT status.
static int serve_request(void) {
  volatile struct confide_window* w = (volatile struct confide_window*)CONFIDE_WINDOW_BASE;
  // One read of each field: the checks below judge this copy only.
  struct confide_window hdr = {.magic = w->magic,
                               .capacity = w->capacity,
                               .op = w->op,
                               .input_offset = w->input_offset,
                               .input_len = w->input_len,
                               .flags = w->flags,
                               .step_count = w->step_count,
                               .steps_offset = w->steps_offset};
  for (size_t i = 0; i < sizeof hdr.key_id; i++) hdr.key_id[i] = w->key_id[i];
  if (hdr.magic == CONFIDE_WINDOW_MAGIC) {  // a window: no stale reply in it
    w->output_offset = 0;
    w->output_len = 0;
  }
  struct confide_request req;
  if (confide_window_check(&hdr, &req) != CONFIDE_STATUS_OK) return CONFIDE_STATUS_BAD_REQUEST;
  confide_libos_set_window(req.capacity);
  confide_set_data_plugin_mapped((req.flags & CONFIDE_WINDOW_DATA_PLUGIN) != 0);

  uint8_t* in = malloc(req.input_len > 0 ? req.input_len : 1);
  if (in == NULL) return CONFIDE_STATUS_NO_MEMORY;
  memcpy(in, (const void*)(CONFIDE_WINDOW_BASE + req.input_offset), req.input_len);
  size_t in_len = req.input_len;
  uint8_t* out = NULL;
  size_t out_len = 0;
  int status = CONFIDE_STATUS_OK;
  if (req.flags & CONFIDE_WINDOW_SEALED_INPUT) {
    uint8_t* plain = NULL;
    const char* why = confide_unseal(req.key_id, in, in_len, &plain, &in_len);
    free(in);
    in = plain;
    if (why != NULL) status = fail(CONFIDE_STATUS_BAD_REQUEST, why, &out, &out_len);
  }
  if (status == CONFIDE_STATUS_OK) {
    if (req.op == CONFIDE_OP_CHAIN) {
      status = run_chain(&req, in, in_len, &out, &out_len);
    } else {
      status = confide_function(in, in_len, &out, &out_len);
      free(in);
    }
  }
  if (status < CONFIDE_STATUS_OK || status > CONFIDE_STATUS_NO_MEMORY) {
    status = CONFIDE_STATUS_FUNCTION_ERROR;
  }
  if (out == NULL) out_len = 0;
  if (status == CONFIDE_STATUS_OK && (req.flags & CONFIDE_WINDOW_SEALED_OUTPUT)) {
    uint8_t* sealed = NULL;
    size_t sealed_len = 0;
    const char* why = confide_seal(req.key_id, out, out_len, &sealed, &sealed_len);
    if (why != NULL) {
      status = fail(CONFIDE_STATUS_FUNCTION_ERROR, why, &out, &out_len);
    } else {
      free(out);
      out = sealed;
      out_len = sealed_len;
    }
  }
  fflush(NULL);  // the function's stdout and stderr, while the scratch area is known

  uint64_t offset;
  if (confide_window_place_output(&req, out_len, &offset) == CONFIDE_STATUS_OK) {
    memcpy((void*)(CONFIDE_WINDOW_BASE + offset), out, out_len);
    w->output_offset = offset;
    w->output_len = out_len;
  } else {
    status = CONFIDE_STATUS_NO_MEMORY;
  }
  free(out);
  confide_libos_set_window(0);
  return status;
}

static __attribute__((noreturn)) void serve(void) { confide_exit((uint64_t)serve_request()); }

// musl's "main", on the first entry only.
static int first_main(int argc, char** argv, char** envp) {
  (void)argc, (void)argv, (void)envp;
  // musl's thread pointer points at its thread descriptor, whose first word
  // points to itself (x86-64 TLS ABI): that is the FS.base to restore.
  __asm__ volatile("mov %%fs:0, %0" : "=r"(g_thread_pointer));
  serve();
}

static __attribute__((noreturn)) void start_libc(void) {
  if (confide_has_rdrand()) {
    for (size_t i = 0; i < sizeof g_at_random; i += 8) {
      uint64_t v = 0;
      confide_rdrand64(&v);  // on failure the bytes stay zero: no better source
      memcpy(g_at_random + i, &v, 8);
    }
  }
  size_t* s = g_initial_stack;
  size_t i = 0;
  s[i++] = (size_t)g_argv0;  // argv
  s[i++] = 0;
  s[i++] = 0;  // envp
  s[i++] = AT_PHDR, s[i++] = (size_t)&__ehdr_start + __ehdr_start.e_phoff;
  s[i++] = AT_PHNUM, s[i++] = __ehdr_start.e_phnum;
  s[i++] = AT_PHENT, s[i++] = __ehdr_start.e_phentsize;
  s[i++] = AT_PAGESZ, s[i++] = 4096;
  s[i++] = AT_RANDOM, s[i++] = (size_t)g_at_random;
  s[i++] = AT_NULL, s[i++] = 0;
  __libc_start_main(first_main, 1, (char**)s, NULL, NULL, NULL);
  __builtin_trap();  // it calls exit(first_main(...)), and first_main does not return
}

void confide_runtime_main(uintptr_t base, const struct confide_thread_info* info, uint64_t cssa) {
  confide_libos_register(base, info);
  g_info = info;
  // CSSA > 0: an AEX left a context pending on this TCS and this entry would
  // be its exception handler. The runtime has none; the thread stays unusable.
  if (cssa != 0) confide_exit(CONFIDE_STATUS_BAD_REQUEST);
  if (g_started) {
    confide_libos_set_fs(g_thread_pointer);
    serve();
  }
  g_started = 1;
  // The thread-info page is measured; the check only guards against a
  // layout that would hand out memory beyond ELRANGE.
  size_t heap_size = info->heap_size;
  if (info->heap_offset > info->enclave_size ||
      heap_size > info->enclave_size - info->heap_offset) {
    heap_size = 0;
  }
  confide_libos_init((void*)(base + info->heap_offset), heap_size);
  start_libc();
}
