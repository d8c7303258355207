// libos.h — the enclave's library OS: the Linux syscalls that musl and the
// function make, served inside the enclave (the monitor reflects them to
// confide_syscall_handler, syscall_entry.S) instead of by a kernel the enclave
// does not trust.
//
// Served: brk, mmap, munmap, mremap, madvise (anonymous private memory from
// the heap: heap.h); write and writev to fds 1 and 2 (copied into the
// window's log scratch area, then CONFIDE_OCALL_LOG); clock_gettime,
// gettimeofday, time (CONFIDE_OCALL_CLOCK: the host's time, untrusted; the C
// library's own clock functions make no syscall at all: clock.c); getrandom
// (RDRAND); getpid, gettid, set_tid_address (one process, one thread: 1).
// Everything else, e.g. open or socket, fails with -ENOSYS: an enclave has no
// files or network of its own. exit and exit_group never get here: the
// monitor stops the enclave.
//
// Thread-safety: none; one thread runs in the enclave at a time.
#ifndef CONFIDE_RUNTIME_LIBOS_H_
#define CONFIDE_RUNTIME_LIBOS_H_

#include <stddef.h>
#include <stdint.h>

struct timespec;

// A syscall the monitor serves itself (CONFIDE_SYS_SET_HANDLER, ocalls):
// never reflected, so one VM exit, and safe to make from inside the handler.
static inline long confide_monitor_call(long nr, long a0, long a1, long a2) {
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a0), "S"(a1), "d"(a2)
                   : "rcx", "r11", "memory");
  return ret;
}

// clock_gettime(2) as Linux answers it, served by CONFIDE_OCALL_CLOCK: 0, or
// the host's -errno (-EINVAL for a clock it does not have), then -EFAULT for
// a NULL `ts`. The enclave's one clock read (clock.c): the C library's clock
// functions and the reflected clock_gettime, gettimeofday and time syscalls
// all use it.
long confide_clock_gettime(long clock, struct timespec* ts);

// Once, at the first entry: the heap region.
void confide_libos_init(void* heap, size_t heap_size);

// The heap that brk and mmap serve, for malloc.c to allocate from directly
// (a function call, not a syscall). Valid after confide_libos_init.
struct confide_heap;
struct confide_heap* confide_libos_heap(void);

// At every entry, before any syscall: makes sure the monitor reflects
// syscalls to confide_syscall_handler. If `info`, this thread's thread-info
// page in the enclave at `base`, names that handler (its measured
// syscall_handler_offset), the monitor knows it already and nothing is done;
// else the handler is registered (CONFIDE_SYS_SET_HANDLER: a VM exit; the
// registration lasts until EEXIT).
struct confide_thread_info;
void confide_libos_register(uintptr_t base, const struct confide_thread_info* info);

// Sets FS.base, musl's thread pointer: with WRFSBASE (no VM exit) where the
// window's CONFIDE_WINDOW_FSGSBASE says the vCPU allows it, else with
// arch_prctl(ARCH_SET_FS), which the monitor serves (one exit). EENTER
// reloads FS.base from the TCS, so the thread pointer is set again at every
// later entry. musl's own startup sets it through __set_thread_area, which
// libos.c defines the same way.
void confide_libos_set_fs(uint64_t tp);

// The validated capacity of this invocation's window (window.h), which places
// the log scratch area; 0 before validation and after the reply, when writes
// to stdout and stderr fail with -EIO.
void confide_libos_set_window(uint64_t capacity);

// The dispatcher, called by syscall_entry.S: the syscall's result or -errno.
long confide_libos_syscall(long nr, const long args[6]);

// syscall_entry.S
void confide_syscall_handler(void);

#endif  // CONFIDE_RUNTIME_LIBOS_H_
