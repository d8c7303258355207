// Property tests over random instruction sequences (RapidCheck).
//
// A small "OS + enclave code" driver picks among ECREATE, EADD, EEXTEND,
// EINIT, EAUG, EACCEPT, EMAP, EUNMAP, EBLOCK, ETRACK, EWB, ELDU/ELDB,
// EREMOVE, EENTER, EEXIT (and EPA, Read, Write, copy-on-write) with random
// but mostly plausible arguments on a 64-page EPC, and after every step checks:
//   (a) an EPC page belongs to at most one enclave, at one address, inside
//       that enclave's ELRANGE; PT_SREG pages belong to plugins only and a host
//       reading a plugin address reads the plugin's page, never owning it;
//   (b) a PT_SREG page's bytes never change after its plugin's EINIT;
//   (c) FreePageCount() + valid EPCM entries == epc_pages();
//   (d) an evicted-then-reloaded page is byte- and EPCM-identical to what it
//       was at EWB;
//   (e) replaying a stale evicted blob (already loaded, or its VA page
//       recycled) fails with SGX_MAC_COMPARE_FAIL;
//   (g) every instruction returns OK, an SGX error or a fault (Unimplemented
//       only for EWB of a SECS page), and EINIT with the driver's own
//       replay of the measurement succeeds.
// VA pages are evicted and reloaded too: a reloaded VA page (at a new EPC
// page) carries the versions of the blobs it held, which then load from it.
// A second property checks (f): MRENCLAVE depends only on the measured stream.
// A third runs the same driver on a full machine and a cost-only twin
// (twin_machine.h) and checks (h): both give the same status, counters, clocks
// and EPCM after every instruction.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "test_util.h"
#include "twin_machine.h"

namespace confide::machine::testing {
namespace {

constexpr uint32_t kPropEpcPages = 64;
constexpr uint32_t kCores = 3;
constexpr uint32_t kPagesPerEnclave = 8;  // addresses the driver uses: base + [0, 8) pages

// Uniform choices: inRange scales with the test size, which would skew the
// driver's probabilities towards the first options in small test cases.
int Pick(int n) { return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange(0, n)); }
bool Chance(int percent) { return Pick(100) < percent; }

std::string Show(const Status& s) { return s.ToString(); }

struct EnclaveRec {
  EpcPage secs = 0;
  bool plugin = false;
  uint64_t base = 0;
  uint64_t size = 0;
  crypto::Sha256 measurement;  // the driver's own replay of the stream
  bool initialized = false;
  std::set<uint64_t> addrs;  // addresses given to EADD/EAUG at some point
};

inline constexpr size_t kNoEnclave = ~size_t{0};

struct BlobRec {
  EvictedPage blob;
  size_t enclave = 0;  // index into Driver::enclaves; kNoEnclave for a VA page
  EpcPage va = 0;
  uint64_t va_generation = 0;
  uint32_t slot = 0;
  Page bytes{};
  EpcmEntry epcm;
  bool live = true;
  // A VA page's blob: the EPC page and incarnation it was evicted from.
  EpcPage evicted_va = 0;
  uint64_t evicted_va_generation = 0;
};

class Driver {
 public:
  // `cost_only_twin`: run every instruction on a cost-only twin as well.
  explicit Driver(bool cost_only_twin = false)
      : m_(MakeMachine(kPropEpcPages, kRootSecret, kCores),
           cost_only_twin ? MakeMachine(kPropEpcPages, kRootSecret, kCores, PageContents::kCostOnly)
                          : nullptr) {}
  TwinMachine& m() { return m_; }

  void Step() {
    using Op = void (Driver::*)();
    static constexpr std::pair<int, Op> kOps[] = {
        {4, &Driver::DoEcreate},     {12, &Driver::DoEadd},   {3, &Driver::DoEextend},
        {4, &Driver::DoBuild},       {6, &Driver::DoEinit},   {5, &Driver::DoEaug},
        {5, &Driver::DoEaccept},     {8, &Driver::DoEmap},    {3, &Driver::DoEunmap},
        {3, &Driver::DoEblock},      {3, &Driver::DoEtrack},  {6, &Driver::DoEwb},
        {5, &Driver::DoEld},         {5, &Driver::DoEremove}, {8, &Driver::DoEenter},
        {2, &Driver::DoEexit},       {2, &Driver::DoEpa},     {12, &Driver::DoAccess},
        {2, &Driver::DoReplayStale},
    };
    int total = 0;
    for (const auto& [w, op] : kOps) total += w;
    int pick = Pick(total);
    for (const auto& [w, op] : kOps) {
      if (pick < w) {
        (this->*op)();
        break;
      }
      pick -= w;
    }
    CheckInvariants();
    // (h)
    if (!m_.mismatches().empty()) RC_FAIL(m_.mismatches().front());
  }

 private:
  // ---- helpers -----------------------------------------------------------------

