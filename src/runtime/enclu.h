// enclu.h — ENCLU, the instruction by which enclave code asks the (modelled)
// SGX CPU for a user leaf: EEXIT, EREPORT, EGETKEY, EACCEPT, ... (SDM Vol. 3D
// §40.3, Table 40-2; leaf numbers in image/enclave_abi.h). No CPU here has
// SGX: the instruction raises #UD and the monitor executes the leaf on the
// machine model, then resumes after it (or, for EEXIT, does not).
#ifndef CONFIDE_RUNTIME_ENCLU_H_
#define CONFIDE_RUNTIME_ENCLU_H_

#include <stdint.h>

#include "image/enclave_abi.h"

// A leaf with RBX, RCX, RDX as its operands (EREPORT: TARGETINFO,
// REPORTDATA, OUTPUTDATA; EGETKEY: KEYREQUEST, OUTPUTDATA; EACCEPT: SECINFO,
// page; ...). Returns RAX: 0 or the leaf's SGX error code.
static inline uint64_t confide_enclu(uint64_t leaf, uint64_t rbx, uint64_t rcx, uint64_t rdx) {
  uint64_t rax = leaf;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd7"
                   : "+a"(rax), "+b"(rbx), "+c"(rcx), "+d"(rdx)
                   :
                   : "memory", "cc");
  return rax;
}

// EEXIT with `status` (CONFIDE_STATUS_*) in RDI; RBX, the target outside, is
// ignored by the monitor. It does not return: if the monitor ever resumed
// after it, ud2 stops the enclave instead of running on. Registers are left
// as they are: use confide_exit (entry.S), which scrubs them first.
static inline __attribute__((noreturn)) void confide_enclu_eexit(uint64_t status) {
  __asm__ volatile(".byte 0x0f, 0x01, 0xd7\n\tud2"
                   :
                   : "a"((uint64_t)CONFIDE_ENCLU_EEXIT), "b"(0ull), "D"(status)
                   : "memory");
  __builtin_unreachable();
}

// EEXIT after clearing every register the host could read but RAX (the
// leaf), RBX, RDI (the status) and RSP: SGX leaves them as they are at EEXIT
// (SDM Vol. 3D §40.3, "EEXIT"), so the enclave scrubs them, as the SGX SDK's
// exit path does. entry.S.
__attribute__((noreturn)) void confide_exit(uint64_t status);

#endif  // CONFIDE_RUNTIME_ENCLU_H_
