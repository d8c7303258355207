// PIE: plugin enclaves, EMAP/EUNMAP, the plugin rules of EREMOVE and SGX2,
// and copy-on-write (pie.cc, with the PIE parts of creation.cc, dynamic.cc
// and access.cc). PIE ISCA'21 §IV.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "machine/machine_internal.h"  // kMaxPluginsPerHost
#include "test_util.h"

namespace confide::machine::testing {
namespace {

using I = Instruction;
constexpr CoreId kOs = 0;
constexpr CoreId kA = 1;  // thread of host A
constexpr CoreId kB = 2;  // thread of host B

class PieTest : public MachineTest {
 protected:
  void SetUp() override {
    MachineTest::SetUp();
    a_ = Build({.seed = 1});
    b_ = Build({.seed = 2});  // same ELRANGE as A: another process
    p_ = BuildPlugin(kPluginBase, /*seed=*/7, /*pages=*/3);
  }
  Status MapInto(CoreId core, const Built& host, const Built& plugin) {
    if (m().CurrentEnclave(core) != host.secs) CONFIDE_RETURN_IF_ERROR(m().Eenter(core, host.tcs));
    return m().Emap(core, plugin.secs, plugin.mrenclave);
  }
  Page ReadPage(CoreId core, uint64_t addr) {
    Page out{};
    EXPECT_OK(m().Read(core, addr, out));
    return out;
  }

  Built a_, b_, p_;
};

// ---- Plugin creation -----------------------------------------------------------------

TEST_F(PieTest, PluginPagesAreSharedReadOnly) {
  for (EpcPage p : p_.data_pages) {
    const EpcmEntry e = m().Epcm(p);
    EXPECT_EQ(e.type, PageType::kSreg);
    EXPECT_EQ(e.perms, secinfo::kR | secinfo::kX);
    EXPECT_EQ(e.owner, p_.secs);
  }
  EXPECT_EQ(m().SecsOf(p_.secs)->mr_enclave, p_.mrenclave);
}

TEST_F(PieTest, EaddOfWritableSregMasksWrite) {
  Built q = Build({.kind = Kind::kPlugin,
                   .base = kPluginBase + kPluginSize,
                   .pages = 1,
                   .perms = secinfo::kR | secinfo::kW});
  EXPECT_EQ(m().Epcm(q.data_pages[0]).perms, secinfo::kR);
  ASSERT_OK(MapInto(kA, a_, q));
  const uint8_t x = 1;
  EXPECT_PF_AT(m().Write(kA, q.addr(0), {&x, 1}), q.addr(0));
}

// ---- EMAP -----------------------------------------------------------------------------

TEST_F(PieTest, EmapLetsHostReadPluginBytes) {
  ASSERT_OK(m().Eenter(kA, a_.tcs));
  ASSERT_TRUE(Charged(
      kA, I::kEmap, [&] { return m().Emap(kA, p_.secs, p_.mrenclave); }, a_.secs));
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ReadPage(kA, p_.addr(i)), PatternPage(7, i));
    auto t = m().Translate(kA, p_.addr(i) + 17);
    ASSERT_OK(t);
    EXPECT_TRUE(t->shared);
    EXPECT_EQ(t->page, p_.data_pages[i]);
    EXPECT_EQ(t->perms, secinfo::kR | secinfo::kX);
  }
  // The plugin's stats are untouched: EMAP is the host's instruction.
  EXPECT_EQ(m().StatsOf(p_.secs)->count[Idx(I::kEmap)], 0u);
  // A read spanning the host's own page would fault; within the plugin it works.
  std::array<uint8_t, 2 * kPageSize> two;
  EXPECT_OK(m().Read(kA, p_.addr(0) + 100, {two.data(), kPageSize + 5}));
}

TEST_F(PieTest, EmapOfUninitializedPluginIsPluginNotInitialized) {
  Built q = Build({.kind = Kind::kPlugin, .base = kPluginBase + kPluginSize, .init = false});
  ASSERT_OK(m().Eenter(kA, a_.tcs));
  EXPECT_SGX(QUIET(m().Emap(kA, q.secs, q.mrenclave)), kPluginNotInitialized);
  ASSERT_OK(m().Einit(kOs, q.secs, q.sigstruct));
  EXPECT_OK(m().Emap(kA, q.secs, q.mrenclave));
}

