// exit.h — what a vCPU exit means, and what the monitor does about it.
//
// Two pure steps, Firecracker style, so both are tested with fake exits and
// no guest running:
//
//   kvm_run + regs + stub frame --DecodeExit--> VmExit --HandleExit--> Action
//        (RawExit, captured by MicroVm)         (small)          (decision)
//
// VmExit normalises KVM's exits through the stub ABI (guest_layout.h): an
// `out` to kSyscallPort is a syscall, to kExceptionPort an exception (#PF
// decoded with CR2 and its error code), KVM_EXIT_HLT a halt at CPL0,
// KVM_EXIT_SHUTDOWN a triple fault, a missed deadline a timeout.
//
// Syscall ABI seen from enclave code: rax = number, arguments in rdi, rsi,
// rdx, r10, r8, r9 (the Linux convention), result in rax.
//   * 60 (exit) and 231 (exit_group): stop, status in rdi;
//   * kOcallFirst..kOcallLast: an ocall, serviced by the host, then resumed;
//   * anything else: refused, rax = -ENOSYS (the enclave's library OS
//     handles what it supports itself; what reaches the monitor is refused).
//
// Thread-safety: pure functions of values.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace confide::monitor {

inline constexpr uint64_t kSysExit = 60;
inline constexpr uint64_t kSysExitGroup = 231;
inline constexpr uint64_t kOcallFirst = 0x1000;
inline constexpr uint64_t kOcallLast = 0x1fff;
inline constexpr uint64_t kEnosys = static_cast<uint64_t>(-38);

// ---- VmExit -----------------------------------------------------------------------
struct SyscallExit {
  uint64_t nr = 0;
  std::array<uint64_t, 6> args{};  // rdi, rsi, rdx, r10, r8, r9
  uint64_t rip = 0;                // the user instruction after `syscall` (rcx)
  // Delivered as a CPL3 fetch fault at LSTAR by a backend that does not
  // switch privilege on syscall (guest_layout.h); the guest is paused in the
  // #PF stub and completing the call must emulate sysretq.
  bool trapped = false;
};
struct PageFaultExit {
  uint64_t addr = 0;  // CR2
  bool present = false;
  bool write = false;
  bool user = false;
  bool fetch = false;
  uint64_t error = 0;  // raw #PF error code
  uint64_t rip = 0;
};
struct ExceptionExit {  // any vector but #PF
  uint8_t vector = 0;
  uint64_t error = 0;
  uint64_t rip = 0;
  bool user = false;  // CPL3 at the fault (CS.RPL == 3)
};
struct HaltExit {  // hlt at CPL0: a stray jump in monitor code
  uint64_t rip = 0;
};
struct TimeoutExit {
  uint64_t rip = 0;
};
struct ShutdownExit {};  // triple fault
struct UnknownExit {
  uint32_t reason = 0;  // KVM_EXIT_*
  std::string detail;
};
using VmExit = std::variant<SyscallExit, PageFaultExit, ExceptionExit, HaltExit, TimeoutExit,
                            ShutdownExit, UnknownExit>;

// Everything DecodeExit needs, captured from kvm_run, KVM_GET_REGS,
// KVM_GET_SREGS and the kernel stack (MicroVm::Run does this).
struct RawExit {
  bool timed_out = false;
  uint32_t reason = 0;  // kvm_run.exit_reason
  // KVM_EXIT_IO
  bool io_out = false;
  uint16_t io_port = 0;
  uint64_t io_value = 0;  // little-endian value of the data bytes
  // KVM_EXIT_MMIO
  uint64_t mmio_addr = 0;
  // KVM_EXIT_FAIL_ENTRY / INTERNAL_ERROR
  uint64_t hw_reason = 0;
  // registers
  uint64_t rip = 0, rsp = 0, rax = 0, rcx = 0, rdi = 0, rsi = 0, rdx = 0, r10 = 0, r8 = 0, r9 = 0;
  uint64_t rbx = 0;
  uint64_t cr2 = 0;
  uint64_t cr3 = 0;  // the page tables the guest ran under
  // The kExceptionFrameSlots words at RSP when the exit is an exception stub's.
  std::optional<std::array<uint64_t, 8>> frame;
};

VmExit DecodeExit(const RawExit& raw);

// ---- Action -----------------------------------------------------------------------
struct ResumeAction {  // return to the guest, with rax = *result if set
  std::optional<uint64_t> result;
};
struct OcallAction {  // the host services the call, then resumes with a result
  uint64_t nr = 0;
  std::array<uint64_t, 6> args{};
};
enum class StopReason : uint8_t { kExit, kTimeout };
struct StopAction {
  StopReason reason = StopReason::kExit;
  uint64_t status = 0;  // exit status for kExit
};
// A CPL3 write hit a present read-only page. If the EPCM says the page is a
// plugin's (PT_SREG), the caller performs PIE copy-on-write (EAUG +
// EACCEPTCOPY) and resumes; otherwise the enclave broke its own permissions
// and the caller crashes it.
struct CopyOnWriteAction {
  uint64_t linaddr = 0;  // page aligned
};
// A CPL3 access hit a not-present page: later, ELDU of an evicted page (or
// a crash if the page is not the enclave's).
struct PageMissingAction {
  uint64_t linaddr = 0;  // page aligned
  uint64_t addr = 0;     // exact faulting address
  bool write = false;
};
struct CrashAction {
  uint8_t vector = 0;  // 0xff when no exception is involved
  uint64_t rip = 0;
  uint64_t error = 0;
  std::string reason;  // e.g. "#GP(0) at rip 0x10003 (CPL3)"
};
using Action = std::variant<ResumeAction, OcallAction, StopAction, CopyOnWriteAction,
                            PageMissingAction, CrashAction>;

Action HandleExit(const VmExit& exit);

// "#GP", "#PF", ... ("#22" for unnamed vectors).
std::string VectorName(uint8_t vector);
// One line describing `exit`, for logs and test failure messages.
std::string Describe(const VmExit& exit);

}  // namespace confide::monitor
