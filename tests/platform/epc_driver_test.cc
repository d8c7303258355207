// The EPC driver (the OS's side of the EPC) and the enclave builder: building
// past the EPC's size evicts, touching an evicted page reloads it with its
// bytes intact, pinned enclaves are left alone, the DRAM limit is reported
// as such, and everything goes back to a free EPC.
#include "platform/epc_driver.h"

#include <gtest/gtest.h>

#include "platform/enclave_builder.h"
#include "tests/support/test_key.h"

namespace confide::platform {
namespace {

using machine::PageContents;

std::unique_ptr<machine::Machine> NewMachine(uint32_t epc_pages, PageContents mode) {
  machine::MachineConfig cfg;
  cfg.epc_pages = epc_pages;
  cfg.cores = 2;
  cfg.page_contents = mode;
  cfg.root_secret = std::array<uint8_t, 32>{3};
  auto m = machine::Machine::Create(cfg);
  EXPECT_TRUE(m.ok());
  return std::move(*m);
}

SpecParams Params(std::string name, uint64_t code, uint64_t heap) {
  SpecParams p;
  p.name = std::move(name);
  p.base = uint64_t{1} << 40;
  p.code_pages = code;
  p.data_pages = 2;
  p.heap_pages = heap;
  p.stack_pages = 2;
  return p;
}

StatusOr<BuiltEnclave> Build(EpcDriver& d, const EnclaveSpec& spec) {
  auto sig = SignSpec(spec, d.machine().page_contents(), testing::TestSigningKey());
  if (!sig.ok()) return tl::unexpected(sig.error());
  return BuildEnclave(d, 0, spec, *sig, BuildOptions{});
}

TEST(EnclaveBuilder, ExpectedMeasurementIsTheMachinesMrenclave) {
  for (PageContents mode : {PageContents::kFull, PageContents::kCostOnly}) {
    auto m = NewMachine(256, mode);
    EpcDriver d(*m);
    EnclaveSpec spec = HostSpec(Params("measure", 5, 4));
    auto e = Build(d, spec);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    EXPECT_EQ(e->mrenclave, ExpectedMeasurement(spec, mode));
    ASSERT_TRUE(DestroyEnclave(d, 0, *e).ok());
    EXPECT_EQ(m->FreePageCount(), 256u);
  }
  // The two modes measure different streams (cost-only leaves out the bytes).
  EnclaveSpec spec = HostSpec(Params("measure", 5, 4));
  EXPECT_NE(ExpectedMeasurement(spec, PageContents::kFull),
            ExpectedMeasurement(spec, PageContents::kCostOnly));
}

TEST(EnclaveBuilder, WrongSignatureFailsEinitAndLeavesNothing) {
  auto m = NewMachine(256, PageContents::kFull);
  EpcDriver d(*m);
  EnclaveSpec spec = HostSpec(Params("a", 3, 2));
  EnclaveSpec other = HostSpec(Params("b", 3, 2));  // same layout, other contents
  auto sig = SignSpec(other, PageContents::kFull, testing::TestSigningKey());
  ASSERT_TRUE(sig.ok());
  auto e = BuildEnclave(d, 0, spec, *sig, BuildOptions{});
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(IsSgxError(e, SgxError::kInvalidMeasurement)) << e.error().ToString();
  EXPECT_EQ(m->FreePageCount(), 256u);
}

TEST(EpcDriver, BuildingPastTheEpcEvictsAndTouchReloadsTheBytes) {
  auto m = NewMachine(64, PageContents::kFull);
  EpcDriver d(*m);
  EnclaveSpec spec = HostSpec(Params("big", 100, 20));  // about twice the EPC
  auto e = Build(d, spec);
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  EXPECT_GT(d.stats().evictions, 60u);
  EXPECT_EQ(d.PageCount(e->secs), spec.PagesAdded());
  // The first code page went out long ago; loading it back gives its bytes.
  const uint64_t code0 = spec.base + spec.regions.front().offset;
  ASSERT_FALSE(d.IsResident(e->secs, code0));
  auto page = d.Resident(0, e->secs, code0);
  ASSERT_TRUE(page.ok()) << page.error().ToString();
  std::array<uint8_t, kPageSize> want{};
  FillPage(spec.name, 0, want);
  ByteSpan got = m->PageBytes(*page);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin()));
  EXPECT_EQ(d.stats().reloads, 1u);
  ASSERT_TRUE(DestroyEnclave(d, 0, *e).ok());
  EXPECT_EQ(d.stats().backing_pages, 0u);
  ASSERT_TRUE(d.ReleaseVaPages(0).ok());
  EXPECT_EQ(m->FreePageCount(), 64u);
}

