#include "crypto/rsa.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "base/bytes.h"

namespace confide::crypto {
namespace {

// One e = 3 key for the whole suite: 3072-bit generation takes a while.
const Rsa3072PrivateKey& SharedKey() {
  static const StatusOr<Rsa3072PrivateKey> key = Rsa3072PrivateKey::Generate();
  if (!key.ok()) {
    std::fprintf(stderr, "RSA key generation failed: %s\n", key.error().ToString().c_str());
    std::abort();
  }
  return *key;
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// An RSA key made by OpenSSL directly, bypassing confide's checks.
PkeyPtr OpensslRsaKey(unsigned bits, unsigned long e) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  BIGNUM* exponent = BN_new();
  EVP_PKEY* key = nullptr;
  if (ctx && exponent && BN_set_word(exponent, e) == 1 && EVP_PKEY_keygen_init(ctx) == 1 &&
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, static_cast<int>(bits)) == 1 &&
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, exponent) == 1)
    EVP_PKEY_keygen(ctx, &key);
  BN_free(exponent);
  EVP_PKEY_CTX_free(ctx);
  EXPECT_NE(key, nullptr);
  return PkeyPtr(key);
}

enum class PemKind { kPkcs8, kTraditional, kEncrypted, kPublic };

std::string ToPem(EVP_PKEY* key, PemKind kind) {
  BIO* bio = BIO_new(BIO_s_mem());
  char pass[] = "secret";
  switch (kind) {
    case PemKind::kPkcs8:
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
      break;
    case PemKind::kTraditional:
      PEM_write_bio_PrivateKey_traditional(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
      break;
    case PemKind::kEncrypted:
      PEM_write_bio_PrivateKey(bio, key, EVP_aes_128_cbc(), nullptr, 0, nullptr, pass);
      break;
    case PemKind::kPublic:
      PEM_write_bio_PUBKEY(bio, key);
      break;
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(std::max(size, 0L)));
  BIO_free(bio);
  return pem;
}

PkeyPtr PkeyFromPem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return PkeyPtr(key);
}

void ExpectInvalid(const StatusOr<Rsa3072PrivateKey>& key, std::string_view needle) {
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(key.error().message.find(needle), std::string::npos) << key.error().message;
}

TEST(RsaTest, GeneratedKeyHasSgxShape) {
  const Rsa3072PrivateKey& key = SharedKey();
  EXPECT_EQ(key.Exponent(), 3u);
  EXPECT_GE(key.Modulus()[0], 0x80);     // full 3072 bits
  EXPECT_EQ(key.Modulus()[383] & 1, 1);  // odd
}

TEST(RsaTest, SignVerify) {
  const Rsa3072PrivateKey& key = SharedKey();
  const ByteSpan msg = AsBytes("SIGSTRUCT header || body");
  auto sig = key.Sign(msg);
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_TRUE(Rsa3072Verify(key.Modulus(), 3, msg, *sig).ok());
  // PKCS#1 v1.5 is deterministic.
  EXPECT_EQ(*key.Sign(msg), *sig);

  Status tampered = Rsa3072Verify(key.Modulus(), 3, AsBytes("SIGSTRUCT header || bodY"), *sig);
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.error().code, ErrorCode::kPermissionDenied);

  Rsa3072Block bad_sig = *sig;
  bad_sig[100] ^= 0x04;
  EXPECT_EQ(Rsa3072Verify(key.Modulus(), 3, msg, bad_sig).error().code,
            ErrorCode::kPermissionDenied);
  // A well-formed key that is not the signer's: wrong exponent.
  EXPECT_EQ(Rsa3072Verify(key.Modulus(), 65537, msg, *sig).error().code,
            ErrorCode::kPermissionDenied);
}

TEST(RsaTest, VerifyFailsClosedOnOutOfRangeSignatures) {
  const Rsa3072PrivateKey& key = SharedKey();
  const ByteSpan msg = AsBytes("m");
  Rsa3072Block all_ones;
  all_ones.fill(0xff);  // > n
  EXPECT_EQ(Rsa3072Verify(key.Modulus(), 3, msg, all_ones).error().code,
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(Rsa3072Verify(key.Modulus(), 3, msg, Rsa3072Block{}).error().code,
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(Rsa3072Verify(key.Modulus(), 3, msg, key.Modulus()).error().code,
            ErrorCode::kPermissionDenied);
}

TEST(RsaTest, VerifyRejectsMalformedKeys) {
  const Rsa3072PrivateKey& key = SharedKey();
  const ByteSpan msg = AsBytes("m");
  const Rsa3072Block sig = *key.Sign(msg);

  Rsa3072Block short_modulus = key.Modulus();
  short_modulus[0] = 0x7f;  // 3071 bits
  EXPECT_EQ(Rsa3072Verify(short_modulus, 3, msg, sig).error().code, ErrorCode::kInvalidArgument);
  Rsa3072Block even_modulus = key.Modulus();
  even_modulus[383] &= 0xfe;
  EXPECT_EQ(Rsa3072Verify(even_modulus, 3, msg, sig).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Rsa3072Verify(Rsa3072Block{}, 3, msg, sig).error().code, ErrorCode::kInvalidArgument);
  for (uint32_t e : {0u, 1u, 2u, 4u}) {
    Status s = Rsa3072Verify(key.Modulus(), e, msg, sig);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << e;
  }
}

TEST(RsaTest, PemRoundTrip) {
  const Rsa3072PrivateKey& key = SharedKey();
  const std::string pem = key.ToPem();
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);  // PKCS#8
  auto again = Rsa3072PrivateKey::FromPem(pem);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->Modulus(), key.Modulus());
  EXPECT_EQ(again->Exponent(), 3u);
  const ByteSpan msg = AsBytes("hello");
  EXPECT_EQ(*again->Sign(msg), *key.Sign(msg));

  // PKCS#1 ("BEGIN RSA PRIVATE KEY") is accepted too.
  const std::string pkcs1 = ToPem(PkeyFromPem(pem).get(), PemKind::kTraditional);
  EXPECT_EQ(pkcs1.rfind("-----BEGIN RSA PRIVATE KEY-----", 0), 0u);
  auto from_pkcs1 = Rsa3072PrivateKey::FromPem(pkcs1);
  ASSERT_TRUE(from_pkcs1.ok()) << from_pkcs1.error().ToString();
  EXPECT_EQ(from_pkcs1->Modulus(), key.Modulus());

  // Moving keeps the key usable.
  Rsa3072PrivateKey moved = std::move(*again);
  EXPECT_EQ(moved.Modulus(), key.Modulus());
}

