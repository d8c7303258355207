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
  if (memory.window_bytes % kGuestPageSize != 0 || memory.window_bytes > kMaxWindowBytes) {
    return InvalidArgumentError(fmt::format(
        "window of {} bytes is not a page multiple of at most 1 GiB", memory.window_bytes));
  }
  CONFIDE_ASSIGN_OR_RETURN(SharedMemory system,
                           SharedMemory::Create("confide-system", kSystemPages * kGuestPageSize));
  CONFIDE_RETURN_IF_ERROR(WriteSystemRegion(system.span()));
  CONFIDE_ASSIGN_OR_RETURN(auto vm, Vm::Create(kvm));
  CONFIDE_RETURN_IF_ERROR(vm->MapHost(kSystemGpa, system.span()));
  CONFIDE_ASSIGN_OR_RETURN(
      Vm::SlotId page_table_slot,
      vm->MapFd(kPageTableGpa, memory.page_table_bytes, memory.page_table_fd, 0));
  CONFIDE_RETURN_IF_ERROR(vm->MapFd(kEpcGpa, memory.epc_bytes, memory.epc_fd, 0));
  std::optional<SharedMemory> window;
  if (memory.window_bytes != 0) {
    auto created = SharedMemory::Create("confide-window", memory.window_bytes);
    if (!created.ok()) return tl::unexpected(created.error());
    window.emplace(std::move(*created));
    CONFIDE_RETURN_IF_ERROR(vm->MapHost(kWindowGpa, window->span()));
  }
  CONFIDE_ASSIGN_OR_RETURN(auto vcpu, vm->CreateVcpu(0));
  CONFIDE_RETURN_IF_ERROR(ConfigureVcpu(kvm, *vcpu));
  return std::unique_ptr<MicroVm>(new MicroVm(std::move(system), std::move(window), std::move(vm),
                                              std::move(vcpu), page_table_slot));
}

Status MicroVm::Enter(uint64_t cr3, uint64_t rip, uint64_t rsp) {
  return EnterUser(*vcpu_, cr3, rip, rsp, fsgsbase_);
}

Status MicroVm::Enter(const UserEntry& entry) {
  kvm_sregs sregs;
  CONFIDE_RETURN_IF_ERROR(vcpu_->GetSregs(sregs));
  kvm_sregs user = UserModeSregs(sregs, entry.cr3, fsgsbase_);
  user.fs.base = entry.fs_base;
  user.gs.base = entry.gs_base;
  CONFIDE_RETURN_IF_ERROR(vcpu_->SetSregs(user));
  kvm_regs regs = {};
  regs.rip = entry.rip;
  regs.rsp = entry.rsp;
  regs.rax = entry.rax;
  regs.rbx = entry.rbx;
  regs.rcx = entry.rcx;
  regs.rflags = 0x2;
  last_ = RawExit{};
  return vcpu_->SetRegs(regs);
}

StatusOr<std::pair<uint64_t, uint64_t>> MicroVm::UserStackAndFlags() const {
  // A stub frame (exception, or a syscall trapped as #PF) holds the user's
  // RSP and RFLAGS; after a syscall that reached the syscall stub, RSP is
  // still the user's (syscall does not switch stacks) and R11 holds RFLAGS.
  if (last_.frame && (last_.frame->at(4) & 3) == 3) {
    return std::pair{last_.frame->at(6), last_.frame->at(5)};
  }
  if (last_.reason == KVM_EXIT_IO && last_.io_port == kSyscallPort) {
    kvm_regs regs;
    CONFIDE_RETURN_IF_ERROR(vcpu_->GetRegs(regs));
    return std::pair{regs.rsp, regs.r11};
  }
  return FailedPreconditionError("the guest is not paused after a user syscall or exception");
}

