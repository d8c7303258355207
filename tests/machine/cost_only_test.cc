// Cost-only mode (page_contents.h): the same instructions with the same
// outcomes, cycles, counters and page events as full mode, without page bytes
// (except VA pages); and MeasurementBuilder, the one measurement stream the
// machine and signers share, in both modes.
//
// The random-sequence version of the step-by-step comparison is
// MachineProperty.CostOnlyModeMatchesFullModeStepByStep (property_test.cc).
#include <sys/mman.h>

#include <gtest/gtest.h>

#include <set>

#include <fmt/format.h>

#include "test_util.h"

namespace confide::machine::testing {
namespace {

constexpr CoreId kOs = 0;
constexpr CoreId kThread = 1;
constexpr uint32_t kPages = 256;

// What a caller can observe of an outcome (messages differ between modes).
std::string Outcome(const Status& s) {
  if (s.ok()) return "OK";
  const Error& e = s.error();
  if (e.code == ErrorCode::kSgxError) return std::string(SgxErrorName(e.sgx));
  if (e.code == ErrorCode::kFault)
    return fmt::format("fault {} at 0x{:x}", static_cast<int>(e.fault.vector), e.fault.address);
  return s.ToString();
}
template <typename T>
std::string Outcome(const StatusOr<T>& s) {
  return Outcome(s.status());
}

// One instruction of the scenario and the machine after it.
struct StepRecord {
  std::string name;
  std::string outcome;
  CounterSnapshot counters;
  std::vector<uint64_t> clocks;
};

class Recorder {
 public:
  explicit Recorder(Machine& m) : m_(m) {}
  // Records `s` and checks it is what the scenario expects: OK, an SGX
  // error, or a fault with this vector.
  void Ok(const std::string& name, const Status& s) { Record(name, s, s.ok()); }
  void Sgx(const std::string& name, const Status& s, SgxError e) {
    Record(name, s, IsSgxError(s, e));
  }
  void Fault(const std::string& name, const Status& s, FaultVector v) {
    Record(name, s, IsFault(s, v));
  }
  template <typename T>
  void Ok(const std::string& name, const StatusOr<T>& s) {
    Ok(name, s.status());
  }
  std::vector<StepRecord> steps;

