// function.h — the function ABI: the one symbol a function linked into the
// runtime provides (lua_runtime.c: a Lua interpreter; probe.c: native test
// code), and helpers to build its reply.
//
// Per invocation the runtime (runtime.c) validates the request in the window,
// copies the input into the enclave heap, calls confide_function once and
// copies the reply to the window. The function runs as an ordinary musl
// program: malloc, stdio (stdout/stderr go to the host's log), clocks and
// getrandom work; files and sockets do not (libos.h). Its static state
// persists across invocations in the same enclave.
#ifndef CONFIDE_RUNTIME_FUNCTION_H_
#define CONFIDE_RUNTIME_FUNCTION_H_

#include <stddef.h>
#include <stdint.h>

#include "image/enclave_abi.h"

// `in` is the input, a private copy in the enclave heap (it may be NULL when
// in_len is 0), valid during the call. On return *out is NULL or a malloc()ed
// buffer of *out_len bytes that the runtime frees: the output for
// CONFIDE_STATUS_OK, the message for CONFIDE_STATUS_FUNCTION_ERROR or
// CONFIDE_STATUS_NO_MEMORY. Returns a CONFIDE_STATUS_*.
int confide_function(const uint8_t* in, size_t in_len, uint8_t** out, size_t* out_len);

// Sets *out to a malloc()ed copy of `data` and returns `status`, or returns
// CONFIDE_STATUS_NO_MEMORY (with no output) if the copy cannot be made.
int confide_reply(uint8_t** out, size_t* out_len, int status, const void* data, size_t len);
int confide_reply_string(uint8_t** out, size_t* out_len, int status, const char* text);

// The data plugin of this request (its header; the bytes follow at
// CONFIDE_BLOB_DATA), or NULL if none is mapped or the slot does not hold
// a valid data blob. Valid during confide_function.
const struct confide_blob_header* confide_data_plugin(void);
// runtime.c, per request: whether the host says a data plugin is mapped.
void confide_set_data_plugin_mapped(int mapped);

#endif  // CONFIDE_RUNTIME_FUNCTION_H_