  void Expect(const Status& s, const char* what, bool allow_unimplemented = false) {
    if (s.ok()) return;
    const ErrorCode c = s.error().code;
    if (c == ErrorCode::kSgxError || c == ErrorCode::kFault) return;
    if (allow_unimplemented && c == ErrorCode::kUnimplemented) return;
    RC_FAIL(fmt::format("{} returned a non-architectural error: {}", what, Show(s)));
  }

  // A page the OS would pick: usually a free one, sometimes any.
  EpcPage AnyPage() {
    if (!Chance(85)) return static_cast<EpcPage>(Pick(kPropEpcPages + 1));
    auto p = m().FindFreePage();
    return p.ok() ? *p : static_cast<EpcPage>(Pick(kPropEpcPages));
  }
  // A valid page (or any page if none); `regular`: preferably not a SECS or VA.
  EpcPage ValidPage(bool regular = false) {
    std::vector<EpcPage> valid;
    for (EpcPage p = 0; p < kPropEpcPages; ++p) {
      const EpcmEntry e = m().Epcm(p);
      if (e.valid &&
          (!regular || (e.type != PageType::kSecs && e.type != PageType::kVa) || Chance(10)))
        valid.push_back(p);
    }
    if (valid.empty() || Chance(5)) return static_cast<EpcPage>(Pick(kPropEpcPages));
    return valid[Pick(static_cast<int>(valid.size()))];
  }
  CoreId OsCore() { return Chance(90) ? 0 : static_cast<CoreId>(Pick(kCores)); }
  CoreId ThreadCore() { return 1 + static_cast<CoreId>(Pick(kCores - 1)); }
  // A thread core, preferably one in enclave mode.
  CoreId InsideCore() {
    std::vector<CoreId> inside;
    for (CoreId c = 1; c < kCores; ++c)
      if (m().CurrentEnclave(c)) inside.push_back(c);
    if (inside.empty() || Chance(10)) return ThreadCore();
    return inside[Pick(static_cast<int>(inside.size()))];
  }
  bool Initialized(size_t i) {
    auto s = m().SecsOf(enclaves_[i].secs);
    return Alive(i) && s.ok() && (s->attributes.flags & attr::kInit);
  }
  // An enclave, preferably a live one for which `want` holds.
  std::optional<size_t> PickEnclave(const std::function<bool(size_t)>& want) {
    std::vector<size_t> good;
    for (size_t i = 0; i < enclaves_.size(); ++i)
      if (Alive(i) && want(i)) good.push_back(i);
    if (!good.empty() && Chance(85)) return good[Pick(static_cast<int>(good.size()))];
    return AnyEnclave();
  }
  std::optional<size_t> Building() {
    return PickEnclave([&](size_t i) { return !Initialized(i); });
  }
  std::optional<size_t> AnyEnclave() {
    if (enclaves_.empty()) return std::nullopt;
    return static_cast<size_t>(Pick(static_cast<int>(enclaves_.size())));
  }
  bool Alive(size_t i) {
    auto secs = m().SecsOf(enclaves_[i].secs);
    return secs.ok() && !removed_.count(i);
  }
  uint64_t AddrIn(const EnclaveRec& e) {
    return e.base + uint64_t{static_cast<uint32_t>(Pick(kPagesPerEnclave))} * kPageSize;
  }
  // The valid page of enclave `secs` at `linaddr`, if any (from the EPCM).
  std::optional<EpcPage> PageAt(EpcPage secs, uint64_t linaddr) {
    for (EpcPage p = 0; p < kPropEpcPages; ++p) {
      const EpcmEntry e = m().Epcm(p);
      if (e.valid && e.type != PageType::kSecs && e.type != PageType::kVa && e.owner == secs &&
          e.linaddr == linaddr)
        return p;
    }
    return std::nullopt;
  }
  std::optional<size_t> EnclaveBySecs(EpcPage secs) {
    for (size_t i = 0; i < enclaves_.size(); ++i)
      if (enclaves_[i].secs == secs && !removed_.count(i)) return i;
    return std::nullopt;
  }
  // The record of the enclave that an instruction on record i's SECS page
  // just reached: record i itself, or, if that enclave was removed and its
  // SECS page made the SECS of a later one, the later one's record.
  EnclaveRec& Live(size_t i) {
    auto live = EnclaveBySecs(enclaves_[i].secs);
    RC_ASSERT(live.has_value());
    return enclaves_[*live];
  }

  // ---- steps ---------------------------------------------------------------------

