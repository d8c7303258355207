// secs.h — SGX enclave control structures as the instructions see them:
// page types, SECINFO, ATTRIBUTES, SECS and TCS (Intel SDM Vol. 3D ch. 38,
// "SGX Data Structures"), plus PIE's PT_SREG (ISCA'21 Table III).
//
// Structures are plain values with Parse/Serialize to their architectural
// little-endian byte layout; the machine keeps them parsed.
//
// Thread-safety: values.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"

namespace confide::machine {

// EPCM page types (SDM Vol. 3D Table 38-28). PIE adds PT_SREG without giving a
// number; confide uses 8, the first value the SDM leaves unused.
enum class PageType : uint8_t {
  kSecs = 0,
  kTcs = 1,
  kReg = 2,
  kVa = 3,
  kTrim = 4,
  kSsFirst = 5,
  kSsRest = 6,
  kSreg = 8,
};
const char* PageTypeName(PageType t);

// SECINFO.FLAGS (SDM Vol. 3D Table 38-26).
namespace secinfo {
inline constexpr uint64_t kR = 1u << 0;
inline constexpr uint64_t kW = 1u << 1;
inline constexpr uint64_t kX = 1u << 2;
inline constexpr uint64_t kPending = 1u << 3;
inline constexpr uint64_t kModified = 1u << 4;
inline constexpr uint64_t kPr = 1u << 5;
inline constexpr uint64_t kRwx = kR | kW | kX;
inline constexpr int kPageTypeShift = 8;
inline constexpr uint64_t kPageTypeMask = 0xffull << kPageTypeShift;
// Bits the SDM reserves (must be zero): 7:6 and 63:16.
inline constexpr uint64_t kReservedMask = ~(0xffffull) | (0x3ull << 6);
}  // namespace secinfo

// SECINFO: 64 bytes, FLAGS in the first 8, the rest reserved (must be zero).
struct SecInfo {
  uint64_t flags = 0;

  static SecInfo Make(PageType type, uint64_t perms) {
    return SecInfo{(static_cast<uint64_t>(type) << secinfo::kPageTypeShift) | perms};
  }
  PageType page_type() const {
    return static_cast<PageType>((flags & secinfo::kPageTypeMask) >> secinfo::kPageTypeShift);
  }
  uint8_t perms() const { return static_cast<uint8_t>(flags & secinfo::kRwx); }
  bool reserved_bits_set() const { return (flags & secinfo::kReservedMask) != 0; }
};

// ATTRIBUTES.FLAGS (SDM Vol. 3D Table 38-3).
namespace attr {
inline constexpr uint64_t kInit = 1u << 0;
inline constexpr uint64_t kDebug = 1u << 1;
inline constexpr uint64_t kMode64Bit = 1u << 2;
inline constexpr uint64_t kProvisionKey = 1u << 4;
inline constexpr uint64_t kEinitTokenKey = 1u << 5;
inline constexpr uint64_t kCet = 1u << 6;
inline constexpr uint64_t kKss = 1u << 7;
// Bits that must be zero at ECREATE: bit 3 and 63:8.
inline constexpr uint64_t kReservedMask = ~0xffull | (1u << 3);
}  // namespace attr

struct Attributes {
  uint64_t flags = 0;
  uint64_t xfrm = 0;
  bool operator==(const Attributes&) const = default;
};

inline constexpr size_t kSecsSize = 4096;

// The SECS fields confide models (SDM Vol. 3D Table 38-2). Offsets:
//   SIZE 0, BASEADDR 8, SSAFRAMESIZE 16, MISCSELECT 20, MEASURE_RANGE_PAGES 24
//   (EnTurbo, below), ATTRIBUTES 48, MRENCLAVE 64, MRSIGNER 128, CONFIGID 224,
//   ISVPRODID 256, ISVSVN 258, CONFIGSVN 260.
struct Secs {
  uint64_t size = 0;
  uint64_t base_addr = 0;
  uint32_t ssa_frame_size = 1;  // in pages
  uint32_t misc_select = 0;
  // EnTurbo (DAC'24): 0 is an ordinary SGX enclave. Nonzero selects the split
  // measurement (measurement.h) with ranges of this many pages by offset from
  // BASEADDR, per-range EEXTEND serialization, and entry before EINIT (see
  // machine.h). EnTurbo keeps the SECS layout by using reserved bytes: this
  // field is the first 4 of the SDM's 24 reserved bytes at offset 24.
  uint32_t measure_range_pages = 0;
  Attributes attributes;
  crypto::Sha256Digest mr_enclave{};
  crypto::Sha256Digest mr_signer{};
  std::array<uint8_t, 64> config_id{};
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  uint16_t config_svn = 0;

  // Parses a 4096-byte SECS page; InvalidArgumentError if the size is wrong.
  static StatusOr<Secs> Parse(ByteSpan page);
  std::array<uint8_t, kSecsSize> Serialize() const;
};

// TCS fields (SDM Vol. 3D Table 38-5); offsets STATE 0, FLAGS 8, OSSA 16,
// CSSA 24, NSSA 28, OENTRY 32, OFSBASE 48, OGSBASE 56, FSLIMIT 64, GSLIMIT 68.
struct Tcs {
  uint64_t flags = 0;
  uint64_t ossa = 0;  // offset of the SSA stack from BASEADDR
  uint32_t cssa = 0;
  uint32_t nssa = 1;
  uint64_t oentry = 0;  // entry point offset from BASEADDR
  uint64_t ofsbase = 0;
  uint64_t ogsbase = 0;
  uint32_t fslimit = 0xfff;
  uint32_t gslimit = 0xfff;

  static Tcs Parse(ByteSpan page);  // REQUIRES: page.size() >= 72
  std::array<uint8_t, kPageSize> Serialize() const;
};

}  // namespace confide::machine