TEST_F(PieTest, EmapWithWrongMeasurementIsInvalidMeasurement) {
  ASSERT_OK(m().Eenter(kA, a_.tcs));
  crypto::Sha256Digest wrong = p_.mrenclave;
  wrong[31] ^= 1;
  EXPECT_SGX(QUIET(m().Emap(kA, p_.secs, wrong)), kInvalidMeasurement);
  uint8_t x;
  EXPECT_PF(m().Read(kA, p_.addr(0), {&x, 1}));
}

TEST_F(PieTest, EmapOfNonPluginIsNotAPlugin) {
  Built other_host = Build({.base = 2 * kHostBase});
  ASSERT_OK(m().Eenter(kA, a_.tcs));
  EXPECT_SGX(QUIET(m().Emap(kA, other_host.secs, other_host.mrenclave)), kNotAPlugin);
  EXPECT_SGX(QUIET(m().Emap(kA, a_.secs, a_.mrenclave)), kNotAPlugin);  // itself
  // An empty, uninitialized enclave is not (yet) a plugin.
  Secs s;
  s.size = kPluginSize;
  s.base_addr = kPluginBase + kPluginSize;
  s.attributes = {attr::kMode64Bit, kXfrm};
  const EpcPage empty = Free();
  ASSERT_OK(m().Ecreate(kOs, s, empty));
  EXPECT_SGX(QUIET(m().Emap(kA, empty, crypto::Sha256Digest{})), kNotAPlugin);
}

TEST_F(PieTest, EmapOfNonSecsFaultsPf) {
  ASSERT_OK(m().Eenter(kA, a_.tcs));
  EXPECT_PF_AT(QUIET(m().Emap(kA, p_.data_pages[0], p_.mrenclave)), Epc::Address(p_.data_pages[0]));
  const EpcPage f = Free();
  EXPECT_PF_AT(QUIET(m().Emap(kA, f, p_.mrenclave)), Epc::Address(f));
  EXPECT_PF(QUIET(m().Emap(kA, kEpcPages, p_.mrenclave)));
}

TEST_F(PieTest, EmapOverlappingMappedPluginIsVaConflict) {
  ASSERT_OK(MapInto(kA, a_, p_));
  // The same plugin again, another instance at the same range, a bigger
  // plugin containing the range.
  Built same_range = BuildPlugin(kPluginBase, 8, 1);
  Built bigger = Build({.kind = Kind::kPlugin, .base = kPluginBase, .size = 2 * kPluginSize});
  EXPECT_SGX(QUIET(m().Emap(kA, p_.secs, p_.mrenclave)), kVaConflict);
  EXPECT_SGX(QUIET(m().Emap(kA, same_range.secs, same_range.mrenclave)), kVaConflict);
  EXPECT_SGX(QUIET(m().Emap(kA, bigger.secs, bigger.mrenclave)), kVaConflict);
  // Adjacent ranges do not overlap.
  Built below = Build({.kind = Kind::kPlugin,
                       .base = kPluginBase - 2 * kPluginSize,
                       .size = 2 * kPluginSize,
                       .pages = 1});
  Built above = BuildPlugin(kPluginBase + kPluginSize, 9, 1);
  EXPECT_OK(m().Emap(kA, below.secs, below.mrenclave));
  EXPECT_OK(m().Emap(kA, above.secs, above.mrenclave));
  // A plugin inside the mapped range conflicts with it.
  Built inside =
      Build({.kind = Kind::kPlugin, .base = kPluginBase + 0x4000, .size = 0x4000, .pages = 1});
  EXPECT_SGX(QUIET(m().Emap(kA, inside.secs, inside.mrenclave)), kVaConflict);
}

