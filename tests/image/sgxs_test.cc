#include "image/sgxs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <fmt/format.h>

#include "base/file.h"
#include "crypto/sha256.h"
#include "sgxs_builder.h"

namespace confide::image {
namespace {

using ::testing::HasSubstr;
using testing::kRegRw;
using testing::kRegRx;
using testing::SgxsBuilder;

constexpr char kVectorSgxs[] = "../shared/vectors/sgx/test_enclave.sgxs";
constexpr char kVectorSig[] = "../shared/vectors/sgx/test_enclave.sig";
constexpr char kVectorMrenclave[] =
    "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc";

Bytes ReadVector(const char* path) {
  StatusOr<Bytes> b = ReadFile(path);
  EXPECT_TRUE(b.ok()) << b.status().ToString() << " (tests run from the repository root)";
  return b.ok() ? *b : Bytes{};
}

// Parses `stream`, expecting failure at stream offset `pos` with `rule` in the message.
void ExpectRejected(const Bytes& stream, size_t pos, const std::string& rule) {
  StatusOr<SgxsImage> r = ParseSgxs(stream);
  ASSERT_FALSE(r.ok()) << "expected: " << rule;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr(fmt::format("SGXS offset {:#x}: ", pos)));
  EXPECT_THAT(r.error().message, HasSubstr(rule));
}

TEST(SgxsVector, MeasuresToTheSigstructsEnclaveHash) {
  const Bytes file = ReadVector(kVectorSgxs);
  const Bytes sig = ReadVector(kVectorSig);
  ASSERT_EQ(file.size(), 46720u);
  ASSERT_EQ(sig.size(), 1808u);
  StatusOr<SgxsImage> image = ParseSgxs(file);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  const crypto::Sha256Digest mr = MeasureSgxs(*image);
  EXPECT_EQ(ToHex(mr), kVectorMrenclave);
  EXPECT_EQ(mr, crypto::Sha256Of(file));
  EXPECT_EQ(ToHex(ByteSpan(sig.data() + 960, 32)), kVectorMrenclave);
}

TEST(SgxsVector, ParsesEcreateAndEveryEadd) {
  StatusOr<SgxsImage> image = ParseSgxs(ReadVector(kVectorSgxs));
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->ssa_frame_size, 1u);
  EXPECT_EQ(image->size, 0x40000u);
  // From shared/vectors/README.md.
  const std::pair<uint64_t, uint64_t> expected[] = {
      {0x0, 0x201},     {0x1000, 0x205},  {0x2000, 0x203},  {0x4000, 0x201}, {0x15000, 0x100},
      {0x16000, 0x203}, {0x27000, 0x203}, {0x28000, 0x203}, {0x39000, 0x203}};
  ASSERT_EQ(image->pages.size(), std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    EXPECT_EQ(image->pages[i].offset, expected[i].first);
    EXPECT_EQ(image->pages[i].secinfo.flags, expected[i].second);
    EXPECT_EQ(image->pages[i].measured_chunks, kAllChunks);  // 144 EEXTENDs = 9 * 16
  }
  EXPECT_EQ(image->pages[4].secinfo.page_type(), machine::PageType::kTcs);
}

TEST(SgxsVector, RoundTripsByteForByte) {
  const Bytes file = ReadVector(kVectorSgxs);
  StatusOr<SgxsImage> image = ParseSgxs(file);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(WriteSgxs(*image), file);
}

TEST(SgxsVector, EveryTruncationIsRejectedOrARecordBoundary) {
  const Bytes file = ReadVector(kVectorSgxs);
  for (size_t len = 1; len < file.size(); len += 13) {
    const Bytes prefix(file.begin(), file.begin() + static_cast<ptrdiff_t>(len));
    StatusOr<SgxsImage> r = ParseSgxs(prefix);
    if (r.ok()) {
      EXPECT_EQ(WriteSgxs(*r), prefix) << len;  // only complete records parse
    } else {
      EXPECT_THAT(r.error().message, HasSubstr("truncated")) << len;
    }
  }
}