  // ECREATE of a host or plugin; `wild` allows implausible arguments.
  std::optional<size_t> Create(bool plugin, bool wild) {
    EnclaveRec e;
    e.plugin = plugin;
    if (e.plugin) {
      e.size = kPluginSize;
      e.base = kPluginBase + uint64_t{static_cast<uint32_t>(Pick(3))} * kPluginSize;
    } else {
      e.size = kHostSize;
      e.base = kHostBase;
    }
    Secs secs;
    secs.size = e.size;
    secs.base_addr = e.base;
    secs.ssa_frame_size = 1;
    secs.attributes = {attr::kMode64Bit, kXfrm};
    if (wild && Chance(5)) secs.attributes.flags |= attr::kInit;  // #GP
    e.secs = wild ? AnyPage() : m().FindFreePage().value_or(0);
    const Status s = m().Ecreate(wild ? OsCore() : 0, secs, e.secs);
    Expect(s, "ECREATE");
    if (!s.ok()) return std::nullopt;
    // A recreated SECS page is a new enclave.
    if (EnclaveBySecs(e.secs).has_value()) RC_FAIL("ECREATE succeeded on a live SECS page");
    e.measurement.Update(EcreateRecord(1, e.size));
    enclaves_.push_back(std::move(e));
    return enclaves_.size() - 1;
  }

  // EADD (and some EEXTENDs) of a data page or a TCS into enclave i.
  void Add(size_t i, bool tcs, bool wild) {
    EnclaveRec& e = enclaves_[i];
    const uint64_t addr =
        tcs ? e.base + e.size - kPageSize - uint64_t{static_cast<uint32_t>(Pick(2))} * kPageSize
            : AddrIn(e);
    PageType type = tcs ? PageType::kTcs : (e.plugin ? PageType::kSreg : PageType::kReg);
    if (wild && Chance(5)) type = e.plugin ? PageType::kReg : PageType::kSreg;  // type mix
    const uint64_t perms =
        tcs ? 0 : (Chance(50) ? secinfo::kR | secinfo::kW : secinfo::kR | secinfo::kX);
    const SecInfo si = SecInfo::Make(type, perms);
    const Page bytes =
        tcs ? TcsPage(1 + Pick(2)) : PatternPage(static_cast<uint32_t>(Pick(1000)), 0);
    const EpcPage page = wild ? AnyPage() : m().FindFreePage().value_or(0);
    const Status s = m().Eadd(wild ? OsCore() : 0, e.secs, addr, si, bytes, page);
    Expect(s, "EADD");
    if (!s.ok()) return;
    EnclaveRec& live = Live(i);
    live.measurement.Update(EaddRecord(addr - live.base, si));
    live.addrs.insert(addr);
    if (Chance(wild ? 60 : 90)) {
      for (size_t c = 0; c < kPageSize; c += kEextendChunkSize) {
        if (Chance(30)) continue;
        const Status x = m().Eextend(0, e.secs, addr + c);
        Expect(x, "EEXTEND");
        RC_ASSERT(x.ok());
        live.measurement.Update(EextendRecord(addr + c - live.base));
        live.measurement.Update(ByteSpan(bytes).subspan(c, kEextendChunkSize));
      }
    }
  }

  void DoEcreate() { Create(Chance(50), /*wild=*/true); }

  void DoEadd() {
    auto i = Building();
    if (!i) return;
    Add(*i, !enclaves_[*i].plugin && Chance(35), /*wild=*/true);
  }

  // A whole enclave in one step (each instruction still checked).
  void DoBuild() {
    const bool plugin = Chance(40);
    auto i = Create(plugin, /*wild=*/false);
    if (!i) return;
    const int n = 1 + Pick(3);
    for (int k = 0; k < n; ++k) Add(*i, /*tcs=*/false, /*wild=*/false);
    if (!plugin) Add(*i, /*tcs=*/true, /*wild=*/false);
    Init(*i, /*wrong=*/false, /*core=*/0);
  }

  void DoEextend() {
    auto i = Building();
    if (!i) return;
    EnclaveRec& e = enclaves_[*i];
    const uint64_t addr = AddrIn(e) + uint64_t{static_cast<uint32_t>(Pick(16))} * 256;
    const Status s = m().Eextend(OsCore(), e.secs, addr);
    Expect(s, "EEXTEND");
    if (!s.ok()) return;
    auto page = PageAt(e.secs, addr & ~uint64_t{kPageSize - 1});
    RC_ASSERT(page.has_value());
    EnclaveRec& live = Live(*i);
    live.measurement.Update(EextendRecord(addr - live.base));
    live.measurement.Update(m().PageBytes(*page).subspan(addr % kPageSize, 256));
  }

  void DoEinit() {
    auto i = Building();
    if (!i) return;
    Init(*i, Chance(15), OsCore());
  }

