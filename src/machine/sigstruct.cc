#include "machine/sigstruct.h"

#include <algorithm>

#include <fmt/format.h>

namespace confide::machine {
namespace {

// SDM Vol. 3D Table 38-19: HEADER and HEADER2 constants.
constexpr std::array<uint8_t, 16> kHeader = {0x06, 0x00, 0x00, 0x00, 0xE1, 0x00, 0x00, 0x00,
                                             0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
constexpr std::array<uint8_t, 16> kHeader2 = {0x01, 0x01, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00,
                                              0x60, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};

// Reserved ranges that must be zero: (offset, length).
constexpr std::pair<size_t, size_t> kReserved[] = {{44, 84}, {908, 4}, {992, 16}, {1028, 12}};

crypto::Rsa3072Block Reversed(const crypto::Rsa3072Block& b) {
  crypto::Rsa3072Block r;
  std::reverse_copy(b.begin(), b.end(), r.begin());
  return r;
}

}  // namespace

Sigstruct Sigstruct::WithHeaders() {
  Sigstruct s;
  s.header = kHeader;
  s.header2 = kHeader2;
  return s;
}

StatusOr<Sigstruct> Sigstruct::Parse(ByteSpan bytes) {
  if (bytes.size() != kSigstructSize)
    return InvalidArgumentError(
        fmt::format("SIGSTRUCT must be {} bytes, got {}", kSigstructSize, bytes.size()));
  const uint8_t* p = bytes.data();
  for (auto [off, len] : kReserved) {
    for (size_t i = 0; i < len; ++i)
      if (p[off + i] != 0)
        return InvalidArgumentError(fmt::format(
            "SIGSTRUCT offset {}: reserved field [{}, {}) must be zero", off + i, off, off + len));
  }
  Sigstruct s;
  std::copy_n(p + 0, 16, s.header.begin());
  s.vendor = LoadLe<uint32_t>(p + 16);
  s.date = LoadLe<uint32_t>(p + 20);
  std::copy_n(p + 24, 16, s.header2.begin());
  s.sw_defined = LoadLe<uint32_t>(p + 40);
  std::copy_n(p + 128, 384, s.modulus_le.begin());
  s.exponent = LoadLe<uint32_t>(p + 512);
  std::copy_n(p + 516, 384, s.signature_le.begin());
  s.misc_select = LoadLe<uint32_t>(p + 900);
  s.misc_mask = LoadLe<uint32_t>(p + 904);
  std::copy_n(p + 912, 16, s.isv_family_id.begin());
  s.attributes.flags = LoadLe<uint64_t>(p + 928);
  s.attributes.xfrm = LoadLe<uint64_t>(p + 936);
  s.attribute_mask.flags = LoadLe<uint64_t>(p + 944);
  s.attribute_mask.xfrm = LoadLe<uint64_t>(p + 952);
  std::copy_n(p + 960, 32, s.enclave_hash.begin());
  std::copy_n(p + 1008, 16, s.isv_ext_prod_id.begin());
  s.isv_prod_id = LoadLe<uint16_t>(p + 1024);
  s.isv_svn = LoadLe<uint16_t>(p + 1026);
  std::copy_n(p + 1040, 384, s.q1_le.begin());
  std::copy_n(p + 1424, 384, s.q2_le.begin());
  return s;
}

std::array<uint8_t, kSigstructSize> Sigstruct::Serialize() const {
  std::array<uint8_t, kSigstructSize> out{};
  uint8_t* p = out.data();
  std::copy(header.begin(), header.end(), p + 0);
  StoreLe<uint32_t>(p + 16, vendor);
  StoreLe<uint32_t>(p + 20, date);
  std::copy(header2.begin(), header2.end(), p + 24);
  StoreLe<uint32_t>(p + 40, sw_defined);
  std::copy(modulus_le.begin(), modulus_le.end(), p + 128);
  StoreLe<uint32_t>(p + 512, exponent);
  std::copy(signature_le.begin(), signature_le.end(), p + 516);
  StoreLe<uint32_t>(p + 900, misc_select);
  StoreLe<uint32_t>(p + 904, misc_mask);
  std::copy(isv_family_id.begin(), isv_family_id.end(), p + 912);
  StoreLe<uint64_t>(p + 928, attributes.flags);
  StoreLe<uint64_t>(p + 936, attributes.xfrm);
  StoreLe<uint64_t>(p + 944, attribute_mask.flags);
  StoreLe<uint64_t>(p + 952, attribute_mask.xfrm);
  std::copy(enclave_hash.begin(), enclave_hash.end(), p + 960);
  std::copy(isv_ext_prod_id.begin(), isv_ext_prod_id.end(), p + 1008);
  StoreLe<uint16_t>(p + 1024, isv_prod_id);
  StoreLe<uint16_t>(p + 1026, isv_svn);
  std::copy(q1_le.begin(), q1_le.end(), p + 1040);
  std::copy(q2_le.begin(), q2_le.end(), p + 1424);
  return out;
}

std::array<uint8_t, 256> Sigstruct::SignedBytes() const {
  auto all = Serialize();
  std::array<uint8_t, 256> out;
  std::copy_n(all.begin(), 128, out.begin());
  std::copy_n(all.begin() + 900, 128, out.begin() + 128);
  return out;
}

crypto::Sha256Digest Sigstruct::MrSigner() const { return crypto::Sha256Of(modulus_le); }

Status VerifySigstruct(const Sigstruct& s) {
  if (s.header != kHeader || s.header2 != kHeader2)
    return SgxErrorStatus(SgxError::kInvalidSigStruct,
                          "SIGSTRUCT HEADER or HEADER2 is not the SDM constant");
  if (s.vendor != 0 && s.vendor != kSigstructVendorIntel)
    return SgxErrorStatus(SgxError::kInvalidSigStruct,
                          fmt::format("SIGSTRUCT VENDOR 0x{:x} is neither 0 nor 0x8086", s.vendor));
  if (s.exponent != 3)
    return SgxErrorStatus(SgxError::kInvalidSigStruct,
                          fmt::format("SIGSTRUCT EXPONENT {} is not 3", s.exponent));
  const crypto::Rsa3072Block modulus = Reversed(s.modulus_le);
  const crypto::Rsa3072Block signature = Reversed(s.signature_le);
  auto signed_bytes = s.SignedBytes();
  if (Status v = crypto::Rsa3072Verify(modulus, s.exponent, signed_bytes, signature); !v.ok())
    return SgxErrorStatus(SgxError::kInvalidSignature,
                          "SIGSTRUCT signature does not verify: " + v.error().message);
  crypto::RsaQ1Q2 q = crypto::ComputeQ1Q2(signature, modulus);
  if (Reversed(q.q1) != s.q1_le || Reversed(q.q2) != s.q2_le)
    return SgxErrorStatus(SgxError::kInvalidSignature,
                          "SIGSTRUCT Q1/Q2 do not match the signature");
  return OkStatus();
}

}  // namespace confide::machine
