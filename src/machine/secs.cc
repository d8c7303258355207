#include "machine/secs.h"

#include <algorithm>

namespace confide::machine {

const char* PageTypeName(PageType t) {
  switch (t) {
    case PageType::kSecs:
      return "PT_SECS";
    case PageType::kTcs:
      return "PT_TCS";
    case PageType::kReg:
      return "PT_REG";
    case PageType::kVa:
      return "PT_VA";
    case PageType::kTrim:
      return "PT_TRIM";
    case PageType::kSsFirst:
      return "PT_SS_FIRST";
    case PageType::kSsRest:
      return "PT_SS_REST";
    case PageType::kSreg:
      return "PT_SREG";
  }
  return "PT_UNKNOWN";
}

StatusOr<Secs> Secs::Parse(ByteSpan page) {
  if (page.size() != kSecsSize)
    return InvalidArgumentError("SECS must be 4096 bytes, got " + std::to_string(page.size()));
  const uint8_t* p = page.data();
  Secs s;
  s.size = LoadLe<uint64_t>(p + 0);
  s.base_addr = LoadLe<uint64_t>(p + 8);
  s.ssa_frame_size = LoadLe<uint32_t>(p + 16);
  s.misc_select = LoadLe<uint32_t>(p + 20);
  s.measure_range_pages = LoadLe<uint32_t>(p + 24);
  s.attributes.flags = LoadLe<uint64_t>(p + 48);
  s.attributes.xfrm = LoadLe<uint64_t>(p + 56);
  std::copy_n(p + 64, 32, s.mr_enclave.begin());
  std::copy_n(p + 128, 32, s.mr_signer.begin());
  std::copy_n(p + 224, 64, s.config_id.begin());
  s.isv_prod_id = LoadLe<uint16_t>(p + 256);
  s.isv_svn = LoadLe<uint16_t>(p + 258);
  s.config_svn = LoadLe<uint16_t>(p + 260);
  return s;
}

std::array<uint8_t, kSecsSize> Secs::Serialize() const {
  std::array<uint8_t, kSecsSize> out{};
  uint8_t* p = out.data();
  StoreLe<uint64_t>(p + 0, size);
  StoreLe<uint64_t>(p + 8, base_addr);
  StoreLe<uint32_t>(p + 16, ssa_frame_size);
  StoreLe<uint32_t>(p + 20, misc_select);
  StoreLe<uint32_t>(p + 24, measure_range_pages);
  StoreLe<uint64_t>(p + 48, attributes.flags);
  StoreLe<uint64_t>(p + 56, attributes.xfrm);
  std::copy(mr_enclave.begin(), mr_enclave.end(), p + 64);
  std::copy(mr_signer.begin(), mr_signer.end(), p + 128);
  std::copy(config_id.begin(), config_id.end(), p + 224);
  StoreLe<uint16_t>(p + 256, isv_prod_id);
  StoreLe<uint16_t>(p + 258, isv_svn);
  StoreLe<uint16_t>(p + 260, config_svn);
  return out;
}

Tcs Tcs::Parse(ByteSpan page) {
  const uint8_t* p = page.data();
  Tcs t;
  t.flags = LoadLe<uint64_t>(p + 8);
  t.ossa = LoadLe<uint64_t>(p + 16);
  t.cssa = LoadLe<uint32_t>(p + 24);
  t.nssa = LoadLe<uint32_t>(p + 28);
  t.oentry = LoadLe<uint64_t>(p + 32);
  t.ofsbase = LoadLe<uint64_t>(p + 48);
  t.ogsbase = LoadLe<uint64_t>(p + 56);
  t.fslimit = LoadLe<uint32_t>(p + 64);
  t.gslimit = LoadLe<uint32_t>(p + 68);
  return t;
}

std::array<uint8_t, kPageSize> Tcs::Serialize() const {
  std::array<uint8_t, kPageSize> out{};
  uint8_t* p = out.data();
  StoreLe<uint64_t>(p + 8, flags);
  StoreLe<uint64_t>(p + 16, ossa);
  StoreLe<uint32_t>(p + 24, cssa);
  StoreLe<uint32_t>(p + 28, nssa);
  StoreLe<uint64_t>(p + 32, oentry);
  StoreLe<uint64_t>(p + 48, ofsbase);
  StoreLe<uint64_t>(p + 56, ogsbase);
  StoreLe<uint32_t>(p + 64, fslimit);
  StoreLe<uint32_t>(p + 68, gslimit);
  return out;
}

}  // namespace confide::machine