  // EINIT of enclave i with the driver's replayed measurement (or a wrong one).
  void Init(size_t i, bool wrong, CoreId core) {
    EnclaveRec& e = enclaves_[i];
    crypto::Sha256 tmp = e.measurement;
    crypto::Sha256Digest hash = tmp.Finish();
    if (wrong) hash[0] ^= 1;
    const bool plausible = Alive(i) && !e.initialized && !m().CurrentEnclave(core);
    const Status s = m().Einit(core, e.secs, MakeSigstruct(hash));
    Expect(s, "EINIT");
    if (plausible && !wrong && !s.ok())
      RC_FAIL("EINIT with the replayed measurement failed: " + Show(s));
    if (plausible && wrong) RC_ASSERT(IsSgxError(s, SgxError::kInvalidMeasurement));
    if (!s.ok()) return;
    RC_ASSERT(m().SecsOf(e.secs)->mr_enclave == hash);
    e.initialized = true;
    // (b) snapshot the plugin's pages: resident ones from the EPC, evicted
    // ones from what EWB sealed.
    for (uint64_t addr : e.addrs) {
      if (auto p = PageAt(e.secs, addr)) {
        if (m().Epcm(*p).type != PageType::kSreg) continue;
        Page b;
        std::copy_n(m().PageBytes(*p).begin(), kPageSize, b.begin());
        sreg_[{i, addr}] = b;
      }
    }
    for (const BlobRec& b : blobs_)
      if (b.live && b.enclave == i && b.epcm.type == PageType::kSreg)
        sreg_[{i, b.blob.linaddr}] = b.bytes;
  }

  void DoEaug() {
    auto i = PickEnclave([&](size_t k) { return Initialized(k) && !enclaves_[k].plugin; });
    if (!i) return;
    EnclaveRec& e = enclaves_[*i];
    const uint64_t addr =
        Chance(70) ? AddrIn(e) : kPluginBase + uint64_t{static_cast<uint32_t>(Pick(4))} * kPageSize;
    const Status s = m().Eaug(OsCore(), e.secs, addr, AnyPage());
    Expect(s, "EAUG");
    if (s.ok()) {
      // Never into a plugin (an enclave with PT_SREG pages, resident or out).
      for (EpcPage p = 0; p < kPropEpcPages; ++p) {
        const EpcmEntry x = m().Epcm(p);
        RC_ASSERT(!(x.valid && x.owner == e.secs && x.type == PageType::kSreg));
      }
      for (const BlobRec& b : blobs_)
        RC_ASSERT(!(b.live && b.enclave == *i && b.epcm.type == PageType::kSreg));
      e.addrs.insert(addr);
    }
  }

  void DoEaccept() {
    const CoreId core = InsideCore();
    auto cur = m().CurrentEnclave(core);
    uint64_t addr = kHostBase + uint64_t{static_cast<uint32_t>(Pick(kPagesPerEnclave))} * kPageSize;
    if (cur) {
      if (auto i = EnclaveBySecs(*cur); i && !enclaves_[*i].addrs.empty() && Chance(80)) {
        auto it = enclaves_[*i].addrs.begin();
        std::advance(it, Pick(static_cast<int>(enclaves_[*i].addrs.size())));
        addr = *it;
      }
    }
    const SecInfo si = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW | secinfo::kPending);
    Expect(m().Eaccept(core, si, addr), "EACCEPT");
  }

  void DoEmap() {
    const CoreId core = InsideCore();
    auto i = PickEnclave([&](size_t k) { return Initialized(k) && enclaves_[k].plugin; });
    if (!i) return;
    const EpcPage secs = enclaves_[*i].secs;
    crypto::Sha256Digest expected{};
    if (auto s = m().SecsOf(secs); s.ok()) expected = s->mr_enclave;
    if (Chance(10)) expected[5] ^= 1;
    const Status st = m().Emap(core, secs, expected);
    Expect(st, "EMAP");
    if (st.ok()) mapped_[*m().CurrentEnclave(core)].insert(*i);
  }

  void DoEunmap() {
    auto i = PickEnclave([&](size_t k) { return Initialized(k) && enclaves_[k].plugin; });
    if (!i) return;
    const CoreId core = InsideCore();
    const Status st = m().Eunmap(core, enclaves_[*i].secs);
    Expect(st, "EUNMAP");
    if (st.ok()) mapped_[*m().CurrentEnclave(core)].erase(*i);
  }

  void DoEblock() { Expect(m().Eblock(OsCore(), ValidPage(/*regular=*/true)), "EBLOCK"); }

  void DoEtrack() {
    auto i = AnyEnclave();
    if (!i) return;
    Expect(m().Etrack(OsCore(), enclaves_[*i].secs), "ETRACK");
  }

