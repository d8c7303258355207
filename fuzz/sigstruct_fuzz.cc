// sigstruct_fuzz — machine::Sigstruct::Parse on arbitrary bytes. For every
// input it accepts, Serialize() reproduces the input exactly, and
// VerifySigstruct answers OK or an SGX error (SGX_INVALID_SIG_STRUCT /
// SGX_INVALID_SIGNATURE), never anything else and never a crash.
//
// Parse takes exactly 1808 bytes; so that inputs of other lengths (the seed
// directory ../shared/vectors/sgx also holds a 46 KiB SGXS file) still reach
// the field checks, an input longer than 1808 bytes is also parsed by its
// first 1808 bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "machine/sigstruct.h"

namespace {

using confide::ByteSpan;
using confide::machine::kSigstructSize;

[[noreturn]] void Violation(const char* what) {
  std::fprintf(stderr, "sigstruct_fuzz: property violated: %s\n", what);
  __builtin_trap();
}

void Check(ByteSpan input) {
  auto parsed = confide::machine::Sigstruct::Parse(input);
  if (!parsed.ok()) {
    if (parsed.error().code != confide::ErrorCode::kInvalidArgument)
      Violation("Parse failed with a code other than InvalidArgument");
    if (input.size() == kSigstructSize &&
        parsed.error().message.find("reserved") == std::string::npos)
      Violation("Parse rejected a 1808-byte input for a reason other than a reserved field");
    return;
  }
  if (input.size() != kSigstructSize) Violation("Parse accepted an input that is not 1808 bytes");
  const auto out = parsed->Serialize();
  if (!std::equal(out.begin(), out.end(), input.begin(), input.end()))
    Violation("Serialize(Parse(x)) != x");
  const auto signed_bytes = parsed->SignedBytes();
  if (!std::equal(signed_bytes.begin(), signed_bytes.begin() + 128, input.begin()) ||
      !std::equal(signed_bytes.begin() + 128, signed_bytes.end(), input.begin() + 900))
    Violation("SignedBytes() is not [0,128) || [900,1028)");

  const confide::Status v = confide::machine::VerifySigstruct(*parsed);
  if (v.ok()) return;
  if (v.error().code != confide::ErrorCode::kSgxError)
    Violation("VerifySigstruct failed with something other than an SGX error");
  if (v.error().sgx != confide::SgxError::kInvalidSigStruct &&
      v.error().sgx != confide::SgxError::kInvalidSignature)
    Violation("VerifySigstruct returned an SGX error EINIT would not");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan input(data, size);
  Check(input);
  if (size > kSigstructSize) Check(input.first(kSigstructSize));
  return 0;
}
