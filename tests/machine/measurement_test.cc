// The split (EnTurbo) measurement: worker threads hashing disjoint ranges of
// the record stream in any order give one value, which depends on the stream
// and the cut points, and which is never MRENCLAVE.
#include "machine/measurement.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace confide::machine {
namespace {

struct Page {
  uint64_t offset;
  SecInfo secinfo;
  std::array<uint8_t, kPageSize> data;
};

std::vector<Page> MakePages(size_t n) {
  std::vector<Page> pages(n);
  for (size_t i = 0; i < n; ++i) {
    pages[i].offset = i * kPageSize;
    pages[i].secinfo = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kX);
    for (size_t b = 0; b < kPageSize; ++b) pages[i].data[b] = static_cast<uint8_t>(i * 31 + b);
  }
  return pages;
}

crypto::Sha256Digest MeasureRange(const std::vector<Page>& pages, size_t begin, size_t end,
                                  uint32_t index) {
  ShadowMeasurement m(index);
  for (size_t i = begin; i < end; ++i) {
    m.Eadd(pages[i].offset, pages[i].secinfo);
    for (size_t c = 0; c < kPageSize; c += kEextendChunkSize)
      m.Eextend(pages[i].offset + c, ByteSpan(pages[i].data).subspan(c, kEextendChunkSize));
  }
  return m.Finish();
}

// Measures `pages` cut at `cuts` (range boundaries), one thread per range,
// started in the order `start_order`.
crypto::Sha256Digest MeasureSplit(const std::vector<Page>& pages, std::vector<size_t> cuts,
                                  const std::vector<size_t>& start_order) {
  cuts.insert(cuts.begin(), 0);
  cuts.push_back(pages.size());
  const size_t ranges = cuts.size() - 1;
  std::vector<crypto::Sha256Digest> digests(ranges);
  std::vector<std::thread> workers;
  for (size_t k : start_order)
    workers.emplace_back([&, k] {
      digests[k] = MeasureRange(pages, cuts[k], cuts[k + 1], static_cast<uint32_t>(k));
    });
  for (auto& w : workers) w.join();
  return MergeShadowMeasurements(EcreateRecord(1, 0x100000), digests);
}

TEST(SplitMeasurementTest, IndependentOfWorkerOrder) {
  const auto pages = MakePages(24);
  const auto a = MeasureSplit(pages, {8, 16}, {0, 1, 2});
  const auto b = MeasureSplit(pages, {8, 16}, {2, 0, 1});
  EXPECT_EQ(a, b);
}

TEST(SplitMeasurementTest, DependsOnCutsAndContent) {
  auto pages = MakePages(24);
  const auto base = MeasureSplit(pages, {8, 16}, {0, 1, 2});
  EXPECT_NE(base, MeasureSplit(pages, {12}, {0, 1}));
  EXPECT_NE(base, MeasureSplit(pages, {8, 17}, {0, 1, 2}));
  pages[20].data[100] ^= 1;
  EXPECT_NE(base, MeasureSplit(pages, {8, 16}, {0, 1, 2}));
}

TEST(SplitMeasurementTest, OneRangeIsNotMrenclave) {
  const auto pages = MakePages(4);
  crypto::Sha256 mrenclave;
  mrenclave.Update(EcreateRecord(1, 0x100000));
  for (const Page& p : pages) {
    mrenclave.Update(EaddRecord(p.offset, p.secinfo));
    for (size_t c = 0; c < kPageSize; c += kEextendChunkSize) {
      mrenclave.Update(EextendRecord(p.offset + c));
      mrenclave.Update(ByteSpan(p.data).subspan(c, kEextendChunkSize));
    }
  }
  EXPECT_NE(MeasureSplit(pages, {}, {0}), mrenclave.Finish());
}

RC_GTEST_PROP(SplitMeasurementProperty, AnyStartOrderGivesTheSameValue,
              (uint8_t n_pages, uint8_t n_ranges)) {
  const size_t pages_n = 1 + n_pages % 16;
  const size_t ranges = 1 + n_ranges % std::min<size_t>(pages_n, 6);
  const auto pages = MakePages(pages_n);
  std::vector<size_t> cuts;
  for (size_t k = 1; k < ranges; ++k) cuts.push_back(k * pages_n / ranges);
  std::vector<size_t> order(ranges);
  for (size_t k = 0; k < ranges; ++k) order[k] = k;
  const auto in_order = MeasureSplit(pages, cuts, order);
  // A random start order: a random rotation, then a random swap.
  std::vector<size_t> shuffled = order;
  std::rotate(shuffled.begin(), shuffled.begin() + *rc::gen::inRange<size_t>(0, ranges),
              shuffled.end());
  std::swap(shuffled[*rc::gen::inRange<size_t>(0, ranges)],
            shuffled[*rc::gen::inRange<size_t>(0, ranges)]);
  RC_ASSERT(MeasureSplit(pages, cuts, shuffled) == in_order);
}

}  // namespace
}  // namespace confide::machine
