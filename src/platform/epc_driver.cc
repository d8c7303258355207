#include "platform/epc_driver.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

namespace confide::platform {

namespace {
constexpr uint32_t kSlotsPerVa = 512;  // 4096 / 8-byte version slots (SDM §38.20)
constexpr uint32_t kNoVa = UINT32_MAX;
constexpr uint32_t kReservePages = 1;
}  // namespace

// A page out in the backing store, and the VA slot that holds its version.
struct EpcDriver::Evicted {
  machine::EvictedPage blob;
  uint32_t va = kNoVa;
  uint32_t slot = 0;
};

// A version-array page. Like Linux's driver, each enclave gets its own VA
// pages, one per 512 pages it has (so eviction never has to allocate), and
// they go when the enclave goes. An enclave's VA pages are themselves evicted
// when the enclave is idle; their versions go to "root" VA pages (owner 0),
// which stay resident.
struct EpcDriver::VaPage {
  EpcPage owner = 0;  // SECS of the enclave; 0 for a root VA page
  bool resident = false;
  EpcPage page = 0;
  std::optional<Evicted> out;        // when not resident
  std::vector<uint16_t> free_slots;  // a stack: eviction takes, reload gives back
};

struct EpcDriver::Enclave {
  EpcPage secs = 0;
  int pins = 0;
  std::unordered_map<uint64_t, EpcPage> resident;  // linaddr -> EPC page (not the SECS)
  std::unordered_map<uint64_t, Evicted> evicted;
  std::vector<uint32_t> va;       // indices into va_
  std::vector<uint32_t> open_va;  // those that may have a free slot (lazily pruned)
  std::vector<EpcPage> maps;      // PIE host: the plugins it maps
  int pinned_mappers = 0;         // PIE plugin: pinned hosts that map it
};

EpcDriver::EpcDriver(machine::Machine& m, uint64_t dram_limit_bytes)
    : m_(m), dram_limit_bytes_(dram_limit_bytes), pages_(m.epc_pages()) {}

EpcDriver::~EpcDriver() = default;

EpcDriver::Enclave* EpcDriver::Find(EpcPage secs) {
  auto it = enclaves_.find(secs);
  return it == enclaves_.end() ? nullptr : it->second.get();
}
const EpcDriver::Enclave* EpcDriver::Find(EpcPage secs) const {
  auto it = enclaves_.find(secs);
  return it == enclaves_.end() ? nullptr : it->second.get();
}

uint64_t EpcDriver::DramBytes() const {
  return (uint64_t{m_.epc_pages()} + stats_.backing_pages) * kPageSize;
}

StatusOr<EpcPage> EpcDriver::Allocate(CoreId core) {
  // One free page stays in reserve, so that eviction can always EPA a new VA
  // page for its victim's enclave (the EWB then frees the victim's page).
  while (m_.FreePageCount() <= kReservePages) CONFIDE_RETURN_IF_ERROR(EvictOne(core));
  return m_.FindFreePage();
}

void EpcDriver::Track(EpcPage secs, uint64_t linaddr, EpcPage page) {
  auto& e = enclaves_[secs];
  if (!e) {
    e = std::make_unique<Enclave>();
    e->secs = secs;
  }
  if (page == secs) return;  // SECS pages are never evicted
  e->resident[linaddr] = page;
  // Oldest first by when each page was tracked last: a page freed and
  // tracked again (FindFreePage hands freed pages out again at once) queues
  // anew, and its older entry goes stale.
  pages_[page] = PageInfo{secs, linaddr, true, false, ++next_seq_};
  fifo_.push_back(Victim{page, next_seq_});
  // Without eviction nothing else prunes the queue, and a worker that starts
  // and tears down enclaves for ever would grow it for ever (~300 entries
  // per pie-cold start). At most one page's worth of entries per EPC page is
  // live, so pruning at twice that keeps it amortized O(1) per page.
  if (fifo_.size() >= 2 * pages_.size()) PruneVictims();
}

void EpcDriver::PruneVictims() {
  std::erase_if(fifo_, [&](const Victim& v) { return !Live(v); });
}

void EpcDriver::Untrack(EpcPage page) {
  PageInfo& info = pages_[page];
  if (!info.tracked) return;
  info.tracked = false;
  if (Enclave* e = Find(info.secs)) e->resident.erase(info.linaddr);
}

void EpcDriver::Pin(EpcPage secs) {
  Enclave* e = Find(secs);
  if (!e || e->pins++ > 0) return;
  for (EpcPage plugin : e->maps)
    if (Enclave* p = Find(plugin)) p->pinned_mappers++;
}

void EpcDriver::Unpin(EpcPage secs) {
  Enclave* e = Find(secs);
  if (!e || e->pins == 0 || --e->pins > 0) return;
  for (EpcPage plugin : e->maps)
    if (Enclave* p = Find(plugin)) p->pinned_mappers--;
}

void EpcDriver::NoteMapped(EpcPage host, EpcPage plugin) {
  Enclave* h = Find(host);
  Enclave* p = Find(plugin);
  if (!h || !p) return;
  h->maps.push_back(plugin);
  if (h->pins > 0) p->pinned_mappers++;
}

void EpcDriver::NoteUnmapped(EpcPage host, EpcPage plugin) {
  Enclave* h = Find(host);
  if (!h) return;
  auto it = std::find(h->maps.begin(), h->maps.end(), plugin);
  if (it == h->maps.end()) return;
  h->maps.erase(it);
  if (Enclave* p = Find(plugin); p && h->pins > 0) p->pinned_mappers--;
}

// A counter rather than a scan of the mapping hosts: in a density run
// thousands of hosts map the same plugins.
bool EpcDriver::Evictable(const Enclave& e) const { return e.pins == 0 && e.pinned_mappers == 0; }

bool EpcDriver::IsResident(EpcPage secs, uint64_t linaddr) const {
  const Enclave* e = Find(secs);
  return e && e->resident.count(linaddr);
}

uint64_t EpcDriver::PageCount(EpcPage secs) const {
  const Enclave* e = Find(secs);
  return e ? e->resident.size() + e->evicted.size() : 0;
}

StatusOr<EpcPage> EpcDriver::VaResident(CoreId core, uint32_t va) {
  VaPage& v = *va_[va];
  if (v.resident) return v.page;
  const Evicted out = *v.out;
  CONFIDE_ASSIGN_OR_RETURN(EpcPage page, Allocate(core));
  // Allocate may have evicted other VA pages but never a root one, where
  // this page's version lives.
  CONFIDE_RETURN_IF_ERROR(m_.Eldu(core, out.blob, 0, page, va_[out.va]->page, out.slot));
  FreeVaSlot(out.va, out.slot);
  v.out.reset();
  v.resident = true;
  v.page = page;
  pages_[page] = PageInfo{v.owner, 0, false, false, 0};
  resident_va_++;
  if (v.free_slots.empty()) full_va_.push_back(va);
  stats_.va_reloads++;
  stats_.backing_pages--;
  return page;
}

void EpcDriver::FreeVaSlot(uint32_t va, uint32_t slot) {
  VaPage& v = *va_[va];
  v.free_slots.push_back(static_cast<uint16_t>(slot));
  if (v.free_slots.size() == 1 && v.owner != 0)
    if (Enclave* e = Find(v.owner)) e->open_va.push_back(va);
}

StatusOr<EpcPage> EpcDriver::RootVaSlot(CoreId core, uint32_t* va_out, uint32_t* slot_out) {
  for (uint32_t i = 0; i < root_va_.size(); ++i) {
    VaPage& v = *va_[root_va_[i]];
    if (v.free_slots.empty()) continue;
    *va_out = root_va_[i];
    *slot_out = v.free_slots.back();
    return v.page;
  }
  // A new root VA page, from the page Allocate keeps in reserve.
  CONFIDE_ASSIGN_OR_RETURN(EpcPage vp, m_.FindFreePage());
  CONFIDE_RETURN_IF_ERROR(Annotate(m_.Epa(core, vp), "driver: EPA of a root VA page"));
  auto v = std::make_unique<VaPage>();
  v->resident = true;
  v->page = vp;
  for (uint32_t s = kSlotsPerVa; s-- > 0;) v->free_slots.push_back(static_cast<uint16_t>(s));
  va_.push_back(std::move(v));
  resident_va_++;
  root_va_.push_back(static_cast<uint32_t>(va_.size() - 1));
  *va_out = root_va_.back();
  *slot_out = va_[*va_out]->free_slots.back();
  return vp;
}

StatusOr<bool> EpcDriver::EvictFullVaPage(CoreId core) {
  for (size_t scanned = 0, n = full_va_.size(); scanned < n; ++scanned) {
    const uint32_t i = full_va_.front();
    full_va_.pop_front();
    VaPage* v = va_[i].get();
    // Lazily pruned: destroyed, reloaded-and-freed or already out.
    if (!v || !v->resident || !v->free_slots.empty()) continue;
    const Enclave* owner = Find(v->owner);
    if (owner && !Evictable(*owner)) {
      full_va_.push_back(i);
      continue;
    }
    uint32_t root = 0, slot = 0;
    CONFIDE_ASSIGN_OR_RETURN(EpcPage root_page, RootVaSlot(core, &root, &slot));
    // A VA page is evicted without EBLOCK/ETRACK (SDM EWB: VA pages are not
    // cached in TLBs), its version going to a root VA page.
    StatusOr<machine::EvictedPage> blob = m_.Ewb(core, v->page, root_page, slot);
    if (!blob.ok())
      return tl::unexpected(Annotate(blob.status(), "driver: EWB of a VA page").error());
    va_[root]->free_slots.pop_back();
    v->out = Evicted{*std::move(blob), root, slot};
    v->resident = false;
    resident_va_--;
    stats_.va_evictions++;
    stats_.backing_pages++;
    stats_.peak_backing_pages = std::max(stats_.peak_backing_pages, stats_.backing_pages);
    return true;
  }
  return false;
}

Status EpcDriver::EvictOne(CoreId core) {
  if (dram_limit_bytes_ && DramBytes() + kPageSize > dram_limit_bytes_)
    return ResourceExhaustedError(fmt::format(
        "DRAM limit of {} MiB reached: {} pages already in the backing store and no free EPC page",
        dram_limit_bytes_ >> 20, stats_.backing_pages));
  // Full VA pages are needed only to load their pages back; once they crowd
  // the EPC (a sixteenth of it) they go before enclave pages do.
  if (resident_va_ > m_.epc_pages() / 16) {
    CONFIDE_ASSIGN_OR_RETURN(bool evicted, EvictFullVaPage(core));
    if (evicted) return OkStatus();
  }
  for (size_t scanned = 0, n = fifo_.size(); scanned < n; ++scanned) {
    const Victim victim = fifo_.front();
    fifo_.pop_front();
    if (!Live(victim)) continue;  // removed, evicted or queued anew since
    const EpcPage p = victim.page;
    PageInfo info = pages_[p];
    Enclave* e = Find(info.secs);
    if (info.pinned || !Evictable(*e)) {
      fifo_.push_back(victim);
      continue;
    }
    Status blocked = m_.Eblock(core, p);
    if (!blocked.ok()) {
      // The machine keeps a mapped plugin's pages in while a mapping host
      // might be using them; try the next victim.
      if (IsSgxError(blocked, SgxError::kPluginMapped)) {
        fifo_.push_back(victim);
        continue;
      }
      return Annotate(blocked, "driver: EBLOCK of a victim page");
    }
    // A version slot in one of the enclave's VA pages, resident.
    uint32_t va = kNoVa;
    while (!e->open_va.empty() && va == kNoVa) {
      if (va_[e->open_va.back()]->free_slots.empty())
        e->open_va.pop_back();
      else
        va = e->open_va.back();
    }
    if (va == kNoVa) {
      // Linux grows VA pages with the enclave; we grow them when first
      // needed, from the page Allocate keeps in reserve (at most one VA page
      // per eviction, and the eviction frees a page again).
      CONFIDE_ASSIGN_OR_RETURN(EpcPage vp, m_.FindFreePage());
      CONFIDE_RETURN_IF_ERROR(m_.Epa(core, vp));
      auto v = std::make_unique<VaPage>();
      v->owner = info.secs;
      v->resident = true;
      v->page = vp;
      for (uint32_t s = kSlotsPerVa; s-- > 0;) v->free_slots.push_back(static_cast<uint16_t>(s));
      va_.push_back(std::move(v));
      resident_va_++;
      va = static_cast<uint32_t>(va_.size() - 1);
      e->va.push_back(va);
      e->open_va.push_back(va);
    }
    CONFIDE_ASSIGN_OR_RETURN(EpcPage va_page, VaResident(core, va));
    const uint32_t slot = va_[va]->free_slots.back();

    CONFIDE_RETURN_IF_ERROR(Annotate(m_.Etrack(core, info.secs), "driver: ETRACK"));
    StatusOr<machine::EvictedPage> blob = m_.Ewb(core, p, va_page, slot);
    if (!blob.ok()) return Annotate(blob.status(), "driver: EWB of a victim page");
    va_[va]->free_slots.pop_back();
    if (va_[va]->free_slots.empty()) full_va_.push_back(va);
    pages_[p].tracked = false;
    e->resident.erase(info.linaddr);
    e->evicted.emplace(info.linaddr, Evicted{*std::move(blob), va, slot});
    stats_.evictions++;
    stats_.backing_pages++;
    stats_.peak_backing_pages = std::max(stats_.peak_backing_pages, stats_.backing_pages);
    return OkStatus();
  }
  CONFIDE_ASSIGN_OR_RETURN(bool evicted, EvictFullVaPage(core));
  if (evicted) return OkStatus();
  return ResourceExhaustedError(fmt::format(
      "EPC exhausted: all {} pages are in use by running enclaves, mapped plugins, SECS or VA "
      "pages; nothing can be evicted",
      m_.epc_pages()));
}

StatusOr<EpcPage> EpcDriver::Resident(CoreId core, EpcPage secs, uint64_t linaddr) {
  Enclave* e = Find(secs);
  if (!e) return NotFoundError(fmt::format("driver: no enclave with SECS page {}", secs));
  if (auto it = e->resident.find(linaddr); it != e->resident.end()) return it->second;
  auto it = e->evicted.find(linaddr);
  if (it == e->evicted.end())
    return NotFoundError(fmt::format("driver: enclave has no page at 0x{:x}", linaddr));
  // The victim may be another page of this very enclave (its thread is out).
  CONFIDE_ASSIGN_OR_RETURN(EpcPage page, Allocate(core));
  StatusOr<EpcPage> va_page = VaResident(core, it->second.va);
  if (!va_page.ok())
    return tl::unexpected(Annotate(va_page.status(), "driver: VA page for ELDU").error());
  CONFIDE_RETURN_IF_ERROR(m_.Eldu(core, it->second.blob, secs, page, *va_page, it->second.slot));
  FreeVaSlot(it->second.va, it->second.slot);
  e->evicted.erase(it);
  stats_.reloads++;
  stats_.backing_pages--;
  Track(secs, linaddr, page);
  return page;
}

Status EpcDriver::RemovePage(CoreId core, EpcPage secs, uint64_t linaddr) {
  Enclave* e = Find(secs);
  if (!e) return NotFoundError(fmt::format("driver: no enclave with SECS page {}", secs));
  if (auto it = e->resident.find(linaddr); it != e->resident.end()) {
    const EpcPage page = it->second;
    CONFIDE_RETURN_IF_ERROR(m_.Eremove(core, page));
    Untrack(page);
    return OkStatus();
  }
  auto it = e->evicted.find(linaddr);
  if (it == e->evicted.end())
    return NotFoundError(fmt::format("driver: enclave has no page at 0x{:x}", linaddr));
  // SGX can only EREMOVE a resident page: load it back first (its VA slot
  // is cleared by the ELDU), as Linux does.
  CONFIDE_ASSIGN_OR_RETURN(EpcPage page, Resident(core, secs, linaddr));
  CONFIDE_RETURN_IF_ERROR(m_.Eremove(core, page));
  Untrack(page);
  return OkStatus();
}

Status EpcDriver::Destroy(CoreId core, EpcPage secs) {
  Enclave* e = Find(secs);
  if (!e) {
    // Never tracked beyond its SECS (e.g. a failed build): just the SECS.
    return m_.Eremove(core, secs);
  }
  std::vector<EpcPage> resident;
  resident.reserve(e->resident.size());
  for (const auto& [linaddr, page] : e->resident) resident.push_back(page);
  std::sort(resident.begin(), resident.end());
  for (EpcPage page : resident) {
    CONFIDE_RETURN_IF_ERROR(m_.Eremove(core, page));
    Untrack(page);
  }
  stats_.backing_pages -= e->evicted.size();
  e->evicted.clear();
  // The enclave's VA pages go with it: their versions are of pages that no
  // longer exist. An evicted VA page is loaded back first, which clears its
  // version's slot in a root VA page.
  for (uint32_t i : e->va) {
    CONFIDE_ASSIGN_OR_RETURN(EpcPage va_page, VaResident(core, i));
    CONFIDE_RETURN_IF_ERROR(m_.Eremove(core, va_page));
    va_[i].reset();
    resident_va_--;
  }
  CONFIDE_RETURN_IF_ERROR(m_.Eremove(core, secs));
  enclaves_.erase(secs);
  return OkStatus();
}

Status EpcDriver::ReleaseVaPages(CoreId core) {
  if (stats_.backing_pages != 0)
    return FailedPreconditionError(
        fmt::format("driver: {} pages are still evicted", stats_.backing_pages));
  // Enclave VA pages go with their enclaves (Destroy); only root VA pages,
  // which hold the versions of evicted VA pages, are the driver's own.
  for (auto& v : va_) {
    if (!v || v->owner != 0) continue;
    CONFIDE_RETURN_IF_ERROR(m_.Eremove(core, v->page));
    v.reset();
    resident_va_--;
  }
  return OkStatus();
}

}  // namespace confide::platform
