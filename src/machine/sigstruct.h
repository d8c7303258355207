// sigstruct.h — SIGSTRUCT, the enclave signature structure that EINIT checks
// (Intel SDM Vol. 3D §38.13, Table 38-19). 1808 bytes, little-endian:
//
//   HEADER 0 (16)      VENDOR 16 (4)     DATE 20 (4, BCD yyyymmdd)
//   HEADER2 24 (16)    SWDEFINED 40 (4)  reserved 44 (84)
//   MODULUS 128 (384)  EXPONENT 512 (4)  SIGNATURE 516 (384)
//   MISCSELECT 900 (4) MISCMASK 904 (4)  reserved 908 (4)  ISVFAMILYID 912 (16)
//   ATTRIBUTES 928 (16) ATTRIBUTEMASK 944 (16) ENCLAVEHASH 960 (32)
//   reserved 992 (16)  ISVEXTPRODID 1008 (16) ISVPRODID 1024 (2) ISVSVN 1026 (2)
//   reserved 1028 (12) Q1 1040 (384)     Q2 1424 (384)
//
// The signature covers bytes [0,128) || [900,1028). MRSIGNER is SHA-256 of the
// 384-byte little-endian modulus.
//
// Thread-safety: values and pure functions.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/rsa.h"
#include "crypto/sha256.h"
#include "machine/secs.h"

namespace confide::machine {

inline constexpr size_t kSigstructSize = 1808;
inline constexpr uint32_t kSigstructVendorIntel = 0x8086;

struct Sigstruct {
  std::array<uint8_t, 16> header{};
  uint32_t vendor = 0;
  uint32_t date = 0;  // BCD 0xYYYYMMDD
  std::array<uint8_t, 16> header2{};
  uint32_t sw_defined = 0;
  crypto::Rsa3072Block modulus_le{};  // little-endian, as stored
  uint32_t exponent = 3;
  crypto::Rsa3072Block signature_le{};
  uint32_t misc_select = 0;
  uint32_t misc_mask = 0;
  std::array<uint8_t, 16> isv_family_id{};
  Attributes attributes;
  Attributes attribute_mask;
  crypto::Sha256Digest enclave_hash{};
  std::array<uint8_t, 16> isv_ext_prod_id{};
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  crypto::Rsa3072Block q1_le{};
  crypto::Rsa3072Block q2_le{};

  // A SIGSTRUCT with the architectural HEADER/HEADER2 constants filled in.
  static Sigstruct WithHeaders();
  // Parses 1808 bytes. InvalidArgumentError naming the offset and the rule if
  // the size is wrong or a reserved field is non-zero. Does not check the
  // header constants or the signature (EINIT and VerifySigstruct do).
  static StatusOr<Sigstruct> Parse(ByteSpan bytes);
  std::array<uint8_t, kSigstructSize> Serialize() const;

  // The 256 signed bytes: [0,128) || [900,1028) of the serialized form.
  std::array<uint8_t, 256> SignedBytes() const;
  // SHA-256 of the little-endian modulus.
  crypto::Sha256Digest MrSigner() const;
};

// Checks what EINIT checks before the enclave-dependent fields (SDM EINIT
// pseudocode): HEADER, HEADER2, VENDOR (0 or 0x8086) and EXPONENT, then the
// RSA signature, then Q1 and Q2. Returns SGX_INVALID_SIG_STRUCT or
// SGX_INVALID_SIGNATURE as EINIT would.
Status VerifySigstruct(const Sigstruct& s);

}  // namespace confide::machine