bool MicroVm::ResumeThroughFrame(kvm_regs& regs, uint64_t rip, uint64_t rsp,
                                 std::optional<uint64_t> rax) {
  VmExit last = DecodeExit(last_);
  const auto* sys = std::get_if<SyscallExit>(&last);
  uint64_t flags = 0;
  if (last_.frame && (last_.frame->at(4) & 3) == 3) {
    // The stub's iretq returns to CPL3 from the frame on the kernel stack:
    // rewriting the frame (host memory) redirects it, with no KVM_SET_SREGS
    // (which costs a full shadow-MMU reset under PVM).
    auto frame = *last_.frame;
    if (rax) frame[0] = *rax;
    frame[3] = rip;
    flags = (frame[5] & ~uint64_t{0x10000}) | 0x2;  // RF cleared
    frame[5] = flags;
    frame[6] = rsp;
    std::memcpy(system_.span().data() + (last_.rsp - kSystemLinear), frame.data(),
                kExceptionFrameSlots * 8);
  } else if (sys != nullptr && !sys->trapped) {
    // The stub's sysretq returns to rcx with rflags = r11.
    flags = (regs.r11 & ~uint64_t{0x10000}) | 0x2;
    if (rax) regs.rax = *rax;
    regs.rsp = rsp;
  } else {
    return false;
  }
  if (sys != nullptr) {
    regs.rcx = rip;  // as `syscall` leaves them
    regs.r11 = flags;
  }
  last_ = RawExit{};
  return true;
}

Status MicroVm::ReturnToUser(uint64_t cr3, uint64_t rip, uint64_t rsp,
                             std::optional<uint64_t> rax) {
  CONFIDE_ASSIGN_OR_RETURN(auto stack_flags, UserStackAndFlags());
  kvm_regs regs;
  CONFIDE_RETURN_IF_ERROR(vcpu_->GetRegs(regs));
  if (cr3 == last_.cr3 && ResumeThroughFrame(regs, rip, rsp, rax)) {
    return vcpu_->SetRegs(regs);
  }
  kvm_sregs sregs;
  CONFIDE_RETURN_IF_ERROR(vcpu_->GetSregs(sregs));
  CONFIDE_RETURN_IF_ERROR(vcpu_->SetSregs(UserModeSregs(sregs, cr3, fsgsbase_)));
  // The stubs clobber RAX (the port value); the user's is in the frame.
  if (last_.frame) regs.rax = last_.frame->at(0);
  if (rax) regs.rax = *rax;
  regs.rip = rip;
  regs.rsp = rsp;
  regs.rflags = (stack_flags.second & ~uint64_t{0x10000}) | 0x2;  // RF cleared
  if (std::holds_alternative<SyscallExit>(DecodeExit(last_))) {
    regs.rcx = rip;  // as `syscall` leaves them; an exception preserves both
    regs.r11 = regs.rflags;
  }
  last_ = RawExit{};
  return vcpu_->SetRegs(regs);
}

Status MicroVm::DropCachedTranslations() { return vm_->Reregister(page_table_slot_); }

Status MicroVm::SetFsBase(uint64_t base) {
  kvm_sregs sregs;
  CONFIDE_RETURN_IF_ERROR(vcpu_->GetSregs(sregs));
  sregs.fs.base = base;
  return vcpu_->SetSregs(sregs);
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
  raw.r10 = regs.r10, raw.r8 = regs.r8, raw.r9 = regs.r9, raw.rbx = regs.rbx;
  raw.cr2 = sregs.cr2;
  raw.cr3 = sregs.cr3;
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
    // Back to CPL3 at the instruction after `syscall`, through the #PF
    // stub's iretq (its frame holds the user's stack and flags).
    const uint64_t user_rsp = last_.frame->at(6);
    if (!ResumeThroughFrame(regs, sys->rip, user_rsp, value)) {
      return FailedPreconditionError("the trapped syscall's frame is gone");
    }
  }
  CONFIDE_RETURN_IF_ERROR(vcpu_->SetRegs(regs));
  last_ = RawExit{};  // completed: a second call is a precondition error
  return OkStatus();
}

}  // namespace confide::monitor
