#include "platform/instance_ops.h"

#include <algorithm>
#include <array>

namespace confide::platform {

using machine::PageType;
using machine::SecInfo;
namespace secinfo = machine::secinfo;

void InstanceOps::Describe(const BuiltEnclave& e, const EnclaveSpec& spec, Instance* in) {
  in->secs = e.secs;
  in->base = e.base;
  in->size = e.size;
  in->tcs_linaddr = e.tcs_linaddr;
  if (const Region* heap = spec.Find(RegionKind::kHeap)) {
    in->heap_linaddr = e.base + heap->offset;
    in->heap_pages = heap->pages;
    in->heap_committed = heap->added ? heap->pages : 0;
  }
  if (const Region* data = spec.Find(RegionKind::kData)) in->data_linaddr = e.base + data->offset;
}

Status InstanceOps::Enter(CoreId core, Instance& in) {
  if (in.entered) return OkStatus();
  driver().Pin(in.secs);
  StatusOr<EpcPage> tcs = driver().Resident(core, in.secs, in.tcs_linaddr);
  Status s = tcs.ok() ? m().Eenter(core, *tcs) : tcs.status();
  if (!s.ok()) {
    driver().Unpin(in.secs);
    return Annotate(s, "entering the instance");
  }
  in.tcs_page = *tcs;
  in.entered = true;
  return OkStatus();
}

Status InstanceOps::Exit(CoreId core, Instance& in) {
  // A real function leaves by its own EEXIT (or AEX) inside Execute.
  if (!in.entered) return OkStatus();
  CONFIDE_RETURN_IF_ERROR(Annotate(m().Eexit(core), "leaving the instance"));
  in.entered = false;
  driver().Unpin(in.secs);
  return OkStatus();
}

Status InstanceOps::OutToOs(CoreId core, Instance& in, const std::function<Status()>& os) {
  if (!in.entered) return os();
  CONFIDE_RETURN_IF_ERROR(m().Aex(core));
  // After the AEX no thread is inside: the OS may evict this enclave's own
  // pages, the TCS included (the machine keeps its CSSA across EWB/ELDU).
  driver().Unpin(in.secs);
  Status s = os();
  // Resume even if the OS failed, so the thread can leave normally.
  StatusOr<EpcPage> tcs = driver().Resident(core, in.secs, in.tcs_linaddr);
  if (!tcs.ok()) {
    // The thread stays out (in its AEX state); a later EENTER may enter
    // again, e.g. to unmap plugins before teardown.
    in.entered = false;
    return Annotate(tcs.status(), "reloading the TCS for ERESUME");
  }
  driver().Pin(in.secs);
  in.tcs_page = *tcs;
  Status resumed = m().Eresume(core, in.tcs_page);
  CONFIDE_RETURN_IF_ERROR(s);
  return resumed;
}

StatusOr<EpcPage> InstanceOps::AllocateFor(CoreId core, Instance& in) {
  // A free page needs no ENCLS; eviction does, from outside the enclave.
  if (m().FreePageCount() > 1) return driver().Allocate(core);
  EpcPage page = 0;
  CONFIDE_RETURN_IF_ERROR(OutToOs(core, in, [&]() -> Status {
    CONFIDE_ASSIGN_OR_RETURN(page, driver().Allocate(core));
    return OkStatus();
  }));
  return page;
}

Status InstanceOps::Touch(CoreId core, Instance& in, uint64_t linaddr, uint64_t pages) {
  for (uint64_t i = 0; i < pages; ++i) {
    const uint64_t a = linaddr + i * kPageSize;
    if (driver().IsResident(in.secs, a)) continue;
    CONFIDE_RETURN_IF_ERROR(OutToOs(
        core, in, [&]() -> Status { return driver().Resident(core, in.secs, a).status(); }));
    if (i % 64 == 63) CONFIDE_RETURN_IF_ERROR(Yield(core, in));
  }
  return OkStatus();
}

Status InstanceOps::Augment(CoreId core, Instance& in, uint64_t first, uint64_t pages,
                            const std::function<Status(uint64_t)>& accepted) {
  const SecInfo pending =
      SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW | secinfo::kPending);
  // The fault: the OS EAUGs the batch.
  CONFIDE_RETURN_IF_ERROR(OutToOs(core, in, [&]() -> Status {
    for (uint64_t i = 0; i < pages; ++i) {
      CONFIDE_ASSIGN_OR_RETURN(EpcPage p, driver().Allocate(core));
      CONFIDE_RETURN_IF_ERROR(m().Eaug(core, in.secs, first + i * kPageSize, p));
      driver().Track(in.secs, first + i * kPageSize, p);
    }
    return OkStatus();
  }));
  // The enclave accepts each page; an EAUGed page may have been evicted
  // meanwhile by a later EAUG of the batch, so touch it first.
  for (uint64_t i = 0; i < pages; ++i) {
    const uint64_t a = first + i * kPageSize;
    CONFIDE_RETURN_IF_ERROR(Touch(core, in, a, 1));
    CONFIDE_RETURN_IF_ERROR(m().Eaccept(core, pending, a));
    if (accepted) CONFIDE_RETURN_IF_ERROR(accepted(a));
  }
  return OkStatus();
}