  void DoEwb() {
    EpcPage page = ValidPage(/*regular=*/true);
    if (vas_.empty()) DoEpa();
    if (vas_.empty()) return;
    // Sometimes a VA page, which then holds its versions outside the EPC.
    if (vas_.size() >= 2 && Chance(15)) page = vas_[Pick(static_cast<int>(vas_.size()))].first;
    if (Chance(50) && page < kPropEpcPages && m().Epcm(page).valid) {
      // The OS's usual sequence: EBLOCK, ETRACK, then EWB.
      const EpcmEntry e = m().Epcm(page);
      if (!e.blocked) Expect(m().Eblock(0, page), "EBLOCK");
      if (e.type != PageType::kSecs && e.type != PageType::kVa)
        Expect(m().Etrack(0, e.owner), "ETRACK");
    }
    const auto [va, gen] = vas_[Pick(static_cast<int>(vas_.size()))];
    const uint32_t slot = static_cast<uint32_t>(Pick(6));
    const EpcmEntry before = m().Epcm(page);
    Page bytes{};
    if (page < kPropEpcPages) std::copy_n(m().PageBytes(page).begin(), kPageSize, bytes.begin());
    const bool unimplemented_ok = before.valid && before.type == PageType::kSecs;
    auto r = m().Ewb(OsCore(), page, va, slot);
    Expect(r.status(), "EWB", unimplemented_ok);
    if (!r.ok()) return;
    if (before.type == PageType::kVa) {
      // The VA page leaves with its slots; the blobs whose versions it holds
      // cannot load until it is back (DoEld rebinds them).
      RC_ASSERT(page != va);
      RC_ASSERT(r->secinfo.page_type() == PageType::kVa);
      RC_ASSERT(r->ciphertext.size() == kPageSize);
      uint64_t old_gen = 0;
      for (auto& [p, g] : vas_)
        if (p == page) old_gen = g;
      vas_.erase(std::remove_if(vas_.begin(), vas_.end(), [&](auto& v) { return v.first == page; }),
                 vas_.end());
      BlobRec rec{*r, kNoEnclave, va, gen, slot, bytes, before, true};
      rec.evicted_va = page;
      rec.evicted_va_generation = old_gen;
      blobs_.push_back(rec);
      return;
    }
    auto owner = EnclaveBySecs(before.owner);
    RC_ASSERT(owner.has_value());
    RC_ASSERT(r->linaddr == before.linaddr);
    blobs_.push_back(BlobRec{*r, *owner, va, gen, slot, bytes, before, true});
  }

  void DoEld() {
    if (blobs_.empty()) return;
    BlobRec& b = blobs_[Pick(static_cast<int>(blobs_.size()))];
    const bool va_blob = b.enclave == kNoEnclave;
    // PAGEINFO.SECS does not matter for a VA page.
    const bool plausible_secs = va_blob || Chance(90);
    const EpcPage secs = plausible_secs && !va_blob ? enclaves_[b.enclave].secs : ValidPage();
    const EpcPage dest = AnyPage();
    const bool blocked = Chance(20);
    const CoreId core = OsCore();
    const bool va_intact = VaIntact(b.va, b.va_generation);
    const bool dest_free = dest < kPropEpcPages && !m().Epcm(dest).valid;
    const bool preconditions =
        plausible_secs && va_intact && dest_free && BlobOwnerAlive(b) && !m().CurrentEnclave(core);
    const Status s = blocked ? m().Eldb(core, b.blob, secs, dest, b.va, b.slot)
                             : m().Eldu(core, b.blob, secs, dest, b.va, b.slot);
    Expect(s, blocked ? "ELDB" : "ELDU");
    if (preconditions && b.live && !s.ok()) RC_FAIL("reloading a live blob failed: " + Show(s));
    // (e) a stale blob never loads.
    if (preconditions && !b.live) RC_ASSERT(IsSgxError(s, SgxError::kMacCompareFail));
    if (!s.ok()) return;
    RC_ASSERT(b.live);
    b.live = false;
    // (d) byte- and EPCM-identical.
    RC_ASSERT(std::equal(b.bytes.begin(), b.bytes.end(), m().PageBytes(dest).begin()));
    const EpcmEntry now = m().Epcm(dest);
    RC_ASSERT(SameEpcm(now, b.epcm, /*compare_blocked=*/false));
    RC_ASSERT(now.blocked == blocked);
    if (va_blob) {
      // The VA page is back at `dest`: the blobs whose versions it holds can
      // load again, from there.
      const uint64_t gen = ++va_generations_;
      for (BlobRec& x : blobs_)
        if (x.va == b.evicted_va && x.va_generation == b.evicted_va_generation) {
          x.va = dest;
          x.va_generation = gen;
        }
      vas_.push_back({dest, gen});
    }
  }

  bool BlobOwnerAlive(const BlobRec& b) { return b.enclave == kNoEnclave || Alive(b.enclave); }

  // (e) explicitly: every stale blob whose preconditions hold fails its MAC.
  void DoReplayStale() {
    for (BlobRec& b : blobs_) {
      if (b.live || !BlobOwnerAlive(b) || !VaIntact(b.va, b.va_generation)) continue;
      auto dest = m().FindFreePage();
      if (!dest.ok()) return;
      const EpcPage secs = b.enclave == kNoEnclave ? 0 : enclaves_[b.enclave].secs;
      const Status s = m().Eldu(0, b.blob, secs, *dest, b.va, b.slot);
      if (m().CurrentEnclave(0)) {
        RC_ASSERT(IsFault(s, FaultVector::kUD));
      } else if (!IsSgxError(s, SgxError::kMacCompareFail)) {
        RC_FAIL("replay of a stale blob: " + Show(s));
      }
    }
  }

