#include "machine/measurement.h"

namespace confide::machine {

MeasurementRecord EcreateRecord(uint32_t ssa_frame_size, uint64_t size) {
  MeasurementRecord r{};
  StoreLe<uint64_t>(r.data(), kTagEcreate);
  StoreLe<uint32_t>(r.data() + 8, ssa_frame_size);
  StoreLe<uint64_t>(r.data() + 12, size);
  return r;
}

MeasurementRecord EaddRecord(uint64_t offset, const SecInfo& secinfo) {
  MeasurementRecord r{};
  StoreLe<uint64_t>(r.data(), kTagEadd);
  StoreLe<uint64_t>(r.data() + 8, offset);
  // The SECINFO's first 48 bytes: FLAGS then reserved zeros.
  StoreLe<uint64_t>(r.data() + 16, secinfo.flags);
  return r;
}

MeasurementRecord EextendRecord(uint64_t offset) {
  MeasurementRecord r{};
  StoreLe<uint64_t>(r.data(), kTagEextend);
  StoreLe<uint64_t>(r.data() + 8, offset);
  return r;
}

namespace {
// Domain tags, so a shadow digest can never be mistaken for MRENCLAVE input.
constexpr uint64_t kTagShadow = 0x574F444148534D45ull;  // "EMSHADOW"
constexpr uint64_t kTagMerge = 0x454752454D534D45ull;   // "EMSMERGE"
}  // namespace

ShadowMeasurement::ShadowMeasurement(uint64_t range_index, PageContents contents)
    : contents_(contents) {
  MeasurementRecord domain{};
  StoreLe<uint64_t>(domain.data(), kTagShadow);
  StoreLe<uint64_t>(domain.data() + 8, range_index);
  hash_.Update(domain);
}

void ShadowMeasurement::Eadd(uint64_t offset, const SecInfo& secinfo) {
  hash_.Update(EaddRecord(offset, secinfo));
}

void ShadowMeasurement::Eextend(uint64_t offset, ByteSpan chunk) {
  hash_.Update(EextendRecord(offset));
  if (contents_ == PageContents::kFull) hash_.Update(chunk);
}

crypto::Sha256Digest ShadowMeasurement::Finish() { return hash_.Finish(); }

crypto::Sha256Digest MergeShadowMeasurements(const MeasurementRecord& ecreate,
                                             std::span<const crypto::Sha256Digest> ranges,
                                             uint32_t range_pages) {
  crypto::Sha256 h;
  MeasurementRecord head{};
  StoreLe<uint64_t>(head.data(), kTagMerge);
  StoreLe<uint64_t>(head.data() + 8, ranges.size());
  StoreLe<uint32_t>(head.data() + 16, range_pages);
  h.Update(head);
  h.Update(ecreate);
  for (const auto& d : ranges) h.Update(d);
  return h.Finish();
}

MeasurementBuilder::MeasurementBuilder(PageContents contents, uint32_t measure_range_pages)
    : contents_(contents), range_pages_(measure_range_pages) {}

void MeasurementBuilder::Ecreate(uint32_t ssa_frame_size, uint64_t size) {
  ecreate_ = EcreateRecord(ssa_frame_size, size);
  if (!split()) hash_.Update(ecreate_);
}

ShadowMeasurement& MeasurementBuilder::RangeFor(uint64_t offset) {
  const uint64_t r = MeasureRangeOf(offset, range_pages_);
  // Ranges below the highest one touched exist, empty if never touched.
  while (ranges_.size() <= r) ranges_.emplace_back(ranges_.size(), contents_);
  return ranges_[r];
}

void MeasurementBuilder::Eadd(uint64_t offset, const SecInfo& secinfo) {
  if (split()) {
    RangeFor(offset).Eadd(offset, secinfo);
  } else {
    hash_.Update(EaddRecord(offset, secinfo));
  }
}

void MeasurementBuilder::Eextend(uint64_t offset, ByteSpan chunk) {
  if (split()) {
    RangeFor(offset).Eextend(offset, chunk);
    return;
  }
  hash_.Update(EextendRecord(offset));
  if (contents_ == PageContents::kFull) hash_.Update(chunk);
}

crypto::Sha256Digest MeasurementBuilder::Finish() const {
  if (!split()) {
    crypto::Sha256 h = hash_;  // finalize a copy: the chain may go on
    return h.Finish();
  }
  std::vector<crypto::Sha256Digest> digests;
  digests.reserve(ranges_.size());
  for (const ShadowMeasurement& r : ranges_) digests.push_back(ShadowMeasurement(r).Finish());
  return MergeShadowMeasurements(ecreate_, digests, range_pages_);
}

}  // namespace confide::machine
