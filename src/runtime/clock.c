// clock.c — the enclave's clock: one ocall per read, no reflected syscall.
//
// Why: in an enclave every syscall that the monitor does not serve itself is
// a VM exit reflected into the library OS (libos.c), and there is no vDSO.
// musl 1.2.3's __clock_gettime (src/time/clock_gettime.c) tries the vDSO
// first; with no AT_SYSINFO_EHDR in the auxv (runtime.c builds none) it
// finds none and executes `syscall`. That syscall was reflected (one exit),
// and its handler then made CONFIDE_OCALL_CLOCK (a second one): two exits of
// ~125 µs on nested KVM per clock read, and Lua reads the clock twice per
// invocation (time(NULL) for luai_makeseed and for math's seed). So this
// file defines __clock_gettime and clock_gettime, which keeps musl's
// clock_gettime.o out of the static link (the runtime's objects come before
// libc.a, and ld takes an archive member only for a symbol still undefined),
// and each read is the ocall alone: one exit.
//
// The rest of musl's clock functions need nothing here: time, clock,
// timespec_get and the timed waits call __clock_gettime, gettimeofday calls
// clock_gettime, and none of them makes a syscall of its own, so they all
// end up here. The reflected clock_gettime, gettimeofday and time syscalls
// (libos.c), for code that still makes them, read the clock through the same
// confide_clock_gettime.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "image/enclave_abi.h"
#include "runtime/libos.h"

#define NSEC_PER_SEC 1000000000ull

long confide_clock_gettime(long clock, struct timespec* ts) {
  // The host answers in nanoseconds (or -errno), as one register.
  long r = confide_monitor_call(CONFIDE_OCALL_CLOCK, clock, 0, 0);
  if (r < 0 && r >= -4095) return r;  // -errno, e.g. -EINVAL for an unknown clock
  if (ts == NULL) return -EFAULT;     // as the kernel's copy_to_user would
  uint64_t ns = (uint64_t)r;
  ts->tv_sec = (time_t)(ns / NSEC_PER_SEC);
  ts->tv_nsec = (long)(ns % NSEC_PER_SEC);
  return 0;
}

// musl's internal name, which time, clock and timespec_get call; musl
// declares it hidden (src/include/time.h), and a static link takes this
// definition for those references.
int __clock_gettime(clockid_t clock, struct timespec* ts);

int __clock_gettime(clockid_t clock, struct timespec* ts) {
  long r = confide_clock_gettime(clock, ts);
  // musl reads -ENOSYS as a kernel without clock_gettime: CLOCK_REALTIME
  // falls back to gettimeofday, any other clock fails with EINVAL. Here it
  // can only mean a host that does not serve the clock ocall, which that
  // fallback would ask again, so every clock fails with EINVAL.
  if (r == -ENOSYS) r = -EINVAL;
  if (r < 0) {  // musl's __syscall_ret
    errno = (int)-r;
    return -1;
  }
  return 0;
}

// musl's weak_alias(__clock_gettime, clock_gettime), but strong, so that a
// second definition in the link is an error rather than a silent choice.
int clock_gettime(clockid_t clock, struct timespec* ts) __attribute__((alias("__clock_gettime")));
