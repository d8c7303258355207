#include "monitor/micro_vm.h"

#include <cstring>

#include <fmt/format.h>

#include "monitor/guest_layout.h"
#include "monitor/vcpu_setup.h"

namespace confide::monitor {

StatusOr<std::unique_ptr<MicroVm>> MicroVm::Create(const Kvm& kvm, const MicroVmMemory& memory) {
  if (memory.page_table_bytes == 0 ||
      memory.page_table_bytes > kMaxPageTablePages * kGuestPageSize) {
    return InvalidArgumentError(fmt::format("page-table memory of {} bytes does not fit the layout",
                                            memory.page_table_bytes));
  }
  if (memory.epc_bytes == 0) return InvalidArgumentError("no EPC");
  CONFIDE_ASSIGN_OR_RETURN(SharedMemory system,
                           SharedMemory::Create("confide-system", kSystemPages * kGuestPageSize));
  CONFIDE_RETURN_IF_ERROR(WriteSystemRegion(system.span()));
  CONFIDE_ASSIGN_OR_RETURN(auto vm, Vm::Create(kvm));
  CONFIDE_RETURN_IF_ERROR(vm->MapHost(kSystemGpa, system.span()));
  CONFIDE_RETURN_IF_ERROR(
      vm->MapFd(kPageTableGpa, memory.page_table_bytes, memory.page_table_fd, 0));
  CONFIDE_RETURN_IF_ERROR(vm->MapFd(kEpcGpa, memory.epc_bytes, memory.epc_fd, 0));
  CONFIDE_ASSIGN_OR_RETURN(auto vcpu, vm->CreateVcpu(0));
  CONFIDE_RETURN_IF_ERROR(ConfigureVcpu(kvm, *vcpu));
  return std::unique_ptr<MicroVm>(new MicroVm(std::move(system), std::move(vm), std::move(vcpu)));
}

Status MicroVm::Enter(uint64_t cr3, uint64_t rip, uint64_t rsp) {
  return EnterUser(*vcpu_, cr3, rip, rsp);
}

StatusOr<RawExit> MicroVm::Capture(RunOutcome outcome) const {
  RawExit raw;
  const kvm_run& run = vcpu_->run_state();
  raw.timed_out = outcome == RunOutcome::kTimedOut;
  raw.reason = run.exit_reason;
  kvm_regs regs;
  kvm_sregs sregs;
  CONFIDE_RETURN_IF_ERROR(vcpu_->GetRegs(regs));
  CONFIDE_RETURN_IF_ERROR(vcpu_->GetSregs(sregs));
  raw.rip = regs.rip, raw.rsp = regs.rsp, raw.rax = regs.rax, raw.rcx = regs.rcx;
  raw.rdi = regs.rdi, raw.rsi = regs.rsi, raw.rdx = regs.rdx;
  raw.r10 = regs.r10, raw.r8 = regs.r8, raw.r9 = regs.r9;
  raw.cr2 = sregs.cr2;
  if (raw.timed_out) return raw;
  switch (run.exit_reason) {
    case KVM_EXIT_IO: {
      raw.io_out = run.io.direction == KVM_EXIT_IO_OUT;
      raw.io_port = run.io.port;
      ByteSpan data = vcpu_->IoData();
      std::memcpy(&raw.io_value, data.data(), std::min<size_t>(data.size(), 8));
      // The exception stubs' frame, read from the kernel stack (host view of
      // the system region; the stack is inside it by construction).
      uint64_t frame_bytes = kExceptionFrameSlots * 8;
      if (raw.io_port == kExceptionPort && raw.rsp >= kSystemLinear &&
          raw.rsp - kSystemLinear <= kSystemPages * kGuestPageSize - frame_bytes) {
        std::array<uint64_t, 8> frame;
        std::memcpy(frame.data(), system_.span().data() + (raw.rsp - kSystemLinear), frame_bytes);
        raw.frame = frame;
      }
      break;
    }
    case KVM_EXIT_MMIO:
      raw.mmio_addr = run.mmio.phys_addr;
      break;
    case KVM_EXIT_FAIL_ENTRY:
      raw.hw_reason = run.fail_entry.hardware_entry_failure_reason;
      break;
    case KVM_EXIT_INTERNAL_ERROR:
      raw.hw_reason = run.internal.suberror;
      break;
    default:
      break;
  }
  return raw;
}

StatusOr<VmExit> MicroVm::Run(std::optional<Deadline> deadline) {
  CONFIDE_ASSIGN_OR_RETURN(RunOutcome outcome, vcpu_->Run(deadline));
  CONFIDE_ASSIGN_OR_RETURN(last_, Capture(outcome));
  return DecodeExit(last_);
}

Status MicroVm::SetSyscallResult(uint64_t value) {
  VmExit last = DecodeExit(last_);
  const auto* sys = std::get_if<SyscallExit>(&last);
  if (sys == nullptr) return FailedPreconditionError("the last exit was not a syscall");
  kvm_regs regs;
  CONFIDE_RETURN_IF_ERROR(vcpu_->GetRegs(regs));
  regs.rax = value;
  if (sys->trapped) {
    // Emulate sysretq (SDM Vol. 2B): back to CPL3 at rcx, with the user's
    // stack and flags from the #PF stub's frame; drop the kernel frame.
    const auto& frame = *last_.frame;
    kvm_sregs sregs;
    CONFIDE_RETURN_IF_ERROR(vcpu_->GetSregs(sregs));
    CONFIDE_RETURN_IF_ERROR(vcpu_->SetSregs(UserModeSregs(sregs, sregs.cr3)));
    regs.rip = sys->rip;
    regs.rsp = frame[6];
    regs.rflags = (frame[5] & ~uint64_t{0x10000}) | 0x2;  // RF cleared
    regs.r11 = regs.rflags;
  }
  CONFIDE_RETURN_IF_ERROR(vcpu_->SetRegs(regs));
  last_ = RawExit{};  // completed: a second call is a precondition error
  return OkStatus();
}

}  // namespace confide::monitor
