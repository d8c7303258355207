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
#include "monitor/vcpu_setup.h"

namespace confide::monitor {

struct MicroVmMemory {
  int page_table_fd = -1;  // FrameArena memory, mapped at kPageTableGpa
  uint64_t page_table_bytes = 0;
  int epc_fd = -1;  // machine::Epc::fd(), mapped at kEpcGpa
  uint64_t epc_bytes = 0;
  // The VM's own untrusted I/O window at kWindowGpa (0: none), page multiple.
  uint64_t window_bytes = 0;
};

// Where enclave code starts or resumes at CPL3.
struct UserEntry {
  uint64_t cr3 = 0;
  uint64_t rip = 0;
  uint64_t rsp = 0;
  uint64_t rax = 0, rbx = 0, rcx = 0;
  uint64_t fs_base = 0, gs_base = 0;
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
  // As Enter, with the registers of `entry` set and the others zero.
  Status Enter(const UserEntry& entry);
  // Returns to CPL3 at `rip` with `rsp` from wherever the guest is paused
  // after the last exit (a stub after a syscall or an exception, whose
  // sysretq/iretq the host performs instead), under page tables `cr3`, with
  // the user's RFLAGS and general registers as they were at the exit, except
  // RAX = *rax if given (else the user's RAX), and, after a syscall,
  // RCX/R11 = rip/RFLAGS as `syscall` leaves them. FS/GS bases are kept. FailedPreconditionError if
  // the last exit was not a syscall or a user-mode exception.
  Status ReturnToUser(uint64_t cr3, uint64_t rip, uint64_t rsp, std::optional<uint64_t> rax);
  // The user's RSP and RFLAGS at the last syscall or exception exit.
  StatusOr<std::pair<uint64_t, uint64_t>> UserStackAndFlags() const;
  // Sets FS.base (as WRFSBASE would).
  Status SetFsBase(uint64_t base);
  // Makes KVM forget every translation it derived from the page-table
  // frames (Vm::Reregister of their slot). REQUIRES: the vCPU is not running.
  Status DropCachedTranslations();
  // Runs until the next exit or the deadline, and decodes the exit.
  StatusOr<VmExit> Run(std::optional<Deadline> deadline = std::nullopt);
  // Completes the syscall the guest is paused in with rax = `value`: the
  // next Run returns to the instruction after `syscall` (through the stub's
  // sysretq, or by emulating it for a trapped syscall, guest_layout.h).
  // FailedPreconditionError unless the last exit was a SyscallExit.
  Status SetSyscallResult(uint64_t value);
  // What the last Run captured (for diagnostics).
  const RawExit& last_raw_exit() const { return last_; }

  // Whether the vCPU has CR4.FSGSBASE (CpuHasFsgsbase, vcpu_setup.h): CPL3
  // code may use WRFSBASE and WRGSBASE.
  bool fsgsbase() const { return fsgsbase_; }
  // The VM's window (empty if MicroVmMemory::window_bytes was 0).
  MutableByteSpan window() const { return window_ ? window_->span() : MutableByteSpan{}; }
  // Zeroes the window (SharedMemory::Discard).
  Status ClearWindow() { return window_ ? window_->Discard() : OkStatus(); }
  Vm& vm() { return *vm_; }
  Vcpu& vcpu() { return *vcpu_; }

 private:
  MicroVm(SharedMemory system, std::optional<SharedMemory> window, std::unique_ptr<Vm> vm,
          std::unique_ptr<Vcpu> vcpu, Vm::SlotId page_table_slot)
      : page_table_slot_(page_table_slot),
        system_(std::move(system)),
        window_(std::move(window)),
        vm_(std::move(vm)),
        vcpu_(std::move(vcpu)) {}
  StatusOr<RawExit> Capture(RunOutcome outcome) const;
  // Points the pending return to CPL3 (the stub's iretq or sysretq) at
  // `rip`/`rsp`, editing `regs` (to be set by the caller) and the stub's
  // frame. False if the guest is not paused in a stub about to return to
  // CPL3; the caller then switches modes itself.
  bool ResumeThroughFrame(kvm_regs& regs, uint64_t rip, uint64_t rsp, std::optional<uint64_t> rax);

  // Declaration order is destruction order reversed: the vCPU goes first,
  // the system region (borrowed by a KVM slot) last.
  Vm::SlotId page_table_slot_;
  bool fsgsbase_ = CpuHasFsgsbase();
  SharedMemory system_;
  std::optional<SharedMemory> window_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<Vcpu> vcpu_;
  RawExit last_;
};

}  // namespace confide::monitor