  void DoEremove() {
    const EpcPage page = ValidPage();
    const EpcmEntry before = m().Epcm(page);
    const Status s = m().Eremove(OsCore(), page);
    Expect(s, "EREMOVE");
    if (!s.ok() || !before.valid) return;
    if (before.type == PageType::kVa) {
      // The versions in this incarnation of the VA page are gone for good.
      for (auto& [va, gen] : vas_)
        if (va == page)
          for (BlobRec& b : blobs_)
            if (b.va == page && b.va_generation == gen) b.live = false;
      vas_.erase(std::remove_if(vas_.begin(), vas_.end(), [&](auto& v) { return v.first == page; }),
                 vas_.end());
    } else if (before.type == PageType::kSecs) {
      auto i = EnclaveBySecs(page);
      RC_ASSERT(i.has_value());
      removed_.insert(*i);
      for (BlobRec& b : blobs_)
        if (b.enclave == *i) b.live = false;
      for (auto it = sreg_.begin(); it != sreg_.end();)
        it = it->first.first == *i ? sreg_.erase(it) : std::next(it);
    } else {
      // A removed plugin page is gone: drop its snapshot.
      if (auto i = EnclaveBySecs(before.owner)) sreg_.erase({*i, before.linaddr});
    }
  }

  void DoEenter() {
    std::vector<EpcPage> tcs;
    for (EpcPage p = 0; p < kPropEpcPages; ++p) {
      const EpcmEntry e = m().Epcm(p);
      if (e.valid && e.type == PageType::kTcs && !e.blocked) {
        auto i = EnclaveBySecs(e.owner);
        if ((i && Initialized(*i)) || Chance(20)) tcs.push_back(p);
      }
    }
    const EpcPage t =
        tcs.empty() || Chance(5) ? ValidPage() : tcs[Pick(static_cast<int>(tcs.size()))];
    const CoreId core = ThreadCore();
    const Status s = m().Eenter(core, t);
    Expect(s, "EENTER");
    if (s.ok()) entered_on_[core] = t;
  }

  void DoEexit() { Expect(m().Eexit(Chance(70) ? InsideCore() : ThreadCore()), "EEXIT"); }

  void DoEpa() {
    const EpcPage p = AnyPage();
    const Status s = m().Epa(OsCore(), p);
    Expect(s, "EPA");
    if (s.ok()) vas_.push_back({p, ++va_generations_});
  }

  // A host thread reads or writes somewhere in its ELRANGE or a plugin range,
  // or asks for a copy-on-write.
  void DoAccess() {
    const CoreId core = InsideCore();
    const auto cur = m().CurrentEnclave(core);
    // Mostly an address some enclave added or augmented a page at.
    uint64_t addr = (Chance(60) ? kPluginBase : kHostBase) +
                    uint64_t{static_cast<uint32_t>(Pick(3 * 16))} * kPageSize;
    std::vector<size_t> candidates;
    if (cur && Chance(60))
      for (size_t k : mapped_[*cur]) candidates.push_back(k);
    if (candidates.empty())
      for (size_t k = 0; k < enclaves_.size(); ++k) candidates.push_back(k);
    if (!candidates.empty() && Chance(80)) {
      const EnclaveRec& e = enclaves_[candidates[Pick(static_cast<int>(candidates.size()))]];
      if (!e.addrs.empty()) {
        auto it = e.addrs.begin();
        std::advance(it, Pick(static_cast<int>(e.addrs.size())));
        addr = *it;
      }
    }
    addr += static_cast<uint64_t>(Pick(64));
    switch (Pick(3)) {
      case 0: {
        std::array<uint8_t, 32> out;
        const Status s = m().Read(core, addr, out);
        Expect(s, "Read");
        if (!s.ok()) break;
        auto t = m().Translate(core, addr);
        RC_ASSERT(t.ok());
        const EpcmEntry e = m().Epcm(t->page);
        RC_ASSERT(e.valid);
        RC_ASSERT(
            std::equal(out.begin(), out.end(), m().PageBytes(t->page).begin() + addr % kPageSize));
        if (t->shared) {
          // (a) read through a mapping: a plugin's PT_SREG page, not the host's.
          RC_ASSERT(e.type == PageType::kSreg);
          RC_ASSERT(e.owner != *cur);
        } else {
          RC_ASSERT(e.owner == *cur);
          RC_ASSERT(e.type == PageType::kReg);
        }
        break;
      }
      case 1: {
        const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        auto t = cur ? m().Translate(core, addr)
                     : StatusOr<Translation>(FaultStatus(FaultVector::kGP, 0, ""));
        const Status s = m().Write(core, addr, data);
        Expect(s, "Write");
        if (t.ok() && t->shared) RC_ASSERT(IsFault(s, FaultVector::kPF));
        break;
      }
      case 2: {
        if (!cur) break;
        auto tcs = CurrentTcs(core);
        if (!tcs) break;
        auto t = m().Translate(core, addr);
        const Status s = m().CopyOnWrite(core, *tcs, addr, AnyPage());
        if (!(t.ok() && t->shared)) break;  // FailedPrecondition by contract
        Expect(s, "CopyOnWrite");
        if (s.ok()) {
          auto i = EnclaveBySecs(*cur);
          RC_ASSERT(i.has_value());
          enclaves_[*i].addrs.insert(addr & ~uint64_t{kPageSize - 1});
        }
        break;
      }
    }
  }