Status InstanceOps::GrowHeap(CoreId core, Instance& in, uint64_t pages, uint32_t batch) {
  batch = std::max<uint32_t>(batch, 1);
  for (uint64_t done = 0; done < pages;) {
    const uint64_t n = std::min<uint64_t>(batch, pages - done);
    CONFIDE_RETURN_IF_ERROR(
        Augment(core, in, in.heap_linaddr + (in.heap_committed + done) * kPageSize, n));
    done += n;
    CONFIDE_RETURN_IF_ERROR(Yield(core, in));
  }
  in.heap_committed += pages;
  return OkStatus();
}

Status InstanceOps::Execute(CoreId core, Instance& in, uint64_t cycles) {
  if (ctx_.executor) {
    Status ran = ctx_.executor->Execute(core, in);
    // The thread left inside (EEXIT, or AEX on a crash or timeout).
    if (m().CurrentEnclave(core) != std::optional<EpcPage>(in.secs) && in.entered) {
      in.entered = false;
      driver().Unpin(in.secs);
    }
    return ran;
  }
  // In slices of about 1 ms at 3.8 GHz, so the simulator can interleave cores.
  constexpr uint64_t kSlice = 4'000'000;
  uint64_t left = cycles;
  while (left > 0) {
    const uint64_t n = std::min(left, kSlice);
    ctx_.ChargeSoftware(core, SoftwareWork::kExecute, n);
    left -= n;
    CONFIDE_RETURN_IF_ERROR(Yield(core, in));
  }
  return OkStatus();
}

Status InstanceOps::Yield(CoreId core, Instance& in) {
  if (!ctx_.yield) return OkStatus();
  return OutToOs(core, in, [&]() -> Status {
    ctx_.Yield(core);
    return OkStatus();
  });
}

Status InstanceOps::CopyOnWrite(CoreId core, Instance& in, const std::vector<BuiltEnclave>& plugins,
                                uint64_t count) {
  uint64_t total = 0;
  for (const BuiltEnclave& p : plugins) total += p.size;
  if (total == 0 || count == 0) return OkStatus();
  uint64_t left = count;
  for (size_t k = 0; k < plugins.size() && left > 0; ++k) {
    const BuiltEnclave& p = plugins[k];
    uint64_t n = k + 1 == plugins.size()
                     ? left
                     : (count * p.size + total - 1) / total;  // proportional, rounded up
    n = std::min({n, left, driver().PageCount(p.secs)});
    CONFIDE_RETURN_IF_ERROR(CopyRange(core, in, p, p.base, n));
    left -= n;
  }
  return OkStatus();
}

