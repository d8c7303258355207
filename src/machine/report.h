// report.h — local attestation structures: TARGETINFO, REPORTDATA, REPORT
// and KEYREQUEST (Intel SDM Vol. 3D §38.16-38.18), with their byte layouts.
//
// Thread-safety: values.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/aes.h"
#include "crypto/sha256.h"
#include "machine/secs.h"

namespace confide::machine {

using ReportData = std::array<uint8_t, 64>;

// TARGETINFO (512 bytes): MEASUREMENT 0, ATTRIBUTES 32, CONFIGSVN 50,
// MISCSELECT 52, CONFIGID 64.
struct TargetInfo {
  crypto::Sha256Digest measurement{};
  Attributes attributes;
  uint16_t config_svn = 0;
  uint32_t misc_select = 0;
  std::array<uint8_t, 64> config_id{};

  std::array<uint8_t, 512> Serialize() const;
  static StatusOr<TargetInfo> Parse(ByteSpan bytes);
};

inline constexpr size_t kReportSize = 432;
inline constexpr size_t kReportBodySize = 384;

// REPORT (432 bytes). BODY: CPUSVN 0, MISCSELECT 16, ISVEXTPRODID 32,
// ATTRIBUTES 48, MRENCLAVE 64, MRSIGNER 128, CONFIGID 192, ISVPRODID 256,
// ISVSVN 258, CONFIGSVN 260, ISVFAMILYID 304, REPORTDATA 320; then KEYID 384
// and MAC 416 (AES-CMAC of BODY under the target's report key).
struct Report {
  std::array<uint8_t, 16> cpu_svn{};
  uint32_t misc_select = 0;
  std::array<uint8_t, 16> isv_ext_prod_id{};
  Attributes attributes;
  crypto::Sha256Digest mr_enclave{};
  crypto::Sha256Digest mr_signer{};
  std::array<uint8_t, 64> config_id{};
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  uint16_t config_svn = 0;
  std::array<uint8_t, 16> isv_family_id{};
  ReportData report_data{};
  std::array<uint8_t, 32> key_id{};
  crypto::Mac128 mac{};

  std::array<uint8_t, kReportBodySize> SerializeBody() const;
  std::array<uint8_t, kReportSize> Serialize() const;
  static StatusOr<Report> Parse(ByteSpan bytes);
};

// KEYREQUEST.KEYNAME (SDM Table 38-22).
enum class KeyName : uint16_t {
  kEinitToken = 0,
  kProvision = 1,
  kProvisionSeal = 2,
  kReport = 3,
  kSeal = 4,
};

// KEYREQUEST.KEYPOLICY bits.
namespace keypolicy {
inline constexpr uint16_t kMrEnclave = 1u << 0;
inline constexpr uint16_t kMrSigner = 1u << 1;
inline constexpr uint16_t kNoIsvProdId = 1u << 2;
inline constexpr uint16_t kConfigId = 1u << 3;
inline constexpr uint16_t kIsvFamilyId = 1u << 4;
inline constexpr uint16_t kIsvExtProdId = 1u << 5;
inline constexpr uint16_t kReservedMask = 0xffc0;
}  // namespace keypolicy

// KEYREQUEST (512 bytes): KEYNAME 0, KEYPOLICY 2, ISVSVN 4, CONFIGSVN 6,
// CPUSVN 8, ATTRIBUTEMASK 24, KEYID 40, MISCMASK 72.
struct KeyRequest {
  uint16_t key_name = static_cast<uint16_t>(KeyName::kSeal);
  uint16_t key_policy = keypolicy::kMrEnclave;
  uint16_t isv_svn = 0;
  uint16_t config_svn = 0;
  std::array<uint8_t, 16> cpu_svn{};
  Attributes attribute_mask;
  std::array<uint8_t, 32> key_id{};
  uint32_t misc_mask = 0;

  std::array<uint8_t, 512> Serialize() const;
  static StatusOr<KeyRequest> Parse(ByteSpan bytes);
};

}  // namespace confide::machine
