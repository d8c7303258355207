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

}  // namespace confide::machine