TEST(SgxsParse, MinimalImage) {
  SgxsBuilder b;
  b.Ecreate(2, 0x2000).Page(0x1000, kRegRx, 0x90);
  StatusOr<SgxsImage> r = ParseSgxs(b.bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ssa_frame_size, 2u);
  EXPECT_EQ(r->size, 0x2000u);
  ASSERT_EQ(r->pages.size(), 1u);
  EXPECT_EQ(r->pages[0].offset, 0x1000u);
  EXPECT_EQ(r->pages[0].secinfo.perms(), 0x5);
  EXPECT_EQ(r->pages[0].data[4095], 0x90);
  EXPECT_EQ(MeasureSgxs(*r), crypto::Sha256Of(b.bytes()));
  EXPECT_EQ(WriteSgxs(*r), b.bytes());
}

TEST(SgxsVector, StreamMeasurementEqualsParsedMeasurement) {
  const Bytes file = ReadVector(kVectorSgxs);
  StatusOr<crypto::Sha256Digest> streamed = MeasureSgxsStream(file);
  ASSERT_TRUE(streamed.ok()) << streamed.status().ToString();
  EXPECT_EQ(*streamed, MeasureSgxs(*ParseSgxs(file)));
  EXPECT_EQ(*streamed, crypto::Sha256Of(file));
}

TEST(SgxsParse, StreamMeasurementSkipsUnmeasuredAndRejectsWhatParseRejects) {
  SgxsBuilder b;
  b.Ecreate(1, 0x4000).Eadd(0x0).Eextend(0x0).Unmeasured(0x100).Eextend(0x200);
  StatusOr<SgxsImage> parsed = ParseSgxs(b.bytes());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  StatusOr<crypto::Sha256Digest> streamed = MeasureSgxsStream(b.bytes());
  ASSERT_TRUE(streamed.ok()) << streamed.status().ToString();
  EXPECT_EQ(*streamed, MeasureSgxs(*parsed));
  b.Eadd(0x0);  // twice at one offset
  StatusOr<crypto::Sha256Digest> bad = MeasureSgxsStream(b.bytes());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, ParseSgxs(b.bytes()).error().message);
}

TEST(SgxsParse, PageCountIsCappedBeforeMemoryIsSpent) {
  SgxsBuilder b;
  b.Ecreate(1, 0x10000).Eadd(0x0).Eadd(0x1000).Eadd(0x2000);
  SgxsLimits limits;
  limits.max_pages = 3;
  EXPECT_TRUE(ParseSgxs(b.bytes(), limits).ok());
  b.Eadd(0x3000);
  StatusOr<SgxsImage> r = ParseSgxs(b.bytes(), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("SGXS offset 0x100: "));
  EXPECT_THAT(r.error().message, HasSubstr("more than 3 EADD records"));
}

TEST(SgxsParse, PartiallyMeasuredPageAndOutOfOrderEadds) {
  SgxsBuilder b;
  b.Ecreate().Eadd(0x3000).Eextend(0x3100, 1).Eextend(0x3f00, 2).Eadd(0x1000, 0x100).Page(0x0);
  StatusOr<SgxsImage> r = ParseSgxs(b.bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->pages.size(), 3u);
  EXPECT_EQ(r->pages[0].measured_chunks, (1u << 1) | (1u << 15));
  EXPECT_EQ(r->pages[0].data[0x100], 1);
  EXPECT_EQ(r->pages[0].data[0], 0);
  EXPECT_EQ(r->pages[1].measured_chunks, 0);
  EXPECT_EQ(MeasureSgxs(*r), crypto::Sha256Of(b.bytes()));
  EXPECT_EQ(WriteSgxs(*r), b.bytes());
}

TEST(SgxsParse, AcceptsPluginSregPages) {
  SgxsBuilder b;
  b.Ecreate().Page(0, (uint64_t{8} << 8) | 0x5);
  StatusOr<SgxsImage> r = ParseSgxs(b.bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pages[0].secinfo.page_type(), machine::PageType::kSreg);
}

