// probe.c — a native test function for the monitor's isolation and library
// OS tests. The first input byte selects what it does:
//
//   e<bytes>  echo <bytes>                 u<bytes>  <bytes> upper-cased
//   l         loop forever (timeouts)      c         write to address 0x10 (crash)
//   r<16 hex> read 8 bytes at that address, output them as hex: pointed at
//             another enclave's or the monitor's memory, it must fault
//   o         "open=<rc> socket=<rc>": open("/etc/passwd") and socket() with
//             errno negated (-38, ENOSYS: the library OS has neither)
//   w         increment a counter in .data, output it (1 in a fresh enclave:
//             shows whether enclave state survives between invocations)
//   p         printf to stdout (the host's log), output "printed"
//   t         CLOCK_MONOTONIC twice, "clock ok" if it did not go back
//   T         the C library's clocks, "realtime=<s>.<ns> time=<s>
//             tod=<s>.<us> cpu=<ok|failed> einval=<errno> efault=<errno>":
//             clock_gettime(CLOCK_REALTIME), time(NULL), gettimeofday,
//             clock(), then the errno of clock_gettime with an unknown clock
//             and with a NULL timespec (0 if it did not fail)
//   m         malloc, memset and free 8 MiB, "malloc ok"
//   x         exit(3): the enclave stops without EEXIT
//
// Anything else is CONFIDE_STATUS_FUNCTION_ERROR "unknown probe op".
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "runtime/function.h"

static volatile int counter;

static int reply_text(uint8_t** out, size_t* out_len, const char* text) {
  return confide_reply_string(out, out_len, CONFIDE_STATUS_OK, text);
}

static int read_address(const uint8_t* hex, size_t len, uint8_t** out, size_t* out_len) {
  uint64_t addr = 0;
  if (len != 16) goto bad;
  for (size_t i = 0; i < 16; i++) {
    int c = hex[i], digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      goto bad;
    }
    addr = addr << 4 | (uint64_t)digit;
  }
  uint64_t value = *(const volatile uint64_t*)(uintptr_t)addr;
  char text[17];
  snprintf(text, sizeof text, "%016" PRIx64, value);
  return reply_text(out, out_len, text);
bad:
  return confide_reply_string(out, out_len, CONFIDE_STATUS_FUNCTION_ERROR, "r needs 16 hex digits");
}

int confide_function(const uint8_t* in, size_t in_len, uint8_t** out, size_t* out_len) {
  char text[64];
  if (in_len == 0) goto unknown;
  const uint8_t* rest = in + 1;
  size_t rest_len = in_len - 1;
  switch (in[0]) {
    case 'e':
      return confide_reply(out, out_len, CONFIDE_STATUS_OK, rest, rest_len);
    case 'u': {
      int status = confide_reply(out, out_len, CONFIDE_STATUS_OK, rest, rest_len);
      for (size_t i = 0; i < *out_len; i++) (*out)[i] = (uint8_t)toupper((*out)[i]);
      return status;
    }
    case 'l':
      for (;;) __asm__ volatile("" ::: "memory");
    case 'c': {
      volatile uintptr_t address = 0x10;  // volatile: no compiler knows it is bad
      *(volatile int*)address = 1;
    }
      return reply_text(out, out_len, "still alive after writing to 0x10");
    case 'r':
      return read_address(rest, rest_len, out, out_len);
    case 'o': {
      int fd = open("/etc/passwd", O_RDONLY);
      int open_rc = fd < 0 ? -errno : fd;
      int sock = socket(AF_INET, SOCK_STREAM, 0);
      int socket_rc = sock < 0 ? -errno : sock;
      snprintf(text, sizeof text, "open=%d socket=%d", open_rc, socket_rc);
      return reply_text(out, out_len, text);
    }
    case 'w':
      counter = counter + 1;
      snprintf(text, sizeof text, "%d", counter);
      return reply_text(out, out_len, text);
    case 'p':
      printf("hello from the enclave\n");
      fflush(stdout);
      return reply_text(out, out_len, "printed");
    case 't': {
      struct timespec a, b;
      if (clock_gettime(CLOCK_MONOTONIC, &a) != 0 || clock_gettime(CLOCK_MONOTONIC, &b) != 0) {
        snprintf(text, sizeof text, "clock_gettime failed: errno %d", errno);
        return confide_reply_string(out, out_len, CONFIDE_STATUS_FUNCTION_ERROR, text);
      }
      int ok = b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec);
      return reply_text(out, out_len, ok ? "clock ok" : "clock went back");
    }
    case 'T': {
      struct timespec rt, ignored;
      struct timeval tv;
      if (clock_gettime(CLOCK_REALTIME, &rt) != 0 || gettimeofday(&tv, NULL) != 0) {
        snprintf(text, sizeof text, "clock_gettime failed: errno %d", errno);
        return confide_reply_string(out, out_len, CONFIDE_STATUS_FUNCTION_ERROR, text);
      }
      time_t now = time(NULL);
      int cpu_ok = clock() != (clock_t)-1;
      errno = 0;
      int einval = clock_gettime((clockid_t)12345, &ignored) == -1 ? errno : 0;
      errno = 0;
      int efault = clock_gettime(CLOCK_REALTIME, NULL) == -1 ? errno : 0;
      char report[160];
      snprintf(report, sizeof report,
               "realtime=%lld.%09ld time=%lld tod=%lld.%06ld cpu=%s einval=%d efault=%d",
               (long long)rt.tv_sec, rt.tv_nsec, (long long)now, (long long)tv.tv_sec,
               (long)tv.tv_usec, cpu_ok ? "ok" : "failed", einval, efault);
      return reply_text(out, out_len, report);
    }
    case 'm': {
      size_t size = 8u << 20;
      unsigned char* p = malloc(size);
      if (p == NULL)
        return confide_reply_string(out, out_len, CONFIDE_STATUS_NO_MEMORY, "malloc failed");
      memset(p, 0xa5, size);
      __asm__ volatile("" : : "r"(p) : "memory");  // keep the memset
      free(p);
      return reply_text(out, out_len, "malloc ok");
    }
    case 'x':
      exit(3);
  }
unknown:
  return confide_reply_string(out, out_len, CONFIDE_STATUS_FUNCTION_ERROR, "unknown probe op");
}
