#include "image/signer.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace confide::image {
namespace {

crypto::Rsa3072Block Reversed(const crypto::Rsa3072Block& b) {
  crypto::Rsa3072Block r;
  std::reverse_copy(b.begin(), b.end(), r.begin());
  return r;
}

uint32_t ToBcd(unsigned value, int digits) {
  uint32_t out = 0;
  for (int i = 0; i < digits; ++i) {
    out |= (value % 10) << (4 * i);
    value /= 10;
  }
  return out;
}

Status CheckHash(const machine::Sigstruct& s, const crypto::Sha256Digest& expected) {
  if (s.enclave_hash == expected) return OkStatus();
  return PermissionDeniedError(fmt::format("SIGSTRUCT ENCLAVEHASH {} does not match MRENCLAVE {}",
                                           ToHex(s.enclave_hash), ToHex(expected)));
}

}  // namespace

uint32_t TodayBcd() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return ToBcd(static_cast<unsigned>(tm.tm_year + 1900), 4) << 16 |
         ToBcd(static_cast<unsigned>(tm.tm_mon + 1), 2) << 8 |
         ToBcd(static_cast<unsigned>(tm.tm_mday), 2);
}

StatusOr<uint32_t> ParseBcdDate(std::string_view s) {
  if (s.size() != 8 ||
      !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return InvalidArgumentError(fmt::format("date \"{}\" is not YYYYMMDD (8 digits)", s));
  auto num = [&](size_t pos, size_t len) {
    unsigned v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + static_cast<unsigned>(s[i] - '0');
    return v;
  };
  const unsigned year = num(0, 4), month = num(4, 2), day = num(6, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31)
    return InvalidArgumentError(fmt::format("date \"{}\": month must be 01-12, day 01-31", s));
  return ToBcd(year, 4) << 16 | ToBcd(month, 2) << 8 | ToBcd(day, 2);
}

StatusOr<machine::Sigstruct> SignEnclave(const crypto::Rsa3072PrivateKey& key,
                                         const SigningParams& params) {
  machine::Sigstruct s = machine::Sigstruct::WithHeaders();
  s.vendor = params.vendor;
  s.date = params.date;
  s.modulus_le = Reversed(key.Modulus());
  s.exponent = key.Exponent();
  s.misc_select = params.misc_select;
  s.misc_mask = params.misc_mask;
  s.attributes = params.attributes;
  s.attribute_mask = params.attribute_mask;
  s.enclave_hash = params.enclave_hash;
  s.isv_prod_id = params.isv_prod_id;
  s.isv_svn = params.isv_svn;
  const auto signed_bytes = s.SignedBytes();
  CONFIDE_ASSIGN_OR_RETURN(crypto::Rsa3072Block signature, key.Sign(signed_bytes));
  s.signature_le = Reversed(signature);
  const crypto::RsaQ1Q2 q = crypto::ComputeQ1Q2(signature, key.Modulus());
  s.q1_le = Reversed(q.q1);
  s.q2_le = Reversed(q.q2);
  return s;
}

Status VerifyEnclaveSignature(const machine::Sigstruct& sigstruct,
                              const crypto::Sha256Digest* expected_mrenclave) {
  CONFIDE_RETURN_IF_ERROR(machine::VerifySigstruct(sigstruct));
  if (expected_mrenclave != nullptr) return CheckHash(sigstruct, *expected_mrenclave);
  return OkStatus();
}

std::vector<SignatureCheck> CheckEnclaveSignature(const machine::Sigstruct& s,
                                                  const crypto::Sha256Digest* expected_mrenclave) {
  std::vector<SignatureCheck> checks;
  const machine::Sigstruct reference = machine::Sigstruct::WithHeaders();
  checks.push_back(
      {"header", s.header == reference.header && s.header2 == reference.header2
                     ? OkStatus()
                     : Status(InvalidArgumentError("HEADER or HEADER2 is not the SDM constant"))});
  checks.push_back({"vendor", s.vendor == 0 || s.vendor == machine::kSigstructVendorIntel
                                  ? OkStatus()
                                  : Status(InvalidArgumentError(fmt::format(
                                        "VENDOR {:#x} is neither 0 nor 0x8086", s.vendor)))});
  checks.push_back({"exponent", s.exponent == 3 ? OkStatus()
                                                : Status(InvalidArgumentError(fmt::format(
                                                      "EXPONENT {} is not 3", s.exponent)))});
  const crypto::Rsa3072Block modulus = Reversed(s.modulus_le);
  const crypto::Rsa3072Block signature = Reversed(s.signature_le);
  const auto signed_bytes = s.SignedBytes();
  checks.push_back({"signature", crypto::Rsa3072Verify(modulus, 3, signed_bytes, signature)});
  const crypto::RsaQ1Q2 q = crypto::ComputeQ1Q2(signature, modulus);
  checks.push_back({"q1q2", Reversed(q.q1) == s.q1_le && Reversed(q.q2) == s.q2_le
                                ? OkStatus()
                                : Status(PermissionDeniedError(
                                      "Q1/Q2 do not match the signature and modulus"))});
  if (expected_mrenclave != nullptr)
    checks.push_back({"enclavehash", CheckHash(s, *expected_mrenclave)});
  return checks;
}

}  // namespace confide::image
