#include "monitor/monitor.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "image/enclave_abi.h"
#include "monitor/enclave_vm.h"
#include "monitor/guest_layout.h"
#include "monitor/vcpu_setup.h"

namespace confide::monitor {

MonitorStats& MonitorStats::operator+=(const MonitorStats& o) {
  vm_exits += o.vm_exits;
  syscalls_reflected += o.syscalls_reflected;
  ocalls += o.ocalls;
  syscalls_served += o.syscalls_served;
  enclu_emulated += o.enclu_emulated;
  cow_pages += o.cow_pages;
  pages_loaded += o.pages_loaded;
  address_spaces_built += o.address_spaces_built;
  entry_writes += o.entry_writes;
  recycles += o.recycles;
  return *this;
}
namespace {

constexpr uint64_t kChunk = uint64_t{2} << 20;  // one PT-level subtree covers 2 MiB

uint64_t ChunkOf(uint64_t linaddr) { return linaddr & ~(kChunk - 1); }

// The pages of `map` that enclave code may touch: valid PT_REG / PT_SREG
// pages that are neither pending EACCEPT, nor modified (EMODT), nor blocked.
// TCS, VA and trimmed pages are never mapped (SDM Vol. 3D §34.5: an access to
// them faults).
bool Accessible(const machine::EpcmEntry& e, machine::PageType type) {
  return e.valid && e.type == type && !e.pending && !e.modified && !e.blocked;
}

}  // namespace

// A plugin's page tables: per 2 MiB chunk of its ELRANGE that holds pages,
// a PT subtree mapping them read-only (never W: a write faults into
// copy-on-write). Rebuilt when the plugin's version changes (a page evicted,
// reloaded or removed; a new enclave in the same SECS page).
struct Monitor::PluginTables {
  machine::EnclaveVersion version;
  uint64_t base = 0;
  uint64_t size = 0;
  std::vector<std::pair<uint64_t, uint64_t>> pages;  // linaddr -> gpa, ascending
  std::vector<uint8_t> perms;                        // EPCM rights, parallel to pages
  std::map<uint64_t, Subtree> chunks;                // by chunk base
};

Monitor::Monitor(machine::Machine& machine, const MonitorConfig& config, Kvm kvm,
                 SharedMemory tables)
    : machine_(machine), config_(config), kvm_(std::move(kvm)), tables_memory_(std::move(tables)) {}

Monitor::~Monitor() {
  // Subtrees free their frames into the arena: they go before it.
  plugins_.clear();
  window_subtree_.reset();
  monitor_subtree_.reset();
}

StatusOr<std::unique_ptr<Monitor>> Monitor::Create(machine::Machine& machine,
                                                   const MonitorConfig& config) {
  if (machine.page_contents() != machine::PageContents::kFull || machine.epc_fd() < 0) {
    return FailedPreconditionError(
        "the monitor runs enclave code, so the machine must hold page bytes (not cost-only)");
  }
  if (config.window_bytes == 0 || config.window_bytes % kGuestPageSize != 0 ||
      config.window_bytes > CONFIDE_WINDOW_MAX_SIZE) {
    return InvalidArgumentError(fmt::format(
        "monitor: window of {} bytes is not a page multiple in (0, 1 GiB]", config.window_bytes));
  }
  CONFIDE_ASSIGN_OR_RETURN(Kvm kvm, Kvm::Open(config.kvm_path));
  // A KVM whose vCPUs cannot be configured is refused here, as a missing
  // /dev/kvm is, rather than at the first VM.
  CONFIDE_RETURN_IF_ERROR(GuestCpuid(kvm).status());
  CONFIDE_ASSIGN_OR_RETURN(SharedMemory tables,
                           SharedMemory::Create("confide-page-tables", config.page_table_bytes));
  std::unique_ptr<Monitor> m(new Monitor(machine, config, std::move(kvm), std::move(tables)));
  CONFIDE_ASSIGN_OR_RETURN(m->arena_, FrameArena::Create(m->tables_memory_.span(), kPageTableGpa));
  CONFIDE_ASSIGN_OR_RETURN(Subtree sys, BuildMonitorSubtree(*m->arena_));
  m->monitor_subtree_ = std::make_unique<Subtree>(std::move(sys));
  CONFIDE_ASSIGN_OR_RETURN(
      Subtree window,
      Subtree::Create(*m->arena_, CONFIDE_WINDOW_BASE, TableLevel::kPd, SubtreeAccess::kUserData));
  for (uint64_t off = 0; off < config.window_bytes; off += kGuestPageSize) {
    CONFIDE_RETURN_IF_ERROR(window.Map(CONFIDE_WINDOW_BASE + off, kWindowGpa + off, {}));
  }
  m->window_subtree_ = std::make_unique<Subtree>(std::move(window));
  CONFIDE_RETURN_IF_ERROR(m->FillPool(config.vm_pool));
  return m;
}

StatusOr<Monitor::PooledVm> Monitor::NewVm() {
  MicroVmMemory memory;
  memory.page_table_fd = tables_memory_.fd();
  memory.page_table_bytes = tables_memory_.size();
  memory.epc_fd = machine_.epc_fd();
  memory.epc_bytes = uint64_t{machine_.epc_pages()} * kGuestPageSize;
  memory.window_bytes = config_.window_bytes;
  PooledVm pooled;
  CONFIDE_ASSIGN_OR_RETURN(pooled.vm, MicroVm::Create(kvm_, memory));
  std::lock_guard lock(mu_);
  pooled.frames = arena_->NewPool();
  return pooled;
}

Status Monitor::FillPool(size_t n) {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (pool_.size() >= n) return OkStatus();
    }
    CONFIDE_ASSIGN_OR_RETURN(auto vm, NewVm());
    std::lock_guard lock(mu_);
    pool_.push_back(std::move(vm));
  }
}

