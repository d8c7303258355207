// sgxs_builder.h — builds SGXS streams record by record for tests, valid or
// deliberately malformed.
//
// Thread-safety: a builder is used by one thread.
#pragma once

#include <cstdint>

#include "base/bytes.h"
#include "machine/measurement.h"
#include "machine/secs.h"

namespace confide::image::testing {

inline constexpr uint64_t kRegRw = (uint64_t{2} << 8) | 0x3;  // PT_REG, R|W
inline constexpr uint64_t kRegRx = (uint64_t{2} << 8) | 0x5;  // PT_REG, R|X

class SgxsBuilder {
 public:
  // The offset the next record will have.
  size_t pos() const { return bytes_.size(); }
  const Bytes& bytes() const { return bytes_; }

  SgxsBuilder& Ecreate(uint32_t ssa_frame_size = 1, uint64_t size = 0x10000) {
    return Append(machine::EcreateRecord(ssa_frame_size, size));
  }
  SgxsBuilder& Eadd(uint64_t offset, uint64_t secinfo_flags = kRegRw) {
    return Append(machine::EaddRecord(offset, machine::SecInfo{secinfo_flags}));
  }
  SgxsBuilder& Eextend(uint64_t offset, uint8_t fill = 0xab) {
    Append(machine::EextendRecord(offset));
    bytes_.insert(bytes_.end(), machine::kEextendChunkSize, fill);
    return *this;
  }
  SgxsBuilder& Unmeasured(uint64_t offset, uint8_t fill = 0xcd) {
    machine::MeasurementRecord r = machine::EextendRecord(offset);
    StoreLe<uint64_t>(r.data(), machine::kTagUnmeasured);
    Append(r);
    bytes_.insert(bytes_.end(), machine::kEextendChunkSize, fill);
    return *this;
  }
  // EADD and all 16 chunks.
  SgxsBuilder& Page(uint64_t offset, uint64_t secinfo_flags = kRegRw, uint8_t fill = 0xab) {
    Eadd(offset, secinfo_flags);
    for (uint64_t c = 0; c < kPageSize; c += machine::kEextendChunkSize) Eextend(offset + c, fill);
    return *this;
  }
  SgxsBuilder& Append(ByteSpan raw) {
    bytes_.insert(bytes_.end(), raw.begin(), raw.end());
    return *this;
  }

 private:
  Bytes bytes_;
};

}  // namespace confide::image::testing