TEST_F(PieTest, EmapOverPrivatePageIsVaConflict) {
  // Resident private page inside the plugin's range (EAUG'd there).
  ASSERT_OK(m().Eaug(kOs, a_.secs, p_.addr(2), Free()));
  ASSERT_OK(m().Eenter(kA, a_.tcs));
  EXPECT_SGX(QUIET(m().Emap(kA, p_.secs, p_.mrenclave)), kVaConflict);
}

TEST_F(PieTest, EmapOverEvictedPrivatePageIsVaConflict) {
  const EpcPage page = Free();
  ASSERT_OK(m().Eaug(kOs, a_.secs, p_.addr(1), page));
  ASSERT_OK(Evict(m(), kOs, a_.secs, page, NewVa(), 0));
  ASSERT_OK(m().Eenter(kA, a_.tcs));
  EXPECT_SGX(QUIET(m().Emap(kA, p_.secs, p_.mrenclave)), kVaConflict);
}

TEST_F(PieTest, EmapOutsideHostElrangeIsVaConflict) {
  ASSERT_OK(m().Eenter(kA, a_.tcs));
  Built far = BuildPlugin(2 * kHostBase, 3, 1);
  Built below = BuildPlugin(kHostBase - kPluginSize, 3, 1);
  // Starts inside the host's ELRANGE, ends past it.
  Built straddling =
      Build({.kind = Kind::kPlugin, .base = kHostBase, .size = 2 * kHostSize, .pages = 1});
  EXPECT_SGX(QUIET(m().Emap(kA, far.secs, far.mrenclave)), kVaConflict);
  EXPECT_SGX(QUIET(m().Emap(kA, below.secs, below.mrenclave)), kVaConflict);
  EXPECT_SGX(QUIET(m().Emap(kA, straddling.secs, straddling.mrenclave)), kVaConflict);
}

TEST(PieMapFullTest, TheHostHasSlotsForKMaxPlugins) {
  auto mm = MakeMachine(2 * kMaxPluginsPerHost + 16);
  ASSERT_NE(mm, nullptr);
  auto host = BuildEnclave(*mm, {});
  ASSERT_OK(host);
  ASSERT_OK(mm->Eenter(1, host->tcs));
  // Identical one-page plugins at distinct 8 KiB ranges: MRENCLAVE does not
  // depend on BASEADDR, so one signature serves them all.
  auto plugin_at = [&](size_t i) {
    BuildOptions o;
    o.kind = Kind::kPlugin;
    o.base = kHostBase + 0x400000 + i * 0x2000;
    o.size = 0x2000;
    o.pages = 1;
    return BuildEnclave(*mm, o);
  };
  for (size_t i = 0; i < kMaxPluginsPerHost; ++i) {
    auto p = plugin_at(i);
    ASSERT_OK(p);
    ASSERT_OK(mm->Emap(1, p->secs, p->mrenclave)) << i;
  }
  auto extra = plugin_at(kMaxPluginsPerHost);
  ASSERT_OK(extra);
  EXPECT_SGX(mm->Emap(1, extra->secs, extra->mrenclave), kPluginMapFull);
}

// ---- EUNMAP -----------------------------------------------------------------------------

TEST_F(PieTest, EunmapRemovesTheMapping) {
  ASSERT_OK(MapInto(kA, a_, p_));
  ASSERT_TRUE(Charged(
      kA, I::kEunmap, [&] { return m().Eunmap(kA, p_.secs); }, a_.secs));
  uint8_t x;
  EXPECT_PF_AT(m().Read(kA, p_.addr(0), {&x, 1}), p_.addr(0));
  // Mappable again.
  EXPECT_OK(m().Emap(kA, p_.secs, p_.mrenclave));
}

TEST_F(PieTest, EunmapOfUnmappedPluginIsPluginNotMapped) {
  ASSERT_OK(m().Eenter(kA, a_.tcs));
  EXPECT_SGX(QUIET(m().Eunmap(kA, p_.secs)), kPluginNotMapped);
  EXPECT_SGX(QUIET(m().Eunmap(kA, a_.data_pages[0])), kPluginNotMapped);
  // Mapped by B only: still not mapped by A.
  ASSERT_OK(MapInto(kB, b_, p_));
  EXPECT_SGX(QUIET(m().Eunmap(kA, p_.secs)), kPluginNotMapped);
  ASSERT_OK(m().Emap(kA, p_.secs, p_.mrenclave));
  ASSERT_OK(m().Eunmap(kA, p_.secs));
  EXPECT_SGX(QUIET(m().Eunmap(kA, p_.secs)), kPluginNotMapped);
}

