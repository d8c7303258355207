// EnTurbo (DAC'24) enclaves on the machine: SECS.MEASURE_RANGE_PAGES selects
// the split measurement, per-range EEXTEND serialization in virtual time (so
// worker cores measure in parallel), and decoupled start (EENTER before
// EINIT, nothing leaves before EINIT). The split measurement's own algebra is
// in measurement_test.cc.
#include <gtest/gtest.h>

#include <algorithm>

#include <fmt/format.h>

#include "test_util.h"

namespace confide::machine::testing {
namespace {

constexpr CoreId kOs = 0;
constexpr uint32_t kRangePages = 16;
constexpr uint32_t kEnclavePages = 64;  // 4 ranges
constexpr uint64_t kBase = kHostBase;
constexpr uint64_t kSize = uint64_t{kEnclavePages} * kPageSize;

Secs EnTurboSecs(uint32_t range_pages = kRangePages, uint64_t size = kSize) {
  Secs s;
  s.size = size;
  s.base_addr = kBase;
  s.attributes = {attr::kMode64Bit, kXfrm};
  s.measure_range_pages = range_pages;
  return s;
}

// The enclave's pages: RW data at 0..62, a TCS at 63 (in range 3).
std::vector<PageSpec> Layout() {
  std::vector<PageSpec> pages;
  for (uint32_t i = 0; i + 1 < kEnclavePages; ++i) {
    PageSpec p;
    p.offset = uint64_t{i} * kPageSize;
    p.secinfo = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW);
    p.bytes = PatternPage(5, i);
    pages.push_back(p);
  }
  PageSpec t;
  t.offset = kSize - kPageSize;
  t.secinfo = SecInfo::Make(PageType::kTcs, 0);
  t.bytes = TcsPage(2);
  pages.push_back(t);
  return pages;
}

// What a signer computes: each page's EADD then its EEXTENDs, in page order.
crypto::Sha256Digest Expected(PageContents mode, uint32_t range_pages,
                              const std::vector<PageSpec>& pages, uint64_t size = kSize) {
  MeasurementBuilder b(mode, range_pages);
  b.Ecreate(1, size);
  for (const PageSpec& p : pages) {
    b.Eadd(p.offset, p.secinfo);
    for (size_t c = 0; p.measured && c < kPageSize; c += kEextendChunkSize)
      b.Eextend(p.offset + c, ByteSpan(p.bytes).subspan(c, kEextendChunkSize));
  }
  return b.Finish();
}

struct Loaded {
  EpcPage secs = 0;
  EpcPage tcs = 0;
};

// ECREATE on core 0; then, range by range in `range_order`, each page's EADD
// on core 0 and its EEXTENDs on `measurer(range)`. Stops before EINIT.
StatusOr<Loaded> Load(Machine& m, const std::vector<PageSpec>& pages, const Secs& secs,
                      const std::vector<uint32_t>& range_order,
                      const std::function<CoreId(uint32_t)>& measurer) {
  Loaded l;
  CONFIDE_ASSIGN_OR_RETURN(l.secs, m.FindFreePage());
  CONFIDE_RETURN_IF_ERROR(m.Ecreate(kOs, secs, l.secs));
  const uint32_t r_pages = secs.measure_range_pages ? secs.measure_range_pages : kEnclavePages;
  for (uint32_t r : range_order) {
    for (const PageSpec& p : pages) {
      if (p.offset / kPageSize / r_pages != r) continue;
      CONFIDE_ASSIGN_OR_RETURN(EpcPage page, m.FindFreePage());
      CONFIDE_RETURN_IF_ERROR(m.Eadd(kOs, l.secs, kBase + p.offset, p.secinfo, p.bytes, page));
      if (p.secinfo.page_type() == PageType::kTcs) l.tcs = page;
      for (size_t c = 0; p.measured && c < kPageSize; c += kEextendChunkSize)
        CONFIDE_RETURN_IF_ERROR(m.Eextend(measurer(r), l.secs, kBase + p.offset + c));
    }
  }
  return l;
}

const std::vector<uint32_t> kInOrder = {0, 1, 2, 3};

// ---- The value -------------------------------------------------------------------

TEST(EnTurboTest, EinitAcceptsTheSoftwareBuildersValue) {
  for (PageContents mode : {PageContents::kFull, PageContents::kCostOnly}) {
    SCOPED_TRACE(mode == PageContents::kFull ? "full" : "cost-only");
    auto m = MakeMachine(128, kRootSecret, 5, mode);
    const auto pages = Layout();
    auto l = Load(*m, pages, EnTurboSecs(), kInOrder, [](uint32_t) { return kOs; });
    ASSERT_OK(l);
    const auto want = Expected(mode, kRangePages, pages);
    // Neither the SGX chain over the same pages nor the other mode's value.
    EXPECT_SGX(m->Einit(kOs, l->secs, MakeSigstruct(Expected(mode, 0, pages))),
               kInvalidMeasurement);
    const PageContents other =
        mode == PageContents::kFull ? PageContents::kCostOnly : PageContents::kFull;
    EXPECT_SGX(m->Einit(kOs, l->secs, MakeSigstruct(Expected(other, kRangePages, pages))),
               kInvalidMeasurement);
    ASSERT_OK(m->Einit(kOs, l->secs, MakeSigstruct(want)));
    EXPECT_EQ(m->SecsOf(l->secs)->mr_enclave, want);
    EXPECT_EQ(m->SecsOf(l->secs)->measure_range_pages, kRangePages);
  }
}

TEST(EnTurboTest, ValueIndependentOfMeasuringCoresAndRangeOrder) {
  const auto pages = Layout();
  const auto want = Expected(PageContents::kFull, kRangePages, pages);
  struct Run {
    const char* name;
    std::vector<uint32_t> order;
    std::function<CoreId(uint32_t)> measurer;
  };
  const std::vector<Run> runs = {
      {"one core", kInOrder, [](uint32_t) { return kOs; }},
      {"a core per range", kInOrder, [](uint32_t r) { return 1 + r; }},
      {"ranges backwards", {3, 2, 1, 0}, [](uint32_t r) { return 4 - r; }},
      {"ranges shuffled", {2, 0, 3, 1}, [](uint32_t r) { return 1 + (r * 3) % 4; }},
  };
  for (const Run& run : runs) {
    SCOPED_TRACE(run.name);
    auto m = MakeMachine(128, kRootSecret, 5);
    auto l = Load(*m, pages, EnTurboSecs(), run.order, run.measurer);
    ASSERT_OK(l);
    ASSERT_OK(m->Einit(kOs, l->secs, MakeSigstruct(want)));
    EXPECT_EQ(m->SecsOf(l->secs)->mr_enclave, want);
  }
}

TEST(EnTurboTest, UntouchedRangesContributeEmptyShadows) {
  // Pages in ranges 0 and 2 of 4: range 1 is merged empty, range 3 not at all.
  std::vector<PageSpec> pages = Layout();
  pages.erase(std::remove_if(pages.begin(), pages.end(),
                             [](const PageSpec& p) {
                               const uint64_t r = p.offset / kPageSize / kRangePages;
                               return r == 1 || r == 3 || p.offset % (4 * kPageSize) != 0;
                             }),
              pages.end());
  ASSERT_EQ(pages.size(), 8u);
  std::array<ShadowMeasurement, 3> shadows = {ShadowMeasurement(0), ShadowMeasurement(1),
                                              ShadowMeasurement(2)};
  for (const PageSpec& p : pages) {
    ShadowMeasurement& s = shadows[p.offset / kPageSize / kRangePages];
    s.Eadd(p.offset, p.secinfo);
    for (size_t c = 0; c < kPageSize; c += kEextendChunkSize)
      s.Eextend(p.offset + c, ByteSpan(p.bytes).subspan(c, kEextendChunkSize));
  }
  const std::array<crypto::Sha256Digest, 3> digests = {shadows[0].Finish(), shadows[1].Finish(),
                                                       shadows[2].Finish()};
  const auto want = MergeShadowMeasurements(EcreateRecord(1, kSize), digests, kRangePages);
  EXPECT_EQ(Expected(PageContents::kFull, kRangePages, pages), want);

  auto m = MakeMachine(128, kRootSecret, 5);
  auto l = Load(*m, pages, EnTurboSecs(), kInOrder, [](uint32_t r) { return 1 + r; });
  ASSERT_OK(l);
  ASSERT_OK(m->Einit(kOs, l->secs, MakeSigstruct(want)));
}

TEST(EnTurboTest, ValueBindsTheRangeSize) {
  // All pages in range 0 whether ranges are 16 or 32 pages: the streams are
  // the same, the values are not.
  std::vector<PageSpec> pages = Layout();
  pages.resize(4);
  EXPECT_NE(Expected(PageContents::kFull, 16, pages), Expected(PageContents::kFull, 32, pages));
}

TEST(EnTurboTest, CostOnlyShadowsOmitTheData) {
  ShadowMeasurement a(2, PageContents::kCostOnly), b(2, PageContents::kCostOnly);
  ShadowMeasurement full(2);
  const Page x = PatternPage(1, 1), y = PatternPage(2, 2);
  a.Eextend(0, ByteSpan(x).first(kEextendChunkSize));
  b.Eextend(0, {});
  full.Eextend(0, ByteSpan(x).first(kEextendChunkSize));
  ShadowMeasurement c(2, PageContents::kCostOnly);
  c.Eextend(0, ByteSpan(y).first(kEextendChunkSize));
  const auto da = a.Finish();
  EXPECT_EQ(da, b.Finish());
  EXPECT_EQ(da, c.Finish());
  EXPECT_NE(da, full.Finish());
}

// ---- Virtual time ------------------------------------------------------------------

// EINIT's end on core 0 after loading the enclave with `measurer`.
uint64_t BuildTime(uint32_t range_pages, const std::function<CoreId(uint32_t)>& measurer) {
  auto m = MakeMachine(128, kRootSecret, 5);
  const auto pages = Layout();
  auto l = Load(*m, pages, EnTurboSecs(range_pages), kInOrder, measurer);
  if (!l.ok()) {
    ADD_FAILURE() << l.error().ToString();
    return 0;
  }
  const Status s =
      m->Einit(kOs, l->secs, MakeSigstruct(Expected(PageContents::kFull, range_pages, pages)));
  if (!s.ok()) ADD_FAILURE() << s.ToString();
  return m->CoreCycles(kOs);
}

TEST(EnTurboTest, FourWorkerCoresMeasureAboutFourTimesFaster) {
  const uint64_t sgx = BuildTime(0, [](uint32_t) { return kOs; });
  const uint64_t one = BuildTime(kRangePages, [](uint32_t) { return kOs; });
  const uint64_t four = BuildTime(kRangePages, [](uint32_t r) { return 1 + r; });
  // On one core an EnTurbo enclave costs what an SGX one does.
  EXPECT_EQ(one, sgx);
  const double speedup = static_cast<double>(one) / static_cast<double>(four);
  // Measurement is ~96% of the work here; EADD stays serial on the host core.
  EXPECT_GE(speedup, 3.5) << one << " vs " << four;
  EXPECT_LE(speedup, 4.0) << one << " vs " << four;
}

class EnTurboTimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_ = MakeMachine(128, kRootSecret, 5);
    ASSERT_NE(m_, nullptr);
    secs_ = *m_->FindFreePage();
    ASSERT_OK(m_->Ecreate(kOs, EnTurboSecs(), secs_));
  }
  uint64_t Cost(Instruction i) const { return m_->profile().Cycles(i); }
  // EADD of the page at offset `page * 4096` on core 0; returns its end.
  uint64_t Add(uint32_t page) {
    Status s = m_->Eadd(kOs, secs_, kBase + uint64_t{page} * kPageSize,
                        SecInfo::Make(PageType::kReg, secinfo::kR), PatternPage(1, page),
                        *m_->FindFreePage());
    EXPECT_OK(s);
    return m_->CoreCycles(kOs);
  }
  std::unique_ptr<Machine> m_;
  EpcPage secs_ = 0;
};