  // The TCS the core entered on (the machine does not expose it).
  std::optional<EpcPage> CurrentTcs(CoreId core) {
    auto it = entered_on_.find(core);
    if (it == entered_on_.end()) return std::nullopt;
    return it->second;
  }

  bool VaIntact(EpcPage va, uint64_t gen) {
    for (auto& [p, g] : vas_)
      if (p == va && g == gen) return m().Epcm(va).valid && m().Epcm(va).type == PageType::kVa;
    return false;
  }

  // ---- invariants after every step ---------------------------------------------

  void CheckInvariants() {
    uint32_t valid = 0;
    std::set<std::pair<EpcPage, uint64_t>> seen;
    std::set<EpcPage> owners_of_sreg, owners_of_private;
    for (EpcPage p = 0; p < kPropEpcPages; ++p) {
      const EpcmEntry e = m().Epcm(p);
      if (!e.valid) continue;
      ++valid;
      if (e.type == PageType::kVa) continue;
      if (e.type == PageType::kSecs) {
        RC_ASSERT(e.owner == p);
        RC_ASSERT(m().SecsOf(p).ok());
        continue;
      }
      // (a) one owner, a live SECS, one page per (enclave, address), inside ELRANGE.
      const EpcmEntry owner = m().Epcm(e.owner);
      RC_ASSERT(owner.valid);
      RC_ASSERT(owner.type == PageType::kSecs);
      auto secs = m().SecsOf(e.owner);
      RC_ASSERT(secs.ok());
      RC_ASSERT(e.linaddr >= secs->base_addr);
      RC_ASSERT(e.linaddr - secs->base_addr < secs->size);
      RC_ASSERT(e.linaddr % kPageSize == 0);
      if (!seen.insert({e.owner, e.linaddr}).second)
        RC_FAIL(fmt::format("two EPC pages of enclave {} at 0x{:x}", e.owner, e.linaddr));
      if (e.type == PageType::kSreg) {
        owners_of_sreg.insert(e.owner);
        RC_ASSERT((e.perms & secinfo::kW) == 0);
        // (b) the plugin's bytes are what they were at EINIT.
        if (auto i = EnclaveBySecs(e.owner)) {
          auto it = sreg_.find({*i, e.linaddr});
          if (it != sreg_.end() &&
              !std::equal(it->second.begin(), it->second.end(), m().PageBytes(p).begin()))
            RC_FAIL(fmt::format("PT_SREG page at 0x{:x} changed after EINIT", e.linaddr));
        }
      } else {
        owners_of_private.insert(e.owner);
      }
    }
    // (a) no enclave is both a plugin and a host.
    for (EpcPage o : owners_of_sreg) RC_ASSERT(!owners_of_private.count(o));
    // (c)
    RC_ASSERT(m().FreePageCount() + valid == m().epc_pages());
    // Cores in enclave mode are in live enclaves.
    for (CoreId c = 0; c < kCores; ++c)
      if (auto cur = m().CurrentEnclave(c)) RC_ASSERT(m().SecsOf(*cur).ok());
  }

  TwinMachine m_;
  std::vector<EnclaveRec> enclaves_;
  std::set<size_t> removed_;
  std::vector<BlobRec> blobs_;
  std::vector<std::pair<EpcPage, uint64_t>> vas_;  // VA page and its incarnation
  uint64_t va_generations_ = 0;
  std::map<std::pair<size_t, uint64_t>, Page> sreg_;  // (plugin, address) -> bytes at EINIT
  std::map<CoreId, EpcPage> entered_on_;
  std::map<EpcPage, std::set<size_t>> mapped_;  // host SECS -> plugins it mapped (a hint)
};

RC_GTEST_PROP(MachineProperty, RandomInstructionSequencesKeepInvariants, ()) {
  Driver d;
  const int steps = *rc::gen::inRange(50, 201);
  for (int i = 0; i < steps; ++i) d.Step();
}

// (h) cost-only mode is full mode without the bytes: same outcomes, counters,
// clocks, EPCM, instruction by instruction.
RC_GTEST_PROP(MachineProperty, CostOnlyModeMatchesFullModeStepByStep, ()) {
  Driver d(/*cost_only_twin=*/true);
  const int steps = *rc::gen::inRange(50, 201);
  for (int i = 0; i < steps; ++i) d.Step();
}

// ---- (f) MRENCLAVE depends only on the measured stream ------------------------------

struct StreamOp {
  bool eadd = true;
  size_t page = 0;   // index into the page list
  size_t chunk = 0;  // EEXTEND chunk
};