// ---- EREMOVE and plugins ------------------------------------------------------------------

TEST_F(PieTest, EremoveOfMappedPluginPageIsPluginMapped) {
  ASSERT_OK(MapInto(kA, a_, p_));
  ASSERT_OK(MapInto(kB, b_, p_));
  EXPECT_SGX(QUIET(m().Eremove(kOs, p_.data_pages[0])), kPluginMapped);
  ASSERT_OK(m().Eunmap(kA, p_.secs));
  EXPECT_SGX(QUIET(m().Eremove(kOs, p_.data_pages[0])), kPluginMapped);  // B still maps it
  ASSERT_OK(m().Eunmap(kB, p_.secs));
  EXPECT_OK(m().Eremove(kOs, p_.data_pages[0]));
  // The plugin no longer matches its measurement: no more EMAP, by anyone.
  EXPECT_SGX(QUIET(m().Emap(kA, p_.secs, p_.mrenclave)), kPluginRemoved);
  EXPECT_SGX(QUIET(m().Emap(kB, p_.secs, p_.mrenclave)), kPluginRemoved);
}

TEST_F(PieTest, EremoveOfMappedPluginSecsIsChildPresent) {
  // A mapped plugin's pages are pinned, so its SECS always has children.
  ASSERT_OK(MapInto(kA, a_, p_));
  EXPECT_SGX(QUIET(m().Eremove(kOs, p_.secs)), kChildPresent);
  ASSERT_OK(m().Eunmap(kA, p_.secs));
  // Unmapped, the plugin's pages can go, and then its SECS.
  for (EpcPage page : p_.data_pages) ASSERT_OK(m().Eremove(kOs, page));
  EXPECT_OK(m().Eremove(kOs, p_.secs));
  EXPECT_PF(m().Emap(kA, p_.secs, p_.mrenclave));
}

TEST_F(PieTest, EremoveOfHostSecsWithMappingIsChildPresent) {
  ASSERT_OK(MapInto(kA, a_, p_));
  ASSERT_OK(m().Eexit(kA));
  for (auto [addr, page] : a_.page_at) ASSERT_OK(m().Eremove(kOs, page));
  EXPECT_SGX(QUIET(m().Eremove(kOs, a_.secs)), kChildPresent);
}

TEST_F(PieTest, MappedPluginPagesArePinnedWhileAMappingHostRuns) {
  // A thread inside a mapping host may hold the page in its TLB, so the
  // plugin's pages cannot be blocked or evicted until it is out.
  ASSERT_OK(MapInto(kA, a_, p_));
  EXPECT_SGX(QUIET(m().Eblock(kOs, p_.data_pages[1])), kPluginMapped);
  EXPECT_FALSE(m().Epcm(p_.data_pages[1]).blocked);
  EXPECT_EQ(ReadPage(kA, p_.addr(1)), PatternPage(7, 1));
}

TEST_F(PieTest, MappedPluginPageEvictsWhenNoMappingHostRuns) {
  ASSERT_OK(MapInto(kA, a_, p_));
  ASSERT_OK(m().Aex(kA));  // the host's thread is out (an interrupt)
  const EpcPage va = NewVa();
  auto blob = Evict(m(), kOs, p_.secs, p_.data_pages[1], va, 0);
  ASSERT_OK(blob);
  ASSERT_OK(m().Eresume(kA, a_.tcs));
  // Still mapped: the host's next read faults, the OS reloads the page.
  uint8_t x;
  EXPECT_PF_AT(m().Read(kA, p_.addr(1), {&x, 1}), p_.addr(1));
  ASSERT_OK(m().Aex(kA));
  const EpcPage dest = Free();
  ASSERT_OK(m().Eldu(kOs, *blob, p_.secs, dest, va, 0));
  ASSERT_OK(m().Eresume(kA, a_.tcs));
  EXPECT_EQ(ReadPage(kA, p_.addr(1)), PatternPage(7, 1));
}

