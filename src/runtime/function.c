// function.c — the reply helpers of the function ABI (function.h).
#include "runtime/function.h"

#include <stdlib.h>
#include <string.h>

int confide_reply(uint8_t** out, size_t* out_len, int status, const void* data, size_t len) {
  *out = NULL;
  *out_len = 0;
  if (len == 0) return status;
  uint8_t* copy = malloc(len);
  if (copy == NULL) return CONFIDE_STATUS_NO_MEMORY;
  memcpy(copy, data, len);
  *out = copy;
  *out_len = len;
  return status;
}

int confide_reply_string(uint8_t** out, size_t* out_len, int status, const char* text) {
  return confide_reply(out, out_len, status, text, strlen(text));
}
