#include "crypto/aes.h"

#include <string>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "hex.h"

namespace confide::crypto {
namespace {

using testutil::Hex;
using testutil::HexArray;

// RFC 4493 §4, Examples 1-4 (AES-128 key from SP 800-38B D.1).
TEST(AesCmacTest, Rfc4493Examples) {
  const Aes128Key key = HexArray<16>("2b7e151628aed2a6abf7158809cf4f3c");
  const Bytes m =
      Hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
          "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
  EXPECT_EQ(AesCmac128(key, ByteSpan(m).first(0)),
            HexArray<16>("bb1d6929e95937287fa37d129b756746"));
  EXPECT_EQ(AesCmac128(key, ByteSpan(m).first(16)),
            HexArray<16>("070a16b46b4d4144f79bdd9dd04a287c"));
  EXPECT_EQ(AesCmac128(key, ByteSpan(m).first(40)),
            HexArray<16>("dfa66747de9ae63030ca32611497c827"));
  EXPECT_EQ(AesCmac128(key, ByteSpan(m).first(64)),
            HexArray<16>("51f0bebf7e3b9d92fc49741779363cfe"));
}

// A case from "The Galois/Counter Mode of Operation (GCM)", McGrew & Viega,
// Appendix B (the NIST GCM submission's test vectors).
struct GcmCase {
  const char* name;
  const char* key;
  const char* iv;
  const char* aad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

constexpr char kTc3Plaintext[] =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
constexpr char kTc4Plaintext[] =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
constexpr char kTc4Aad[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr char kZeroKey128[] = "00000000000000000000000000000000";
constexpr char kZeroKey256[] = "0000000000000000000000000000000000000000000000000000000000000000";
constexpr char kZeroIv[] = "000000000000000000000000";

const GcmCase kGcmCases[] = {
    {"TestCase1", kZeroKey128, kZeroIv, "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"},
    {"TestCase2", kZeroKey128, kZeroIv, "", "00000000000000000000000000000000",
     "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
    {"TestCase3", "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", "", kTc3Plaintext,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"TestCase4", "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", kTc4Aad,
     kTc4Plaintext,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"TestCase13", kZeroKey256, kZeroIv, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"TestCase14", kZeroKey256, kZeroIv, "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"TestCase15", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "", kTc3Plaintext,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"TestCase16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", kTc4Aad, kTc4Plaintext,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(AesGcmTest, McGrewViegaTestCases) {
  for (const GcmCase& c : kGcmCases) {
    SCOPED_TRACE(c.name);
    const Bytes key = Hex(c.key), iv = Hex(c.iv), aad = Hex(c.aad), pt = Hex(c.plaintext);
    Bytes ct(pt.size());
    GcmTag tag{};
    ASSERT_TRUE(AesGcmEncrypt(key, iv, aad, pt, ct, &tag).ok());
    EXPECT_EQ(ct, Hex(c.ciphertext));
    EXPECT_EQ(tag, HexArray<16>(c.tag));

    Bytes back(ct.size());
    ASSERT_TRUE(AesGcmDecrypt(key, iv, aad, ct, tag, back).ok());
    EXPECT_EQ(back, pt);
  }
}

// Encrypting and decrypting in place (the header allows aliasing).
TEST(AesGcmTest, InPlace) {
  const Bytes key = Hex("feffe9928665731c6d6a8f9467308308"), iv = Hex("cafebabefacedbaddecaf888");
  Bytes buf = Hex(kTc3Plaintext);
  GcmTag tag{};
  ASSERT_TRUE(AesGcmEncrypt(key, iv, {}, buf, buf, &tag).ok());
  EXPECT_EQ(tag, HexArray<16>("4d5c2af327cd64a62cf35abd2ba6fab4"));
  ASSERT_TRUE(AesGcmDecrypt(key, iv, {}, buf, tag, buf).ok());
  EXPECT_EQ(buf, Hex(kTc3Plaintext));
}

class AesGcmTamperTest : public ::testing::Test {
 protected:
  // Test Case 4: AES-128 with AAD.
  const Bytes key_ = Hex("feffe9928665731c6d6a8f9467308308");
  const Bytes iv_ = Hex("cafebabefacedbaddecaf888");
  Bytes aad_ = Hex(kTc4Aad);
  Bytes ct_ =
      Hex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
          "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091");
  GcmTag tag_ = HexArray<16>("5bc94fbc3221a5db94fae95ae7121a47");

  // Decrypts into a buffer pre-filled with 0xaa and checks that it fails with
  // PermissionDenied and leaves only zeros behind.
  void ExpectRejectedAndZeroed() {
    Bytes out(ct_.size(), 0xaa);
    Status s = AesGcmDecrypt(key_, iv_, aad_, ct_, tag_, out);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kPermissionDenied);
    EXPECT_EQ(s.error().message, "AES-GCM tag mismatch");
    EXPECT_EQ(out, Bytes(ct_.size(), 0));
  }
};

TEST_F(AesGcmTamperTest, Untampered) {
  Bytes out(ct_.size());
  EXPECT_TRUE(AesGcmDecrypt(key_, iv_, aad_, ct_, tag_, out).ok());
  EXPECT_EQ(out, Hex(kTc4Plaintext));
}

TEST_F(AesGcmTamperTest, FlippedCiphertextBit) {
  ct_[17] ^= 0x01;
  ExpectRejectedAndZeroed();
}

TEST_F(AesGcmTamperTest, FlippedAadBit) {
  aad_[0] ^= 0x80;
  ExpectRejectedAndZeroed();
}

TEST_F(AesGcmTamperTest, MissingAad) {
  aad_.clear();
  ExpectRejectedAndZeroed();
}

TEST_F(AesGcmTamperTest, FlippedTagBit) {
  tag_[15] ^= 0x01;
  ExpectRejectedAndZeroed();
}

TEST_F(AesGcmTamperTest, TruncatedCiphertext) {
  ct_.pop_back();
  ExpectRejectedAndZeroed();
}

TEST(AesGcmTest, RejectsKeySizesOtherThan16And32) {
  const Bytes iv(kGcmIvSize), pt(16);
  Bytes ct(16);
  GcmTag tag{};
  for (size_t size : {0, 15, 24, 33}) {
    Status s = AesGcmEncrypt(Bytes(size), iv, {}, pt, ct, &tag);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find("got " + std::to_string(size)), std::string::npos)
        << s.error().message;
  }
  Bytes out(16, 0xaa);
  Status s = AesGcmDecrypt(Bytes(24), iv, {}, ct, tag, out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(out, Bytes(16, 0));  // no bytes escape on any failure
}

TEST(AesGcmTest, RejectsIvSizesOtherThan12) {
  const Bytes key(16), pt(16);
  Bytes ct(16), out(16);
  GcmTag tag{};
  for (size_t size : {0, 8, 11, 13, 16}) {
    Status enc = AesGcmEncrypt(key, Bytes(size), {}, pt, ct, &tag);
    ASSERT_FALSE(enc.ok());
    EXPECT_EQ(enc.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(enc.error().message.find("IV must be 12 bytes, got " + std::to_string(size)),
              std::string::npos);
    Status dec = AesGcmDecrypt(key, Bytes(size), {}, ct, tag, out);
    ASSERT_FALSE(dec.ok());
    EXPECT_EQ(dec.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(AesGcmTest, RejectsMismatchedBuffersAndNullTag) {
  const Bytes key(16), iv(kGcmIvSize), pt(16);
  Bytes short_out(15);
  GcmTag tag{};
  EXPECT_EQ(AesGcmEncrypt(key, iv, {}, pt, short_out, &tag).error().code,
            ErrorCode::kInvalidArgument);
  Bytes ct(16);
  EXPECT_EQ(AesGcmEncrypt(key, iv, {}, pt, ct, nullptr).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(AesGcmDecrypt(key, iv, {}, ct, tag, short_out).error().code,
            ErrorCode::kInvalidArgument);
}

RC_GTEST_PROP(AesGcmProp, RoundTrips,
              (const std::vector<uint8_t>& plaintext, const std::vector<uint8_t>& aad,
               bool aes256)) {
  const Bytes key(aes256 ? 32 : 16, 0x42), iv(kGcmIvSize, 0x07);
  Bytes ct(plaintext.size()), back(plaintext.size());
  GcmTag tag{};
  RC_ASSERT(AesGcmEncrypt(key, iv, aad, plaintext, ct, &tag).ok());
  RC_ASSERT(AesGcmDecrypt(key, iv, aad, ct, tag, back).ok());
  RC_ASSERT(back == plaintext);
}

}  // namespace
}  // namespace confide::crypto