// A worker starts and destroys enclaves for ever, mostly without evicting:
// the queue of eviction candidates must not grow with them, and eviction
// still finds the live pages in it afterwards.
TEST(EpcDriver, VictimQueueStaysBoundedAcrossManyEnclaves) {
  auto m = NewMachine(64, PageContents::kCostOnly);
  EpcDriver d(*m);
  const EnclaveSpec small = HostSpec(Params("small", 4, 4));
  for (int i = 0; i < 200; ++i) {  // ~2,600 pages tracked in all, 64 in the EPC
    auto e = Build(d, small);
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    ASSERT_TRUE(DestroyEnclave(d, 0, *e).ok());
    ASSERT_LE(d.queued_victims(), 2u * 64u) << "after enclave " << i;
  }
  EXPECT_EQ(d.stats().evictions, 0u);
  // Eviction works from the pruned queue: two of these do not fit together.
  const EnclaveSpec big = HostSpec(Params("big", 30, 10));
  auto a = Build(d, big);
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  auto b = Build(d, big);
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  EXPECT_GT(d.stats().evictions, 0u);
  ASSERT_TRUE(DestroyEnclave(d, 0, *a).ok());
  ASSERT_TRUE(DestroyEnclave(d, 0, *b).ok());
  ASSERT_TRUE(d.ReleaseVaPages(0).ok());
  EXPECT_EQ(m->FreePageCount(), 64u);
}

TEST(EpcDriver, PinnedEnclavesAreNotVictims) {
  auto m = NewMachine(48, PageContents::kCostOnly);
  EpcDriver d(*m);
  auto a = Build(d, HostSpec(Params("a", 10, 4)));
  ASSERT_TRUE(a.ok());
  d.Pin(a->secs);
  auto b = Build(d, HostSpec(Params("b", 60, 4)));  // needs a's room unless a is pinned
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  for (uint64_t i = 0; i < 10; ++i)
    EXPECT_TRUE(d.IsResident(a->secs, (uint64_t{1} << 40) + i * kPageSize)) << i;
  d.Unpin(a->secs);
  ASSERT_TRUE(DestroyEnclave(d, 0, *b).ok());
  ASSERT_TRUE(DestroyEnclave(d, 0, *a).ok());
  EXPECT_EQ(m->FreePageCount(), 48u);
}

TEST(EpcDriver, EverythingPinnedIsResourceExhausted) {
  auto m = NewMachine(32, PageContents::kCostOnly);
  EpcDriver d(*m);
  auto a = Build(d, HostSpec(Params("a", 22, 0)));  // 30 of the 32 pages
  ASSERT_TRUE(a.ok());
  d.Pin(a->secs);
  auto b = Build(d, HostSpec(Params("b", 20, 0)));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(b.error().message.find("nothing can be evicted"), std::string::npos);
  d.Unpin(a->secs);
  ASSERT_TRUE(DestroyEnclave(d, 0, *a).ok());
  EXPECT_EQ(m->FreePageCount(), 32u);  // the failed build left nothing behind
}