TEST_F(PieTest, UnmappedPluginPageEvictsAndReloadsForTheNextHost) {
  ASSERT_OK(MapInto(kA, a_, p_));
  const EpcPage va = NewVa();
  ASSERT_OK(m().Eunmap(kA, p_.secs));
  auto blob = Evict(m(), kOs, p_.secs, p_.data_pages[1], va, 0);
  ASSERT_OK(blob);
  // Mapped again while the page is out: the host faults on it.
  ASSERT_OK(m().Emap(kA, p_.secs, p_.mrenclave));
  uint8_t x;
  EXPECT_PF_AT(m().Read(kA, p_.addr(1), {&x, 1}), p_.addr(1));
  const EpcPage dest = Free();
  ASSERT_OK(m().Eldu(kOs, *blob, p_.secs, dest, va, 0));
  EXPECT_EQ(m().Epcm(dest).type, PageType::kSreg);
  EXPECT_EQ(ReadPage(kA, p_.addr(1)), PatternPage(7, 1));
}

// ---- SGX2 on plugins ------------------------------------------------------------------------

TEST_F(PieTest, EaugIntoPluginIsPluginImmutable) {
  EXPECT_SGX(QUIET(m().Eaug(kOs, p_.secs, p_.addr(5), Free())), kPluginImmutable);
}

TEST_F(PieTest, EmodprOfPluginPageIsPluginImmutable) {
  EXPECT_SGX(QUIET(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR), p_.data_pages[0])),
             kPluginImmutable);
}

TEST_F(PieTest, EmodtOfPluginPageIsPluginImmutable) {
  EXPECT_SGX(QUIET(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), p_.data_pages[0])),
             kPluginImmutable);
}

TEST_F(PieTest, EmodpeOfMappedSharedPageIsPluginImmutable) {
  ASSERT_OK(MapInto(kA, a_, p_));
  EXPECT_SGX(
      QUIET(m().Emodpe(kA, SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW), p_.addr(0))),
      kPluginImmutable);
  EXPECT_EQ(m().Epcm(p_.data_pages[0]).perms, secinfo::kR | secinfo::kX);
  // Not mapped: just no page.
  ASSERT_OK(m().Eunmap(kA, p_.secs));
  EXPECT_PF_AT(QUIET(m().Emodpe(kA, SecInfo::Make(PageType::kReg, secinfo::kR), p_.addr(0))),
               p_.addr(0));
}

// ---- Access and copy-on-write ------------------------------------------------------------------

TEST_F(PieTest, WriteToSharedPageFaultsPf) {
  ASSERT_OK(MapInto(kA, a_, p_));
  const uint8_t data[4] = {1, 2, 3, 4};
  EXPECT_PF_AT(m().Write(kA, p_.addr(1) + 40, data), p_.addr(1) + 40);
  EXPECT_EQ(ReadPage(kA, p_.addr(1)), PatternPage(7, 1));
}