TEST(SgxsParse, UnmeasuredDataIsLoadedButNotMeasured) {
  SgxsBuilder with, without;
  with.Ecreate().Eadd(0).Eextend(0).Unmeasured(0x100, 0x77).Eextend(0x200);
  without.Ecreate().Eadd(0).Eextend(0).Eextend(0x200);
  StatusOr<SgxsImage> r = ParseSgxs(with.bytes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pages[0].measured_chunks, 0b101);
  EXPECT_EQ(r->pages[0].data[0x100], 0x77);
  EXPECT_NE(MeasureSgxs(*r), crypto::Sha256Of(with.bytes()));
  EXPECT_EQ(MeasureSgxs(*r), crypto::Sha256Of(without.bytes()));
  EXPECT_EQ(WriteSgxs(*r), with.bytes());
}

// --- Every rule of the format has a test ---------------------------------

TEST(SgxsRules, EmptyStream) { ExpectRejected({}, 0, "stream is empty"); }

TEST(SgxsRules, FirstRecordMustBeEcreate) {
  SgxsBuilder b;
  b.Eadd(0);
  ExpectRejected(b.bytes(), 0, "first record must be ECREATE, found tag 0x4541444400000000");
}

TEST(SgxsRules, SecondEcreate) {
  SgxsBuilder b;
  b.Ecreate().Page(0);
  const size_t at = b.pos();
  b.Ecreate();
  ExpectRejected(b.bytes(), at, "second ECREATE");
}

TEST(SgxsRules, TruncatedRecord) {
  SgxsBuilder b;
  b.Ecreate().Page(0);
  const size_t at = b.pos();
  b.Eadd(0x1000);
  Bytes s = b.bytes();
  s.resize(s.size() - 10);
  ExpectRejected(s, at, "truncated record: 54 bytes left, a record is 64");
}

TEST(SgxsRules, TruncatedEextendData) {
  SgxsBuilder b;
  b.Ecreate().Eadd(0);
  const size_t at = b.pos();
  b.Eextend(0);
  Bytes s = b.bytes();
  s.resize(s.size() - 1);
  ExpectRejected(s, at,
                 "EEXTEND at enclave offset 0x0 is truncated: needs 256 data bytes, 255 left");
}

TEST(SgxsRules, UnknownTagIsNamedInHex) {
  SgxsBuilder b;
  b.Ecreate().Page(0);
  const size_t at = b.pos();
  machine::MeasurementRecord r{};
  const char tag[8] = {'E', 'R', 'E', 'M', 'O', 'V', 'E', 0};
  std::copy_n(tag, 8, r.begin());
  b.Append(r);
  ExpectRejected(b.bytes(), at, "unknown record tag 0x4552454d4f564500 (\"EREMOVE\")");
}

TEST(SgxsRules, EcreateSizeNotPowerOfTwo) {
  SgxsBuilder b;
  b.Ecreate(1, 0x30000);
  ExpectRejected(b.bytes(), 0, "ECREATE SIZE 0x30000 is not a power of two >= 0x2000");
}

TEST(SgxsRules, EcreateSizeTooSmall) {
  SgxsBuilder b;
  b.Ecreate(1, 0x1000);
  ExpectRejected(b.bytes(), 0, "ECREATE SIZE 0x1000 is not a power of two >= 0x2000");
}

TEST(SgxsRules, EcreateSsaFrameSizeZero) {
  SgxsBuilder b;
  b.Ecreate(0, 0x2000);
  ExpectRejected(b.bytes(), 0, "SSAFRAMESIZE must be at least 1");
}

TEST(SgxsRules, EcreateReservedBytes) {
  machine::MeasurementRecord r = machine::EcreateRecord(1, 0x2000);
  r[40] = 1;
  ExpectRejected(Bytes(r.begin(), r.end()), 0, "ECREATE reserved bytes [20,64) must be zero");
}

TEST(SgxsRules, EaddNotPageAligned) {
  SgxsBuilder b;
  b.Ecreate().Eadd(0x1800);
  ExpectRejected(b.bytes(), 64, "EADD at enclave offset 0x1800 is not page aligned");
}

TEST(SgxsRules, EaddBeyondSize) {
  SgxsBuilder b;
  b.Ecreate(1, 0x10000).Eadd(0x10000);
  ExpectRejected(b.bytes(), 64, "EADD at enclave offset 0x10000 is beyond SIZE 0x10000");
}