TEST(EpcDriver, DramLimitIsReportedAsSuch) {
  auto m = NewMachine(32, PageContents::kCostOnly);
  // The EPC itself plus room for 10 evicted pages.
  EpcDriver d(*m, (32 + 10) * kPageSize);
  auto e = Build(d, HostSpec(Params("big", 60, 0)));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(e.error().message.find("DRAM limit"), std::string::npos);
  EXPECT_LE(d.DramBytes(), d.dram_limit_bytes());
  EXPECT_EQ(d.stats().backing_pages, 0u);  // the failed build dropped its pages
  ASSERT_TRUE(d.ReleaseVaPages(0).ok());
  EXPECT_EQ(m->FreePageCount(), 32u);
}

TEST(EpcDriver, RemovingAnEvictedPageLoadsItFirst) {
  auto m = NewMachine(40, PageContents::kCostOnly);
  EpcDriver d(*m);
  EnclaveSpec spec = HostSpec(Params("r", 60, 0));
  auto e = Build(d, spec);
  ASSERT_TRUE(e.ok());
  const uint64_t code0 = spec.base + spec.regions.front().offset;
  ASSERT_FALSE(d.IsResident(e->secs, code0));
  const uint64_t pages = d.PageCount(e->secs);
  ASSERT_TRUE(d.RemovePage(0, e->secs, code0).ok());
  EXPECT_EQ(d.PageCount(e->secs), pages - 1);
  EXPECT_EQ(d.stats().reloads, 1u);
  EXPECT_EQ(d.RemovePage(0, e->secs, code0).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(d.Resident(0, 12345, code0).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(DestroyEnclave(d, 0, *e).ok());
  EXPECT_EQ(m->FreePageCount(), 40u);
}

// Idle enclaves whose evicted pages need more VA pages (one per 512) than
// the EPC holds: full VA pages are evicted in turn into root VA pages, and
// every page can still be loaded back.
TEST(EpcDriver, VaPagesOfIdleEnclavesAreEvictedToo) {
  constexpr uint32_t kEpc = 24;
  auto m = NewMachine(kEpc, PageContents::kCostOnly);
  EpcDriver d(*m);
  std::vector<BuiltEnclave> pool;
  std::vector<EnclaveSpec> specs;
  for (int i = 0; i < 4; ++i) {  // 4 x 4000 pages: 32 VA pages' worth of versions
    specs.push_back(HostSpec(Params("idle" + std::to_string(i), 4000, 0)));
    auto e = Build(d, specs.back());
    ASSERT_TRUE(e.ok()) << i << ": " << e.error().ToString();
    pool.push_back(*e);
  }
  EXPECT_GT(d.stats().va_evictions, 0u);
  for (size_t i = 0; i < pool.size(); ++i) {
    const uint64_t code0 = specs[i].base + specs[i].regions.front().offset;
    ASSERT_FALSE(d.IsResident(pool[i].secs, code0));
    auto page = d.Resident(0, pool[i].secs, code0);
    ASSERT_TRUE(page.ok()) << page.error().ToString();
  }
  EXPECT_GT(d.stats().va_reloads, 0u);
  for (const BuiltEnclave& e : pool) ASSERT_TRUE(DestroyEnclave(d, 0, e).ok());
  EXPECT_EQ(d.stats().backing_pages, 0u);
  ASSERT_TRUE(d.ReleaseVaPages(0).ok());
  EXPECT_EQ(m->FreePageCount(), kEpc);
}

TEST(EpcDriver, ReleaseVaPagesRefusesWhilePagesAreOut) {
  auto m = NewMachine(40, PageContents::kCostOnly);
  EpcDriver d(*m);
  auto e = Build(d, HostSpec(Params("r", 60, 0)));
  ASSERT_TRUE(e.ok());
  Status s = d.ReleaseVaPages(0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(DestroyEnclave(d, 0, *e).ok());
  ASSERT_TRUE(d.ReleaseVaPages(0).ok());
}

}  // namespace
}  // namespace confide::platform