size_t Monitor::pool_size() const {
  std::lock_guard lock(mu_);
  return pool_.size();
}

void Monitor::ReturnVm(PooledVm vm) {
  // The window may hold the last tenant's reply: a pooled VM starts empty,
  // or is not pooled at all.
  if (!vm.vm->ClearWindow().ok()) return;
  std::lock_guard lock(mu_);
  pool_.push_back(std::move(vm));
}

StatusOr<std::unique_ptr<EnclaveVm>> Monitor::Attach(machine::EpcPage secs) {
  CONFIDE_RETURN_IF_ERROR(machine_.VersionOf(secs).transform([](auto) {}));
  std::optional<PooledVm> vm;
  {
    std::lock_guard lock(mu_);
    if (!pool_.empty()) {
      vm = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  if (!vm) {
    CONFIDE_ASSIGN_OR_RETURN(vm, NewVm());
  }
  return std::unique_ptr<EnclaveVm>(new EnclaveVm(*this, secs, std::move(vm->vm), vm->frames));
}

StatusOr<Monitor::PluginTables*> Monitor::TablesOf(machine::EpcPage secs) {
  CONFIDE_ASSIGN_OR_RETURN(machine::EnclaveVersion version, machine_.VersionOf(secs));
  auto& slot = plugins_[secs];
  if (slot && slot->version == version) return slot.get();
  if (slot) {
    for (auto& [base, chunk] : slot->chunks) {
      if (chunk.link_count() != 0) {
        return FailedPreconditionError(
            fmt::format("plugin SECS {} changed while an address space links it", secs));
      }
    }
  }
  slot.reset();
  CONFIDE_ASSIGN_OR_RETURN(machine::EnclaveMap map, machine_.MapOf(secs));
  auto t = std::make_unique<PluginTables>();
  t->version = map.version;
  t->base = map.base;
  t->size = map.size;
  for (const auto& [linaddr, page] : map.pages) {
    const machine::EpcmEntry e = machine_.Epcm(page);
    if (!Accessible(e, machine::PageType::kSreg)) continue;
    t->pages.emplace_back(linaddr, EpcPageGpa(page));
    t->perms.push_back(e.perms);
  }
  for (size_t i = 0; i < t->pages.size(); ++i) {
    const uint64_t chunk = ChunkOf(t->pages[i].first);
    auto it = t->chunks.find(chunk);
    if (it == t->chunks.end()) {
      CONFIDE_ASSIGN_OR_RETURN(Subtree tree, Subtree::Create(*arena_, chunk, TableLevel::kPt,
                                                             SubtreeAccess::kUserReadOnly));
      it = t->chunks.emplace(chunk, std::move(tree)).first;
    }
    CONFIDE_RETURN_IF_ERROR(it->second.Map(t->pages[i].first, t->pages[i].second,
                                           LeafFlagsFromEpcm(t->perms[i], /*plugin_page=*/true)));
  }
  slot = std::move(t);
  return slot.get();
}

void Monitor::Release(std::optional<AddressSpace>& space) {
  std::lock_guard lock(mu_);
  space.reset();
}

size_t Monitor::Quarantined(FramePool frames) const {
  std::lock_guard lock(mu_);
  return arena_->quarantined(frames);
}

void Monitor::RecycleFrames(FramePool frames) {
  std::lock_guard lock(mu_);
  arena_->Recycle(frames);
}

StatusOr<AddressSpace> Monitor::BuildAddressSpace(machine::EpcPage secs, FramePool frames,
                                                  MonitorStats& stats) {
  std::lock_guard lock(mu_);
  const uint64_t writes_before = arena_->entry_writes();
  CONFIDE_ASSIGN_OR_RETURN(machine::EnclaveMap map, machine_.MapOf(secs));
  CONFIDE_ASSIGN_OR_RETURN(AddressSpace space, AddressSpace::Create(*arena_, frames));
  CONFIDE_RETURN_IF_ERROR(space.Link(*monitor_subtree_));
  CONFIDE_RETURN_IF_ERROR(space.Link(*window_subtree_));

  // The host's own pages, and the 2 MiB chunks they occupy (a plugin chunk
  // with a private copy in it cannot be shared: it is mapped page by page).
  std::set<uint64_t> host_chunks;
  std::set<uint64_t> host_pages;
  for (const auto& [linaddr, page] : map.pages) {
    host_chunks.insert(ChunkOf(linaddr));
    host_pages.insert(linaddr);
  }
  for (machine::EpcPage plugin : map.plugins) {
    CONFIDE_ASSIGN_OR_RETURN(PluginTables * t, TablesOf(plugin));
    std::set<uint64_t> private_chunks;
    for (auto& [chunk, tree] : t->chunks) {
      if (host_chunks.count(chunk) != 0) {
        private_chunks.insert(chunk);
        continue;
      }
      Status linked = space.Link(tree);
      if (!linked.ok()) private_chunks.insert(chunk);  // shares a chunk with another plugin
    }
    for (size_t i = 0; i < t->pages.size(); ++i) {
      const auto& [linaddr, gpa] = t->pages[i];
      if (private_chunks.count(ChunkOf(linaddr)) == 0 || host_pages.count(linaddr) != 0) continue;
      CONFIDE_RETURN_IF_ERROR(
          space.Map(linaddr, gpa, LeafFlagsFromEpcm(t->perms[i], /*plugin_page=*/true)));
    }
  }
  for (const auto& [linaddr, page] : map.pages) {
    const machine::EpcmEntry e = machine_.Epcm(page);
    if (!Accessible(e, machine::PageType::kReg)) continue;
    CONFIDE_RETURN_IF_ERROR(
        space.Map(linaddr, EpcPageGpa(page), LeafFlagsFromEpcm(e.perms, /*plugin_page=*/false)));
  }
  stats.address_spaces_built++;
  stats.entry_writes += arena_->entry_writes() - writes_before;
  return space;
}

}  // namespace confide::monitor
