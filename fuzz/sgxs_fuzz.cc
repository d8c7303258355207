// sgxs_fuzz — ParseSgxs on arbitrary bytes. For every stream it accepts:
//   * WriteSgxs(image) parses again, to the same image;
//   * MeasureSgxs is stable across that round trip;
//   * if the stream has no UNMEASRD records, MeasureSgxs == SHA-256(stream)
//     (sgxs.h: ParseSgxs accepts exactly the streams whose replay is bit-exact).
// A violated property traps, so libFuzzer saves the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "crypto/sha256.h"
#include "image/sgxs.h"
#include "machine/measurement.h"

namespace {

using confide::ByteSpan;
using confide::LoadLe;

[[noreturn]] void Violation(const char* what) {
  std::fprintf(stderr, "sgxs_fuzz: property violated: %s\n", what);
  __builtin_trap();
}

// True if the (already accepted) stream has an UNMEASRD record.
bool HasUnmeasured(ByteSpan s) {
  for (size_t pos = 0; pos + confide::machine::kMeasurementRecordSize <= s.size();) {
    const uint64_t tag = LoadLe<uint64_t>(s.data() + pos);
    if (tag == confide::machine::kTagUnmeasured) return true;
    pos += confide::machine::kMeasurementRecordSize;
    if (tag == confide::machine::kTagEextend) pos += confide::machine::kEextendChunkSize;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan input(data, size);
  auto parsed = confide::image::ParseSgxs(input);
  auto streamed = confide::image::MeasureSgxsStream(input);
  if (parsed.ok() != streamed.ok())
    Violation("ParseSgxs and MeasureSgxsStream disagree on validity");
  if (!parsed.ok()) {
    if (parsed.error().code != confide::ErrorCode::kInvalidArgument)
      Violation("ParseSgxs failed with a code other than InvalidArgument");
    if (streamed.error().message != parsed.error().message)
      Violation("MeasureSgxsStream rejects with a different message than ParseSgxs");
    return 0;
  }
  const confide::image::SgxsImage& image = *parsed;
  const confide::crypto::Sha256Digest measured = confide::image::MeasureSgxs(image);
  if (*streamed != measured) Violation("MeasureSgxsStream != MeasureSgxs(ParseSgxs(x))");

  const confide::Bytes written = confide::image::WriteSgxs(image);
  auto reparsed = confide::image::ParseSgxs(written);
  if (!reparsed.ok()) Violation("WriteSgxs(ParseSgxs(x)) does not parse");
  if (!(*reparsed == image)) Violation("WriteSgxs(ParseSgxs(x)) parses to a different image");
  if (confide::image::MeasureSgxs(*reparsed) != measured)
    Violation("MeasureSgxs changed across WriteSgxs/ParseSgxs");
  // The canonical form is a fixed point.
  if (confide::image::WriteSgxs(*reparsed) != written) Violation("WriteSgxs is not idempotent");

  if (!HasUnmeasured(input) && measured != confide::crypto::Sha256Of(input))
    Violation("MeasureSgxs != SHA-256 of a stream without UNMEASRD records");
  return 0;
}
