#include "monitor/enclave_vm.h"

#include <time.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "base/bytes.h"
#include "image/enclave_abi.h"
#include "machine/secs.h"
#include "monitor/exit.h"
#include "monitor/guest_layout.h"

namespace confide::monitor {
namespace {

constexpr uint64_t kSysArchPrctl = 158;
constexpr uint64_t kArchSetFs = 0x1002;
constexpr uint64_t kEperm = static_cast<uint64_t>(-1);
constexpr uint64_t kEinval = static_cast<uint64_t>(-22);
constexpr uint64_t kEfault = static_cast<uint64_t>(-14);
constexpr uint64_t kRedZone = 128;  // System V AMD64 ABI §3.2.2
constexpr std::array<uint8_t, 3> kEncluBytes = {0x0f, 0x01, 0xd7};
// What a leaf leaves in RAX: 0, the SDM's error code, or (a fault the real
// instruction would raise, e.g. a bad address) SGX_INVALID_PARAMETER-like
// UINT64_MAX, which no SDM code uses.
uint64_t LeafResult(const Status& s) {
  if (s.ok()) return 0;
  if (s.error().code == ErrorCode::kSgxError) return static_cast<uint64_t>(s.error().sgx);
  return UINT64_MAX;
}
// Sets or clears CONFIDE_WINDOW_FSGSBASE in a window that holds a request:
// the monitor's word on WRFSBASE (image/enclave_abi.h), whatever the
// requester wrote there.
void TellFsgsbase(MutableByteSpan window, bool fsgsbase) {
  if (window.size() < sizeof(confide_window) ||
      LoadLe<uint64_t>(window.data() + offsetof(confide_window, magic)) != CONFIDE_WINDOW_MAGIC) {
    return;
  }
  uint8_t* flags = window.data() + offsetof(confide_window, flags);
  const uint64_t old = LoadLe<uint64_t>(flags);
  StoreLe<uint64_t>(
      flags, fsgsbase ? old | CONFIDE_WINDOW_FSGSBASE : old & ~uint64_t{CONFIDE_WINDOW_FSGSBASE});
}
// Quarantined page-table frames a VM collects before it drops KVM's cached
// translations to reuse them: one drop per ~50 small address spaces.
constexpr size_t kRecycleFrames = 512;

}  // namespace

const char* RunEndName(RunEnd end) {
  switch (end) {
    case RunEnd::kEexit:
      return "eexit";
    case RunEnd::kExit:
      return "exit";
    case RunEnd::kTimeout:
      return "timeout";
    case RunEnd::kCrash:
      return "crash";
  }
  return "?";
}

struct EnclaveVm::Session {
  machine::CoreId core = 0;
  machine::EpcPage tcs = 0;
  const RunOptions* options = nullptr;
  uint64_t base = 0;  // ELRANGE
  uint64_t size = 0;
  uint64_t thread_info = 0;  // BASEADDR + TCS.OGSBASE: the thread-info page
  // Where syscalls are reflected (image/enclave_abi.h): the one registered
  // by CONFIDE_SYS_SET_HANDLER, else, from the first syscall to reflect on,
  // the thread-info page's measured one (MeasuredSyscallHandler); 0: none.
  std::optional<uint64_t> syscall_handler;
  EnclaveRun run;

