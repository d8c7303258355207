// window.c — validation of a request header and placement of the reply (see
// window.h). Every comparison is written so that no sum can wrap: the header
// is the host's and may hold any 64-bit values.
#include "runtime/window.h"

#define PAGE 4096ull

int confide_window_check(const struct confide_window* hdr, struct confide_request* req) {
  if (hdr->magic != CONFIDE_WINDOW_MAGIC ||
      (hdr->op != CONFIDE_OP_RUN && hdr->op != CONFIDE_OP_CHAIN)) {
    return CONFIDE_STATUS_BAD_REQUEST;
  }
  if ((hdr->flags & ~(CONFIDE_WINDOW_SEALED_INPUT | CONFIDE_WINDOW_SEALED_OUTPUT |
                      CONFIDE_WINDOW_DATA_PLUGIN)) != 0) {
    return CONFIDE_STATUS_BAD_REQUEST;
  }
  if (hdr->capacity > CONFIDE_WINDOW_MAX_SIZE ||
      hdr->capacity < CONFIDE_WINDOW_DATA + CONFIDE_WINDOW_LOG_SCRATCH) {
    return CONFIDE_STATUS_BAD_REQUEST;
  }
  if (hdr->input_offset < CONFIDE_WINDOW_DATA || hdr->input_offset > hdr->capacity ||
      hdr->input_len > hdr->capacity - hdr->input_offset) {
    return CONFIDE_STATUS_BAD_REQUEST;
  }
  uint64_t step_count = 0, steps_offset = 0;
  if (hdr->op == CONFIDE_OP_CHAIN) {
    const uint64_t step = sizeof(struct confide_chain_step);
    if (hdr->step_count == 0 || hdr->step_count > CONFIDE_MAX_PLUGINS ||
        hdr->steps_offset < CONFIDE_WINDOW_DATA || hdr->steps_offset > hdr->capacity ||
        hdr->step_count * step > hdr->capacity - hdr->steps_offset) {
      return CONFIDE_STATUS_BAD_REQUEST;
    }
    step_count = hdr->step_count;
    steps_offset = hdr->steps_offset;
  }
  req->op = hdr->op;
  req->flags = hdr->flags;
  req->step_count = step_count;
  req->steps_offset = steps_offset;
  for (unsigned i = 0; i < sizeof req->key_id; i++) req->key_id[i] = hdr->key_id[i];
  req->capacity = hdr->capacity;
  req->input_offset = hdr->input_offset;
  req->input_len = hdr->input_len;
  return CONFIDE_STATUS_OK;
}

int confide_window_place_output(const struct confide_request* req, uint64_t len, uint64_t* offset) {
  // Both terms are <= capacity <= 1 GiB (checked), so this cannot wrap.
  uint64_t start = (req->input_offset + req->input_len + PAGE - 1) & ~(PAGE - 1);
  uint64_t limit = confide_window_log_offset(req->capacity);
  if (start > limit || len > limit - start) return CONFIDE_STATUS_NO_MEMORY;
  *offset = start;
  return CONFIDE_STATUS_OK;
}
