#include "image/signer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "base/file.h"
#include "crypto/rsa.h"

#include "tests/support/test_key.h"

namespace confide::image {
namespace {

using ::testing::HasSubstr;

constexpr char kVectorSig[] = "../shared/vectors/sgx/test_enclave.sig";
constexpr char kVectorMrenclave[] =
    "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc";
constexpr char kVectorMrsigner[] =
    "fb4bab3d6036ac1d730fa83d7366df1dd2dfeac194ef335d6854d8a6c6475542";

crypto::Sha256Digest Digest(const char* hex) {
  crypto::Sha256Digest d{};
  StatusOr<Bytes> b = FromHex(hex);
  EXPECT_TRUE(b.ok());
  std::copy(b->begin(), b->end(), d.begin());
  return d;
}

Bytes VectorBytes() {
  StatusOr<Bytes> b = ReadFile(kVectorSig);
  EXPECT_TRUE(b.ok()) << b.status().ToString() << " (tests run from the repository root)";
  return b.ok() ? *b : Bytes(machine::kSigstructSize);
}

machine::Sigstruct VectorSigstruct() {
  StatusOr<machine::Sigstruct> s = machine::Sigstruct::Parse(VectorBytes());
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : machine::Sigstruct{};
}

// The name of the first failing check, or "" if all pass.
std::string FirstFailedCheck(const machine::Sigstruct& s, const crypto::Sha256Digest* mr) {
  for (const SignatureCheck& c : CheckEnclaveSignature(s, mr))
    if (!c.status.ok()) return c.name;
  return "";
}

TEST(SignerVector, VerifiesWithTheExpectedMrsigner) {
  const machine::Sigstruct s = VectorSigstruct();
  EXPECT_EQ(ToHex(s.MrSigner()), kVectorMrsigner);
  EXPECT_EQ(ToHex(s.enclave_hash), kVectorMrenclave);
  EXPECT_EQ(s.attributes.flags, 0x4u);
  EXPECT_EQ(s.attributes.xfrm, 0x3u);
  EXPECT_EQ(s.isv_prod_id, 65535);
  const crypto::Sha256Digest mr = Digest(kVectorMrenclave);
  Status v = VerifyEnclaveSignature(s, &mr);
  EXPECT_TRUE(v.ok()) << v.ToString();
  EXPECT_TRUE(VerifyEnclaveSignature(s, nullptr).ok());
  EXPECT_EQ(FirstFailedCheck(s, &mr), "");
  EXPECT_EQ(CheckEnclaveSignature(s, &mr).size(), 6u);
  const auto serialized = s.Serialize();
  EXPECT_TRUE(std::equal(serialized.begin(), serialized.end(), VectorBytes().begin()));
}

TEST(SignerVector, WrongEnclaveHashNamesBothHashes) {
  const machine::Sigstruct s = VectorSigstruct();
  crypto::Sha256Digest other = Digest(kVectorMrenclave);
  other[31] ^= 1;
  Status v = VerifyEnclaveSignature(s, &other);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(v.error().message, HasSubstr(kVectorMrenclave));
  EXPECT_THAT(v.error().message, HasSubstr(ToHex(other)));
  EXPECT_EQ(FirstFailedCheck(s, &other), "enclavehash");
}

TEST(SignerMalformed, BadSize) {
  Bytes b = VectorBytes();
  b.pop_back();
  StatusOr<machine::Sigstruct> s = machine::Sigstruct::Parse(b);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("1808"));
  b.resize(machine::kSigstructSize + 1);
  EXPECT_FALSE(machine::Sigstruct::Parse(b).ok());
}

TEST(SignerMalformed, BadReservedField) {
  for (size_t offset : {44u, 127u, 908u, 992u, 1039u}) {
    Bytes b = VectorBytes();
    b[offset] = 1;
    StatusOr<machine::Sigstruct> s = machine::Sigstruct::Parse(b);
    ASSERT_FALSE(s.ok()) << offset;
    EXPECT_THAT(s.error().message, HasSubstr("offset " + std::to_string(offset))) << offset;
    EXPECT_THAT(s.error().message, HasSubstr("reserved")) << offset;
  }
}

TEST(SignerMalformed, BadHeader) {
  machine::Sigstruct s = VectorSigstruct();
  s.header[0] ^= 1;
  EXPECT_TRUE(IsSgxError(VerifyEnclaveSignature(s, nullptr), SgxError::kInvalidSigStruct));
  EXPECT_EQ(FirstFailedCheck(s, nullptr), "header");
  s = VectorSigstruct();
  s.header2[4] = 0x61;
  EXPECT_TRUE(IsSgxError(VerifyEnclaveSignature(s, nullptr), SgxError::kInvalidSigStruct));
}

TEST(SignerMalformed, BadVendorAndExponent) {
  machine::Sigstruct s = VectorSigstruct();
  s.vendor = 0x1234;
  EXPECT_TRUE(IsSgxError(VerifyEnclaveSignature(s, nullptr), SgxError::kInvalidSigStruct));
  EXPECT_EQ(FirstFailedCheck(s, nullptr), "vendor");
  s = VectorSigstruct();
  s.exponent = 65537;
  EXPECT_TRUE(IsSgxError(VerifyEnclaveSignature(s, nullptr), SgxError::kInvalidSigStruct));
  EXPECT_EQ(FirstFailedCheck(s, nullptr), "exponent");
}

TEST(SignerMalformed, TamperedSignature) {
  machine::Sigstruct s = VectorSigstruct();
  s.signature_le[100] ^= 0x10;
  EXPECT_TRUE(IsSgxError(VerifyEnclaveSignature(s, nullptr), SgxError::kInvalidSignature));
  EXPECT_EQ(FirstFailedCheck(s, nullptr), "signature");
}

TEST(SignerMalformed, TamperedSignedField) {
  machine::Sigstruct s = VectorSigstruct();
  s.isv_svn = 1;
  EXPECT_TRUE(IsSgxError(VerifyEnclaveSignature(s, nullptr), SgxError::kInvalidSignature));
  EXPECT_EQ(FirstFailedCheck(s, nullptr), "signature");
  s = VectorSigstruct();
  s.enclave_hash[0] ^= 1;
  EXPECT_TRUE(IsSgxError(VerifyEnclaveSignature(s, nullptr), SgxError::kInvalidSignature));
}

TEST(SignerMalformed, BadQ1AndQ2) {
  machine::Sigstruct s = VectorSigstruct();
  s.q1_le[0] ^= 1;
  EXPECT_TRUE(IsSgxError(VerifyEnclaveSignature(s, nullptr), SgxError::kInvalidSignature));
  EXPECT_EQ(FirstFailedCheck(s, nullptr), "q1q2");
  s = VectorSigstruct();
  s.q2_le[383] ^= 1;
  EXPECT_TRUE(IsSgxError(VerifyEnclaveSignature(s, nullptr), SgxError::kInvalidSignature));
  EXPECT_EQ(FirstFailedCheck(s, nullptr), "q1q2");
}

TEST(SignerDate, BcdParsing) {
  EXPECT_EQ(*ParseBcdDate("20240131"), 0x20240131u);
  EXPECT_EQ(*ParseBcdDate("19991201"), 0x19991201u);
  for (const char* bad :
       {"2024013", "202401311", "2024-1-31", "20241301", "20240100", "20240132", "abcdefgh", ""})
    EXPECT_FALSE(ParseBcdDate(bad).ok()) << bad;
  const uint32_t today = TodayBcd();
  EXPECT_GE(today, 0x20240101u);
  EXPECT_TRUE(ParseBcdDate(fmt::format("{:08x}", today)).ok());
}

class SignerWithKey : public ::testing::Test {
 protected:
  // The fixed test key: generating one per process would cost a second.
  static void SetUpTestSuite() { key_ = &testing::TestSigningKey(); }
  static const crypto::Rsa3072PrivateKey* key_;
};
const crypto::Rsa3072PrivateKey* SignerWithKey::key_ = nullptr;

TEST_F(SignerWithKey, SignThenVerifyRoundTrip) {
  SigningParams p;
  p.enclave_hash = Digest(kVectorMrenclave);
  p.attributes = {machine::attr::kMode64Bit | machine::attr::kDebug, 0x3};
  p.misc_select = 0x1;
  p.isv_prod_id = 7;
  p.isv_svn = 42;
  p.date = 0x20240229;
  StatusOr<machine::Sigstruct> s = SignEnclave(*key_, p);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Status v = VerifyEnclaveSignature(*s, &p.enclave_hash);
  EXPECT_TRUE(v.ok()) << v.ToString();
  EXPECT_EQ(FirstFailedCheck(*s, &p.enclave_hash), "");

  // Through the 1808-byte form and back.
  const auto bytes = s->Serialize();
  StatusOr<machine::Sigstruct> parsed = machine::Sigstruct::Parse(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(VerifyEnclaveSignature(*parsed, &p.enclave_hash).ok());
  EXPECT_EQ(parsed->date, 0x20240229u);
  EXPECT_EQ(parsed->isv_prod_id, 7);
  EXPECT_EQ(parsed->isv_svn, 42);
  EXPECT_EQ(parsed->misc_select, 1u);
  EXPECT_EQ(parsed->misc_mask, 0xffffffffu);
  EXPECT_EQ(parsed->attributes, p.attributes);
  EXPECT_EQ(parsed->attribute_mask.flags, ~uint64_t{0});  // the documented default
  EXPECT_EQ(parsed->attribute_mask.xfrm, 0u);
  EXPECT_EQ(parsed->exponent, 3u);
  EXPECT_EQ(parsed->vendor, 0u);

  // MRSIGNER is SHA-256 of the little-endian modulus.
  crypto::Rsa3072Block modulus_le;
  const crypto::Rsa3072Block modulus = key_->Modulus();
  std::reverse_copy(modulus.begin(), modulus.end(), modulus_le.begin());
  EXPECT_EQ(parsed->MrSigner(), crypto::Sha256Of(modulus_le));
  EXPECT_NE(ToHex(parsed->MrSigner()), kVectorMrsigner);

  // Any change to a signed field breaks it.
  machine::Sigstruct tampered = *parsed;
  tampered.attributes.flags &= ~machine::attr::kDebug;
  EXPECT_TRUE(IsSgxError(VerifyEnclaveSignature(tampered, nullptr), SgxError::kInvalidSignature));
  crypto::Sha256Digest other = p.enclave_hash;
  other[5] ^= 0xff;
  EXPECT_EQ(VerifyEnclaveSignature(*parsed, &other).error().code, ErrorCode::kPermissionDenied);
}

TEST_F(SignerWithKey, DefaultsAndVendor) {
  SigningParams p;
  p.vendor = machine::kSigstructVendorIntel;
  StatusOr<machine::Sigstruct> s = SignEnclave(*key_, p);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->date, TodayBcd());
  EXPECT_EQ(s->vendor, 0x8086u);
  EXPECT_TRUE(VerifyEnclaveSignature(*s, nullptr).ok());
}

TEST_F(SignerWithKey, KeyRoundTripsThroughPem) {
  StatusOr<crypto::Rsa3072PrivateKey> again = crypto::Rsa3072PrivateKey::FromPem(key_->ToPem());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  SigningParams p;
  p.date = 0x20240101;
  StatusOr<machine::Sigstruct> a = SignEnclave(*key_, p);
  StatusOr<machine::Sigstruct> b = SignEnclave(*again, p);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->Serialize(), b->Serialize());  // PKCS#1 v1.5 is deterministic
}

}  // namespace
}  // namespace confide::image