TEST(RsaTest, FromPemRejectsWrongModulusSize) {
  ExpectInvalid(Rsa3072PrivateKey::FromPem(ToPem(OpensslRsaKey(2048, 3).get(), PemKind::kPkcs8)),
                "2048 bits");
}

TEST(RsaTest, FromPemRejectsWrongExponent) {
  ExpectInvalid(
      Rsa3072PrivateKey::FromPem(ToPem(OpensslRsaKey(3072, 65537).get(), PemKind::kPkcs8)),
      "exponent is not 3");
}

TEST(RsaTest, FromPemRejectsNonRsaKeys) {
  PkeyPtr ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_NE(ec, nullptr);
  ExpectInvalid(Rsa3072PrivateKey::FromPem(ToPem(ec.get(), PemKind::kPkcs8)), "not an RSA key");
}

TEST(RsaTest, FromPemRejectsNonKeys) {
  ExpectInvalid(Rsa3072PrivateKey::FromPem(""), "not an unencrypted PEM private key");
  ExpectInvalid(Rsa3072PrivateKey::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                           "-----END PRIVATE KEY-----\n"),
                "not an unencrypted PEM private key");
  PkeyPtr pkey = PkeyFromPem(SharedKey().ToPem());
  // A public key alone cannot sign.
  ExpectInvalid(Rsa3072PrivateKey::FromPem(ToPem(pkey.get(), PemKind::kPublic)),
                "not an unencrypted PEM private key");
  // An encrypted key fails instead of prompting for a password.
  ExpectInvalid(Rsa3072PrivateKey::FromPem(ToPem(pkey.get(), PemKind::kEncrypted)),
                "not an unencrypted PEM private key");
}

// ComputeQ1Q2 has no error channel: impossible inputs give all zeros.
TEST(RsaTest, Q1Q2OfImpossibleInputsIsZero) {
  Rsa3072Block s;
  s.fill(0xff);
  EXPECT_EQ(ComputeQ1Q2(s, Rsa3072Block{}).q1, Rsa3072Block{});  // n = 0
  Rsa3072Block n{};
  n[0] = 0x80;
  n[383] = 0x01;  // s > n: q1 needs 3073 bits
  const RsaQ1Q2 q = ComputeQ1Q2(s, n);
  EXPECT_EQ(q.q1, Rsa3072Block{});
  EXPECT_EQ(q.q2, Rsa3072Block{});
}

// External vector: the SIGSTRUCT of fortanix/rust-sgx's test enclave
// (shared/vectors/README.md; layout per Intel SDM Vol. 3D Table 38-19).
class SigstructVectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in("../shared/vectors/sgx/test_enclave.sig", std::ios::binary);
    ASSERT_TRUE(in) << "run from the repository root";
    sig_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    ASSERT_EQ(sig_.size(), 1808u);
    message_.assign(sig_.begin(), sig_.begin() + 128);                         // HEADER
    message_.insert(message_.end(), sig_.begin() + 900, sig_.begin() + 1028);  // BODY
  }

  // SIGSTRUCT stores big numbers little-endian; PKCS#1 is big-endian.
  Rsa3072Block BigEndianAt(size_t offset) const {
    Rsa3072Block out;
    std::reverse_copy(sig_.begin() + offset, sig_.begin() + offset + kRsa3072Bytes, out.begin());
    return out;
  }

  Bytes sig_;
  Bytes message_;
};

TEST_F(SigstructVectorTest, SignatureVerifies) {
  EXPECT_EQ(LoadLe<uint32_t>(sig_.data() + 512), 3u);
  Status s = Rsa3072Verify(BigEndianAt(128), LoadLe<uint32_t>(sig_.data() + 512), message_,
                           BigEndianAt(516));
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(SigstructVectorTest, Q1Q2MatchStoredValues) {
  const RsaQ1Q2 q = ComputeQ1Q2(BigEndianAt(516), BigEndianAt(128));
  EXPECT_EQ(q.q1, BigEndianAt(1040));
  EXPECT_EQ(q.q2, BigEndianAt(1424));
}

TEST_F(SigstructVectorTest, AlteredMessageFails) {
  message_[200] ^= 0x01;  // inside BODY (ENCLAVEHASH region)
  Status s = Rsa3072Verify(BigEndianAt(128), 3, message_, BigEndianAt(516));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kPermissionDenied);
}

}  // namespace
}  // namespace confide::crypto
