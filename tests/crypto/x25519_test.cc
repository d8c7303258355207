#include "crypto/x25519.h"

#include <string>

#include <gtest/gtest.h>

#include "hex.h"

namespace confide::crypto {
namespace {

using testutil::Hex;
using testutil::HexArray;

// RFC 7748 §5.2: the two X25519 scalar-multiplication vectors (scalar, input
// u-coordinate, output u-coordinate).
TEST(X25519Test, Rfc7748ScalarMultVectors) {
  auto out1 =
      X25519Agree(HexArray<32>("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                  HexArray<32>("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"));
  ASSERT_TRUE(out1.ok()) << out1.error().ToString();
  EXPECT_EQ(*out1,
            HexArray<32>("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"));
  auto out2 =
      X25519Agree(HexArray<32>("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                  HexArray<32>("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"));
  ASSERT_TRUE(out2.ok()) << out2.error().ToString();
  EXPECT_EQ(*out2,
            HexArray<32>("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"));
}

// RFC 7748 §5.2, the iterated test: k = u = 9; then k, u = X25519(k, u), k.
// Published results after 1 and 1,000 iterations.
TEST(X25519Test, Rfc7748Iterated) {
  X25519Key k{9}, u{9};
  for (int i = 1; i <= 1000; ++i) {
    auto next = X25519Agree(k, u);
    ASSERT_TRUE(next.ok()) << next.error().ToString();
    u = k;
    k = *next;
    if (i == 1) {
      EXPECT_EQ(k,
                HexArray<32>("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"));
    }
  }
  EXPECT_EQ(k, HexArray<32>("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"));
}

// RFC 7748 §6.1: Alice's and Bob's key pairs and their shared secret.
TEST(X25519Test, Rfc7748DiffieHellman) {
  const auto alice_priv =
      HexArray<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const auto alice_pub =
      HexArray<32>("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  const auto bob_priv =
      HexArray<32>("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const auto bob_pub =
      HexArray<32>("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const auto shared =
      HexArray<32>("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(*X25519PublicFromPrivate(alice_priv), alice_pub);
  EXPECT_EQ(*X25519PublicFromPrivate(bob_priv), bob_pub);
  EXPECT_EQ(*X25519Agree(alice_priv, bob_pub), shared);
  EXPECT_EQ(*X25519Agree(bob_priv, alice_pub), shared);
}

TEST(X25519Test, GeneratedPairsAgree) {
  auto a = X25519Generate(), b = X25519Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->private_key, b->private_key);
  EXPECT_EQ(*X25519PublicFromPrivate(a->private_key), a->public_key);
  EXPECT_EQ(*X25519Agree(a->private_key, b->public_key),
            *X25519Agree(b->private_key, a->public_key));
}

// RFC 7748 §6.1: a low-order peer key forces an all-zero secret, which must be
// rejected. u = 0 and u = 1 are points of order 1 and 4 (and u = p, which
// reduces to 0).
TEST(X25519Test, RejectsLowOrderPeerKeys) {
  const auto priv =
      HexArray<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const X25519Key zero{}, one{1};
  const auto p = HexArray<32>("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  for (const X25519Key& peer : {zero, one, p}) {
    auto secret = X25519Agree(priv, peer);
    ASSERT_FALSE(secret.ok()) << ToHex(peer);
    EXPECT_EQ(secret.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(secret.error().message.find("low order"), std::string::npos)
        << secret.error().message;
  }
}

// RFC 5869 Appendix A, Test Cases 1-3 (SHA-256).
TEST(HkdfTest, Rfc5869TestCases) {
  auto okm1 = HkdfSha256(Hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                         Hex("000102030405060708090a0b0c"), Hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm1.ok()) << okm1.error().ToString();
  EXPECT_EQ(ToHex(*okm1),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");

  Bytes ikm(80), salt(80), info(80);
  for (int i = 0; i < 80; ++i) {
    ikm[i] = static_cast<uint8_t>(i);
    salt[i] = static_cast<uint8_t>(0x60 + i);
    info[i] = static_cast<uint8_t>(0xb0 + i);
  }
  auto okm2 = HkdfSha256(ikm, salt, info, 82);
  ASSERT_TRUE(okm2.ok()) << okm2.error().ToString();
  EXPECT_EQ(ToHex(*okm2),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87");

  // Test Case 3: zero-length salt and info.
  auto okm3 = HkdfSha256(Hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), {}, {}, 42);
  ASSERT_TRUE(okm3.ok()) << okm3.error().ToString();
  EXPECT_EQ(ToHex(*okm3),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(HkdfTest, LengthLimits) {
  const Bytes ikm(32, 7);
  auto max = HkdfSha256(ikm, {}, {}, 8160);
  ASSERT_TRUE(max.ok()) << max.error().ToString();
  EXPECT_EQ(max->size(), 8160u);
  auto too_long = HkdfSha256(ikm, {}, {}, 8161);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(too_long.error().message.find("8161"), std::string::npos);
  auto empty = HkdfSha256(ikm, {}, {}, 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  // Output is a prefix of longer output (RFC 5869 §2.3, T(1) || T(2) || ...).
  EXPECT_EQ(*HkdfSha256(ikm, {}, {}, 10), Bytes(max->begin(), max->begin() + 10));
}

TEST(HkdfTest, EmptyIkmIsAllowed) {
  auto okm = HkdfSha256({}, AsBytes("salt"), AsBytes("info"), 32);
  ASSERT_TRUE(okm.ok()) << okm.error().ToString();
  EXPECT_NE(*okm, *HkdfSha256(Bytes{0}, AsBytes("salt"), AsBytes("info"), 32));
}

}  // namespace
}  // namespace confide::crypto