  bool InElrange(uint64_t addr) const { return addr >= base && addr - base < size; }
};

EnclaveVm::~EnclaveVm() {
  monitor_.Release(space_);
  if (!broken_) monitor_.ReturnVm({std::move(vm_), frames_});
}

Status EnclaveVm::Recycle() {
  CONFIDE_RETURN_IF_ERROR(vm_->DropCachedTranslations());
  monitor_.RecycleFrames(frames_);
  stats_.recycles++;
  return OkStatus();
}

Status EnclaveVm::Rebuild() {
  monitor_.Release(space_);
  if (monitor_.Quarantined(frames_) >= kRecycleFrames) CONFIDE_RETURN_IF_ERROR(Recycle());
  for (int attempt = 0;; ++attempt) {
    StatusOr<AddressSpace> space = monitor_.BuildAddressSpace(secs_, frames_, stats_);
    if (space.ok()) {
      space_.emplace(std::move(*space));
      return OkStatus();
    }
    // Out of frames: reuse this VM's quarantined ones, once.
    if (attempt > 0 || space.error().code != ErrorCode::kResourceExhausted) {
      return tl::unexpected(space.error());
    }
    CONFIDE_RETURN_IF_ERROR(Recycle());
  }
}

StatusOr<EnclaveRun> EnclaveVm::Enter(machine::CoreId core, machine::EpcPage tcs,
                                      const RunOptions& options) {
  machine::Machine& m = monitor_.machine();
  const auto start = std::chrono::steady_clock::now();
  const machine::EpcmEntry tcs_entry = m.Epcm(tcs);
  if (!tcs_entry.valid || tcs_entry.type != machine::PageType::kTcs || tcs_entry.owner != secs_) {
    return InvalidArgumentError(fmt::format("EPC page {} is not a TCS of enclave {}", tcs, secs_));
  }
  CONFIDE_RETURN_IF_ERROR(m.Eenter(core, tcs));
  return RunThread(core, tcs, options, start);
}

StatusOr<EnclaveRun> EnclaveVm::Run(machine::CoreId core, machine::EpcPage tcs,
                                    const RunOptions& options) {
  machine::Machine& m = monitor_.machine();
  const auto start = std::chrono::steady_clock::now();
  const machine::EpcmEntry tcs_entry = m.Epcm(tcs);
  if (!tcs_entry.valid || tcs_entry.type != machine::PageType::kTcs || tcs_entry.owner != secs_ ||
      m.CurrentEnclave(core) != std::optional<machine::EpcPage>(secs_)) {
    return FailedPreconditionError(
        fmt::format("Run needs a thread of enclave {} already entered at TCS page {} on core {}",
                    secs_, tcs, core));
  }
  return RunThread(core, tcs, options, start);
}

StatusOr<EnclaveRun> EnclaveVm::RunThread(machine::CoreId core, machine::EpcPage tcs,
                                          const RunOptions& options,
                                          std::chrono::steady_clock::time_point start) {
  machine::Machine& m = monitor_.machine();
  const machine::EpcmEntry tcs_entry = m.Epcm(tcs);
  StatusOr<machine::Secs> secs_or = m.SecsOf(secs_);
  if (!secs_or.ok()) {
    (void)m.Aex(core);
    return tl::unexpected(secs_or.error());
  }
  const machine::Secs& secs = *secs_or;
  Session s;
  s.core = core;
  s.tcs = tcs;
  s.options = &options;
  s.base = secs.base_addr;
  s.size = secs.size;
  if (Status built = Rebuild(); !built.ok()) {
    (void)m.Aex(core);
    return tl::unexpected(built.error());
  }
  // EENTER's register state (SDM Vol. 3D §41, EENTER): RAX = CSSA, RBX =
  // the TCS, RCX = the return point; FS/GS bases from the TCS.
  const machine::Tcs t = machine::Tcs::Parse(m.PageBytes(tcs));
  UserEntry entry;
  entry.cr3 = space_->cr3();
  entry.rip = s.base + t.oentry;
  entry.rax = t.cssa;
  entry.rbx = tcs_entry.linaddr;
  entry.fs_base = s.base + t.ofsbase;
  entry.gs_base = s.base + t.ogsbase;
  s.thread_info = entry.gs_base;  // GS.base itself may change (WRGSBASE)
  TellFsgsbase(window(), vm_->fsgsbase());
  if (Status entered = vm_->Enter(entry); !entered.ok()) {
    broken_ = true;
    (void)m.Aex(core);
    return tl::unexpected(entered.error());
  }
  std::optional<Deadline> deadline;
  if (options.time_limit) deadline = Deadline{start + *options.time_limit};

  for (;;) {
    StatusOr<VmExit> exit = vm_->Run(deadline);
    if (!exit.ok()) {
      broken_ = true;
      (void)m.Aex(core);
      return tl::unexpected(exit.error());
    }
    stats_.vm_exits++;
    StatusOr<std::optional<EnclaveRun>> step = Step(s, *exit);
    if (!step.ok()) {
      broken_ = true;
      if (m.CurrentEnclave(core)) (void)m.Aex(core);
      return tl::unexpected(step.error());
    }
    if (step->has_value()) {
      EnclaveRun run = std::move(**step);
      run.real_time = std::chrono::steady_clock::now() - start;
      return run;
    }
  }
}

EnclaveRun EnclaveVm::Abort(Session& s, RunEnd end, std::string reason) {
  // Leaving by AEX saves the state in the SSA and advances CSSA, as an
  // interrupt or exception inside a real enclave does (SDM Vol. 3D §36.3).
  (void)monitor_.machine().Aex(s.core);
  EnclaveRun run = std::move(s.run);
  run.end = end;
  run.reason = std::move(reason);
  return run;
}

StatusOr<std::optional<EnclaveRun>> EnclaveVm::Step(Session& s, const VmExit& exit) {
  if (const auto* sys = std::get_if<SyscallExit>(&exit)) return OnSyscall(s, *sys);
  if (const auto* ex = std::get_if<ExceptionExit>(&exit);
      ex && ex->user && (ex->vector == 6 || ex->vector == 13)) {
    // ENCLU raises #UD on a CPU without SGX and #GP(0) on one whose SGX is
    // off in IA32_FEATURE_CONTROL (SDM ENCLU, "Protected Mode Exceptions"):
    // either way the leaf is emulated; any other such fault is a crash.
    std::array<uint8_t, 3> bytes{};
    if (monitor_.machine().Read(s.core, ex->rip, bytes).ok() && bytes == kEncluBytes) {
      return OnEnclu(s, ex->rip);
    }
  }
  if (const auto* pf = std::get_if<PageFaultExit>(&exit);
      pf && pf->user && !pf->present && s.InElrange(pf->addr) && s.options->page_in) {
    return OnMissingPage(s, *pf);
  }
  const Action action = HandleExit(exit);
  if (const auto* cow = std::get_if<CopyOnWriteAction>(&action)) {
    const auto& pf = std::get<PageFaultExit>(exit);
    return OnWriteFault(s, cow->linaddr, pf.rip);
  }
  if (std::holds_alternative<TimeoutExit>(exit)) {
    return Abort(s, RunEnd::kTimeout,
                 fmt::format("stopped at the time limit of {} ms",
                             s.options->time_limit ? s.options->time_limit->count() / 1000000 : 0));
  }
  if (std::holds_alternative<HaltExit>(exit) || std::holds_alternative<ShutdownExit>(exit) ||
      std::holds_alternative<UnknownExit>(exit)) {
    broken_ = true;  // the monitor's own state may be damaged: never reuse this VM
  }
  if (const auto* crash = std::get_if<CrashAction>(&action)) {
    return Abort(s, RunEnd::kCrash, crash->reason);
  }
  return Abort(s, RunEnd::kCrash, Describe(exit));
}

StatusOr<std::optional<EnclaveRun>> EnclaveVm::OnSyscall(Session& s, const SyscallExit& sys) {
  if (sys.nr == CONFIDE_SYS_SET_HANDLER) {
    stats_.syscalls_served++;
    const bool ok = s.InElrange(sys.args[0]);
    if (ok) s.syscall_handler = sys.args[0];
    CONFIDE_RETURN_IF_ERROR(vm_->SetSyscallResult(ok ? 0 : kEinval));
    return std::nullopt;
  }
  if (sys.nr == kSysArchPrctl && sys.args[0] == kArchSetFs) {
    // For code that does not use WRFSBASE (the runtime does: no exit).
    // Kept to its old contract, the thread pointer inside ELRANGE, though
    // WRFSBASE itself is not checked (vcpu_setup.h says why that is safe).
    stats_.syscalls_served++;
    const bool ok = s.InElrange(sys.args[1]);
    if (ok) CONFIDE_RETURN_IF_ERROR(vm_->SetFsBase(sys.args[1]));
    CONFIDE_RETURN_IF_ERROR(vm_->SetSyscallResult(ok ? 0 : kEperm));
    return std::nullopt;
  }
  const Action action = HandleExit(sys);
  if (const auto* stop = std::get_if<StopAction>(&action)) {
    EnclaveRun run = Abort(s, RunEnd::kExit, fmt::format("exit({})", stop->status));
    run.status = stop->status;
    return run;
  }
  if (const auto* ocall = std::get_if<OcallAction>(&action)) {
    stats_.ocalls++;
    CONFIDE_RETURN_IF_ERROR(vm_->SetSyscallResult(ServiceOcall(s, ocall->nr, ocall->args)));
    return std::nullopt;
  }
  if (!s.syscall_handler) s.syscall_handler = MeasuredSyscallHandler(s);
  if (*s.syscall_handler == 0) {
    CONFIDE_RETURN_IF_ERROR(vm_->SetSyscallResult(kEnosys));
    return std::nullopt;
  }
  // Reflect into the library OS (image/enclave_abi.h): below the red zone,
  // push the return address, continue at the handler.
  stats_.syscalls_reflected++;
  CONFIDE_ASSIGN_OR_RETURN(auto stack_flags, vm_->UserStackAndFlags());
  const uint64_t rsp = stack_flags.first - kRedZone - 8;
  std::array<uint8_t, 8> ret{};
  StoreLe<uint64_t>(ret.data(), sys.rip);
  if (Status pushed = monitor_.machine().Write(s.core, rsp, ret); !pushed.ok()) {
    return Abort(
        s, RunEnd::kCrash,
        fmt::format("syscall {} at rip {:#x}: cannot push onto the enclave stack at {:#x}: {}",
                    sys.nr, sys.rip, rsp, pushed.ToString()));
  }
  CONFIDE_RETURN_IF_ERROR(vm_->ReturnToUser(space_->cr3(), *s.syscall_handler, rsp, std::nullopt));
  return std::nullopt;
}

uint64_t EnclaveVm::MeasuredSyscallHandler(const Session& s) {
  // Read when the first syscall is to be reflected rather than at EENTER: by
  // then the enclave's entry code has read its thread-info page (entry.S
  // checks the magic first thing), so a page the OS had evicted while the
  // enclave was idle is back; at EENTER it might not be (the read fails, and
  // the measured handler would be missed). A page that still cannot be read,
  // or that is not a thread-info page (an enclave of another ABI), names no
  // handler.
  machine::Machine& m = monitor_.machine();
  std::array<uint8_t, 8> magic{}, offset{};
  if (!m.Read(s.core, s.thread_info + offsetof(confide_thread_info, magic), magic).ok() ||
      LoadLe<uint64_t>(magic.data()) != CONFIDE_THREAD_INFO_MAGIC ||
      !m.Read(s.core, s.thread_info + offsetof(confide_thread_info, syscall_handler_offset), offset)
           .ok()) {
    return 0;
  }
  // The page is the enclave's own memory, measured into MRENCLAVE: the host
  // cannot choose the handler. One outside ELRANGE would hand the enclave's
  // syscalls (on its own stack) to code outside it: ignored, as
  // CONFIDE_SYS_SET_HANDLER refuses it.
  const uint64_t handler_offset = LoadLe<uint64_t>(offset.data());
  if (handler_offset == 0 || handler_offset >= s.size) return 0;
  return s.base + handler_offset;
}

uint64_t EnclaveVm::ServiceOcall(Session& s, uint64_t nr, const std::array<uint64_t, 6>& args) {
  switch (nr) {
    case CONFIDE_OCALL_LOG: {
      const MutableByteSpan w = window();
      const uint64_t fd = args[0], offset = args[1], len = args[2];
      if ((fd != 1 && fd != 2) || offset > w.size() || len > w.size() - offset) return kEfault;
      std::string_view text(reinterpret_cast<const char*>(w.data() + offset), len);
      if (s.options->log) {
        s.options->log(static_cast<int>(fd), text);
      } else if (s.run.log.size() < kMaxLogBytes) {
        s.run.log.append(text.substr(0, kMaxLogBytes - s.run.log.size()));
      }
      return len;
    }
    case CONFIDE_OCALL_CLOCK: {
      timespec ts{};
      if (clock_gettime(static_cast<clockid_t>(args[0]), &ts) != 0) return kEinval;
      return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
    }
    default:
      return kEnosys;
  }
}

StatusOr<std::optional<EnclaveRun>> EnclaveVm::OnEnclu(Session& s, uint64_t rip) {
  machine::Machine& m = monitor_.machine();
  const RawExit& raw = vm_->last_raw_exit();
  const uint64_t leaf = raw.frame ? raw.frame->at(0) : raw.rax;  // the stub saved the user's RAX
  stats_.enclu_emulated++;
  switch (leaf) {
    case CONFIDE_ENCLU_EEXIT: {
      if (s.options->before_eexit) {
        if (Status ready = s.options->before_eexit(); !ready.ok()) {
          return Abort(s, RunEnd::kCrash,
                       fmt::format("EEXIT at rip {:#x} held back: {}", rip, ready.ToString()));
        }
      }
      CONFIDE_RETURN_IF_ERROR(m.Eexit(s.core));
      EnclaveRun run = std::move(s.run);
      run.end = RunEnd::kEexit;
      run.status = raw.rdi;
      return run;
    }
    case CONFIDE_ENCLU_EMAP:
    case CONFIDE_ENCLU_EUNMAP: {
      // PIE's leaves from inside the host: the instruction checks the
      // plugin's MRENCLAVE (EMAP) against the enclave's own copy, so the
      // handle in RBX may come from the untrusted host.
      Status done;
      if (raw.rbx > UINT32_MAX) {
        done = InvalidArgumentError("plugin handle out of range");
      } else if (leaf == CONFIDE_ENCLU_EMAP) {
        std::array<uint8_t, 32> expected{};
        done = m.Read(s.core, raw.rcx, expected);
        crypto::Sha256Digest digest{};
        std::copy(expected.begin(), expected.end(), digest.begin());
        if (done.ok()) done = m.Emap(s.core, static_cast<machine::EpcPage>(raw.rbx), digest);
      } else {
        done = m.Eunmap(s.core, static_cast<machine::EpcPage>(raw.rbx));
      }
      if (done.ok()) CONFIDE_RETURN_IF_ERROR(Rebuild());  // the plugin's tables come or go
      return ResumeAfterEnclu(rip, LeafResult(done));
    }
    case CONFIDE_ENCLU_EGETKEY: {
      std::array<uint8_t, 512> request_bytes{};
      Status done = m.Read(s.core, raw.rbx, request_bytes);
      if (done.ok()) {
        StatusOr<machine::KeyRequest> request = machine::KeyRequest::Parse(request_bytes);
        if (!request.ok()) {
          done = tl::unexpected(request.error());
        } else if (StatusOr<crypto::Aes128Key> key = m.Egetkey(s.core, *request); !key.ok()) {
          done = tl::unexpected(key.error());
        } else {
          done = m.Write(s.core, raw.rcx, *key);
        }
      }
      return ResumeAfterEnclu(rip, LeafResult(done));
    }
    default:
      return Abort(
          s, RunEnd::kCrash,
          fmt::format("ENCLU leaf {:#x} at rip {:#x} is not supported by the monitor", leaf, rip));
  }
}

StatusOr<std::optional<EnclaveRun>> EnclaveVm::ResumeAfterEnclu(uint64_t rip, uint64_t rax) {
  CONFIDE_ASSIGN_OR_RETURN(auto stack_flags, vm_->UserStackAndFlags());
  CONFIDE_RETURN_IF_ERROR(
      vm_->ReturnToUser(space_->cr3(), rip + kEncluBytes.size(), stack_flags.first, rax));
  return std::nullopt;
}

StatusOr<std::optional<EnclaveRun>> EnclaveVm::OnMissingPage(Session& s, const PageFaultExit& pf) {
  machine::Machine& m = monitor_.machine();
  // As on SGX: the fault leaves the enclave by AEX, the OS loads the page
  // (ELDU), the thread comes back by ERESUME.
  CONFIDE_RETURN_IF_ERROR(m.Aex(s.core));
  StatusOr<bool> loaded = s.options->page_in(pf.addr & ~uint64_t{kPageSize - 1});
  if (Status back = m.Eresume(s.core, s.tcs); !back.ok()) {
    return tl::unexpected(back.error());
  }
  if (!loaded.ok() || !*loaded) {
    return Abort(s, RunEnd::kCrash,
                 fmt::format("#PF {} at {:#x} (not-present{}), rip {:#x}",
                             pf.write ? "write" : (pf.fetch ? "fetch" : "read"), pf.addr,
                             loaded.ok() ? "" : ": " + loaded.status().ToString(), pf.rip));
  }
  stats_.pages_loaded++;
  CONFIDE_RETURN_IF_ERROR(Rebuild());
  CONFIDE_ASSIGN_OR_RETURN(auto stack_flags, vm_->UserStackAndFlags());
  CONFIDE_RETURN_IF_ERROR(
      vm_->ReturnToUser(space_->cr3(), pf.rip, stack_flags.first, std::nullopt));
  return std::nullopt;
}

StatusOr<std::optional<EnclaveRun>> EnclaveVm::OnWriteFault(Session& s, uint64_t linaddr,
                                                            uint64_t rip) {
  machine::Machine& m = monitor_.machine();
  StatusOr<machine::Translation> where = m.Translate(s.core, linaddr);
  if (!where.ok() || !where->shared) {
    return Abort(s, RunEnd::kCrash,
                 fmt::format("#PF write at {:#x} (read-only page), rip {:#x}", linaddr, rip));
  }
  StatusOr<machine::EpcPage> page =
      s.options->allocate_page ? s.options->allocate_page() : m.FindFreePage();
  if (!page.ok()) {
    return Abort(s, RunEnd::kCrash,
                 fmt::format("copy-on-write of {:#x}: no free EPC page: {}", linaddr,
                             page.status().ToString()));
  }
  if (Status copied = m.CopyOnWrite(s.core, s.tcs, linaddr, *page); !copied.ok()) {
    return Abort(s, RunEnd::kCrash,
                 fmt::format("copy-on-write of {:#x} failed: {}", linaddr, copied.ToString()));
  }
  stats_.cow_pages++;
  // The private copy replaces the shared page in this host's tables only.
  CONFIDE_RETURN_IF_ERROR(Rebuild());
  CONFIDE_ASSIGN_OR_RETURN(auto stack_flags, vm_->UserStackAndFlags());
  CONFIDE_RETURN_IF_ERROR(vm_->ReturnToUser(space_->cr3(), rip, stack_flags.first, std::nullopt));
  return std::nullopt;
}

}  // namespace confide::monitor
