// Tests of the library OS's page allocator (src/runtime/heap.c), built for
// the host: brk and mmap bookkeeping, Linux's results, zeroed memory.
#include "runtime/heap.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>

#include <gtest/gtest.h>

namespace {

constexpr size_t kPage = CONFIDE_HEAP_PAGE;

class HeapTest : public ::testing::Test {
 protected:
  void Init(size_t size) {
    region_ = static_cast<unsigned char*>(std::aligned_alloc(kPage, size));
    ASSERT_NE(region_, nullptr);
    std::memset(region_, 0x5a, size);  // the host's leftovers
    size_ = size;
    confide_heap_init(&h_, region_, size);
  }
  void TearDown() override { std::free(region_); }

  long Map(size_t len, int flags = MAP_PRIVATE | MAP_ANONYMOUS, uintptr_t addr = 0) {
    return confide_heap_mmap(&h_, addr, len, PROT_READ | PROT_WRITE, flags, -1, 0);
  }
  uintptr_t end() const { return h_.base + h_.pages * kPage; }
  static bool AllZero(uintptr_t addr, size_t len) {
    auto* p = reinterpret_cast<const unsigned char*>(addr);
    for (size_t i = 0; i < len; i++) {
      if (p[i] != 0) return false;
    }
    return true;
  }