TEST_F(PieTest, CopyOnWriteGivesHostAPrivateCopy) {
  ASSERT_OK(MapInto(kA, a_, p_));
  ASSERT_OK(MapInto(kB, b_, p_));
  const uint64_t addr = p_.addr(1);
  const EpcPage fresh = Free();
  SyncClocks();
  const uint64_t before = m().CoreCycles(kA);
  ASSERT_OK(m().CopyOnWrite(kA, a_.tcs, addr + 40, fresh));
  EXPECT_EQ(m().CoreCycles(kA),
            before + Cost(I::kAex) + Cost(I::kEaug) + Cost(I::kEresume) + Cost(I::kEacceptcopy));
  EXPECT_EQ(m().CurrentEnclave(kA), a_.secs);
  const EpcmEntry e = m().Epcm(fresh);
  EXPECT_EQ(e.type, PageType::kReg);
  EXPECT_EQ(e.owner, a_.secs);
  EXPECT_EQ(e.linaddr, addr);
  EXPECT_FALSE(e.pending);
  EXPECT_EQ(e.perms, secinfo::kR | secinfo::kW | secinfo::kX);
  auto t = m().Translate(kA, addr);
  ASSERT_OK(t);
  EXPECT_FALSE(t->shared);
  EXPECT_EQ(t->page, fresh);

  const uint8_t data[4] = {0xde, 0xad, 0xbe, 0xef};
  ASSERT_OK(m().Write(kA, addr + 40, data));
  Page want = PatternPage(7, 1);
  std::copy(data, data + 4, want.begin() + 40);
  EXPECT_EQ(ReadPage(kA, addr), want);
  // The plugin page, its measurement and B's view are unchanged.
  const Page original = PatternPage(7, 1);
  EXPECT_TRUE(
      std::equal(original.begin(), original.end(), m().PageBytes(p_.data_pages[1]).begin()));
  EXPECT_EQ(m().SecsOf(p_.secs)->mr_enclave, p_.mrenclave);
  EXPECT_EQ(ReadPage(kB, addr), original);
  // Other plugin pages are still shared for A.
  EXPECT_TRUE(m().Translate(kA, p_.addr(0))->shared);
  EXPECT_EQ(m().Counters().events.cow_copies, 1u);
  EXPECT_EQ(m().StatsOf(a_.secs)->events.cow_copies, 1u);
  EXPECT_EQ(m().StatsOf(b_.secs)->events.cow_copies, 0u);
}

TEST_F(PieTest, CopyOnWritePageBlocksRemappingUntilRemoved) {
  ASSERT_OK(MapInto(kA, a_, p_));
  const EpcPage fresh = Free();
  ASSERT_OK(m().CopyOnWrite(kA, a_.tcs, p_.addr(2), fresh));
  ASSERT_OK(m().Eunmap(kA, p_.secs));
  // The private copy survives EUNMAP and occupies the plugin's range.
  uint8_t x;
  EXPECT_OK(m().Read(kA, p_.addr(2), {&x, 1}));
  EXPECT_SGX(QUIET(m().Emap(kA, p_.secs, p_.mrenclave)), kVaConflict);
  ASSERT_OK(m().Eexit(kA));
  ASSERT_OK(m().Eremove(kOs, fresh));
  ASSERT_OK(m().Eenter(kA, a_.tcs));
  ASSERT_OK(m().Emap(kA, p_.secs, p_.mrenclave));
  EXPECT_EQ(ReadPage(kA, p_.addr(2)), PatternPage(7, 2));
}

TEST_F(PieTest, CopyOnWriteOfPrivatePageIsFailedPrecondition) {
  ASSERT_OK(MapInto(kA, a_, p_));
  Status s = m().CopyOnWrite(kA, a_.tcs, a_.addr(0), Free());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_PF(m().CopyOnWrite(kA, a_.tcs, a_.addr(40), Free()));  // nothing there
}

TEST_F(PieTest, CopyOnWriteIntoUsedPageFailsAndResumes) {
  ASSERT_OK(MapInto(kA, a_, p_));
  EXPECT_PF_AT(m().CopyOnWrite(kA, a_.tcs, p_.addr(0), b_.data_pages[0]),
               Epc::Address(b_.data_pages[0]));
  // The thread is back inside and the page is still shared.
  EXPECT_EQ(m().CurrentEnclave(kA), a_.secs);
  EXPECT_TRUE(m().Translate(kA, p_.addr(0))->shared);
  EXPECT_EQ(m().Counters().events.cow_copies, 0u);
}