 private:
  void Record(const std::string& name, const Status& s, bool as_expected) {
    EXPECT_TRUE(as_expected) << name << " in "
                             << (m_.page_contents() == PageContents::kFull ? "full" : "cost-only")
                             << " mode: " << s.ToString();
    StepRecord r{name, Outcome(s), m_.Counters(), {}};
    for (CoreId c = 0; c < m_.core_count(); ++c) r.clocks.push_back(m_.CoreCycles(c));
    steps.push_back(std::move(r));
  }
  Machine& m_;
};

crypto::Sha256Digest Flipped(crypto::Sha256Digest d) {
  d[0] ^= 1;
  return d;
}

// EADD and the EEXTENDs of every chunk, recorded, and fed to `mb`.
void AddPage(Machine& m, Recorder& r, MeasurementBuilder& mb, EpcPage secs, uint64_t base,
             uint64_t offset, const SecInfo& si, const Page& bytes, EpcPage page) {
  r.Ok(fmt::format("EADD +0x{:x}", offset), m.Eadd(kOs, secs, base + offset, si, bytes, page));
  mb.Eadd(offset, si);
  for (size_t c = 0; c < kPageSize; c += kEextendChunkSize) {
    r.Ok(fmt::format("EEXTEND +0x{:x}", offset + c), m.Eextend(kOs, secs, base + offset + c));
    mb.Eextend(offset + c, ByteSpan(bytes).subspan(c, kEextendChunkSize));
  }
}

// A fixed sequence over every instruction group, with failures, on a machine
// in `mode`. Page numbers are fixed, so both modes use the same pages.
std::vector<StepRecord> RunScenario(PageContents mode) {
  auto mp = MakeMachine(kPages, kRootSecret, 4, mode);
  Machine& m = *mp;
  Recorder r(m);
  EpcPage next = 0;
  auto page = [&] { return next++; };

  // ---- Host: ECREATE, EADD code/data/TCS, EEXTEND, EINIT ----
  Secs secs;
  secs.size = kHostSize;
  secs.base_addr = kHostBase;
  secs.attributes = {attr::kMode64Bit, kXfrm};
  const EpcPage host = page();
  r.Ok("ECREATE host", m.Ecreate(kOs, secs, host));
  MeasurementBuilder mb(mode);
  mb.Ecreate(secs.ssa_frame_size, secs.size);
  const SecInfo rx = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kX);
  const SecInfo rw = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW);
  for (uint32_t i = 0; i < 3; ++i)
    AddPage(m, r, mb, host, kHostBase, i * kPageSize, rx, PatternPage(1, i), page());
  std::vector<EpcPage> data;
  for (uint32_t i = 3; i < 5; ++i) {
    data.push_back(next);
    AddPage(m, r, mb, host, kHostBase, i * kPageSize, rw, PatternPage(1, i), page());
  }
  const EpcPage tcs = next;
  AddPage(m, r, mb, host, kHostBase, kHostSize - kPageSize, SecInfo::Make(PageType::kTcs, 0),
          TcsPage(2), page());
  r.Sgx("EADD over a page", m.Eadd(kOs, host, kHostBase, rx, PatternPage(1, 0), next),
        SgxError::kVaConflict);
  r.Fault("EEXTEND misaligned", m.Eextend(kOs, host, kHostBase + 3), FaultVector::kGP);
  Page bad_tcs = TcsPage(2);
  StoreLe<uint32_t>(bad_tcs.data() + 24, 1);  // CSSA != 0: a TCS check reads the source
  r.Fault(
      "EADD bad TCS",
      m.Eadd(kOs, host, kHostBase + 9 * kPageSize, SecInfo::Make(PageType::kTcs, 0), bad_tcs, next),
      FaultVector::kGP);
  r.Fault("EENTER before EINIT", m.Eenter(kThread, tcs), FaultVector::kGP);
  r.Sgx("EINIT wrong hash", m.Einit(kOs, host, MakeSigstruct(Flipped(mb.Finish()))),
        SgxError::kInvalidMeasurement);
  r.Ok("EINIT", m.Einit(kOs, host, MakeSigstruct(mb.Finish())));
  r.Fault("EADD after EINIT",
          m.Eadd(kOs, host, kHostBase + 9 * kPageSize, rw, PatternPage(1, 9), next),
          FaultVector::kGP);

  // ---- Entry, access ----
  uint8_t buf[64] = {};
  r.Ok("EENTER", m.Eenter(kThread, tcs));
  r.Fault("EENTER busy TCS", m.Eenter(2, tcs), FaultVector::kGP);
  r.Ok("Read", m.Read(kThread, kHostBase + 3 * kPageSize + 100, buf));
  r.Ok("Write", m.Write(kThread, kHostBase + 3 * kPageSize + 100, buf));
  r.Fault("Write code", m.Write(kThread, kHostBase + 10, buf), FaultVector::kPF);
  r.Fault("Read unmapped", m.Read(kThread, kHostBase + 20 * kPageSize, buf), FaultVector::kPF);
  r.Ok("EREPORT", m.Ereport(kThread, TargetInfo{}, ReportData{}));
  KeyRequest seal;
  seal.key_name = static_cast<uint16_t>(KeyName::kSeal);
  seal.key_policy = keypolicy::kMrEnclave;
  r.Ok("EGETKEY", m.Egetkey(kThread, seal));
  r.Ok("AEX", m.Aex(kThread));
  r.Ok("ERESUME", m.Eresume(kThread, tcs));
  r.Ok("EEXIT", m.Eexit(kThread));