TEST(SgxsRules, EaddTwiceAtOneOffset) {
  SgxsBuilder b;
  b.Ecreate().Page(0x2000).Page(0x3000);
  const size_t at = b.pos();
  b.Eadd(0x2000);
  ExpectRejected(b.bytes(), at, "EADD at enclave offset 0x2000: page already added");
}

TEST(SgxsRules, EaddSecinfoReservedFlagBits) {
  for (uint64_t bit : {uint64_t{1} << 6, uint64_t{1} << 7, uint64_t{1} << 16, uint64_t{1} << 63}) {
    SgxsBuilder b;
    b.Ecreate().Eadd(0, kRegRw | bit);
    ExpectRejected(b.bytes(), 64, "EADD at enclave offset 0x0: SECINFO reserved bits must be zero");
  }
}

TEST(SgxsRules, EaddSecinfoReservedBytes) {
  machine::MeasurementRecord r = machine::EaddRecord(0, machine::SecInfo{kRegRw});
  r[63] = 0x80;
  SgxsBuilder b;
  b.Ecreate().Append(r);
  ExpectRejected(b.bytes(), 64, "SECINFO reserved bits must be zero");
}

TEST(SgxsRules, EaddPageTypes) {
  for (int type : {0, 3, 4, 5, 6, 7, 9}) {
    SgxsBuilder b;
    b.Ecreate().Eadd(0, (uint64_t(type) << 8) | 1);
    ExpectRejected(b.bytes(), 64, fmt::format("page type {} (", type));
  }
}

TEST(SgxsRules, EextendNotAligned) {
  SgxsBuilder b;
  b.Ecreate().Page(0x4000).Eadd(0x5000).Eextend(0x5000);
  const size_t at = b.pos();
  b.Eextend(0x5010);
  ExpectRejected(b.bytes(), at, "EEXTEND at enclave offset 0x5010 is not 256-byte aligned");
}

TEST(SgxsRules, EextendOutsideAnyAddedPage) {
  SgxsBuilder b;
  b.Ecreate().Eadd(0x1000).Eextend(0x1000);
  const size_t at = b.pos();
  b.Eextend(0x2000);
  ExpectRejected(b.bytes(), at,
                 "EEXTEND at enclave offset 0x2000 is not inside a page added by EADD");
}

TEST(SgxsRules, EextendBeforeAnyEadd) {
  SgxsBuilder b;
  b.Ecreate().Eextend(0);
  ExpectRejected(b.bytes(), 64, "is not inside a page added by EADD");
}

TEST(SgxsRules, EextendOfAnEarlierPage) {
  SgxsBuilder b;
  b.Ecreate().Page(0x1000).Eadd(0x2000);
  const size_t at = b.pos();
  b.Eextend(0x1000);
  ExpectRejected(b.bytes(), at,
                 "EEXTEND at enclave offset 0x1000 is not in the page of the preceding EADD "
                 "(0x2000)");
}

TEST(SgxsRules, EextendChunkTwice) {
  SgxsBuilder b;
  b.Ecreate().Eadd(0).Eextend(0).Eextend(0x100);
  const size_t at = b.pos();
  b.Eextend(0x100);
  ExpectRejected(b.bytes(), at, "EEXTEND at enclave offset 0x100: chunk already extended");
}

TEST(SgxsRules, EextendChunksOutOfOrder) {
  SgxsBuilder b;
  b.Ecreate().Eadd(0).Eextend(0x200);
  const size_t at = b.pos();
  b.Eextend(0x100);
  ExpectRejected(b.bytes(), at, "chunks of a page must be in ascending order");
}

TEST(SgxsRules, EextendReservedBytes) {
  machine::MeasurementRecord r = machine::EextendRecord(0);
  r[20] = 1;
  SgxsBuilder b;
  b.Ecreate().Eadd(0).Append(r).Append(Bytes(256, 0));
  ExpectRejected(b.bytes(), 128, "reserved bytes [16,64) of the record must be zero");
}

