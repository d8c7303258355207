// signer.h — signing an enclave (producing its SIGSTRUCT) and checking one.
//
// SignEnclave fills a SIGSTRUCT as Intel's and Fortanix's signing tools do
// (Intel SDM Vol. 3D §38.13): the architectural HEADER/HEADER2, the signer's
// modulus and exponent 3, the RSA-3072 PKCS#1 v1.5 SHA-256 signature over
// SignedBytes(), and Q1/Q2; the big numbers stored little-endian.
//
// Default ATTRIBUTEMASK: FLAGS all ones (every attribute bit, DEBUG included,
// must match the signed ATTRIBUTES at EINIT) and XFRM 0 (any XSAVE feature set
// is accepted). Intel's and Fortanix's tools use other masks (the Fortanix test
// vector has FLAGS mask 0xff..fd, i.e. DEBUG not enforced, and XFRM mask
// 0xff..1b); set `attribute_mask` to reproduce them.
//
// Usage:
//   SigningParams p;
//   p.enclave_hash = MeasureSgxs(image);
//   p.attributes = {machine::attr::kMode64Bit, 0x3};
//   CONFIDE_ASSIGN_OR_RETURN(machine::Sigstruct sig, SignEnclave(key, p));
//   CONFIDE_RETURN_IF_ERROR(VerifyEnclaveSignature(sig, &p.enclave_hash));
//
// Thread-safety: pure functions (the key may be shared, see crypto/rsa.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "crypto/rsa.h"
#include "crypto/sha256.h"
#include "machine/secs.h"
#include "machine/sigstruct.h"

namespace confide::image {

// Today's date (UTC) in SIGSTRUCT's BCD form 0xYYYYMMDD.
uint32_t TodayBcd();
// "20240131" -> 0x20240131; InvalidArgumentError unless 8 digits forming a
// plausible date (month 01-12, day 01-31).
StatusOr<uint32_t> ParseBcdDate(std::string_view yyyymmdd);

struct SigningParams {
  crypto::Sha256Digest enclave_hash{};  // MRENCLAVE
  machine::Attributes attributes;
  machine::Attributes attribute_mask{~uint64_t{0}, 0};
  uint32_t misc_select = 0;
  uint32_t misc_mask = 0xffffffff;
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  uint32_t date = TodayBcd();  // BCD 0xYYYYMMDD
  uint32_t vendor = 0;         // 0 or machine::kSigstructVendorIntel
};

// A signed SIGSTRUCT for `params` under `key`. Fails only if signing fails.
StatusOr<machine::Sigstruct> SignEnclave(const crypto::Rsa3072PrivateKey& key,
                                         const SigningParams& params);

// VerifySigstruct (headers, vendor, exponent, signature, Q1/Q2) and, if
// `expected_mrenclave` is not null, ENCLAVEHASH == *expected_mrenclave
// (else PermissionDeniedError naming both hashes in hex).
Status VerifyEnclaveSignature(const machine::Sigstruct& sigstruct,
                              const crypto::Sha256Digest* expected_mrenclave);

// The checks of VerifyEnclaveSignature one by one, each run independently, so a
// tool can report every failure: "header", "vendor", "exponent", "signature",
// "q1q2" and, if `expected_mrenclave` is given, "enclavehash".
struct SignatureCheck {
  std::string name;
  Status status;
};
std::vector<SignatureCheck> CheckEnclaveSignature(const machine::Sigstruct& sigstruct,
                                                  const crypto::Sha256Digest* expected_mrenclave);

}  // namespace confide::image
