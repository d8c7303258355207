#include "monitor/exit.h"

#include <linux/kvm.h>

#include <fmt/format.h>

#include "monitor/guest_layout.h"

namespace confide::monitor {
namespace {

constexpr uint8_t kPageFaultVector = 14;
constexpr uint8_t kNoVector = 0xff;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

VmExit DecodeIo(const RawExit& raw) {
  if (raw.io_out && raw.io_port == kSyscallPort) {
    return SyscallExit{.nr = raw.rax,
                       .args = {raw.rdi, raw.rsi, raw.rdx, raw.r10, raw.r8, raw.r9},
                       .rip = raw.rcx};
  }
  if (raw.io_out && raw.io_port == kExceptionPort) {
    if (!raw.frame) return UnknownExit{KVM_EXIT_IO, "exception stub exit without a stack frame"};
    const auto& f = *raw.frame;  // rax, vector, error, rip, cs, rflags, rsp, ss
    uint8_t vector = static_cast<uint8_t>(f[1]);
    if (f[1] != raw.io_value || f[1] >= kExceptionVectors) {
      return UnknownExit{KVM_EXIT_IO, fmt::format("exception frame says vector {:#x}, port {:#x}",
                                                  f[1], raw.io_value)};
    }
    if (vector == kPageFaultVector && (f[2] & 0x15) == 0x15 && raw.cr2 == kSyscallEntryLinear &&
        f[3] == kSyscallEntryLinear && (f[4] & 3) == 3) {
      // A syscall the backend delivered without leaving CPL3: the user's
      // rax is the stub frame's saved rax, the other registers are intact.
      return SyscallExit{.nr = f[0],
                         .args = {raw.rdi, raw.rsi, raw.rdx, raw.r10, raw.r8, raw.r9},
                         .rip = raw.rcx,
                         .trapped = true};
    }
    if (vector == kPageFaultVector) {
      return PageFaultExit{.addr = raw.cr2,
                           .present = (f[2] & 1) != 0,
                           .write = (f[2] & 2) != 0,
                           .user = (f[2] & 4) != 0,
                           .fetch = (f[2] & 16) != 0,
                           .error = f[2],
                           .rip = f[3]};
    }
    return ExceptionExit{.vector = vector, .error = f[2], .rip = f[3], .user = (f[4] & 3) == 3};
  }
  return UnknownExit{KVM_EXIT_IO,
                     fmt::format("{} port {:#x}", raw.io_out ? "out to" : "in from", raw.io_port)};
}

}  // namespace

VmExit DecodeExit(const RawExit& raw) {
  if (raw.timed_out) return TimeoutExit{raw.rip};
  switch (raw.reason) {
    case KVM_EXIT_IO:
      return DecodeIo(raw);
    case KVM_EXIT_HLT:
      return HaltExit{raw.rip};
    case KVM_EXIT_SHUTDOWN:
      return ShutdownExit{};
    case KVM_EXIT_MMIO:
      return UnknownExit{raw.reason,
                         fmt::format("access to guest-physical {:#x} outside memory at rip {:#x}",
                                     raw.mmio_addr, raw.rip)};
    case KVM_EXIT_FAIL_ENTRY:
      return UnknownExit{raw.reason,
                         fmt::format("VM entry failed, hardware reason {:#x}", raw.hw_reason)};
    case KVM_EXIT_INTERNAL_ERROR:
      return UnknownExit{raw.reason, fmt::format("KVM internal error {}", raw.hw_reason)};
    default:
      return UnknownExit{raw.reason, fmt::format("KVM exit reason {}", raw.reason)};
  }
}

std::string VectorName(uint8_t v) {
  static constexpr const char* kNames[32] = {
      "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS",
      "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE",  "#CP",
      "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"};
  if (v < 32) return kNames[v];
  return fmt::format("#{}", v);
}

Action HandleExit(const VmExit& exit) {
  return std::visit(
      Overloaded{
          [](const SyscallExit& e) -> Action {
            if (e.nr == kSysExit || e.nr == kSysExitGroup) {
              return StopAction{StopReason::kExit, e.args[0]};
            }
            if (e.nr >= kOcallFirst && e.nr <= kOcallLast) return OcallAction{e.nr, e.args};
            return ResumeAction{kEnosys};
          },
          [](const PageFaultExit& e) -> Action {
            uint64_t page = e.addr & ~(kGuestPageSize - 1);
            if (!e.user) {
              return CrashAction{
                  kPageFaultVector, e.rip, e.error,
                  fmt::format("#PF in monitor code at {:#x} (rip {:#x})", e.addr, e.rip)};
            }
            if (!e.present) return PageMissingAction{page, e.addr, e.write};
            if (e.fetch) {
              return CrashAction{kPageFaultVector, e.rip, e.error,
                                 fmt::format("execute of non-executable {:#x}", e.addr)};
            }
            if (e.write) return CopyOnWriteAction{page};
            return CrashAction{kPageFaultVector, e.rip, e.error,
                               fmt::format("CPL3 access to supervisor page {:#x}", e.addr)};
          },
          [](const ExceptionExit& e) -> Action {
            return CrashAction{e.vector, e.rip, e.error,
                               fmt::format("{}({:#x}) at rip {:#x} ({})", VectorName(e.vector),
                                           e.error, e.rip, e.user ? "CPL3" : "CPL0")};
          },
          [](const HaltExit& e) -> Action {
            return CrashAction{
                kNoVector, e.rip, 0,
                fmt::format("hlt at CPL0, rip {:#x}: monitor code ran astray", e.rip)};
          },
          [](const TimeoutExit&) -> Action {
            return StopAction{StopReason::kTimeout, 0};
          },
          [](const ShutdownExit&) -> Action {
            return CrashAction{kNoVector, 0, 0, "triple fault (VM shutdown)"};
          },
          [](const UnknownExit& e) -> Action {
            return CrashAction{kNoVector, 0, 0, "unexpected exit: " + e.detail};
          },
      },
      exit);
}

std::string Describe(const VmExit& exit) {
  return std::visit(
      Overloaded{
          [](const SyscallExit& e) {
            return fmt::format("syscall {:#x}({:#x}, {:#x}, {:#x}) from rip {:#x}", e.nr, e.args[0],
                               e.args[1], e.args[2], e.rip);
          },
          [](const PageFaultExit& e) {
            return fmt::format("#PF at {:#x} ({}{}{}{}) rip {:#x}", e.addr,
                               e.present ? "present" : "not-present", e.write ? " write" : " read",
                               e.user ? " user" : " supervisor", e.fetch ? " fetch" : "", e.rip);
          },
          [](const ExceptionExit& e) {
            return fmt::format("{}({:#x}) at rip {:#x} {}", VectorName(e.vector), e.error, e.rip,
                               e.user ? "CPL3" : "CPL0");
          },
          [](const HaltExit& e) { return fmt::format("hlt at rip {:#x}", e.rip); },
          [](const TimeoutExit& e) { return fmt::format("timeout at rip {:#x}", e.rip); },
          [](const ShutdownExit&) { return std::string("shutdown (triple fault)"); },
          [](const UnknownExit& e) {
            return fmt::format("unknown exit {}: {}", e.reason, e.detail);
          },
      },
      exit);
}

}  // namespace confide::monitor