TEST(SgxsRules, UnmeasuredFollowsTheEextendRules) {
  {
    SgxsBuilder b;
    b.Ecreate().Eadd(0).Unmeasured(0x80);
    ExpectRejected(b.bytes(), 128, "UNMEASRD at enclave offset 0x80 is not 256-byte aligned");
  }
  {
    SgxsBuilder b;
    b.Ecreate().Eadd(0).Unmeasured(0x1000);
    ExpectRejected(b.bytes(), 128, "UNMEASRD at enclave offset 0x1000 is not inside a page");
  }
  {
    SgxsBuilder b;
    b.Ecreate().Eadd(0).Eextend(0).Unmeasured(0);
    ExpectRejected(b.bytes(), 128 + 320, "UNMEASRD at enclave offset 0x0: chunk already extended");
  }
  {
    SgxsBuilder b;
    b.Ecreate().Eadd(0).Unmeasured(0);
    Bytes s = b.bytes();
    s.pop_back();
    ExpectRejected(s, 128, "UNMEASRD at enclave offset 0x0 is truncated");
  }
}

// --- Properties -------------------------------------------------------------

RC_GTEST_PROP(SgxsProperty, WriteThenParseIsIdentityAndMeasureIsSha256OfTheStream, ()) {
  SgxsImage image;
  image.ssa_frame_size = *rc::gen::inRange<uint32_t>(1, 8);
  image.size = uint64_t{1} << *rc::gen::inRange(13, 20);
  const auto offsets = *rc::gen::unique<std::vector<uint64_t>>(
      rc::gen::map(rc::gen::inRange<uint64_t>(0, image.size / kPageSize),
                   [](uint64_t p) { return p * kPageSize; }));
  const bool with_unmeasured = *rc::gen::arbitrary<bool>();
  for (uint64_t offset : offsets) {
    SgxsPage page;
    page.offset = offset;
    const int type = *rc::gen::element(2, 1, 8);
    page.secinfo = machine::SecInfo::Make(static_cast<machine::PageType>(type),
                                          *rc::gen::inRange<uint64_t>(0, 8));
    page.measured_chunks = *rc::gen::arbitrary<uint16_t>();
    for (int c = 0; c < kChunksPerPage; ++c) {
      const bool measured = page.measured_chunks & (1u << c);
      if (measured || with_unmeasured) {
        const uint8_t fill = *rc::gen::inRange<uint8_t>(measured ? 0 : 1, 255);
        std::fill_n(page.data.begin() + c * 256, 256, fill);
      }
    }
    image.pages.push_back(page);
  }
  const Bytes stream = WriteSgxs(image);
  StatusOr<SgxsImage> parsed = ParseSgxs(stream);
  RC_ASSERT(parsed.ok());
  RC_ASSERT(*parsed == image);
  RC_ASSERT(WriteSgxs(*parsed) == stream);
  if (!with_unmeasured) RC_ASSERT(MeasureSgxs(image) == crypto::Sha256Of(stream));
}

RC_GTEST_PROP(SgxsProperty, MutatedStreamsParseConsistentlyOrNameTheOffset, ()) {
  SgxsBuilder b;
  b.Ecreate().Page(0).Eadd(0x2000).Eextend(0x2100).Unmeasured(0x2300).Page(0x1000, 0x100);
  Bytes stream = b.bytes();
  const size_t n = *rc::gen::inRange<size_t>(1, 8);
  for (size_t i = 0; i < n; ++i) {
    const size_t at = *rc::gen::inRange<size_t>(0, stream.size());
    stream[at] = *rc::gen::arbitrary<uint8_t>();
  }
  if (*rc::gen::arbitrary<bool>()) stream.resize(*rc::gen::inRange<size_t>(0, stream.size()));
  StatusOr<SgxsImage> r = ParseSgxs(stream);
  if (r.ok()) {
    const Bytes again = WriteSgxs(*r);
    StatusOr<SgxsImage> r2 = ParseSgxs(again);
    RC_ASSERT(r2.ok());
    RC_ASSERT(*r2 == *r);
  } else {
    RC_ASSERT(r.error().message.rfind("SGXS offset 0x", 0) == 0);
  }
}

}  // namespace
}  // namespace confide::image