TEST_F(EnTurboTimeTest, EextendStartsAfterItsPagesEadd) {
  m_->SetCoreCycles(kOs, 1'000'000);
  const uint64_t added = Add(0);
  // Core 1 is idle at 0 but the page is not there before `added`.
  ASSERT_OK(m_->Eextend(1, secs_, kBase));
  EXPECT_EQ(m_->CoreCycles(1), added + Cost(Instruction::kEextend));
}

TEST_F(EnTurboTimeTest, EextendsSerializePerRangeNotPerEnclave) {
  const uint64_t a0 = Add(0);                     // range 0
  const uint64_t a1 = Add(kRangePages);           // range 1
  ASSERT_OK(m_->Eextend(1, secs_, kBase));        // range 0 on core 1
  ASSERT_OK(m_->Eextend(2, secs_, kBase + 256));  // range 0 on core 2: after core 1's
  EXPECT_EQ(m_->CoreCycles(1), a0 + Cost(Instruction::kEextend));
  EXPECT_EQ(m_->CoreCycles(2), a0 + 2 * Cost(Instruction::kEextend));
  // Range 1 on core 3: neither range 0's EEXTENDs nor the enclave hold it up.
  ASSERT_OK(m_->Eextend(3, secs_, kBase + kRangePages * kPageSize));
  EXPECT_EQ(m_->CoreCycles(3), a1 + Cost(Instruction::kEextend));
  // Nor does an EEXTEND hold up the host's next EADD.
  const uint64_t before = m_->CoreCycles(kOs);
  EXPECT_EQ(Add(2), before + Cost(Instruction::kEadd));
}