  unsigned char* region_ = nullptr;
  size_t size_ = 0;
  confide_heap h_{};
};

TEST_F(HeapTest, InitKeepsTheBitmapAtTheStart) {
  Init(4 << 20);  // 1024 pages: a 128-byte bitmap, one page
  EXPECT_EQ(h_.base, reinterpret_cast<uintptr_t>(region_) + kPage);
  EXPECT_EQ(h_.pages, 1023u);
  EXPECT_EQ(h_.brk, h_.base);
  EXPECT_EQ(confide_heap_used_pages(&h_), 0u);
}

TEST_F(HeapTest, UnalignedRegionIsRoundedInward) {
  Init(64 * kPage);
  confide_heap h;
  confide_heap_init(&h, region_ + 100, 10 * kPage);
  EXPECT_EQ(h.base, reinterpret_cast<uintptr_t>(region_) + 2 * kPage);  // 1 bitmap page
  EXPECT_EQ(h.pages, 8u);
}

TEST_F(HeapTest, TooSmallRegionRefusesEverything) {
  Init(kPage);
  EXPECT_EQ(h_.pages, 0u);
  EXPECT_EQ(confide_heap_brk(&h_, 0), h_.brk);
  EXPECT_EQ(confide_heap_brk(&h_, h_.brk + 1), h_.brk);
  EXPECT_EQ(Map(kPage), -ENOMEM);
}

TEST_F(HeapTest, BrkGrowsZeroedAndShrinks) {
  Init(64 * kPage);
  uintptr_t start = confide_heap_brk(&h_, 0);
  EXPECT_EQ(start, h_.base);
  EXPECT_EQ(confide_heap_brk(&h_, start + 3 * kPage + 10), start + 3 * kPage + 10);
  EXPECT_TRUE(AllZero(start, 4 * kPage));
  EXPECT_EQ(confide_heap_used_pages(&h_), 4u);
  EXPECT_EQ(confide_heap_brk(&h_, start + kPage), start + kPage);
  EXPECT_EQ(confide_heap_used_pages(&h_), 1u);
  EXPECT_EQ(confide_heap_brk(&h_, 0), start + kPage);
}

TEST_F(HeapTest, BrkOutsideTheHeapFails) {
  Init(64 * kPage);
  uintptr_t start = confide_heap_brk(&h_, 0);
  EXPECT_EQ(confide_heap_brk(&h_, start - 1), start);
  EXPECT_EQ(confide_heap_brk(&h_, end() + 1), start);
  EXPECT_EQ(confide_heap_brk(&h_, end()), end());  // the whole heap is fine
}

TEST_F(HeapTest, MmapTakesZeroedPagesFromTheTop) {
  Init(64 * kPage);
  long a = Map(2 * kPage);
  ASSERT_GT(a, 0);
  EXPECT_EQ(static_cast<uintptr_t>(a), end() - 2 * kPage);
  EXPECT_TRUE(AllZero(a, 2 * kPage));
  long b = Map(1);
  EXPECT_EQ(static_cast<uintptr_t>(b), end() - 3 * kPage);
  EXPECT_EQ(confide_heap_used_pages(&h_), 3u);
}

TEST_F(HeapTest, MunmappedPagesAreReusedAndZeroedAgain) {
  Init(64 * kPage);
  long a = Map(kPage);
  std::memset(reinterpret_cast<void*>(a), 0xff, kPage);
  EXPECT_EQ(confide_heap_munmap(&h_, a, kPage), 0);
  EXPECT_EQ(Map(kPage), a);
  EXPECT_TRUE(AllZero(a, kPage));
}

TEST_F(HeapTest, MmapAndBrkDoNotOverlap) {
  Init(16 * kPage);  // 15 usable
  uintptr_t start = confide_heap_brk(&h_, 0);
  ASSERT_EQ(confide_heap_brk(&h_, start + 5 * kPage), start + 5 * kPage);
  EXPECT_EQ(Map(10 * kPage), static_cast<long>(start + 5 * kPage));
  EXPECT_EQ(Map(kPage), -ENOMEM);
  EXPECT_EQ(confide_heap_brk(&h_, start + 6 * kPage), start + 5 * kPage);  // blocked
  EXPECT_EQ(confide_heap_munmap(&h_, start + 5 * kPage, kPage), 0);
  EXPECT_EQ(confide_heap_brk(&h_, start + 6 * kPage), start + 6 * kPage);
}

TEST_F(HeapTest, MmapRefusesWhatItCannotDo) {
  Init(64 * kPage);
  EXPECT_EQ(Map(0), -EINVAL);
  EXPECT_EQ(Map(kPage, MAP_SHARED | MAP_ANONYMOUS), -ENOSYS);
  EXPECT_EQ(Map(kPage, MAP_PRIVATE), -ENOSYS);  // a file
  EXPECT_EQ(
      confide_heap_mmap(&h_, 0, kPage, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      -EACCES);
  EXPECT_EQ(confide_heap_mmap(&h_, 0, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1),
            -EINVAL);
  EXPECT_EQ(Map(64 * kPage), -ENOMEM);
  EXPECT_EQ(Map(SIZE_MAX), -ENOMEM);
  // PROT_NONE is accepted (and cannot be enforced).
  EXPECT_GT(confide_heap_mmap(&h_, 0, kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 0);
}

TEST_F(HeapTest, FixedMappings) {
  Init(64 * kPage);
  const int fixed = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  uintptr_t at = h_.base + 10 * kPage;
  std::memset(reinterpret_cast<void*>(at), 1, kPage);
  EXPECT_EQ(Map(kPage, fixed, at), static_cast<long>(at));
  EXPECT_TRUE(AllZero(at, kPage));
  EXPECT_EQ(Map(kPage, fixed, at + 1), -EINVAL);
  EXPECT_EQ(Map(kPage, fixed, h_.base - kPage), -ENOMEM);  // the bitmap is not the heap's
  EXPECT_EQ(Map(2 * kPage, fixed, end() - kPage), -ENOMEM);
  const int noreplace = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
  EXPECT_EQ(Map(kPage, noreplace, at), -EEXIST);
  EXPECT_EQ(Map(kPage, noreplace, at + kPage), static_cast<long>(at + kPage));
}

TEST_F(HeapTest, MunmapChecksItsArguments) {
  Init(64 * kPage);
  long a = Map(kPage);
  EXPECT_EQ(confide_heap_munmap(&h_, a + 1, kPage), -EINVAL);
  EXPECT_EQ(confide_heap_munmap(&h_, a, 0), -EINVAL);
  EXPECT_EQ(confide_heap_munmap(&h_, h_.base - kPage, kPage), -EINVAL);
  EXPECT_EQ(confide_heap_munmap(&h_, a, 2 * kPage), -EINVAL);  // beyond the end
  EXPECT_EQ(confide_heap_munmap(&h_, h_.base, kPage), 0);      // unmapped: fine, as Linux
}

TEST_F(HeapTest, MremapShrinksGrowsAndMoves) {
  Init(64 * kPage);
  long a = Map(2 * kPage);  // the top two pages: cannot grow in place
  std::memset(reinterpret_cast<void*>(a), 7, 2 * kPage);
  EXPECT_EQ(confide_heap_mremap(&h_, a, 2 * kPage, 4 * kPage, 0, 0), -ENOMEM);
  long b = confide_heap_mremap(&h_, a, 2 * kPage, 4 * kPage, MREMAP_MAYMOVE, 0);
  ASSERT_GT(b, 0);
  EXPECT_NE(b, a);
  auto* p = reinterpret_cast<unsigned char*>(b);
  EXPECT_EQ(p[0], 7);
  EXPECT_EQ(p[2 * kPage - 1], 7);
  EXPECT_TRUE(AllZero(b + 2 * kPage, 2 * kPage));
  EXPECT_EQ(confide_heap_used_pages(&h_), 4u);  // the old block is free
  EXPECT_EQ(confide_heap_mremap(&h_, b, 4 * kPage, kPage, 0, 0), b);
  EXPECT_EQ(confide_heap_used_pages(&h_), 1u);
  EXPECT_EQ(confide_heap_mremap(&h_, b, kPage, 3 * kPage, 0, 0), b);  // in place again
  EXPECT_EQ(confide_heap_used_pages(&h_), 3u);
}

TEST_F(HeapTest, MremapRejectsBadBlocks) {
  Init(64 * kPage);
  long a = Map(kPage);
  EXPECT_EQ(confide_heap_mremap(&h_, a + 1, kPage, 2 * kPage, MREMAP_MAYMOVE, 0), -EINVAL);
  EXPECT_EQ(confide_heap_mremap(&h_, a, 0, kPage, MREMAP_MAYMOVE, 0), -EINVAL);
  EXPECT_EQ(confide_heap_mremap(&h_, a, kPage, 0, MREMAP_MAYMOVE, 0), -EINVAL);
  EXPECT_EQ(confide_heap_mremap(&h_, a, kPage, kPage, MREMAP_FIXED | MREMAP_MAYMOVE, 0), -EINVAL);
  EXPECT_EQ(confide_heap_mremap(&h_, h_.base, kPage, 2 * kPage, MREMAP_MAYMOVE, 0), -EFAULT);
}

TEST_F(HeapTest, MadviseDontneedZeroes) {
  Init(64 * kPage);
  long a = Map(2 * kPage);
  std::memset(reinterpret_cast<void*>(a), 9, 2 * kPage);
  EXPECT_EQ(confide_heap_madvise(&h_, a, kPage, MADV_FREE), 0);
  EXPECT_EQ(reinterpret_cast<unsigned char*>(a)[0], 9);
  EXPECT_EQ(confide_heap_madvise(&h_, a, kPage, MADV_DONTNEED), 0);
  EXPECT_TRUE(AllZero(a, kPage));
  EXPECT_EQ(reinterpret_cast<unsigned char*>(a)[kPage], 9);
  EXPECT_EQ(confide_heap_madvise(&h_, a + 1, kPage, MADV_DONTNEED), -EINVAL);
  EXPECT_EQ(confide_heap_madvise(&h_, h_.base - kPage, kPage, MADV_DONTNEED), -ENOMEM);
}

// Random mmap/munmap/brk against a model: blocks never overlap each other or
// the brk area, and the used-page count is what the model says.
TEST_F(HeapTest, RandomOperationsKeepBlocksDisjoint) {
  Init(2048 * kPage);  // more than one bitmap word per level of the search
  std::mt19937 rng(7);
  std::map<uintptr_t, size_t> blocks;  // address -> pages
  uintptr_t start = confide_heap_brk(&h_, 0);
  size_t brk_pages = 0;
  for (int step = 0; step < 5000; step++) {
    int op = rng() % 10;
    if (op < 5) {
      size_t n = 1 + rng() % 70;
      long a = Map(n * kPage);
      if (a < 0) {
        EXPECT_EQ(a, -ENOMEM);
        continue;
      }
      auto addr = static_cast<uintptr_t>(a);
      EXPECT_GE(addr, start + brk_pages * kPage);
      EXPECT_LE(addr + n * kPage, end());
      auto next = blocks.lower_bound(addr);
      if (next != blocks.end()) {
        EXPECT_LE(addr + n * kPage, next->first);
      }
      if (next != blocks.begin()) {
        auto prev = std::prev(next);
        EXPECT_LE(prev->first + prev->second * kPage, addr);
      }
      blocks[addr] = n;
    } else if (op < 9 && !blocks.empty()) {
      auto it = blocks.begin();
      std::advance(it, rng() % blocks.size());
      EXPECT_EQ(confide_heap_munmap(&h_, it->first, it->second * kPage), 0);
      blocks.erase(it);
    } else {
      size_t want = rng() % 200;
      uintptr_t got = confide_heap_brk(&h_, start + want * kPage);
      if (got == start + want * kPage) brk_pages = want;
      EXPECT_EQ(got, start + brk_pages * kPage);
      if (!blocks.empty()) {
        EXPECT_LE(got, blocks.begin()->first);
      }
    }
    size_t used = brk_pages;
    for (const auto& [addr, n] : blocks) used += n;
    ASSERT_EQ(confide_heap_used_pages(&h_), used) << "step " << step;
  }
}

}  // namespace
