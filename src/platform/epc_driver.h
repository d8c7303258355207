// epc_driver.h — the operating system's side of the EPC, as Linux's SGX
// driver does it: it hands out free EPC pages, and when none is free it
// evicts a victim (EBLOCK, ETRACK, EWB into a version-array slot) to a
// backing store in DRAM; it loads evicted pages back (ELDU) when an enclave
// needs them, and it tears enclaves down. Every step is a real machine
// instruction, so eviction and its cost emerge from the model: a start policy
// that runs out of EPC evicts rather than fails.
//
// Victims are chosen first-in first-out over resident enclave pages (the
// model has no access bits for a clock), skipping enclaves that are pinned
// (a thread is inside: EWB would need an IPI and an AEX on another core) and
// plugins mapped by a pinned host. SECS pages are never
// evicted. VA pages are created with EPA on demand; a full VA page of an idle
// enclave is itself evicted (EWB of a VA page, its version in a "root" VA
// page) once VA pages fill a sixteenth of the EPC, or when nothing else can
// go. Without that, a pool of large idle enclaves fills the EPC with VA pages.
//
// DRAM: the backing store (4 KiB per evicted page) and the EPC itself count
// against `dram_limit_bytes`; an eviction that would exceed it fails with
// ResourceExhaustedError ("DRAM limit"), which is how the simulator finds
// the density a machine supports.
//
// Thread-safety: not thread-safe. One driver serves one machine and is used
// by one thread at a time (the simulator runs one core at a time).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "machine/machine.h"

namespace confide::platform {

using machine::CoreId;
using machine::EpcPage;

struct DriverStats {
  uint64_t evictions = 0;      // EWB of enclave pages
  uint64_t reloads = 0;        // ELDU of enclave pages
  uint64_t va_evictions = 0;   // EWB of VA pages
  uint64_t va_reloads = 0;     // ELDU of VA pages
  uint64_t backing_pages = 0;  // pages in the backing store now
  uint64_t peak_backing_pages = 0;
};

class EpcDriver {
 public:
  // `dram_limit_bytes` 0 means no limit.
  explicit EpcDriver(machine::Machine& m, uint64_t dram_limit_bytes = 0);
  ~EpcDriver();
  EpcDriver(const EpcDriver&) = delete;
  EpcDriver& operator=(const EpcDriver&) = delete;

  machine::Machine& machine() { return m_; }

  // A free EPC page, evicting one if none is free. The caller must hand it
  // to an instruction (ECREATE, EADD, EAUG, EPA...) and then Track it, or
  // give it back with Free.
  StatusOr<EpcPage> Allocate(CoreId core);
  // `page` now holds linear address `linaddr` of enclave `secs` (the SECS
  // page itself: linaddr = 0 and page == secs). Makes it a victim candidate
  // unless it is a SECS.
  void Track(EpcPage secs, uint64_t linaddr, EpcPage page);
  // Forgets a page after its EREMOVE.
  void Untrack(EpcPage page);

  // The EPC page holding `linaddr` of enclave `secs`, loading it back with
  // ELDU first if it was evicted. NotFoundError if the enclave has no page
  // there.
  StatusOr<EpcPage> Resident(CoreId core, EpcPage secs, uint64_t linaddr);
  bool IsResident(EpcPage secs, uint64_t linaddr) const;

  // While pinned (a thread inside, or a policy working on it), an enclave's
  // pages are not evicted. Pins nest.
  void Pin(EpcPage secs);
  void Unpin(EpcPage secs);
  // Keeps one resident page in (e.g. the source of a copy while the page for
  // the copy is allocated). Not nested.
  void PinPage(EpcPage page) { pages_[page].pinned = true; }
  void UnpinPage(EpcPage page) { pages_[page].pinned = false; }
  // PIE: host `host` has EMAPped / EUNMAPped plugin `plugin`. A mapped
  // plugin's pages are evicted only while no host that maps it is pinned
  // (a host thread inside could be reading them).
  void NoteMapped(EpcPage host, EpcPage plugin);
  void NoteUnmapped(EpcPage host, EpcPage plugin);

  // EREMOVEs every resident page of `secs`, drops its evicted pages and
  // their VA slots, then EREMOVEs the SECS. A plugin must be unmapped first.
  Status Destroy(CoreId core, EpcPage secs);
  // EREMOVEs one page of `secs` (resident or not) and forgets it.
  Status RemovePage(CoreId core, EpcPage secs, uint64_t linaddr);

  // Number of pages (resident + evicted) the driver knows for `secs`.
  uint64_t PageCount(EpcPage secs) const;
  const DriverStats& stats() const { return stats_; }
  uint64_t dram_limit_bytes() const { return dram_limit_bytes_; }
  // Entries of the queue of eviction candidates, stale ones included (pages
  // removed, evicted or tracked again since they were queued): at most twice
  // the EPC's pages, however many enclaves come and go.
  size_t queued_victims() const { return fifo_.size(); }
  // Bytes of DRAM in use: the EPC (all of it: PRM is reserved at boot) and
  // the backing store.
  uint64_t DramBytes() const;

  // Releases the driver's own (root) VA pages (EREMOVE); enclaves' VA pages
  // go with their enclaves. FailedPreconditionError while any page is
  // evicted. With every enclave destroyed, the EPC is then exactly as it was
  // before the driver's first call.
  Status ReleaseVaPages(CoreId core);

 private:
  struct Evicted;
  struct Enclave;
  struct VaPage;
  Status EvictOne(CoreId core);
  // EWB of a full VA page whose enclave is idle, into a root VA page; false
  // if there is none.
  StatusOr<bool> EvictFullVaPage(CoreId core);
  // A free slot in a root VA page (EPA of a new one if all are full).
  StatusOr<EpcPage> RootVaSlot(CoreId core, uint32_t* va, uint32_t* slot);
  StatusOr<EpcPage> VaResident(CoreId core, uint32_t va);
  void FreeVaSlot(uint32_t va, uint32_t slot);
  bool Evictable(const Enclave& e) const;
  Enclave* Find(EpcPage secs);
  const Enclave* Find(EpcPage secs) const;

  machine::Machine& m_;
  uint64_t dram_limit_bytes_;
  DriverStats stats_;
  // Per EPC page: the owner (SECS page) and linear address of tracked pages.
  struct PageInfo {
    EpcPage secs = 0;
    uint64_t linaddr = 0;
    bool tracked = false;
    bool pinned = false;
    uint64_t queued = 0;  // the sequence number of its live entry in fifo_
  };
  // An entry of fifo_: live while the page is tracked under that number;
  // entries of pages removed, evicted or tracked again since are stale.
  struct Victim {
    EpcPage page;
    uint64_t seq;
  };
  bool Live(const Victim& v) const {
    return pages_[v.page].tracked && pages_[v.page].queued == v.seq;
  }
  std::vector<PageInfo> pages_;
  // Drops the stale entries of fifo_.
  void PruneVictims();
  std::deque<Victim> fifo_;  // victim candidates, oldest first (lazily pruned)
  uint64_t next_seq_ = 0;
  std::unordered_map<EpcPage, std::unique_ptr<Enclave>> enclaves_;
  std::vector<std::unique_ptr<VaPage>> va_;  // enclave and root VA pages
  std::vector<uint32_t> root_va_;            // indices into va_ of root VA pages
  std::deque<uint32_t> full_va_;             // full enclave VA pages (lazily pruned)
  uint32_t resident_va_ = 0;                 // VA pages in the EPC, root ones included
};

}  // namespace confide::platform
