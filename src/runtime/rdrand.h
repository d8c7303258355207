// rdrand.h — random bytes from the CPU (RDRAND, SDM Vol. 2B). Inside an
// enclave this is the only source that the host cannot choose: getrandom(2),
// musl's AT_RANDOM (stack and malloc secrets) and Lua's seeds come from here.
//
// CPUID.01H:ECX.RDRAND[bit 30] says whether the instruction exists. (Real
// SGX forbids CPUID in an enclave; in confide's micro-VMs it is an ordinary
// CPL3 instruction.) RDRAND may fail transiently with CF = 0; Intel's DRNG
// guide retries ten times before giving up.
#ifndef CONFIDE_RUNTIME_RDRAND_H_
#define CONFIDE_RUNTIME_RDRAND_H_

#include <stdint.h>

static inline int confide_has_rdrand(void) {
  uint32_t eax = 1, ebx, ecx = 0, edx;
  __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  return (ecx >> 30) & 1;
}

// 1 and *out on success, 0 if ten attempts failed.
static inline int confide_rdrand64(uint64_t* out) {
  for (int i = 0; i < 10; i++) {
    uint64_t v;
    uint8_t ok;
    __asm__ volatile("rdrand %0\n\tsetc %1" : "=r"(v), "=qm"(ok) : : "cc");
    if (ok) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

#endif  // CONFIDE_RUNTIME_RDRAND_H_