  // ---- SGX2: EAUG + EACCEPT ----
  const uint64_t aug_addr = kHostBase + 8 * kPageSize;
  r.Ok("EAUG", m.Eaug(kOs, host, aug_addr, page()));
  r.Sgx("EAUG again", m.Eaug(kOs, host, aug_addr, next), SgxError::kVaConflict);
  r.Ok("EENTER", m.Eenter(kThread, tcs));
  r.Fault("Write pending", m.Write(kThread, aug_addr, buf), FaultVector::kPF);
  r.Ok("EACCEPT",
       m.Eaccept(kThread,
                 SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW | secinfo::kPending),
                 aug_addr));
  r.Ok("Write augmented", m.Write(kThread, aug_addr, buf));
  r.Ok("EEXIT", m.Eexit(kThread));

  // ---- Paging ----
  const EpcPage va = page();
  r.Ok("EPA", m.Epa(kOs, va));
  r.Sgx("EWB unblocked", m.Ewb(kOs, data[0], va, 0).status(), SgxError::kPageNotBlocked);
  r.Ok("EBLOCK", m.Eblock(kOs, data[0]));
  r.Sgx("EWB untracked", m.Ewb(kOs, data[0], va, 0).status(), SgxError::kNotTracked);
  r.Ok("ETRACK", m.Etrack(kOs, host));
  auto blob = m.Ewb(kOs, data[0], va, 0);
  r.Ok("EWB", blob);
  EXPECT_EQ(blob->ciphertext.size(), mode == PageContents::kFull ? kPageSize : 0u);
  EvictedPage tampered = *blob;
  tampered.mac[3] ^= 1;
  const EpcPage reload = page();
  r.Sgx("ELDU tampered", m.Eldu(kOs, tampered, host, reload, va, 0), SgxError::kMacCompareFail);
  r.Ok("ELDU", m.Eldu(kOs, *blob, host, reload, va, 0));
  r.Sgx("ELDU replay", m.Eldu(kOs, *blob, host, next, va, 0), SgxError::kMacCompareFail);
  r.Ok("EBLOCK", m.Eblock(kOs, reload));
  r.Ok("ETRACK", m.Etrack(kOs, host));
  auto again = m.Ewb(kOs, reload, va, 1);
  r.Ok("EWB", again);
  r.Ok("ELDB", m.Eldb(kOs, *again, host, reload, va, 1));

  // ---- PIE: plugin, EMAP, copy-on-write ----
  Secs psecs;
  psecs.size = kPluginSize;
  psecs.base_addr = kPluginBase;
  psecs.attributes = {attr::kMode64Bit, kXfrm};
  const EpcPage plugin = page();
  r.Ok("ECREATE plugin", m.Ecreate(kOs, psecs, plugin));
  MeasurementBuilder pmb(mode);
  pmb.Ecreate(psecs.ssa_frame_size, psecs.size);
  const SecInfo sreg = SecInfo::Make(PageType::kSreg, secinfo::kR | secinfo::kX);
  for (uint32_t i = 0; i < 2; ++i)
    AddPage(m, r, pmb, plugin, kPluginBase, i * kPageSize, sreg, PatternPage(7, i), page());
  r.Ok("EINIT plugin", m.Einit(kOs, plugin, MakeSigstruct(pmb.Finish())));
  const crypto::Sha256Digest plugin_mr = m.SecsOf(plugin)->mr_enclave;
  r.Ok("EENTER", m.Eenter(kThread, tcs));
  r.Sgx("EMAP wrong hash", m.Emap(kThread, plugin, Flipped(plugin_mr)),
        SgxError::kInvalidMeasurement);
  r.Ok("EMAP", m.Emap(kThread, plugin, plugin_mr));
  r.Ok("Read plugin", m.Read(kThread, kPluginBase + 5, buf));
  r.Fault("Write plugin", m.Write(kThread, kPluginBase + 5, buf), FaultVector::kPF);
  r.Ok("CopyOnWrite", m.CopyOnWrite(kThread, tcs, kPluginBase + 5, page()));
  r.Ok("Write private copy", m.Write(kThread, kPluginBase + 5, buf));
  r.Ok("EUNMAP", m.Eunmap(kThread, plugin));
  r.Sgx("EUNMAP again", m.Eunmap(kThread, plugin), SgxError::kPluginNotMapped);
  r.Ok("EEXIT", m.Eexit(kThread));

  // ---- EnTurbo: decoupled start ----
  Secs esecs = secs;
  esecs.base_addr = 2 * kHostBase;
  esecs.size = 64 * kPageSize;
  esecs.measure_range_pages = 16;
  const EpcPage et = page();
  r.Ok("ECREATE EnTurbo", m.Ecreate(kOs, esecs, et));
  MeasurementBuilder emb(mode, 16);
  emb.Ecreate(esecs.ssa_frame_size, esecs.size);
  AddPage(m, r, emb, et, esecs.base_addr, 0, rw, PatternPage(3, 0), page());
  const EpcPage etcs = next;
  AddPage(m, r, emb, et, esecs.base_addr, esecs.size - kPageSize, SecInfo::Make(PageType::kTcs, 0),
          TcsPage(1), page());
  r.Ok("EENTER before EINIT", m.Eenter(kThread, etcs));
  r.Fault("EEXIT before EINIT", m.Eexit(kThread), FaultVector::kGP);
  r.Ok("EINIT EnTurbo", m.Einit(kOs, et, MakeSigstruct(emb.Finish())));
  r.Ok("EEXIT after EINIT", m.Eexit(kThread));

  // ---- Teardown ----
  r.Sgx("EREMOVE SECS with pages", m.Eremove(kOs, host), SgxError::kChildPresent);
  for (EpcPage p = 1; p < next; ++p)
    if (m.Epcm(p).valid && m.Epcm(p).type != PageType::kSecs) r.Ok("EREMOVE", m.Eremove(kOs, p));
  for (EpcPage p : {host, plugin, et}) r.Ok("EREMOVE SECS", m.Eremove(kOs, p));
  EXPECT_EQ(m.FreePageCount(), kPages);
  return r.steps;
}

