// Tests of the enclave's malloc (src/runtime/malloc.c), its core built for
// the host over a heap of the test's own: alignment, calloc's zeroing,
// realloc, a random workload with contents checked, exhaustion, and pages
// going back to the heap.
#include "runtime/malloc.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace {

constexpr size_t kPage = CONFIDE_HEAP_PAGE;

class MallocTest : public ::testing::Test {
 protected:
  void Init(size_t size) {
    region_ = static_cast<unsigned char*>(std::aligned_alloc(kPage, size));
    ASSERT_NE(region_, nullptr);
    std::memset(region_, 0x5a, size);  // the host's leftovers
    confide_heap_init(&h_, region_, size);
    confide_malloc_init(&m_, &h_);
  }
  void SetUp() override { Init(4 << 20); }
  void TearDown() override { std::free(region_); }

  void* Malloc(size_t n) { return confide_malloc(&m_, n); }
  void Free(void* p) { confide_free(&m_, p); }
  size_t Usable(void* p) { return confide_malloc_usable_size(&m_, p); }
  size_t UsedPages() const { return confide_heap_used_pages(&h_); }

  static void Fill(void* p, size_t n, uint32_t seed) {
    auto* b = static_cast<unsigned char*>(p);
    for (size_t i = 0; i < n; i++) b[i] = static_cast<unsigned char>(seed * 131 + i * 7 + (i >> 8));
  }
  static bool Holds(const void* p, size_t n, uint32_t seed) {
    auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; i++) {
      if (b[i] != static_cast<unsigned char>(seed * 131 + i * 7 + (i >> 8))) return false;
    }
    return true;
  }
  static bool AllZero(const void* p, size_t n) {
    auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; i++) {
      if (b[i] != 0) return false;
    }
    return true;
  }

  unsigned char* region_ = nullptr;
  confide_heap h_{};
  struct confide_malloc m_ {};  // `struct`: confide_malloc is also a function
};

TEST_F(MallocTest, EveryBlockIsSixteenByteAlignedAndLargeEnough) {
  std::vector<void*> blocks;
  for (size_t n = 0; n <= 3 * kPage; n += (n < 2100 ? 1 : 97)) {
    void* p = Malloc(n);
    ASSERT_NE(p, nullptr) << n;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << n;
    EXPECT_GE(Usable(p), n);
    // Small classes waste at most a quarter (plus rounding).
    if (n > 0 && n <= CONFIDE_MALLOC_SMALL_MAX) {
      EXPECT_LE(Usable(p), n + n / 4 + 24) << n;
    }
    Fill(p, Usable(p), static_cast<uint32_t>(n));
    blocks.push_back(p);
  }
  size_t n = 0;
  for (void* p : blocks) {
    EXPECT_TRUE(Holds(p, Usable(p), static_cast<uint32_t>(n))) << n;  // no overlaps
    Free(p);
    n += (n < 2100 ? 1 : 97);
  }
  EXPECT_EQ(Usable(nullptr), 0u);
}

TEST_F(MallocTest, AlignedAllocHonoursTheAlignment) {
  for (size_t align = 1; align <= 16 * kPage; align *= 2) {
    for (size_t n : {size_t{1}, size_t{100}, size_t{5000}}) {
      void* p = confide_aligned_alloc(&m_, align, n);
      ASSERT_NE(p, nullptr) << align << " " << n;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (align < 16 ? 16 : align), 0u) << align;
      EXPECT_GE(Usable(p), n);
      Fill(p, n, 3);
      void* q = confide_realloc(&m_, p, 2 * n);  // aligned blocks realloc like any other
      ASSERT_NE(q, nullptr);
      EXPECT_TRUE(Holds(q, n, 3));
      Free(q);
    }
  }
  errno = 0;
  EXPECT_EQ(confide_aligned_alloc(&m_, 48, 10), nullptr);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(MallocTest, CallocZeroesReusedBlocks) {
  for (size_t n : {size_t{24}, size_t{700}, size_t{2056}, size_t{10000}}) {
    void* p = Malloc(n);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0xff, Usable(p));
    Free(p);
    auto* z = static_cast<unsigned char*>(confide_calloc(&m_, n / 8, 8));
    ASSERT_NE(z, nullptr);
    if (n <= CONFIDE_MALLOC_SMALL_MAX) {
      EXPECT_EQ(static_cast<void*>(z), p);  // the block reused
    }
    EXPECT_TRUE(AllZero(z, n / 8 * 8)) << n;
    Free(z);
  }
  void* fresh = confide_calloc(&m_, 3, 100);  // straight from the heap's zero pages
  ASSERT_NE(fresh, nullptr);
  EXPECT_TRUE(AllZero(fresh, 300));
}

