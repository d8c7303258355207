// monitor.h — the enclave monitor: runs enclave code for real, in KVM
// micro-VMs, with the machine model as the single source of truth about who
// owns which page (Enclavisor's trusted layer; the CPU's microcode for SGX).
//
// One Monitor per machine::Machine. It owns what every VM shares: the
// page-table frames (one memfd that every VM maps, so a plugin's page-table
// subtree built once serves every host that EMAPs it), the supervisor
// subtree of the system region, the window subtree, and a pool of idle VMs.
//
//   Monitor ──owns──> FrameArena (page tables) ─┬─ monitor subtree (CPL0 only)
//      │                                        ├─ window subtree (U, RW, NX)
//      │                                        └─ per plugin: PT subtrees, one per 2 MiB
//      └──> pool of MicroVm ──> EnclaveVm (one per host enclave, monitor/enclave_vm.h)
//
// An enclave's address space is built from Machine::MapOf at each entry:
// its own PT_REG pages with their EPCM rights, and, for each plugin it has
// EMAPped, the plugin's shared subtrees linked with one entry write per
// 2 MiB (a plugin of 256 MiB: 128 writes, not 65536), except where the host
// owns private copy-on-write copies, which are mapped page by page.
//
// Usage:
//   CONFIDE_ASSIGN_OR_RETURN(auto monitor, Monitor::Create(machine, {}));  // Unavailable w/o KVM
//   CONFIDE_ASSIGN_OR_RETURN(auto vm, monitor->Attach(host_secs));
//   std::memcpy(vm->window().data() + ..., input) ...
//   CONFIDE_ASSIGN_OR_RETURN(EnclaveRun run, vm->Enter(core, tcs, {.time_limit = 1s}));
//
// Thread-safety: Monitor methods are serialized by an internal mutex; each
// EnclaveVm is driven by one thread at a time. The machine must outlive the
// Monitor, and the Monitor every EnclaveVm.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "base/status.h"
#include "machine/machine.h"
#include "monitor/kvm.h"
#include "monitor/micro_vm.h"
#include "monitor/page_tables.h"
#include "monitor/shared_memory.h"

namespace confide::monitor {

class EnclaveVm;

struct MonitorConfig {
  std::string kvm_path = "/dev/kvm";
  uint64_t page_table_bytes = uint64_t{64} << 20;  // frames for every address space
  uint64_t window_bytes = uint64_t{64} << 20;      // each VM's untrusted window
  size_t vm_pool = 0;                              // idle VMs created up front
};

// What the monitor did while running enclave code (cumulative per EnclaveVm).
struct MonitorStats {
  uint64_t vm_exits = 0;
  uint64_t syscalls_reflected = 0;  // to the enclave's library OS
  uint64_t ocalls = 0;
  // Served by the monitor itself: CONFIDE_SYS_SET_HANDLER and
  // arch_prctl(ARCH_SET_FS), each an exit the enclave could avoid (a measured
  // handler in its thread-info page, WRFSBASE).
  uint64_t syscalls_served = 0;
  uint64_t enclu_emulated = 0;  // ENCLU leaves executed on the model after #UD
  uint64_t cow_pages = 0;       // plugin pages copied on write
  uint64_t pages_loaded = 0;    // evicted pages the pager loaded back on a fault
  uint64_t address_spaces_built = 0;
  uint64_t entry_writes = 0;  // page-table entries written for this VM
  uint64_t recycles = 0;      // drops of KVM's cached translations to reuse frames
  MonitorStats& operator+=(const MonitorStats& o);
};

class Monitor {
 public:
  // UnavailableError naming the path and the reason if KVM cannot be used
  // ("confide monitor needs /dev/kvm: ..."); FailedPreconditionError if the
  // machine is cost-only (it has no page bytes to run).
  static StatusOr<std::unique_ptr<Monitor>> Create(machine::Machine& machine,
                                                   const MonitorConfig& config);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // A VM for host enclave `secs` (from the pool if one is idle). The VM
  // goes back to the pool when the EnclaveVm is destroyed.
  StatusOr<std::unique_ptr<EnclaveVm>> Attach(machine::EpcPage secs);
  // Creates idle VMs until the pool holds `n`.
  Status FillPool(size_t n);
  size_t pool_size() const;

  machine::Machine& machine() { return machine_; }
  const MonitorConfig& config() const { return config_; }

 private:
  friend class EnclaveVm;
  struct PluginTables;  // a plugin's shared subtrees, cached by SECS page

  Monitor(machine::Machine& machine, const MonitorConfig& config, Kvm kvm, SharedMemory tables);
  struct PooledVm {
    std::unique_ptr<MicroVm> vm;
    FramePool frames = kSharedPool;  // the VM's own page-table frames
  };
  StatusOr<PooledVm> NewVm();
  void ReturnVm(PooledVm vm);
  // Builds the address space of enclave `secs` as the model has it now.
  // `stats` receives the entry writes.
  // Frames come from `frames`.
  StatusOr<AddressSpace> BuildAddressSpace(machine::EpcPage secs, FramePool frames,
                                           MonitorStats& stats);
  // Frames of `frames` waiting for RecycleFrames.
  size_t Quarantined(FramePool frames) const;
  // REQUIRES: the VM owning `frames` has dropped its cached translations.
  void RecycleFrames(FramePool frames);
  // Destroys `space` (frames go back to the arena) under the lock.
  void Release(std::optional<AddressSpace>& space);
  // The cached subtrees of plugin `secs`, rebuilt if its version changed.
  StatusOr<PluginTables*> TablesOf(machine::EpcPage secs);

  machine::Machine& machine_;
  MonitorConfig config_;
  Kvm kvm_;
  SharedMemory tables_memory_;
  mutable std::mutex mu_;
  std::unique_ptr<FrameArena> arena_;
  std::unique_ptr<Subtree> monitor_subtree_;
  std::unique_ptr<Subtree> window_subtree_;
  std::map<machine::EpcPage, std::unique_ptr<PluginTables>> plugins_;
  std::vector<PooledVm> pool_;
};

}  // namespace confide::monitor
