#include "test_util.h"

#include "tests/support/test_key.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

namespace confide::machine::testing {

// ---- Status assertions ----------------------------------------------------

::testing::AssertionResult IsOk(const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected OK, got " << s.ToString();
}

::testing::AssertionResult HasSgxError(const Status& s, SgxError e) {
  if (IsSgxError(s, e)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected " << SgxErrorName(e) << ", got " << s.ToString();
}

::testing::AssertionResult HasFault(const Status& s, FaultVector v) {
  if (IsFault(s, v)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected fault vector " << static_cast<int>(v) << ", got " << s.ToString();
}

::testing::AssertionResult HasPageFault(const Status& s, uint64_t address) {
  if (IsFault(s, FaultVector::kPF) && s.error().fault.address == address)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << fmt::format("expected #PF(0x{:x}), got ", address) << s.ToString();
}

// ---- Machines -----------------------------------------------------------------

CostProfile TestProfile() {
  CostProfile p = CostProfile::Default();
  p.name = "test";
  p.cores = 4;
  for (size_t i = 0; i < kInstructionCount; ++i) p.cycles[i] = 1000 * (i + 1) + 7 * i;
  return p;
}

std::unique_ptr<Machine> MakeMachine(uint32_t epc_pages,
                                     std::optional<std::array<uint8_t, 32>> root, uint32_t cores,
                                     PageContents contents) {
  MachineConfig config;
  config.profile = TestProfile();
  config.epc_pages = epc_pages;
  config.cores = cores;
  config.root_secret = root;
  config.page_contents = contents;
  auto m = Machine::Create(config);
  if (!m.ok()) {
    ADD_FAILURE() << "Machine::Create: " << m.error().ToString();
    return nullptr;
  }
  return std::move(*m);
}

// ---- Signing ----------------------------------------------------------------

namespace {

crypto::Rsa3072Block Reversed(const crypto::Rsa3072Block& b) {
  crypto::Rsa3072Block r;
  std::reverse_copy(b.begin(), b.end(), r.begin());
  return r;
}

}  // namespace

const crypto::Rsa3072PrivateKey& SignerKey() { return confide::testing::TestSigningKey(); }

const crypto::Rsa3072PrivateKey& OtherSignerKey() {
  return confide::testing::OtherTestSigningKey();
}

Sigstruct SignSigstruct(Sigstruct s, const crypto::Rsa3072PrivateKey& key) {
  struct Cached {
    crypto::Rsa3072Block signature_le, q1_le, q2_le;
  };
  static std::mutex mu;
  static std::map<std::string, Cached> cache;

  const crypto::Rsa3072Block modulus = key.Modulus();
  s.modulus_le = Reversed(modulus);
  s.exponent = key.Exponent();
  const auto signed_bytes = s.SignedBytes();
  // MODULUS is not among the signed bytes: key the cache by both.
  std::string cache_key(signed_bytes.begin(), signed_bytes.end());
  cache_key.append(modulus.begin(), modulus.end());
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(cache_key); it != cache.end()) {
      s.signature_le = it->second.signature_le;
      s.q1_le = it->second.q1_le;
      s.q2_le = it->second.q2_le;
      return s;
    }
  }
  auto sig = key.Sign(signed_bytes);
  if (!sig.ok()) {
    ADD_FAILURE() << "Sign: " << sig.error().ToString();
    return s;
  }
  const crypto::RsaQ1Q2 q = crypto::ComputeQ1Q2(*sig, modulus);
  s.signature_le = Reversed(*sig);
  s.q1_le = Reversed(q.q1);
  s.q2_le = Reversed(q.q2);
  std::lock_guard lock(mu);
  cache[cache_key] = Cached{s.signature_le, s.q1_le, s.q2_le};
  return s;
}

Sigstruct MakeSigstruct(const crypto::Sha256Digest& hash, const SigOptions& o) {
  Sigstruct s = Sigstruct::WithHeaders();
  s.vendor = 0;
  s.date = 0x20240101;
  s.attributes = o.attributes;
  s.attribute_mask = o.attribute_mask;
  s.misc_select = o.misc_select;
  s.misc_mask = o.misc_mask;
  s.enclave_hash = hash;
  s.isv_prod_id = o.isv_prod_id;
  s.isv_svn = o.isv_svn;
  return SignSigstruct(s, o.key ? *o.key : SignerKey());
}

// ---- Measurement ------------------------------------------------------------

Page PatternPage(uint32_t seed, uint32_t index) {
  Page p;
  uint32_t x = seed * 2654435761u + index * 40503u + 1;
  for (size_t i = 0; i < p.size(); ++i) {
    x = x * 1103515245u + 12345u;
    p[i] = static_cast<uint8_t>(x >> 16);
  }
  return p;
}

Page TcsPage(uint32_t nssa, uint64_t oentry) {
  Tcs t;
  t.nssa = nssa;
  t.ossa = kPageSize;
  t.oentry = oentry;
  return t.Serialize();
}

crypto::Sha256Digest MeasureExpected(uint32_t ssa_frame_size, uint64_t size,
                                     const std::vector<PageSpec>& pages) {
  crypto::Sha256 h;
  h.Update(EcreateRecord(ssa_frame_size, size));
  for (const PageSpec& p : pages) {
    h.Update(EaddRecord(p.offset, p.secinfo));
    if (!p.measured) continue;
    for (size_t c = 0; c < kPageSize; c += kEextendChunkSize) {
      h.Update(EextendRecord(p.offset + c));
      h.Update(ByteSpan(p.bytes).subspan(c, kEextendChunkSize));
    }
  }
  return h.Finish();
}

// ---- Enclave building -------------------------------------------------------

StatusOr<Built> BuildEnclave(Machine& m, const BuildOptions& o) {
  const bool host = o.kind == Kind::kHost;
  Built b;
  b.base = o.base ? o.base : (host ? kHostBase : kPluginBase);
  b.size = o.size ? o.size : (host ? kHostSize : kPluginSize);
  const uint64_t perms =
      o.perms ? o.perms : (host ? secinfo::kR | secinfo::kW : secinfo::kR | secinfo::kX);
  Secs secs;
  secs.size = b.size;
  secs.base_addr = b.base;
  secs.ssa_frame_size = 1;
  secs.misc_select = o.misc_select;
  secs.attributes = {o.attributes, kXfrm};
  secs.config_svn = o.config_svn;
  secs.measure_range_pages = o.measure_range_pages;
  b.secs_value = secs;

  for (uint32_t i = 0; i < o.pages; ++i) {
    PageSpec p;
    p.offset = uint64_t{i} * kPageSize;
    p.secinfo = SecInfo::Make(host ? PageType::kReg : PageType::kSreg, perms);
    p.bytes = PatternPage(o.seed, i);
    b.specs.push_back(p);
  }
  if (host && o.tcs) {
    PageSpec p;
    p.offset = b.size - kPageSize;
    p.secinfo = SecInfo::Make(PageType::kTcs, 0);
    p.bytes = TcsPage(o.nssa);
    b.specs.push_back(p);
    b.tcs_addr = b.base + p.offset;
  }

  CONFIDE_ASSIGN_OR_RETURN(b.secs, m.FindFreePage());
  CONFIDE_RETURN_IF_ERROR(m.Ecreate(o.core, secs, b.secs));
  for (const PageSpec& p : b.specs) {
    CONFIDE_ASSIGN_OR_RETURN(EpcPage page, m.FindFreePage());
    const uint64_t addr = b.base + p.offset;
    CONFIDE_RETURN_IF_ERROR(m.Eadd(o.core, b.secs, addr, p.secinfo, p.bytes, page));
    for (size_t c = 0; p.measured && c < kPageSize; c += kEextendChunkSize)
      CONFIDE_RETURN_IF_ERROR(m.Eextend(o.core, b.secs, addr + c));
    b.page_at[addr] = page;
    if (p.secinfo.page_type() == PageType::kTcs) {
      b.tcs = page;
    } else {
      b.data_pages.push_back(page);
    }
  }
  if (m.page_contents() == PageContents::kFull && secs.measure_range_pages == 0) {
    b.mrenclave = MeasureExpected(secs.ssa_frame_size, secs.size, b.specs);
  } else {
    MeasurementBuilder mb(m.page_contents(), secs.measure_range_pages);
    mb.Ecreate(secs.ssa_frame_size, secs.size);
    for (const PageSpec& p : b.specs) {
      mb.Eadd(p.offset, p.secinfo);
      for (size_t c = 0; p.measured && c < kPageSize; c += kEextendChunkSize)
        mb.Eextend(p.offset + c, ByteSpan(p.bytes).subspan(c, kEextendChunkSize));
    }
    b.mrenclave = mb.Finish();
  }
  SigOptions so;
  so.attributes = secs.attributes;
  so.misc_select = o.misc_select;
  so.isv_prod_id = o.isv_prod_id;
  so.isv_svn = o.isv_svn;
  so.key = o.key;
  b.sigstruct = MakeSigstruct(b.mrenclave, so);
  if (o.init) CONFIDE_RETURN_IF_ERROR(m.Einit(o.core, b.secs, b.sigstruct));
  return b;
}

StatusOr<EvictedPage> Evict(Machine& m, CoreId core, EpcPage secs, EpcPage page, EpcPage va,
                            uint32_t slot) {
  CONFIDE_RETURN_IF_ERROR(m.Eblock(core, page));
  CONFIDE_RETURN_IF_ERROR(m.Etrack(core, secs));
  return m.Ewb(core, page, va, slot);
}

::testing::AssertionResult SameEpcm(const EpcmEntry& a, const EpcmEntry& b, bool compare_blocked) {
  auto show = [](const EpcmEntry& e) {
    return fmt::format(
        "{{valid={} type={} perms={} pending={} modified={} pr={} blocked={} "
        "linaddr=0x{:x} owner={}}}",
        e.valid, PageTypeName(e.type), e.perms, e.pending, e.modified, e.pr, e.blocked, e.linaddr,
        e.owner);
  };
  if (a.valid == b.valid && a.type == b.type && a.perms == b.perms && a.pending == b.pending &&
      a.modified == b.modified && a.pr == b.pr && a.linaddr == b.linaddr && a.owner == b.owner &&
      (!compare_blocked || a.blocked == b.blocked))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << show(a) << " != " << show(b);
}

// ---- Fixture ------------------------------------------------------------------

void MachineTest::SetUp() {
  m_ = MakeMachine(kEpcPages);
  ASSERT_NE(m_, nullptr);
}

Built MachineTest::Build(const BuildOptions& o) {
  auto b = BuildEnclave(*m_, o);
  if (!b.ok()) {
    ADD_FAILURE() << "BuildEnclave: " << b.error().ToString();
    return Built{};
  }
  return std::move(*b);
}

EpcPage MachineTest::Free() {
  auto p = m_->FindFreePage();
  if (!p.ok()) {
    ADD_FAILURE() << "FindFreePage: " << p.error().ToString();
    return 0;
  }
  return *p;
}

EpcPage MachineTest::NewVa() {
  const EpcPage p = Free();
  Status s = m_->Epa(0, p);
  if (!s.ok()) ADD_FAILURE() << "EPA: " << s.ToString();
  return p;
}

void MachineTest::SyncClocks() {
  uint64_t latest = 0;
  for (CoreId c = 0; c < m_->core_count(); ++c) latest = std::max(latest, m_->CoreCycles(c));
  for (CoreId c = 0; c < m_->core_count(); ++c) m_->SetCoreCycles(c, latest);
}

::testing::AssertionResult MachineTest::Charged(CoreId core, Instruction i,
                                                const std::function<Status()>& fn,
                                                std::optional<EpcPage> secs) {
  SyncClocks();
  const uint64_t cost = Cost(i);
  const uint64_t before = m_->CoreCycles(core);
  const CounterSnapshot counters = m_->Counters();
  std::optional<EnclaveStats> stats;
  if (secs) {
    auto s = m_->StatsOf(*secs);
    if (!s.ok()) return ::testing::AssertionFailure() << "StatsOf: " << s.error().ToString();
    stats = *s;
  }
  Status st = fn();
  if (!st.ok())
    return ::testing::AssertionFailure() << Info(i).name << " failed: " << st.ToString();
  const uint64_t after = m_->CoreCycles(core);
  if (after != before + cost)
    return ::testing::AssertionFailure() << Info(i).name << ": core clock went " << before << " -> "
                                         << after << ", expected +" << cost;
  const CounterSnapshot now = m_->Counters();
  for (size_t k = 0; k < kInstructionCount; ++k) {
    const uint64_t dn = now.count[k] - counters.count[k];
    const uint64_t dc = now.cycles[k] - counters.cycles[k];
    const uint64_t want_n = k == Idx(i) ? 1 : 0;
    const uint64_t want_c = k == Idx(i) ? cost : 0;
    if (dn != want_n || dc != want_c)
      return ::testing::AssertionFailure()
             << "machine counters for " << AllInstructions()[k].name << " moved by " << dn
             << " x / " << dc << " cycles, expected " << want_n << " / " << want_c;
  }
  if (secs) {
    auto s = m_->StatsOf(*secs);
    if (!s.ok()) return ::testing::AssertionFailure() << "StatsOf: " << s.error().ToString();
    if (s->count[Idx(i)] != stats->count[Idx(i)] + 1 ||
        s->cycles[Idx(i)] != stats->cycles[Idx(i)] + cost)
      return ::testing::AssertionFailure()
             << "enclave stats for " << Info(i).name << " did not count it once";
  }
  return ::testing::AssertionSuccess();
}

Status MachineTest::Quiet(const std::function<Status()>& fn) {
  std::vector<uint64_t> clocks;
  for (CoreId c = 0; c < m_->core_count(); ++c) clocks.push_back(m_->CoreCycles(c));
  const CounterSnapshot counters = m_->Counters();
  const uint32_t free_pages = m_->FreePageCount();
  Status st = fn();
  for (CoreId c = 0; c < m_->core_count(); ++c)
    if (m_->CoreCycles(c) != clocks[c])
      ADD_FAILURE() << "failing instruction moved core " << c << "'s clock (" << st.ToString()
                    << ")";
  const CounterSnapshot now = m_->Counters();
  if (now.count != counters.count || now.cycles != counters.cycles)
    ADD_FAILURE() << "failing instruction was counted (" << st.ToString() << ")";
  if (m_->FreePageCount() != free_pages)
    ADD_FAILURE() << "failing instruction changed the free page count (" << st.ToString() << ")";
  return st;
}

}  // namespace confide::machine::testing