TEST_F(MallocTest, CallocAndMallocRefuseSizesThatOverflow) {
  errno = 0;
  EXPECT_EQ(confide_calloc(&m_, SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(confide_calloc(&m_, size_t{1} << 33, size_t{1} << 33), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  for (size_t n : {SIZE_MAX, SIZE_MAX - 15, SIZE_MAX - kPage, SIZE_MAX / 2}) {
    errno = 0;
    EXPECT_EQ(Malloc(n), nullptr) << n;
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_EQ(confide_aligned_alloc(&m_, 64, n), nullptr);
  }
  EXPECT_EQ(confide_aligned_alloc(&m_, size_t{1} << 63, 16), nullptr);
  void* p = Malloc(100);
  Fill(p, 100, 9);
  errno = 0;
  EXPECT_EQ(confide_realloc(&m_, p, SIZE_MAX - 8), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_TRUE(Holds(p, 100, 9));  // a failed realloc leaves the block alone
  EXPECT_NE(confide_calloc(&m_, 0, SIZE_MAX), nullptr);
  EXPECT_NE(Malloc(0), Malloc(0));  // malloc(0): distinct blocks, as musl gives
}

TEST_F(MallocTest, ReallocKeepsContentsGrowingAndShrinking) {
  // Across small classes, small to large, large to large, and back.
  const size_t sizes[] = {1,     17,   100,  129, 2048, 2056, 2057, 4096, 9000,
                          70000, 3000, 2000, 600, 16,   5000, 1,    40000};
  void* p = nullptr;
  size_t have = 0;
  for (size_t n : sizes) {
    p = confide_realloc(&m_, p, n);
    ASSERT_NE(p, nullptr) << n;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
    EXPECT_TRUE(Holds(p, n < have ? n : have, 77)) << have << " -> " << n;
    Fill(p, n, 77);
    have = n;
  }
  Free(p);
}

TEST_F(MallocTest, LargeReallocGrowsInPlaceWhenThePagesAboveAreFree) {
  void* above = Malloc(3 * kPage);
  void* p = Malloc(3 * kPage);  // the heap maps from the top: p lies below `above`
  ASSERT_NE(above, nullptr);
  ASSERT_NE(p, nullptr);
  ASSERT_LT(p, above);
  Fill(p, 3 * kPage, 5);
  Free(above);
  void* q = confide_realloc(&m_, p, 6 * kPage);
  EXPECT_EQ(q, p);
  EXPECT_TRUE(Holds(q, 3 * kPage, 5));
  EXPECT_GE(Usable(q), 6 * kPage);
  Free(q);
}

TEST_F(MallocTest, LargeBlocksGiveTheirPagesBack) {
  void* warm = Malloc(16);  // the first small chunk stays
  size_t base = UsedPages();
  void* p = Malloc(100000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(UsedPages(), base + (100000 + 16 + kPage - 1) / kPage);
  p = confide_realloc(&m_, p, 10000);  // shrinks in place: the tail goes back
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(UsedPages(), base + 3);
  Free(p);
  EXPECT_EQ(UsedPages(), base);
  void* a = confide_aligned_alloc(&m_, 8 * kPage, 100);  // trims the pages it does not need
  EXPECT_LE(UsedPages(), base + 2);
  Free(a);
  EXPECT_EQ(UsedPages(), base);
  Free(warm);
}

TEST_F(MallocTest, SmallBlocksCostTheirClassAndAnEightByteTag) {
  auto* a = static_cast<char*>(Malloc(24));
  auto* b = static_cast<char*>(Malloc(24));
  auto* c = static_cast<char*>(Malloc(40));
  EXPECT_EQ(a - b, 32);  // carved downwards, one after the other
  EXPECT_EQ(b - c, 48);
  Free(a);
  Free(b);
  Free(c);
}

TEST_F(MallocTest, SmallBlocksAreReusedAfterFree) {
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; i++) blocks.push_back(Malloc(40));
  size_t used = UsedPages();
  for (void* p : blocks) Free(p);
  for (int i = 0; i < 1000; i++) blocks[i] = Malloc(40);
  EXPECT_EQ(UsedPages(), used);  // no new chunk
  for (void* p : blocks) Free(p);
}

TEST_F(MallocTest, ExhaustionFailsWithEnomemAndRecoversAfterFree) {
  for (size_t n : {size_t{1000}, size_t{3 * kPage}, size_t{48}}) {
    TearDown();
    Init(64 * kPage);  // one bitmap page, 63 for the allocator
    std::vector<void*> blocks;
    void* p;
    while ((p = Malloc(n)) != nullptr) {
      Fill(p, n, static_cast<uint32_t>(blocks.size()));
      blocks.push_back(p);
      ASSERT_LT(blocks.size(), 64 * kPage / n + 1);
    }
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_GT(blocks.size(), 63 * kPage / (n + 16) / 2) << n;  // most of the heap was usable
    for (size_t i = 0; i < blocks.size(); i++) {
      EXPECT_TRUE(Holds(blocks[i], n, static_cast<uint32_t>(i)));
    }
    for (void* b : blocks) Free(b);
    p = Malloc(n);
    EXPECT_NE(p, nullptr) << n;
    Free(p);
  }
  // Chunks stay with the allocator (a known limit: their pages never serve
  // large blocks again), but a heap full of small blocks still serves smaller
  // requests from a larger class.
  TearDown();
  Init(64 * kPage);
  std::vector<void*> blocks;
  void* p;
  while ((p = Malloc(2000)) != nullptr) blocks.push_back(p);
  ASSERT_GT(blocks.size(), 100u);
  std::vector<void*> small;  // the chunks' leftovers, in smaller classes
  while ((p = Malloc(20)) != nullptr) small.push_back(p);
  Free(blocks.back());
  blocks.pop_back();
  EXPECT_EQ(Malloc(3 * kPage), nullptr);
  p = Malloc(20);
  EXPECT_NE(p, nullptr);
  EXPECT_EQ(Usable(p), size_t{CONFIDE_MALLOC_SMALL_MAX});
  Free(p);
  for (void* b : blocks) Free(b);
  for (void* b : small) Free(b);
}

// Lua's pattern: many small blocks, lots of realloc, frees in any order.
TEST_F(MallocTest, RandomWorkloadKeepsEveryBlockIntact) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    TearDown();
    Init(8 << 20);
    std::mt19937 rng(seed);
    struct Block {
      void* p = nullptr;
      size_t n = 0;
      uint32_t tag = 0;
    };
    std::vector<Block> slots(300);
    auto random_size = [&] {
      uint32_t r = rng() % 100;
      if (r < 70) return size_t{rng() % 128};
      if (r < 95) return size_t{rng() % 2100};
      return size_t{rng() % 60000};
    };
    for (uint32_t step = 0; step < 30000; step++) {
      Block& b = slots[rng() % slots.size()];
      ASSERT_TRUE(Holds(b.p, b.n, b.tag)) << "seed " << seed << " step " << step;
      switch (rng() % 3) {
        case 0:  // free
          Free(b.p);
          b = Block{};
          break;
        case 1: {  // realloc
          size_t n = random_size();
          void* q = confide_realloc(&m_, b.p, n);
          ASSERT_NE(q, nullptr);
          ASSERT_TRUE(Holds(q, b.n < n ? b.n : n, b.tag));
          b = Block{q, n, step};
          Fill(q, n, step);
          break;
        }
        default: {  // fresh, sometimes zeroed
          Free(b.p);
          size_t n = random_size();
          bool zeroed = rng() % 4 == 0;
          void* q = zeroed ? confide_calloc(&m_, 1, n) : Malloc(n);
          ASSERT_NE(q, nullptr);
          ASSERT_EQ(reinterpret_cast<uintptr_t>(q) % 16, 0u);
          ASSERT_TRUE(!zeroed || AllZero(q, n));
          b = Block{q, n, step};
          Fill(q, n, step);
          break;
        }
      }
    }
    for (Block& b : slots) {
      EXPECT_TRUE(Holds(b.p, b.n, b.tag));
      Free(b.p);
    }
  }
}

TEST_F(MallocTest, FreeingABlockTwiceTraps) {
  void* p = Malloc(32);
  Free(p);
  EXPECT_DEATH(Free(p), "");
}

}  // namespace
