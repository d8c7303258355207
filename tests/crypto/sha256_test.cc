#include "crypto/sha256.h"

#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "base/bytes.h"

namespace confide::crypto {
namespace {

std::string HexOf(ByteSpan data) { return ToHex(data); }

// FIPS 180-4 examples as published by NIST CSRC ("Cryptographic Standards and
// Guidelines: Examples with Intermediate Values", SHA256.pdf and
// SHA2_Additional.pdf): "abc", the 448-bit two-block message, and the empty string.
TEST(Sha256Test, NistExamples) {
  EXPECT_EQ(HexOf(Sha256Of(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexOf(Sha256Of(AsBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(HexOf(Sha256Of({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// FIPS 180-2 Appendix B.3 / NIST CSRC: one million repetitions of 'a', fed as
// 1000 updates of 1000 bytes to exercise the incremental path.
TEST(Sha256Test, MillionA) {
  const std::string thousand(1000, 'a');
  Sha256 h;
  for (int i = 0; i < 1000; ++i) h.Update(AsBytes(thousand));
  EXPECT_EQ(HexOf(h.Finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Odd chunk sizes straddle the 64-byte block boundary in every way.
TEST(Sha256Test, OddChunksEqualOneShot) {
  Bytes data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 1);
  const Sha256Digest expected = Sha256Of(data);
  for (size_t chunk : {1, 3, 7, 55, 63, 64, 65, 127, 999}) {
    Sha256 h;
    for (size_t off = 0; off < data.size(); off += chunk)
      h.Update(ByteSpan(data).subspan(off, std::min(chunk, data.size() - off)));
    EXPECT_EQ(h.Finish(), expected) << "chunk " << chunk;
  }
}

RC_GTEST_PROP(Sha256Prop, AnySplitEqualsOneShot, (const std::vector<uint8_t>& data, size_t cut)) {
  const size_t at = data.empty() ? 0 : cut % (data.size() + 1);
  Sha256 h;
  h.Update(ByteSpan(data).first(at));
  h.Update(ByteSpan(data).subspan(at));
  RC_ASSERT(h.Finish() == Sha256Of(data));
}

// Copying snapshots the running hash: the copy and the original continue
// independently (how MRENCLAVE in progress is forked).
TEST(Sha256Test, CopySnapshotsState) {
  Sha256 a;
  a.Update(AsBytes("ab"));
  Sha256 b = a;  // copy construction
  Sha256 c;
  c.Update(AsBytes("unrelated"));
  c = a;  // copy assignment replaces c's state
  a.Update(AsBytes("c"));
  b.Update(AsBytes("d"));
  c.Update(AsBytes("e"));
  EXPECT_EQ(a.Finish(), Sha256Of(AsBytes("abc")));
  EXPECT_EQ(b.Finish(), Sha256Of(AsBytes("abd")));
  EXPECT_EQ(c.Finish(), Sha256Of(AsBytes("abe")));
}

TEST(Sha256Test, ResetStartsOver) {
  Sha256 h;
  h.Update(AsBytes("garbage"));
  (void)h.Finish();
  h.Reset();
  h.Update(AsBytes("abc"));
  EXPECT_EQ(HexOf(h.Finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// External vector: fortanix/rust-sgx's test_enclave.sgxs is the SGX measurement
// stream, so its SHA-256 is the MRENCLAVE that its SIGSTRUCT records at offset
// 960 (shared/vectors/README.md).
TEST(Sha256Test, SgxsStreamHashIsEnclaveHash) {
  std::ifstream sgxs("../shared/vectors/sgx/test_enclave.sgxs", std::ios::binary);
  std::ifstream sig("../shared/vectors/sgx/test_enclave.sig", std::ios::binary);
  ASSERT_TRUE(sgxs && sig) << "run from the repository root";
  const Bytes stream((std::istreambuf_iterator<char>(sgxs)), std::istreambuf_iterator<char>());
  const Bytes sigstruct((std::istreambuf_iterator<char>(sig)), std::istreambuf_iterator<char>());
  ASSERT_EQ(stream.size(), 46720u);
  ASSERT_EQ(sigstruct.size(), 1808u);
  Sha256 h;  // record by record, as the machine measures
  for (size_t off = 0; off < stream.size(); off += 64) h.Update(ByteSpan(stream).subspan(off, 64));
  const Sha256Digest mrenclave = h.Finish();
  EXPECT_TRUE(std::equal(mrenclave.begin(), mrenclave.end(), sigstruct.begin() + 960));
  // MRSIGNER: SHA-256 of the little-endian modulus at offset 128.
  EXPECT_EQ(HexOf(Sha256Of(ByteSpan(sigstruct).subspan(128, 384))),
            "fb4bab3d6036ac1d730fa83d7366df1dd2dfeac194ef335d6854d8a6c6475542");
}

}  // namespace
}  // namespace confide::crypto