TEST(CostOnlyScenarioTest, ScriptedSequenceMatchesFullModeStepByStep) {
  const std::vector<StepRecord> full = RunScenario(PageContents::kFull);
  const std::vector<StepRecord> cost = RunScenario(PageContents::kCostOnly);
  ASSERT_EQ(full.size(), cost.size());
  for (size_t i = 0; i < full.size(); ++i) {
    SCOPED_TRACE(fmt::format("step {}: {}", i, full[i].name));
    ASSERT_EQ(full[i].name, cost[i].name);
    EXPECT_EQ(full[i].outcome, cost[i].outcome);
    EXPECT_EQ(full[i].counters.count, cost[i].counters.count);
    EXPECT_EQ(full[i].counters.cycles, cost[i].counters.cycles);
    for (auto field : kPageEventFields)
      EXPECT_EQ(full[i].counters.events.*field, cost[i].counters.events.*field);
    EXPECT_EQ(full[i].clocks, cost[i].clocks);
  }
  // The scenario covers every instruction but EMODPR/EMODT/EMODPE/EACCEPTCOPY's
  // explicit forms (EACCEPTCOPY runs inside CopyOnWrite).
  const CounterSnapshot& last = full.back().counters;
  for (Instruction i : {Instruction::kEcreate, Instruction::kEadd,        Instruction::kEextend,
                        Instruction::kEinit,   Instruction::kEremove,     Instruction::kEaug,
                        Instruction::kEaccept, Instruction::kEacceptcopy, Instruction::kEpa,
                        Instruction::kEblock,  Instruction::kEtrack,      Instruction::kEwb,
                        Instruction::kEldu,    Instruction::kEldb,        Instruction::kEenter,
                        Instruction::kEexit,   Instruction::kAex,         Instruction::kEresume,
                        Instruction::kEreport, Instruction::kEgetkey,     Instruction::kEmap,
                        Instruction::kEunmap})
    EXPECT_GT(last.count[Idx(i)], 0u) << Info(i).name;
  EXPECT_EQ(last.events.cow_copies, 1u);
}

// ---- What cost-only mode does not do ------------------------------------------

class CostOnlyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_ = MakeMachine(kPages, kRootSecret, 4, PageContents::kCostOnly);
    ASSERT_NE(m_, nullptr);
  }
  Machine& m() { return *m_; }
  EpcPage Free() { return *m_->FindFreePage(); }
  std::unique_ptr<Machine> m_;
};

TEST_F(CostOnlyTest, ReadYieldsZerosAndWriteStoresNothing) {
  auto host = BuildEnclave(m(), {.pages = 2});
  ASSERT_OK(host);
  ASSERT_OK(m().Eenter(kThread, host->tcs));
  std::array<uint8_t, 300> out;
  out.fill(0xaa);
  // Across a page boundary: both pages are checked, neither has bytes.
  ASSERT_OK(m().Read(kThread, host->addr(0) + kPageSize - 100, out));
  for (uint8_t b : out) ASSERT_EQ(b, 0);
  const std::array<uint8_t, 8> data = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_OK(m().Write(kThread, host->addr(1), data));
  ASSERT_OK(m().Read(kThread, host->addr(1), out));
  for (uint8_t b : out) ASSERT_EQ(b, 0);
  // The checks still run: no page, #PF.
  EXPECT_PF_AT(m().Read(kThread, host->addr(5), out), host->addr(5));
}

TEST_F(CostOnlyTest, EvictedPagesCarryNoBytesButTheMacHolds) {
  auto host = BuildEnclave(m(), {.pages = 2});
  ASSERT_OK(host);
  const EpcPage va = Free();
  ASSERT_OK(m().Epa(kOs, va));
  auto blob = Evict(m(), kOs, host->secs, host->data_pages[0], va, 4);
  ASSERT_OK(blob);
  EXPECT_TRUE(blob->ciphertext.empty());
  EXPECT_NE(LoadLe<uint64_t>(m().PageBytes(va).data() + 4 * 8), 0u);  // VA slots are real
  const EpcPage dest = Free();
  std::vector<std::pair<const char*, std::function<void(EvictedPage&)>>> tampers = {
      {"mac", [](EvictedPage& b) { b.mac[0] ^= 1; }},
      {"linaddr", [](EvictedPage& b) { b.linaddr += kPageSize; }},
      {"secinfo", [](EvictedPage& b) { b.secinfo.flags |= secinfo::kX; }},
      {"enclave id", [](EvictedPage& b) { b.enclave_id += 1; }},
      // Cost-only blobs of non-VA pages are empty; bytes are not what EWB wrote.
      {"ciphertext", [](EvictedPage& b) { b.ciphertext.assign(kPageSize, 0); }},
      {"one byte", [](EvictedPage& b) { b.ciphertext.assign(1, 0); }},
  };
  for (auto& [what, tamper] : tampers) {
    SCOPED_TRACE(what);
    EvictedPage b = *blob;
    tamper(b);
    EXPECT_SGX(m().Eldu(kOs, b, host->secs, dest, va, 4), kMacCompareFail);
  }
  ASSERT_OK(m().Eldu(kOs, *blob, host->secs, dest, va, 4));
  EXPECT_EQ(m().Epcm(dest).linaddr, host->addr(0));
  EXPECT_SGX(m().Eldu(kOs, *blob, host->secs, Free(), va, 4), kMacCompareFail);
}

TEST_F(CostOnlyTest, EaddReadsTheTcsFromTheSource) {
  auto host = BuildEnclave(m(), {.pages = 1, .nssa = 3});
  ASSERT_OK(host);
  // NSSA 3 came from the source bytes: three nested AEXs fit, a fourth
  // EENTER has no SSA frame.
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(m().Eenter(kThread, host->tcs));
    ASSERT_OK(m().Aex(kThread));
  }
  EXPECT_GP(m().Eenter(kThread, host->tcs));
}