TEST_F(EnTurboTimeTest, EinitWaitsForEveryRangesLastEextend) {
  Add(0);
  Add(3 * kRangePages);
  m_->SetCoreCycles(4, 5'000'000);  // a late worker
  ASSERT_OK(m_->Eextend(4, secs_, kBase + 3 * kRangePages * kPageSize));
  const uint64_t measured = m_->CoreCycles(4);
  ASSERT_LT(m_->CoreCycles(kOs), measured);
  MeasurementBuilder b(PageContents::kFull, kRangePages);
  b.Ecreate(1, kSize);
  b.Eadd(0, SecInfo::Make(PageType::kReg, secinfo::kR));
  b.Eadd(3 * kRangePages * kPageSize, SecInfo::Make(PageType::kReg, secinfo::kR));
  b.Eextend(3 * kRangePages * kPageSize,
            ByteSpan(PatternPage(1, 3 * kRangePages)).first(kEextendChunkSize));
  ASSERT_OK(m_->Einit(kOs, secs_, MakeSigstruct(b.Finish())));
  EXPECT_EQ(m_->CoreCycles(kOs), measured + Cost(Instruction::kEinit));
}

// ---- ECREATE and the SECS ------------------------------------------------------------

TEST(EnTurboSecsTest, EcreateRefusesMoreRangesThanTheShadowCacheHolds) {
  auto m = MakeMachine(64);
  const EpcPage p = *m->FindFreePage();
  const uint64_t size = kHostSize;  // 4096 pages
  const uint32_t fits = static_cast<uint32_t>(size / kPageSize / kMaxMeasureRanges);
  for (uint32_t r : {1u, fits - 1}) {
    SCOPED_TRACE(r);
    const auto before = m->Counters();
    EXPECT_GP(m->Ecreate(kOs, EnTurboSecs(r, size), p));
    EXPECT_EQ(m->Counters().count, before.count);
    EXPECT_FALSE(m->Epcm(p).valid);
  }
  EXPECT_OK(m->Ecreate(kOs, EnTurboSecs(fits, size), p));
}