TEST_F(PieTest, HostsAreIsolated) {
  ASSERT_OK(MapInto(kA, a_, p_));
  ASSERT_OK(m().Eenter(kB, b_.tcs));
  // B did not map the plugin.
  uint8_t x;
  EXPECT_PF_AT(m().Read(kB, p_.addr(0), {&x, 1}), p_.addr(0));
  // An address only B has a page at.
  ASSERT_OK(m().Eexit(kB));
  const uint64_t only_b = b_.addr(100);
  ASSERT_OK(m().Eaug(kOs, b_.secs, only_b, Free()));
  ASSERT_OK(m().Eenter(kB, b_.tcs));
  ASSERT_OK(m().Eaccept(
      kB, SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW | secinfo::kPending), only_b));
  EXPECT_OK(m().Read(kB, only_b, {&x, 1}));
  EXPECT_PF_AT(m().Read(kA, only_b, {&x, 1}), only_b);
  // A's and B's pages at the same address are different pages.
  EXPECT_NE(m().Translate(kA, a_.addr(0))->page, m().Translate(kB, b_.addr(0))->page);
  EXPECT_EQ(ReadPage(kA, a_.addr(0)), PatternPage(1, 0));
  EXPECT_EQ(ReadPage(kB, b_.addr(0)), PatternPage(2, 0));
}

// ---- Concurrency ------------------------------------------------------------------------------

namespace concurrency {

// Aborts the process if `done` is not set within `seconds` (a deadlock).
class Watchdog {
 public:
  explicit Watchdog(int seconds)
      : thread_([this, seconds] {
          std::unique_lock lock(mu_);
          if (!cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; })) {
            fmt::print(stderr, "watchdog: no progress in {} s (deadlock?)\n", seconds);
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

TEST_F(PieTest, HostsEmappingEachOtherDoNotDeadlock) {
  // Two hosts each try to EMAP the other at the same time: both must get
  // PIE_NOT_A_PLUGIN, and neither may wait forever on the other's lock.
  Built c = Build({.base = 2 * kHostBase, .seed = 3});
  ASSERT_OK(m().Eenter(kA, a_.tcs));
  ASSERT_OK(m().Eenter(kB, c.tcs));
  Watchdog watchdog(60);
  std::atomic<int> wrong{0};
  auto hammer = [&](CoreId core, const Built& target) {
    for (int i = 0; i < 200000; ++i)
      if (!IsSgxError(m().Emap(core, target.secs, target.mrenclave), SgxError::kNotAPlugin))
        ++wrong;
  };
  std::thread ta(hammer, kA, std::cref(c));
  std::thread tb(hammer, kB, std::cref(a_));
  ta.join();
  tb.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(PieTest, ConcurrentHostsShareOnePlugin) {
  // Three threads, each in its own host, map the same plugin, read it, copy
  // a page on write and unmap, while the OS thread builds and tears down
  // other enclaves. Instructions on different enclaves run in parallel.
  std::vector<Built> hosts = {a_, b_, Build({.seed = 4})};
  Watchdog watchdog(120);
  std::atomic<int> failures{0};
  auto worker = [&](CoreId core, const Built& host) {
    for (int round = 0; round < 30; ++round) {
      if (!m().Eenter(core, host.tcs).ok()) ++failures;
      if (!m().Emap(core, p_.secs, p_.mrenclave).ok()) ++failures;
      Page page{};
      if (!m().Read(core, p_.addr(round % 3), page).ok() || page != PatternPage(7, round % 3))
        ++failures;
      if (!m().Eunmap(core, p_.secs).ok()) ++failures;
      if (!m().Eexit(core).ok()) ++failures;
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 0; i < hosts.size(); ++i)
    threads.emplace_back(worker, static_cast<CoreId>(i + 1), std::cref(hosts[i]));
  // The OS thread (core 0): build and remove plugins elsewhere.
  for (int round = 0; round < 10; ++round) {
    auto q = BuildEnclave(m(), {.kind = Kind::kPlugin,
                                .base = kPluginBase + 2 * kPluginSize,
                                .pages = 2,
                                .seed = static_cast<uint32_t>(round)});
    if (!q.ok()) {
      ++failures;
      continue;
    }
    for (auto [addr, page] : q->page_at)
      if (!m().Eremove(0, page).ok()) ++failures;
    if (!m().Eremove(0, q->secs).ok()) ++failures;
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(m().Counters().count[Idx(I::kEmap)], 90u);
  // Everything is unmapped again: the plugin can go.
  for (EpcPage p : p_.data_pages) EXPECT_OK(m().Eremove(0, p));
  EXPECT_OK(m().Eremove(0, p_.secs));
}

}  // namespace concurrency

}  // namespace
}  // namespace confide::machine::testing