// The EPC mapping is untouched except for VA pages: no page of an enclave
// ever becomes resident, whatever the enclave does.
TEST_F(CostOnlyTest, EpcBytesOfNonVaPagesAreNeverTouched) {
  auto host = BuildEnclave(m(), {.pages = 20});
  ASSERT_OK(host);
  auto plugin = BuildEnclave(m(), {.kind = Kind::kPlugin, .pages = 4});
  ASSERT_OK(plugin);
  std::set<EpcPage> vas;
  for (int i = 0; i < 2; ++i) {
    const EpcPage va = Free();
    ASSERT_OK(m().Epa(kOs, va));
    vas.insert(va);
  }
  const EpcPage va0 = *vas.begin(), va1 = *vas.rbegin();
  for (uint32_t i = 0; i < 5; ++i) {
    auto blob = Evict(m(), kOs, host->secs, host->data_pages[i], va0, i);
    ASSERT_OK(blob);
    ASSERT_OK(m().Eldu(kOs, *blob, host->secs, Free(), va0, i));
  }
  // A VA page out and back: its new EPC page is a VA page too.
  auto va_blob = m().Ewb(kOs, va0, va1, 0);
  ASSERT_OK(va_blob);
  const EpcPage va0_new = Free();
  ASSERT_OK(m().Eldu(kOs, *va_blob, 0, va0_new, va1, 0));
  vas.insert(va0_new);
  ASSERT_OK(m().Eaug(kOs, host->secs, host->addr(30), Free()));
  ASSERT_OK(m().Eenter(kThread, host->tcs));
  ASSERT_OK(m().Eaccept(
      kThread, SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW | secinfo::kPending),
      host->addr(30)));
  std::array<uint8_t, 4096> buf{};
  ASSERT_OK(m().Write(kThread, host->addr(30), buf));
  ASSERT_OK(m().Read(kThread, host->addr(1), buf));
  ASSERT_OK(m().Emap(kThread, plugin->secs, plugin->mrenclave));
  ASSERT_OK(m().CopyOnWrite(kThread, host->tcs, kPluginBase, Free()));
  ASSERT_OK(m().Eexit(kThread));
  for (auto [addr, page] : host->page_at) {
    if (m().Epcm(page).valid && m().Epcm(page).owner == host->secs) {
      ASSERT_OK(m().Eremove(kOs, page));
    }
  }

  std::vector<unsigned char> resident(m().epc_pages());
  // SAFETY: the EPC mapping starts at page 0's bytes, is page aligned and
  // epc_pages() pages long; mincore only reads the page tables.
  ASSERT_EQ(::mincore(const_cast<uint8_t*>(m().PageBytes(0).data()),
                      size_t{m().epc_pages()} * kPageSize, resident.data()),
            0);
  for (EpcPage p = 0; p < m().epc_pages(); ++p) {
    if (resident[p] & 1) {
      EXPECT_TRUE(vas.count(p)) << "EPC page " << p << " is resident";
    }
  }
}

// ---- MeasurementBuilder --------------------------------------------------------

std::vector<PageSpec> SomePages() {
  std::vector<PageSpec> pages;
  for (uint32_t i = 0; i < 5; ++i) {
    PageSpec p;
    p.offset = uint64_t{i} * 3 * kPageSize;
    p.secinfo = SecInfo::Make(PageType::kReg, i % 2 ? secinfo::kR : secinfo::kR | secinfo::kX);
    p.bytes = PatternPage(11, i);
    p.measured = i != 2;
    pages.push_back(p);
  }
  return pages;
}

crypto::Sha256Digest Build(PageContents mode, const std::vector<PageSpec>& pages, uint32_t ssa = 1,
                           uint64_t size = kHostSize) {
  MeasurementBuilder b(mode);
  b.Ecreate(ssa, size);
  for (const PageSpec& p : pages) {
    b.Eadd(p.offset, p.secinfo);
    for (size_t c = 0; p.measured && c < kPageSize; c += kEextendChunkSize)
      b.Eextend(p.offset + c, ByteSpan(p.bytes).subspan(c, kEextendChunkSize));
  }
  return b.Finish();
}