TEST(EnTurboSecsTest, MeasureRangePagesUsesReservedBytesAt24) {
  Secs s = EnTurboSecs(0x01020304);
  s.misc_select = 0xaabbccdd;
  const auto bytes = s.Serialize();
  EXPECT_EQ(LoadLe<uint32_t>(bytes.data() + 24), 0x01020304u);
  EXPECT_EQ(LoadLe<uint32_t>(bytes.data() + 20), 0xaabbccddu);
  EXPECT_EQ(LoadLe<uint64_t>(bytes.data() + 48), s.attributes.flags);
  for (size_t i = 28; i < 48; ++i) EXPECT_EQ(bytes[i], 0) << i;
  auto parsed = Secs::Parse(bytes);
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->measure_range_pages, 0x01020304u);
}

// ---- Decoupled start ------------------------------------------------------------------

class EnTurboStartTest : public ::testing::Test {
 protected:
  static constexpr CoreId kThread = 1;
  void SetUp() override {
    m_ = MakeMachine(128, kRootSecret, 5);
    ASSERT_NE(m_, nullptr);
    pages_ = Layout();
    pages_.erase(pages_.begin() + 4, pages_.end() - 1);  // 4 data pages and the TCS
    auto l = Load(*m_, pages_, EnTurboSecs(), kInOrder, [](uint32_t r) { return 1 + r; });
    ASSERT_OK(l);
    loaded_ = *l;
  }
  crypto::Sha256Digest Value() const { return Expected(PageContents::kFull, kRangePages, pages_); }
  Machine& m() { return *m_; }
  std::unique_ptr<Machine> m_;
  std::vector<PageSpec> pages_;
  Loaded loaded_;
};

