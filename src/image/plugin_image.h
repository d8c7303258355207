// plugin_image.h — plugin images built from code and data, and the
// `.enclave` file that carries one, signed, from `confide image build` to
// `confide run`.
//
// A function or data plugin (image/enclave_abi.h) is a header page
// (struct confide_blob_header: magic, length, kind, name) and the bytes from
// CONFIDE_BLOB_DATA on, every page PT_SREG and readable only, measured whole.
// Offsets are from the plugin's base: the function slot or the data slot.
//
// A `.enclave` file:
//
//   offset 0   "CNFDENCL" (8 bytes) | version 1 (u64 LE) | SGXS length n (u64 LE)
//   24         the SGXS stream (n bytes; image/sgxs.h)
//   24 + n     the SIGSTRUCT (1808 bytes)
//
// Reading one checks that the file is exactly that long, that the stream is
// a valid SGXS and that the SIGSTRUCT signs its measurement.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "image/sgxs.h"
#include "machine/sigstruct.h"

namespace confide::image {

// A Lua function plugin from its source text. InvalidArgumentError if the
// source is empty or larger than half the function slot.
StatusOr<SgxsImage> LuaFunctionImage(const std::string& name, ByteSpan source);
// A data plugin from its bytes. InvalidArgumentError if larger than the slot.
StatusOr<SgxsImage> DataImage(const std::string& name, ByteSpan bytes);

// Checks that `image` is a function plugin confide can run: a valid header
// page naming a Lua function, pages PT_SREG and read-only, inside the slot.
Status CheckFunctionImage(const SgxsImage& image);

// True for a whole enclave (it has a TCS: `confide image build --c`), as
// opposed to a plugin (only PT_SREG pages).
bool IsWholeEnclave(const SgxsImage& image);

struct EnclaveFile {
  SgxsImage image;
  machine::Sigstruct sigstruct;
};
Bytes WriteEnclaveFile(const SgxsImage& image, const machine::Sigstruct& sigstruct);
// InvalidArgumentError naming what is wrong (magic, version, length, the
// SGXS stream, the SIGSTRUCT); PermissionDeniedError if the SIGSTRUCT does
// not sign this image (VerifyEnclaveSignature).
StatusOr<EnclaveFile> ReadEnclaveFile(ByteSpan bytes);

}  // namespace confide::image
