#include "crypto/ecdsa.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "hex.h"

namespace confide::crypto {
namespace {

using testutil::Hex;
using testutil::HexArray;

// RFC 6979 Appendix A.2.5: the P-256 key pair.
constexpr char kRfc6979PrivateKey[] =
    "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
constexpr char kRfc6979PublicKey[] =
    "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"   // Ux
    "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";  // Uy
// P-256 group order n (FIPS 186-4 D.1.2.3).
constexpr char kOrder[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A PEM of `key`: PKCS#8, or the key type's traditional form (SEC1 for EC).
std::string PemOf(EVP_PKEY* key, bool traditional = false) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (traditional)
    PEM_write_bio_PrivateKey_traditional(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  else
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size > 0 ? size : 0));
  BIO_free(bio);
  return pem;
}

PkeyPtr PkeyFromPem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return PkeyPtr(key);
}

ErrorCode CodeOf(const Status& s) { return s.ok() ? ErrorCode::kInternal : s.error().code; }

// RFC 6979 A.2.5, ECDSA with SHA-256 over "sample" and "test": the published
// (r, s) verify under the published public key.
TEST(EcdsaTest, Rfc6979SignaturesVerify) {
  const auto pub = HexArray<64>(kRfc6979PublicKey);
  const auto sample = HexArray<64>(
      "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
      "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8");
  const auto test = HexArray<64>(
      "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367"
      "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083");
  EXPECT_TRUE(EcdsaP256Verify(pub, AsBytes("sample"), sample).ok());
  EXPECT_TRUE(EcdsaP256Verify(pub, AsBytes("test"), test).ok());
  // Each signature belongs to its own message only.
  EXPECT_EQ(CodeOf(EcdsaP256Verify(pub, AsBytes("test"), sample)), ErrorCode::kPermissionDenied);

  for (size_t byte : {0u, 31u, 32u, 63u}) {
    auto flipped = sample;
    flipped[byte] ^= 0x01;
    EXPECT_EQ(CodeOf(EcdsaP256Verify(pub, AsBytes("sample"), flipped)),
              ErrorCode::kPermissionDenied)
        << byte;
  }
}

// The RFC 6979 private scalar yields the published public key, and our own
// (randomized) signatures with it verify.
TEST(EcdsaTest, FromScalarMatchesRfc6979AndSigns) {
  auto key = EcdsaP256PrivateKey::FromScalar(Hex(kRfc6979PrivateKey));
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(key->PublicKey(), HexArray<64>(kRfc6979PublicKey));
  auto sig = key->Sign(AsBytes("sample"));
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_TRUE(EcdsaP256Verify(key->PublicKey(), AsBytes("sample"), *sig).ok());
  auto flipped = *sig;
  flipped[40] ^= 0x80;
  EXPECT_EQ(CodeOf(EcdsaP256Verify(key->PublicKey(), AsBytes("sample"), flipped)),
            ErrorCode::kPermissionDenied);
}

TEST(EcdsaTest, GenerateSignVerify) {
  auto key = EcdsaP256PrivateKey::Generate();
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  const ByteSpan msg = AsBytes("quote body");
  auto sig = key->Sign(msg);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(EcdsaP256Verify(key->PublicKey(), msg, *sig).ok());
  EXPECT_EQ(CodeOf(EcdsaP256Verify(key->PublicKey(), AsBytes("quote bodY"), *sig)),
            ErrorCode::kPermissionDenied);
  auto other = EcdsaP256PrivateKey::Generate();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(CodeOf(EcdsaP256Verify(other->PublicKey(), msg, *sig)), ErrorCode::kPermissionDenied);
}

TEST(EcdsaTest, PemRoundTrip) {
  auto key = EcdsaP256PrivateKey::FromScalar(Hex(kRfc6979PrivateKey));
  ASSERT_TRUE(key.ok());
  const std::string pem = key->ToPem();
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);  // PKCS#8
  auto again = EcdsaP256PrivateKey::FromPem(pem);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->PublicKey(), key->PublicKey());

  // SEC1 ("BEGIN EC PRIVATE KEY") is accepted too.
  const std::string sec1 = PemOf(PkeyFromPem(pem).get(), /*traditional=*/true);
  EXPECT_EQ(sec1.rfind("-----BEGIN EC PRIVATE KEY-----", 0), 0u);
  auto from_sec1 = EcdsaP256PrivateKey::FromPem(sec1);
  ASSERT_TRUE(from_sec1.ok()) << from_sec1.error().ToString();
  EXPECT_EQ(from_sec1->PublicKey(), key->PublicKey());

  EcdsaP256PrivateKey moved = std::move(*from_sec1);
  EXPECT_EQ(moved.PublicKey(), key->PublicKey());
}

TEST(EcdsaTest, FromPemRejectsOtherKeys) {
  PkeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  PkeyPtr ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(p384 && ed25519);
  for (const std::string& pem : {PemOf(p384.get()), PemOf(ed25519.get())}) {
    auto key = EcdsaP256PrivateKey::FromPem(pem);
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(key.error().message.find("not a P-256"), std::string::npos);
  }
  auto garbage = EcdsaP256PrivateKey::FromPem("not a key");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, ErrorCode::kInvalidArgument);
}

TEST(EcdsaTest, FromScalarRejectsOutOfRange) {
  for (size_t size : {0u, 31u, 33u}) {
    auto key = EcdsaP256PrivateKey::FromScalar(Bytes(size, 1));
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
  }
  Bytes order_plus_one = Hex(kOrder);
  order_plus_one[31] += 1;
  for (const Bytes& d : {Bytes(32, 0), Hex(kOrder), order_plus_one, Bytes(32, 0xff)}) {
    auto key = EcdsaP256PrivateKey::FromScalar(d);
    ASSERT_FALSE(key.ok()) << ToHex(d);
    EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(key.error().message.find("[1, n-1]"), std::string::npos);
  }
  Bytes order_minus_one = Hex(kOrder);
  order_minus_one[31] -= 1;
  EXPECT_TRUE(EcdsaP256PrivateKey::FromScalar(order_minus_one).ok());
}

TEST(EcdsaTest, VerifyRejectsPointsOffTheCurve) {
  const auto sig = HexArray<64>(
      "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
      "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8");
  auto off_curve = HexArray<64>(kRfc6979PublicKey);
  off_curve[63] ^= 0x01;
  EXPECT_EQ(CodeOf(EcdsaP256Verify(off_curve, AsBytes("sample"), sig)),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(EcdsaP256Verify(EcdsaP256PublicKey{}, AsBytes("sample"), sig)),
            ErrorCode::kInvalidArgument);
}

TEST(EcdsaTest, VerifyRejectsOutOfRangeSignatures) {
  const auto pub = HexArray<64>(kRfc6979PublicKey);
  const Bytes n = Hex(kOrder);
  EcdsaP256Signature r_zero = HexArray<64>(
      "0000000000000000000000000000000000000000000000000000000000000000"
      "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8");
  EcdsaP256Signature s_is_n{};
  std::copy(n.begin(), n.end(), s_is_n.begin());
  std::copy(n.begin(), n.end(), s_is_n.begin() + 32);
  EcdsaP256Signature all_ones;
  all_ones.fill(0xff);
  for (const auto& sig : {r_zero, s_is_n, all_ones, EcdsaP256Signature{}})
    EXPECT_EQ(CodeOf(EcdsaP256Verify(pub, AsBytes("sample"), sig)), ErrorCode::kPermissionDenied);
}

}  // namespace
}  // namespace confide::crypto