RC_GTEST_PROP(MachineProperty, MrenclaveDependsOnlyOnMeasuredStream, ()) {
  const bool plugin = *rc::gen::arbitrary<bool>();
  const uint32_t ssa = *rc::gen::inRange<uint32_t>(1, 4);
  const uint64_t size = uint64_t{1} << *rc::gen::inRange(15, 22);
  const size_t npages = *rc::gen::inRange<size_t>(1, 7);
  // Distinct page offsets; hosts may make some pages TCSs.
  std::set<uint64_t> offsets;
  while (offsets.size() < npages)
    offsets.insert(
        uint64_t{*rc::gen::inRange<uint32_t>(0, static_cast<uint32_t>(size / kPageSize))} *
        kPageSize);
  struct P {
    uint64_t offset;
    SecInfo secinfo;
    Page a, b;  // machine A's and machine B's contents: equal where measured
    std::vector<bool> measured;
  };
  std::vector<P> pages;
  for (uint64_t off : offsets) {
    P p;
    p.offset = off;
    const bool tcs = !plugin && *rc::gen::inRange(0, 4) == 0;
    if (tcs) {
      p.secinfo = SecInfo::Make(PageType::kTcs, 0);
    } else {
      static constexpr uint64_t kPerms[] = {secinfo::kR, secinfo::kR | secinfo::kW,
                                            secinfo::kR | secinfo::kX, secinfo::kRwx, secinfo::kX};
      p.secinfo =
          SecInfo::Make(plugin ? PageType::kSreg : PageType::kReg, kPerms[*rc::gen::inRange(0, 5)]);
    }
    p.a =
        tcs ? TcsPage(1 + *rc::gen::inRange(0, 3)) : PatternPage(*rc::gen::inRange(0, 1 << 20), 3);
    p.b = p.a;
    for (size_t c = 0; c < 16; ++c) p.measured.push_back(*rc::gen::inRange(0, 3) != 0);
    // Unmeasured chunks differ between the machines (a TCS keeps its header).
    for (size_t c = tcs ? 1 : 0; c < 16; ++c)
      if (!p.measured[c])
        for (size_t k = 0; k < 256; ++k) p.b[c * 256 + k] ^= static_cast<uint8_t>(0x5a + k);
    pages.push_back(p);
  }
  // The record stream: EADDs in order, each page's EEXTENDs somewhere after it.
  std::vector<std::pair<uint64_t, StreamOp>> keyed;
  for (size_t i = 0; i < pages.size(); ++i) {
    keyed.push_back({i * 1000, StreamOp{true, i, 0}});
    for (size_t c = 0; c < 16; ++c)
      if (pages[i].measured[c])
        keyed.push_back(
            {i * 1000 + 1 + *rc::gen::inRange<uint64_t>(0, 3000), StreamOp{false, i, c}});
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });

  // Expected: SHA-256 of the records, independently of the machine.
  crypto::Sha256 h;
  h.Update(EcreateRecord(ssa, size));
  for (const auto& [key, op] : keyed) {
    const P& p = pages[op.page];
    if (op.eadd) {
      h.Update(EaddRecord(p.offset, p.secinfo));
    } else {
      h.Update(EextendRecord(p.offset + op.chunk * 256));
      h.Update(ByteSpan(p.a).subspan(op.chunk * 256, 256));
    }
  }
  const crypto::Sha256Digest want = h.Finish();
  const Sigstruct sig = MakeSigstruct(want);

  // Two machines that differ in everything unmeasured.
  struct Run {
    std::array<uint8_t, 32> root;
    CoreId core;
    uint64_t base;
    bool high_pages;
    bool contents_b;
  };
  std::array<uint8_t, 32> other_root = kRootSecret;
  other_root[7] ^= 0xff;
  for (const Run& run :
       {Run{kRootSecret, 0, size, false, false}, Run{other_root, 2, 7 * size, true, true}}) {
    auto m = MakeMachine(kPropEpcPages, run.root, kCores);
    RC_ASSERT(m != nullptr);
    std::vector<EpcPage> epc(kPropEpcPages);
    for (uint32_t i = 0; i < kPropEpcPages; ++i)
      epc[i] = run.high_pages ? kPropEpcPages - 1 - i : i;
    size_t next = 0;
    Secs secs;
    secs.size = size;
    secs.base_addr = run.base;
    secs.ssa_frame_size = ssa;
    secs.attributes = {attr::kMode64Bit, kXfrm};
    const EpcPage secs_page = epc[next++];
    RC_ASSERT(m->Ecreate(run.core, secs, secs_page).ok());
    for (const auto& [key, op] : keyed) {
      const P& p = pages[op.page];
      Status s = op.eadd ? m->Eadd(run.core, secs_page, run.base + p.offset, p.secinfo,
                                   run.contents_b ? p.b : p.a, epc[next++])
                         : m->Eextend(run.core, secs_page, run.base + p.offset + op.chunk * 256);
      if (!s.ok()) RC_FAIL(s.ToString());
    }
    const Status s = m->Einit(run.core, secs_page, sig);
    if (!s.ok()) RC_FAIL("EINIT: " + s.ToString());
    RC_ASSERT(m->SecsOf(secs_page)->mr_enclave == want);
  }
}

}  // namespace
}  // namespace confide::machine::testing
