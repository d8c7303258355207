#include "machine/machine.h"

#include <algorithm>

#include <fmt/format.h>

#include "crypto/random.h"
#include "machine/machine_internal.h"

namespace confide::machine {

std::string PageName(EpcPage p) { return fmt::format("EPC page {}", p); }

StatusOr<std::unique_ptr<Machine>> Machine::Create(MachineConfig config) {
  if (config.epc_pages == 0)
    config.epc_pages = static_cast<uint32_t>(config.profile.epc_bytes / kPageSize);
  if (config.cores == 0) config.cores = config.profile.cores;
  if (config.cores == 0 || config.cores > 1024)
    return InvalidArgumentError(fmt::format("cores must be 1..1024, got {}", config.cores));
  if (config.profile.frequency_hz == 0)
    return InvalidArgumentError("cost profile has no frequency");
  CONFIDE_ASSIGN_OR_RETURN(Epc epc, Epc::Create(config.epc_pages, config.page_contents));
  std::unique_ptr<Machine> m(new Machine(std::move(config), std::move(epc)));
  CONFIDE_RETURN_IF_ERROR(crypto::RandomBytes(m->paging_key_));
  CONFIDE_RETURN_IF_ERROR(crypto::RandomBytes(m->report_key_id_));
  if (m->config_.root_secret) {
    m->root_secret_ = *m->config_.root_secret;
  } else {
    CONFIDE_RETURN_IF_ERROR(crypto::RandomBytes(m->root_secret_));
  }
  return m;
}

Machine::Machine(MachineConfig config, Epc epc)
    : config_(std::move(config)), epc_(std::move(epc)), secs_table_(epc_.page_count()) {
  for (uint32_t i = 0; i < config_.cores; ++i) cores_.push_back(std::make_unique<Core>());
}

Machine::~Machine() = default;

uint32_t Machine::FreePageCount() const {
  std::lock_guard lock(epcm_mu_);
  return epc_.page_count() - used_pages_;
}

StatusOr<EpcPage> Machine::FindFreePage() const {
  std::lock_guard lock(epcm_mu_);
  const uint32_t n = epc_.page_count();
  if (used_pages_ == n) return ResourceExhaustedError("EPC is full");
  // The page freed last first: it is the one most likely still in the
  // host's caches, and backed by memory (a page of the EPC memfd costs the
  // host a page fault the first time it is touched). Entries of pages that
  // were claimed again without this helper are stale: skipped.
  while (!recently_freed_.empty()) {
    const EpcPage p = recently_freed_.back();
    recently_freed_.pop_back();
    if (!epc_.entry(p).valid) return p;
  }
  for (uint32_t k = 0; k < n; ++k) {
    EpcPage p = (free_hint_ + k) % n;
    if (!epc_.entry(p).valid) {
      free_hint_ = (p + 1) % n;
      return p;
    }
  }
  return InternalError("EPC free count and EPCM disagree");
}

EpcmEntry Machine::Epcm(EpcPage page) const {
  std::lock_guard lock(epcm_mu_);
  return epc_.contains(page) ? epc_.entry(page) : EpcmEntry{};
}

StatusOr<Secs> Machine::SecsOf(EpcPage secs) const {
  CONFIDE_ASSIGN_OR_RETURN(auto e, MachineOps::LookupSecs(*this, secs));
  std::lock_guard lock(e->mu);
  return e->secs;
}

StatusOr<EnclaveStats> Machine::StatsOf(EpcPage secs) const {
  CONFIDE_ASSIGN_OR_RETURN(auto e, MachineOps::LookupSecs(*this, secs));
  std::lock_guard lock(e->mu);
  return e->stats;
}

StatusOr<EnclaveMap> Machine::MapOf(EpcPage secs) const {
  CONFIDE_ASSIGN_OR_RETURN(auto e, MachineOps::LookupSecs(*this, secs));
  std::lock_guard lock(e->mu);
  EnclaveMap map;
  map.version = {e->eid, e->page_generation};
  map.base = e->secs.base_addr;
  map.size = e->secs.size;
  map.initialized = e->initialized;
  map.pages.assign(e->pages.begin(), e->pages.end());
  for (const auto& [base, mapping] : e->mappings) map.plugins.push_back(mapping.plugin->secs_page);
  return map;
}

StatusOr<EnclaveVersion> Machine::VersionOf(EpcPage secs) const {
  CONFIDE_ASSIGN_OR_RETURN(auto e, MachineOps::LookupSecs(*this, secs));
  std::lock_guard lock(e->mu);
  return EnclaveVersion{e->eid, e->page_generation};
}

uint64_t Machine::CoreCycles(CoreId core) const {
  const Core* c = MachineOps::CoreAt(*this, core);
  return c ? c->cycles.load(std::memory_order_relaxed) : 0;
}

void Machine::SetCoreCycles(CoreId core, uint64_t cycles) {
  if (Core* c = MachineOps::CoreAt(*this, core)) c->cycles.store(cycles, std::memory_order_relaxed);
}

CounterSnapshot Machine::Counters() const {
  CounterSnapshot sum;
  for (const auto& core : cores_) core->counters.AddTo(&sum);
  return sum;
}

std::optional<EpcPage> Machine::CurrentEnclave(CoreId core) const {
  const Core* c = MachineOps::CoreAt(*this, core);
  if (!c || !c->in_enclave()) return std::nullopt;
  return c->enclave->secs_page;
}

// ---- MachineOps ---------------------------------------------------------

std::mutex& MachineOps::EpcmMu(Machine& m) { return m.epcm_mu_; }

StatusOr<std::shared_ptr<EnclaveState>> MachineOps::LookupSecs(const Machine& m, EpcPage secs) {
  std::lock_guard lock(m.epcm_mu_);
  if (!m.epc_.contains(secs) || !m.epc_.entry(secs).valid ||
      m.epc_.entry(secs).type != PageType::kSecs || !m.secs_table_[secs])
    return FaultStatus(FaultVector::kPF, Epc::Address(secs), PageName(secs) + " is not a SECS");
  return m.secs_table_[secs];
}

StatusOr<std::shared_ptr<EnclaveState>> MachineOps::LookupSecs(Machine& m, EpcPage secs) {
  return LookupSecs(static_cast<const Machine&>(m), secs);
}

StatusOr<EnclaveState*> MachineOps::LookupSecs(Machine& m, Machine::Core& c, EpcPage secs) {
  if (c.last_secs && c.last_secs_page == secs && !c.last_secs->removed.load())
    return c.last_secs.get();
  CONFIDE_ASSIGN_OR_RETURN(c.last_secs, LookupSecs(m, secs));
  c.last_secs_page = secs;
  return c.last_secs.get();
}

void MachineOps::RegisterSecs(Machine& m, EpcPage secs, std::shared_ptr<EnclaveState> e) {
  std::lock_guard lock(m.epcm_mu_);
  m.secs_table_[secs] = std::move(e);
}

void MachineOps::UnregisterSecs(Machine& m, EpcPage secs) {
  std::lock_guard lock(m.epcm_mu_);
  m.secs_table_[secs].reset();
}

Machine::Core* MachineOps::CoreAt(Machine& m, CoreId core) {
  return core < m.cores_.size() ? m.cores_[core].get() : nullptr;
}

const Machine::Core* MachineOps::CoreAt(const Machine& m, CoreId core) {
  return core < m.cores_.size() ? m.cores_[core].get() : nullptr;
}

StatusOr<Machine::Core*> MachineOps::EnclsCore(Machine& m, CoreId core, Instruction i) {
  Machine::Core* c = CoreAt(m, core);
  if (!c)
    return FaultStatus(FaultVector::kGP, 0,
                       fmt::format("{}: no logical core {}", Info(i).name, core));
  if (c->in_enclave())
    return FaultStatus(FaultVector::kUD, 0,
                       fmt::format("{}: ENCLS executed in enclave mode (CPL 3)", Info(i).name));
  return c;
}

StatusOr<Machine::Core*> MachineOps::EncluCore(Machine& m, CoreId core, Instruction i) {
  Machine::Core* c = CoreAt(m, core);
  if (!c)
    return FaultStatus(FaultVector::kGP, 0,
                       fmt::format("{}: no logical core {}", Info(i).name, core));
  if (!c->in_enclave())
    return FaultStatus(FaultVector::kGP, 0,
                       fmt::format("{}: executed outside enclave mode", Info(i).name));
  return c;
}

void MachineOps::Charge(Machine& m, Machine::Core& c, EnclaveState* e, Instruction i,
                        uint64_t not_before) {
  if (!e) {
    const uint64_t cost = m.config_.profile.Cycles(i);
    const uint64_t start = std::max(c.cycles.load(std::memory_order_relaxed), not_before);
    c.cycles.store(start + cost, std::memory_order_relaxed);
    c.counters.CountInstruction(i, cost);
    return;
  }
  // Instructions on one enclave serialize: start when the enclave is free.
  ChargeOn(m, c, *e, i, &e->busy_until, not_before);
}

void MachineOps::ChargeOn(Machine& m, Machine::Core& c, EnclaveState& e, Instruction i,
                          uint64_t* busy_until, uint64_t not_before) {
  const uint64_t cost = m.config_.profile.Cycles(i);
  const uint64_t start =
      std::max({c.cycles.load(std::memory_order_relaxed), *busy_until, not_before});
  const uint64_t end = start + cost;
  c.cycles.store(end, std::memory_order_relaxed);
  *busy_until = end;
  e.stats.count[static_cast<size_t>(i)]++;
  e.stats.cycles[static_cast<size_t>(i)] += cost;
  c.counters.CountInstruction(i, cost);
}

Status MachineOps::ClaimPage(Machine& m, EpcPage p, const EpcmEntry& entry, Instruction i) {
  std::lock_guard lock(m.epcm_mu_);
  if (!m.epc_.contains(p))
    return FaultStatus(FaultVector::kPF, Epc::Address(p),
                       fmt::format("{}: {} is outside the EPC", Info(i).name, PageName(p)));
  if (m.epc_.entry(p).valid)
    return FaultStatus(FaultVector::kPF, Epc::Address(p),
                       fmt::format("{}: {} is in use (EPCM.VALID = 1)", Info(i).name, PageName(p)));
  m.epc_.entry(p) = entry;
  m.epc_.entry(p).valid = true;
  m.used_pages_++;
  return OkStatus();
}

void MachineOps::ReleasePage(Machine& m, EpcPage p) {
  std::lock_guard lock(m.epcm_mu_);
  if (m.epc_.entry(p).valid) {
    m.used_pages_--;
    // Stale entries (see FindFreePage) cannot make it grow without bound.
    if (m.recently_freed_.size() >= m.epc_.page_count()) m.recently_freed_.clear();
    m.recently_freed_.push_back(p);
  }
  m.epc_.entry(p) = EpcmEntry{};
}

StatusOr<EpcmEntry> MachineOps::ReadEpcm(const Machine& m, EpcPage p) {
  std::lock_guard lock(m.epcm_mu_);
  if (!m.epc_.contains(p))
    return FaultStatus(FaultVector::kPF, Epc::Address(p), PageName(p) + " is outside the EPC");
  return m.epc_.entry(p);
}

void MachineOps::WriteEpcm(Machine& m, EpcPage p, const EpcmEntry& entry) {
  std::lock_guard lock(m.epcm_mu_);
  m.epc_.entry(p) = entry;
}

Epc& MachineOps::EpcOf(Machine& m) { return m.epc_; }
void MachineOps::CountEvent(Machine::Core& c, EnclaveState& e, uint64_t PageEvents::*event) {
  e.stats.events.*event += 1;
  for (size_t i = 0; i < kPageEventCount; ++i)
    if (kPageEventFields[i] == event) c.counters.CountEvent(i);
}
void MachineOps::CountCoreEvent(Machine::Core& c, uint64_t PageEvents::*event) {
  for (size_t i = 0; i < kPageEventCount; ++i)
    if (kPageEventFields[i] == event) c.counters.CountEvent(i);
}
bool MachineOps::CostOnly(const Machine& m) {
  return m.config_.page_contents == PageContents::kCostOnly;
}
std::mutex& MachineOps::VaMu(Machine& m) { return m.va_mu_; }
uint64_t MachineOps::NextVersion(Machine& m) { return m.next_version_.fetch_add(1); }
uint64_t MachineOps::NextEnclaveId(Machine& m) { return m.next_enclave_id_.fetch_add(1); }
const crypto::Aes128Key& MachineOps::PagingKey(const Machine& m) { return m.paging_key_; }
const std::array<uint8_t, 32>& MachineOps::RootSecret(const Machine& m) { return m.root_secret_; }
const std::array<uint8_t, 32>& MachineOps::ReportKeyId(const Machine& m) {
  return m.report_key_id_;
}
const MachineConfig& MachineOps::Config(const Machine& m) { return m.config_; }

}  // namespace confide::machine
