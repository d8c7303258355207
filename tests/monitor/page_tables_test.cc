// Tests of the pure page-table builder: software walks check translations and
// rights; entry-write counts check that sharing a subtree is O(1).
#include "monitor/page_tables.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "machine/secs.h"
#include "monitor/guest_layout.h"

namespace confide::monitor {
namespace {

using machine::secinfo::kR;
using machine::secinfo::kW;
using machine::secinfo::kX;

// Page-aligned heap memory for an arena of `frames` frames.
struct ArenaMemory {
  explicit ArenaMemory(size_t frames)
      : bytes(frames * 4096), data(static_cast<uint8_t*>(std::aligned_alloc(4096, bytes))) {}
  ~ArenaMemory() { std::free(data); }
  MutableByteSpan span() { return {data, bytes}; }
  size_t bytes;
  uint8_t* data;
};

class PageTablesTest : public ::testing::Test {
 protected:
  PageTablesTest()
      : memory_(1024), arena_(FrameArena::Create(memory_.span(), kPageTableGpa).value()) {}
  ArenaMemory memory_;
  std::unique_ptr<FrameArena> arena_;
};

TEST_F(PageTablesTest, LeafFlagsFollowEpcmPermissions) {
  PageFlags rx = LeafFlagsFromEpcm(kR | kX, false);
  EXPECT_FALSE(rx.writable);
  EXPECT_TRUE(rx.executable);
  EXPECT_TRUE(rx.user);
  PageFlags rw = LeafFlagsFromEpcm(kR | kW, false);
  EXPECT_TRUE(rw.writable);
  EXPECT_FALSE(rw.executable);
  // A plugin page is never writable, whatever the EPCM says.
  EXPECT_FALSE(LeafFlagsFromEpcm(kR | kW | kX, true).writable);
  EXPECT_TRUE(LeafFlagsFromEpcm(kR | kW | kX, true).executable);
}

TEST_F(PageTablesTest, MapTranslatesWithRights) {
  auto as = AddressSpace::Create(*arena_).value();
  ASSERT_TRUE(as.Map(0x40'0000, EpcPageGpa(3), LeafFlagsFromEpcm(kR | kX, false)).ok());
  ASSERT_TRUE(as.Map(0x40'1000, EpcPageGpa(9), LeafFlagsFromEpcm(kR | kW, false)).ok());
  auto code = as.Walk(0x40'0123).value();
  EXPECT_EQ(code.gpa, EpcPageGpa(3) + 0x123);
  EXPECT_FALSE(code.writable);
  EXPECT_TRUE(code.executable);
  EXPECT_TRUE(code.user);
  auto data = as.Walk(0x40'1ff8).value();
  EXPECT_EQ(data.gpa, EpcPageGpa(9) + 0xff8);
  EXPECT_TRUE(data.writable);
  EXPECT_FALSE(data.executable);
  EXPECT_EQ(as.Walk(0x40'2000).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(as.Walk(0x7f'0000'0000).error().code, ErrorCode::kNotFound);
  // The root is a frame of the arena: a valid CR3.
  EXPECT_TRUE(arena_->Contains(as.cr3()));
  EXPECT_EQ(as.cr3() % 4096, 0u);
}

TEST_F(PageTablesTest, MapRejectsBadInput) {
  auto as = AddressSpace::Create(*arena_).value();
  PageFlags f = LeafFlagsFromEpcm(kR, false);
  EXPECT_EQ(as.Map(0x1001, EpcPageGpa(0), f).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(as.Map(0x1000, EpcPageGpa(0) + 8, f).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(as.Map(0x0000'8000'0000'0000, EpcPageGpa(0), f).error().code,
            ErrorCode::kInvalidArgument);  // not canonical
  ASSERT_TRUE(as.Map(0x1000, EpcPageGpa(0), f).ok());
  EXPECT_EQ(as.Map(0x1000, EpcPageGpa(1), f).error().code, ErrorCode::kAlreadyExists);
}

TEST_F(PageTablesTest, UnmapRemovesTranslation) {
  auto as = AddressSpace::Create(*arena_).value();
  PageFlags f = LeafFlagsFromEpcm(kR | kW, false);
  ASSERT_TRUE(as.Map(0x5000, EpcPageGpa(1), f).ok());
  ASSERT_TRUE(as.Map(0x6000, EpcPageGpa(2), f).ok());
  ASSERT_TRUE(as.Unmap(0x5000).ok());
  EXPECT_FALSE(as.Walk(0x5000).ok());
  EXPECT_TRUE(as.Walk(0x6000).ok());
  EXPECT_EQ(as.Unmap(0x5000).error().code, ErrorCode::kNotFound);
  // The page can be mapped again, elsewhere.
  ASSERT_TRUE(as.Map(0x5000, EpcPageGpa(7), f).ok());
  EXPECT_EQ(as.Walk(0x5000).value().gpa, EpcPageGpa(7));
}

TEST_F(PageTablesTest, HighHalfAddressesWalk) {
  auto as = AddressSpace::Create(*arena_).value();
  ASSERT_TRUE(as.Map(0xffff'ff80'0000'3000, EpcPageGpa(4),
                     {.writable = false, .user = false, .executable = true})
                  .ok());
  auto w = as.Walk(0xffff'ff80'0000'3010).value();
  EXPECT_EQ(w.gpa, EpcPageGpa(4) + 0x10);
  EXPECT_FALSE(w.user);
}

TEST_F(PageTablesTest, SharedSubtreeIsVisibleInEveryLinkedSpaceReadOnly) {
  auto host_a = AddressSpace::Create(*arena_).value();
  auto host_b = AddressSpace::Create(*arena_).value();
  const uint64_t base = uint64_t{1} << 30;  // 1 GiB aligned plugin ELRANGE
  auto plugin =
      Subtree::Create(*arena_, base, TableLevel::kPd, SubtreeAccess::kUserReadOnly).value();
  // The EPCM may say W; the subtree maps the plugin page read-only anyway.
  ASSERT_TRUE(
      plugin.Map(base + 0x2000, EpcPageGpa(11), LeafFlagsFromEpcm(kR | kW | kX, true)).ok());
  ASSERT_TRUE(
      plugin.Map(base, EpcPageGpa(10), {.writable = true, .user = true, .executable = true}).ok());
  ASSERT_TRUE(host_a.Link(plugin).ok());
  ASSERT_TRUE(host_b.Link(plugin).ok());
  EXPECT_EQ(plugin.link_count(), 2);
  for (AddressSpace* as : {&host_a, &host_b}) {
    auto w = as->Walk(base + 0x2abc).value();
    EXPECT_EQ(w.gpa, EpcPageGpa(11) + 0xabc);
    EXPECT_FALSE(w.writable);
    EXPECT_TRUE(w.user);
    EXPECT_TRUE(w.executable);
    EXPECT_FALSE(as->Walk(base).value().writable);
  }
  // A page added to the plugin after linking shows up in both hosts at once.
  ASSERT_TRUE(plugin.Map(base + 0x20'0000, EpcPageGpa(12), LeafFlagsFromEpcm(kR, true)).ok());
  EXPECT_EQ(host_a.Walk(base + 0x20'0000).value().gpa, EpcPageGpa(12));
  EXPECT_EQ(host_b.Walk(base + 0x20'0000).value().gpa, EpcPageGpa(12));
  // A host cannot map its own page into the plugin's range.
  EXPECT_EQ(host_a.Map(base + 0x5000, EpcPageGpa(1), LeafFlagsFromEpcm(kR, false)).error().code,
            ErrorCode::kAlreadyExists);
  // Unlinking is one entry write and removes the plugin from that host only.
  uint64_t before = arena_->entry_writes();
  ASSERT_TRUE(host_a.Unlink(plugin).ok());
  EXPECT_EQ(arena_->entry_writes() - before, 1u);
  EXPECT_FALSE(host_a.Walk(base + 0x2000).ok());
  EXPECT_TRUE(host_b.Walk(base + 0x2000).ok());
  EXPECT_EQ(host_a.Unlink(plugin).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(host_b.Unlink(plugin).ok());
  EXPECT_EQ(plugin.link_count(), 0);
}

TEST_F(PageTablesTest, LinkingIntoAPopulatedSpaceWritesOneEntry) {
  auto host = AddressSpace::Create(*arena_).value();
  // Host pages in the same PDPT as the plugin: the intermediate tables exist.
  ASSERT_TRUE(host.Map(0x10'0000, EpcPageGpa(1), LeafFlagsFromEpcm(kR | kW, false)).ok());
  auto plugin =
      Subtree::Create(*arena_, uint64_t{2} << 30, TableLevel::kPd, SubtreeAccess::kUserReadOnly)
          .value();
  ASSERT_TRUE(plugin.Map(uint64_t{2} << 30, EpcPageGpa(2), LeafFlagsFromEpcm(kR, true)).ok());
  uint64_t before = arena_->entry_writes();
  ASSERT_TRUE(host.Link(plugin).ok());
  EXPECT_EQ(arena_->entry_writes() - before, 1u);
  ASSERT_TRUE(host.Unlink(plugin).ok());
}

TEST_F(PageTablesTest, LinkCostDoesNotDependOnPluginSize) {
  ArenaMemory big_memory(2048);
  auto arena = FrameArena::Create(big_memory.span(), kPageTableGpa).value();
  auto build = [&](uint64_t base, uint64_t bytes) {
    auto tree =
        Subtree::Create(*arena, base, TableLevel::kPd, SubtreeAccess::kUserReadOnly).value();
    for (uint64_t off = 0; off < bytes; off += 4096) {
      EXPECT_TRUE(tree.Map(base + off, EpcPageGpa(static_cast<uint32_t>(off / 4096 % 64)),
                           LeafFlagsFromEpcm(kR | kX, true))
                      .ok());
    }
    return tree;
  };
  auto small = build(uint64_t{1} << 30, 1 << 20);    // 1 MiB: 256 pages
  auto large = build(uint64_t{2} << 30, 256 << 20);  // 256 MiB: 65536 pages

  auto fresh_a = AddressSpace::Create(*arena).value();
  auto fresh_b = AddressSpace::Create(*arena).value();
  uint64_t w0 = arena->entry_writes();
  ASSERT_TRUE(fresh_a.Link(small).ok());
  uint64_t small_cost = arena->entry_writes() - w0;
  uint64_t w1 = arena->entry_writes();
  ASSERT_TRUE(fresh_b.Link(large).ok());
  uint64_t large_cost = arena->entry_writes() - w1;
  EXPECT_EQ(small_cost, large_cost);
  EXPECT_EQ(small_cost, 2u);  // PML4 -> new PDPT, PDPT -> plugin PD
  // Both work: last page of the large plugin translates through the link.
  auto w = fresh_b.Walk((uint64_t{2} << 30) + (256 << 20) - 8).value();
  EXPECT_EQ(w.gpa, EpcPageGpa(63) + 4088);
  EXPECT_FALSE(w.writable);
  ASSERT_TRUE(fresh_a.Unlink(small).ok());
  ASSERT_TRUE(fresh_b.Unlink(large).ok());
}

TEST_F(PageTablesTest, SupervisorSubtreeIsNotUserAccessible) {
  auto as = AddressSpace::Create(*arena_).value();
  auto mon =
      Subtree::Create(*arena_, kMonitorLinearBase, TableLevel::kPdpt, SubtreeAccess::kSupervisor)
          .value();
  // Even if asked for a user page, a supervisor subtree maps U=0.
  ASSERT_TRUE(mon.Map(kSystemLinear, kSystemGpa, {.writable = true, .user = true}).ok());
  uint64_t before = arena_->entry_writes();
  ASSERT_TRUE(as.Link(mon).ok());
  EXPECT_EQ(arena_->entry_writes() - before, 1u);  // PML4[511]
  auto w = as.Walk(kSystemLinear).value();
  EXPECT_FALSE(w.user);
  EXPECT_TRUE(w.writable);
  ASSERT_TRUE(as.Unlink(mon).ok());
}

TEST_F(PageTablesTest, SubtreeChecksAlignmentAndRange) {
  EXPECT_FALSE(
      Subtree::Create(*arena_, 0x1000, TableLevel::kPd, SubtreeAccess::kUserReadOnly).ok());
  EXPECT_FALSE(Subtree::Create(*arena_, 0, TableLevel::kPml4, SubtreeAccess::kUserReadOnly).ok());
  auto pt =
      Subtree::Create(*arena_, 0x20'0000, TableLevel::kPt, SubtreeAccess::kUserReadOnly).value();
  EXPECT_EQ(pt.size(), 0x20'0000u);
  EXPECT_EQ(pt.Map(0x40'0000, EpcPageGpa(0), {}).error().code, ErrorCode::kOutOfRange);
  // Something already mapped in the range blocks a link.
  auto as = AddressSpace::Create(*arena_).value();
  ASSERT_TRUE(as.Map(0x20'1000, EpcPageGpa(0), LeafFlagsFromEpcm(kR, false)).ok());
  EXPECT_EQ(as.Link(pt).error().code, ErrorCode::kAlreadyExists);
}

TEST_F(PageTablesTest, FramesReturnToTheArena) {
  uint64_t in_use = arena_->frames_in_use();
  {
    auto as = AddressSpace::Create(*arena_).value();
    ASSERT_TRUE(as.Map(0x1000, EpcPageGpa(0), LeafFlagsFromEpcm(kR, false)).ok());
    EXPECT_EQ(arena_->frames_in_use(), in_use + 4);  // PML4, PDPT, PD, PT
    auto tree = Subtree::Create(*arena_, 0, TableLevel::kPt, SubtreeAccess::kUserReadOnly);
    ASSERT_TRUE(tree.ok());
  }
  EXPECT_EQ(arena_->frames_in_use(), in_use);
}

TEST_F(PageTablesTest, ArenaRunsOutCleanly) {
  ArenaMemory tiny(2);
  auto arena = FrameArena::Create(tiny.span(), kPageTableGpa).value();
  auto as = AddressSpace::Create(*arena).value();
  EXPECT_EQ(as.Map(0x1000, EpcPageGpa(0), {}).error().code, ErrorCode::kResourceExhausted);
  EXPECT_FALSE(FrameArena::Create(MutableByteSpan{tiny.data + 1, 4096}, 0).ok());
}

}  // namespace
}  // namespace confide::monitor