TEST(MeasurementBuilderTest, FullModeIsMrenclave) {
  const auto pages = SomePages();
  EXPECT_EQ(Build(PageContents::kFull, pages), MeasureExpected(1, kHostSize, pages));
  EXPECT_EQ(Build(PageContents::kFull, pages, 2), MeasureExpected(2, kHostSize, pages));
  // And what the machine computes: BuildEnclave checks MeasureExpected at EINIT.
  auto m = MakeMachine(64);
  auto host = BuildEnclave(*m, {.pages = 3});
  ASSERT_OK(host);
  MeasurementBuilder b;
  b.Ecreate(1, kHostSize);
  for (const PageSpec& p : host->specs) {
    b.Eadd(p.offset, p.secinfo);
    for (size_t c = 0; c < kPageSize; c += kEextendChunkSize)
      b.Eextend(p.offset + c, ByteSpan(p.bytes).subspan(c, kEextendChunkSize));
  }
  EXPECT_EQ(b.Finish(), m->SecsOf(host->secs)->mr_enclave);
}

TEST(MeasurementBuilderTest, FinishDoesNotSpendTheBuilder) {
  MeasurementBuilder b;
  b.Ecreate(1, kHostSize);
  b.Eadd(0, SecInfo::Make(PageType::kReg, secinfo::kR));
  const auto first = b.Finish();
  EXPECT_EQ(b.Finish(), first);
  b.Eadd(kPageSize, SecInfo::Make(PageType::kReg, secinfo::kR));
  EXPECT_NE(b.Finish(), first);
}

TEST(MeasurementBuilderTest, CostOnlyHashesRecordsWithoutData) {
  const auto pages = SomePages();
  crypto::Sha256 h;
  h.Update(EcreateRecord(1, kHostSize));
  for (const PageSpec& p : pages) {
    h.Update(EaddRecord(p.offset, p.secinfo));
    for (size_t c = 0; p.measured && c < kPageSize; c += kEextendChunkSize)
      h.Update(EextendRecord(p.offset + c));
  }
  const auto want = h.Finish();
  EXPECT_EQ(Build(PageContents::kCostOnly, pages), want);
  EXPECT_NE(Build(PageContents::kFull, pages), want);
  // The chunks' contents do not matter, nor does passing them at all.
  auto other = pages;
  for (PageSpec& p : other) p.bytes = PatternPage(99, 0);
  EXPECT_EQ(Build(PageContents::kCostOnly, other), want);
  MeasurementBuilder b(PageContents::kCostOnly);
  b.Ecreate(1, kHostSize);
  for (const PageSpec& p : pages) {
    b.Eadd(p.offset, p.secinfo);
    for (size_t c = 0; p.measured && c < kPageSize; c += kEextendChunkSize)
      b.Eextend(p.offset + c, {});
  }
  EXPECT_EQ(b.Finish(), want);
}

TEST(MeasurementBuilderTest, CostOnlyMachineEinitsWithTheCostOnlyValue) {
  auto m = MakeMachine(64, kRootSecret, 4, PageContents::kCostOnly);
  auto host = BuildEnclave(*m, {.pages = 3, .init = false});
  ASSERT_OK(host);
  // The full-mode value is not the cost-only one.
  EXPECT_SGX(m->Einit(0, host->secs, MakeSigstruct(MeasureExpected(1, kHostSize, host->specs))),
             kInvalidMeasurement);
  crypto::Sha256 h;  // records only, independently of the builder
  h.Update(EcreateRecord(1, kHostSize));
  for (const PageSpec& p : host->specs) {
    h.Update(EaddRecord(p.offset, p.secinfo));
    for (size_t c = 0; c < kPageSize; c += kEextendChunkSize) h.Update(EextendRecord(p.offset + c));
  }
  const auto want = h.Finish();
  EXPECT_EQ(host->mrenclave, want);
  ASSERT_OK(m->Einit(0, host->secs, MakeSigstruct(want)));
  EXPECT_EQ(m->SecsOf(host->secs)->mr_enclave, want);
}

}  // namespace
}  // namespace confide::machine::testing
