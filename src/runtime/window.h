// window.h — the rules for a request in the untrusted window
// (image/enclave_abi.h, struct confide_window): what a valid request is and
// where the reply goes.
//
// The window is host memory: the host may change it at any moment, also while
// the enclave reads it. So the runtime copies the header once into enclave
// memory and judges only that copy (no double fetch), and copies the input
// into the heap before the function sees it.
//
// Window map (offsets from CONFIDE_WINDOW_BASE):
//
//   0               header (struct confide_window)
//   4096            data: input at [input_offset, +input_len), set by the host;
//                   output at the next page boundary after the input
//   capacity-64 KiB log scratch: the library OS copies stdout/stderr bytes
//                   here for CONFIDE_OCALL_LOG
//   capacity
//
// Pure C, built into the enclave and into the host unit tests.
#ifndef CONFIDE_RUNTIME_WINDOW_H_
#define CONFIDE_RUNTIME_WINDOW_H_

#include <stdint.h>

#include "image/enclave_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CONFIDE_WINDOW_LOG_SCRATCH 65536ull

// A request that passed confide_window_check.
struct confide_request {
  uint64_t op;  // CONFIDE_OP_RUN or CONFIDE_OP_CHAIN
  uint64_t flags;
  uint64_t capacity;
  uint64_t input_offset;
  uint64_t input_len;
  uint64_t step_count;  // CONFIDE_OP_CHAIN: 1..CONFIDE_MAX_PLUGINS, else 0
  uint64_t steps_offset;
  uint8_t key_id[32];
};

// CONFIDE_STATUS_OK and *req filled if `hdr` (a private copy of the header)
// is a valid request: magic, op RUN or CHAIN, known flags only, capacity <=
// CONFIDE_WINDOW_MAX_SIZE and large enough for the header page and the log
// scratch area, input inside [CONFIDE_WINDOW_DATA, capacity); for CHAIN,
// 1..CONFIDE_MAX_PLUGINS steps whose table lies inside the data area (the
// steps themselves are window memory: copy each once before use). Else
// CONFIDE_STATUS_BAD_REQUEST.
int confide_window_check(const struct confide_window* hdr, struct confide_request* req);

// Where an output of `len` bytes goes: the first page boundary at or after
// the end of the input. CONFIDE_STATUS_OK and *offset, or
// CONFIDE_STATUS_NO_MEMORY if it would reach into the log scratch area.
int confide_window_place_output(const struct confide_request* req, uint64_t len, uint64_t* offset);

// Offset of the log scratch area.
static inline uint64_t confide_window_log_offset(uint64_t capacity) {
  return capacity - CONFIDE_WINDOW_LOG_SCRATCH;
}

#ifdef __cplusplus
}
#endif

#endif  // CONFIDE_RUNTIME_WINDOW_H_
