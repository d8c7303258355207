// micro_vm.h — one confide micro-VM: a KVM VM with the guest layout of
// guest_layout.h (its own system region, the shared page-table frames, the
// EPC) and one vCPU configured by vcpu_setup.h, whose exits come back
// decoded as VmExit (exit.h).
//
// Usage:
//   auto vm = MicroVm::Create(kvm, {.page_table_fd = pt.fd(), .page_table_bytes = pt.size(),
//                                   .epc_fd = epc.fd(), .epc_bytes = epc_bytes}).value();
//   vm->Enter(address_space.cr3(), entry_linaddr, stack_top);
//   for (;;) {
//     VmExit exit = vm->Run(Deadline::After(50ms)).value();
//     Action a = HandleExit(exit);
//     ... OcallAction: vm->SetSyscallResult(r) and Run again; StopAction: done ...
//   }
//
// The page tables are the caller's (an AddressSpace in the FrameArena over
// the page-table memory): the MicroVm only loads CR3. Several MicroVms may
// share the page-table memory and the EPC; each sees only what its own
// address space maps, at CPL3.
//
// Ownership: the MicroVm owns its VM, vCPU and system region. It maps (its
// own mappings of) the page-table and EPC fds, so the caller may close them
// afterwards; the contents stay shared.
//
// Thread-safety: one thread drives a MicroVm at a time (the vCPU's rule).
#pragma once

#include <memory>
#include <optional>

#include "base/status.h"
#include "monitor/exit.h"
#include "monitor/kvm.h"
#include "monitor/shared_memory.h"

namespace confide::monitor {

struct MicroVmMemory {
  int page_table_fd = -1;  // FrameArena memory, mapped at kPageTableGpa
  uint64_t page_table_bytes = 0;
  int epc_fd = -1;  // machine::Epc::fd(), mapped at kEpcGpa
  uint64_t epc_bytes = 0;
};

class MicroVm {
 public:
  // InvalidArgumentError for sizes that break the layout (page tables past
  // kMaxPageTablePages); errors of the KVM calls otherwise.
  static StatusOr<std::unique_ptr<MicroVm>> Create(const Kvm& kvm, const MicroVmMemory& memory);
  MicroVm(const MicroVm&) = delete;
  MicroVm& operator=(const MicroVm&) = delete;

  // (Re)starts the vCPU at CPL3 at `rip` with `rsp`, under page tables `cr3`.
  Status Enter(uint64_t cr3, uint64_t rip, uint64_t rsp);
  // Runs until the next exit or the deadline, and decodes the exit.
  StatusOr<VmExit> Run(std::optional<Deadline> deadline = std::nullopt);
  // Completes the syscall the guest is paused in with rax = `value`: the
  // next Run returns to the instruction after `syscall` (through the stub's
  // sysretq, or by emulating it for a trapped syscall, guest_layout.h).
  // FailedPreconditionError unless the last exit was a SyscallExit.
  Status SetSyscallResult(uint64_t value);
  // What the last Run captured (for diagnostics).
  const RawExit& last_raw_exit() const { return last_; }

  Vm& vm() { return *vm_; }
  Vcpu& vcpu() { return *vcpu_; }

 private:
  MicroVm(SharedMemory system, std::unique_ptr<Vm> vm, std::unique_ptr<Vcpu> vcpu)
      : system_(std::move(system)), vm_(std::move(vm)), vcpu_(std::move(vcpu)) {}
  StatusOr<RawExit> Capture(RunOutcome outcome) const;

  // Declaration order is destruction order reversed: the vCPU goes first,
  // the system region (borrowed by a KVM slot) last.
  SharedMemory system_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<Vcpu> vcpu_;
  RawExit last_;
};

}  // namespace confide::monitor