TEST_F(EnTurboStartTest, NothingLeavesBeforeEinit) {
  ASSERT_OK(m().Eenter(kThread, loaded_.tcs));
  uint8_t buf[16];
  EXPECT_OK(m().Read(kThread, kBase, buf));
  EXPECT_OK(m().Write(kThread, kBase + kPageSize, buf));
  const auto before = m().Counters();
  EXPECT_GP(m().Eexit(kThread));
  EXPECT_GP(m().Ereport(kThread, TargetInfo{}, ReportData{}));
  EXPECT_GP(m().Egetkey(kThread, KeyRequest{}));
  EXPECT_EQ(m().Counters().count, before.count);
  EXPECT_EQ(m().CurrentEnclave(kThread), loaded_.secs);
  // An interrupt is not a leak: AEX and ERESUME work.
  ASSERT_OK(m().Aex(kThread));
  ASSERT_OK(m().Eresume(kThread, loaded_.tcs));
  EXPECT_GP(m().Eexit(kThread));
}

TEST_F(EnTurboStartTest, EinitFromAnotherCoreLetsTheThreadLeave) {
  ASSERT_OK(m().Eenter(kThread, loaded_.tcs));
  // The host copies another page while its thread runs, and a worker measures it.
  PageSpec extra;
  extra.offset = 8 * kPageSize;
  extra.secinfo = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW);
  extra.bytes = PatternPage(9, 9);
  ASSERT_OK(m().Eadd(kOs, loaded_.secs, kBase + extra.offset, extra.secinfo, extra.bytes,
                     *m().FindFreePage()));
  for (size_t c = 0; c < kPageSize; c += kEextendChunkSize)
    ASSERT_OK(m().Eextend(2, loaded_.secs, kBase + extra.offset + c));
  pages_.insert(pages_.end() - 1, extra);
  // A failed EINIT changes nothing: still no way out.
  EXPECT_SGX(m().Einit(kOs, loaded_.secs, MakeSigstruct(Expected(PageContents::kFull, 0, pages_))),
             kInvalidMeasurement);
  EXPECT_GP(m().Eexit(kThread));
  ASSERT_OK(m().Einit(kOs, loaded_.secs, MakeSigstruct(Value())));
  const uint64_t verified = m().CoreCycles(kOs);
  auto report = m().Ereport(kThread, TargetInfo{}, ReportData{});
  ASSERT_OK(report);
  EXPECT_EQ(report->mr_enclave, Value());
  EXPECT_OK(m().Egetkey(kThread, KeyRequest{}));
  ASSERT_OK(m().Eexit(kThread));
  // In virtual time the exit comes after verification.
  EXPECT_GE(m().CoreCycles(kThread), verified + m().profile().Cycles(Instruction::kEexit));
}

TEST(EnTurboOrdinaryTest, OrdinaryEnclavesStillNeedEinitToEnter) {
  auto m = MakeMachine(64);
  auto host = BuildEnclave(*m, {.pages = 1, .init = false});
  ASSERT_OK(host);
  EXPECT_GP(m->Eenter(1, host->tcs));
  ASSERT_OK(m->Einit(kOs, host->secs, host->sigstruct));
  EXPECT_OK(m->Eenter(1, host->tcs));
  EXPECT_OK(m->Eexit(1));
}

}  // namespace
}  // namespace confide::machine::testing
