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

static int g_data_mapped;

void confide_set_data_plugin_mapped(int mapped) { g_data_mapped = mapped; }

const struct confide_blob_header* confide_data_plugin(void) {
  if (!g_data_mapped) return NULL;
  const struct confide_blob_header* h =
      (const struct confide_blob_header*)(uintptr_t)(CONFIDE_ENCLAVE_BASE + CONFIDE_DATA_SLOT);
  if (h->magic != CONFIDE_DATA_MAGIC || h->length > CONFIDE_DATA_SLOT_SIZE - CONFIDE_BLOB_DATA ||
      memchr(h->name, '\0', sizeof h->name) == NULL) {
    return NULL;
  }
  return h;
}