Status InstanceOps::CopyRange(CoreId core, Instance& in, const BuiltEnclave& plugin,
                              uint64_t linaddr, uint64_t pages) {
  for (uint64_t i = 0; i < pages; ++i) {
    const uint64_t a = linaddr + i * kPageSize;
    // EACCEPTCOPY reads the plugin's page: the OS loads it if it was
    // evicted, and it stays pinned until the copy is made, so that
    // allocating the copy's page cannot evict it again.
    EpcPage source = 0;
    CONFIDE_RETURN_IF_ERROR(OutToOs(core, in, [&]() -> Status {
      CONFIDE_ASSIGN_OR_RETURN(source, driver().Resident(core, plugin.secs, a));
      return OkStatus();
    }));
    driver().PinPage(source);
    StatusOr<EpcPage> page = AllocateFor(core, in);
    Status copied = page.ok() ? m().CopyOnWrite(core, in.tcs_page, a, *page) : page.status();
    driver().UnpinPage(source);
    CONFIDE_RETURN_IF_ERROR(copied);
    driver().Track(in.secs, a, *page);
    in.cow_pages.push_back(a);
    if (i % 64 == 63) CONFIDE_RETURN_IF_ERROR(Yield(core, in));
  }
  return OkStatus();
}

Status InstanceOps::Reset(CoreId core, Instance& in, uint64_t data_pages, uint64_t heap_pages) {
  CONFIDE_RETURN_IF_ERROR(Enter(core, in));
  CONFIDE_RETURN_IF_ERROR(Touch(core, in, in.data_linaddr, data_pages));
  CONFIDE_RETURN_IF_ERROR(Touch(core, in, in.heap_linaddr, heap_pages));
  ctx_.ChargeSoftware(core, SoftwareWork::kReset,
                      (data_pages + heap_pages) * ctx_.software.reset_cycles_per_page);

  return Exit(core, in);
}

Status InstanceOps::Restore(CoreId core, Instance& in, const EnclaveSpec& spec) {
  CONFIDE_RETURN_IF_ERROR(Enter(core, in));
  std::array<uint8_t, kPageSize> page{};
  uint64_t index = 0;
  uint64_t restored = 0;
  for (const Region& r : spec.regions) {
    const bool writable = r.rights != 0 ? (r.rights & secinfo::kW) != 0
                                        : r.kind != RegionKind::kCode && r.kind != RegionKind::kTcs;
    // Heap pages exist up to what the instance committed (EAUG grows it).
    const uint64_t present = r.kind == RegionKind::kHeap ? std::min(r.pages, in.heap_committed)
                                                         : (r.added ? r.pages : 0);
    for (uint64_t i = 0; writable && !r.shared && i < present; ++i) {
      const uint64_t offset = r.offset + i * kPageSize;
      spec.PageAt(r, offset, index + i, page);
      CONFIDE_RETURN_IF_ERROR(Touch(core, in, spec.base + offset, 1));
      CONFIDE_RETURN_IF_ERROR(m().Write(core, spec.base + offset, page));
      ++restored;
    }
    index += r.pages;
  }
  ctx_.ChargeSoftware(core, SoftwareWork::kReset, restored * ctx_.software.reset_cycles_per_page);
  return Exit(core, in);
}

Status InstanceOps::DropCopies(CoreId core, Instance& in) {
  for (uint64_t a : in.cow_pages) CONFIDE_RETURN_IF_ERROR(driver().RemovePage(core, in.secs, a));
  in.cow_pages.clear();
  return OkStatus();
}

Status InstanceOps::Destroy(CoreId core, Instance& in) {
  if (!in.mapped_plugins.empty()) {
    if (!in.entered) CONFIDE_RETURN_IF_ERROR(Enter(core, in));
    for (EpcPage plugin : in.mapped_plugins) {
      CONFIDE_RETURN_IF_ERROR(m().Eunmap(core, plugin));
      driver().NoteUnmapped(in.secs, plugin);
    }
    in.mapped_plugins.clear();
  }
  if (in.entered) CONFIDE_RETURN_IF_ERROR(Exit(core, in));
  return driver().Destroy(core, in.secs);
}

}  // namespace confide::platform
