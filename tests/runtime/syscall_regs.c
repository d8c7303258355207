// syscall_regs.c — a test function: runs confide_syscall_clobbers
// (syscall_regs.S) with RSP aligned and misaligned, replies
// "<mask> <mask>" in hex; "0 0" means the contract holds.
#include <stdio.h>

#include "runtime/function.h"

uint64_t confide_syscall_clobbers(uint64_t misalign);

int confide_function(const uint8_t* in, size_t in_len, uint8_t** out, size_t* out_len) {
  (void)in, (void)in_len;
  char text[64];
  unsigned long long aligned = confide_syscall_clobbers(0);
  unsigned long long misaligned = confide_syscall_clobbers(8);
  snprintf(text, sizeof text, "%llx %llx", aligned, misaligned);
  return confide_reply_string(out, out_len, CONFIDE_STATUS_OK, text);
}
