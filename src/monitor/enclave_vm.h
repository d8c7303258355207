// enclave_vm.h — one host enclave running in a micro-VM: EENTER to EEXIT.
//
// Enter drives the model and the vCPU together, so the model stays the
// single source of truth and the vCPU runs the enclave's real instructions:
//
//   model: EENTER ──────────────────────────────────────────── EEXIT | AEX
//   vCPU:    run ── exit ── decide (exit.h) ── act ── run ── ... ── stop
//
// What each exit becomes (image/enclave_abi.h is the enclave's side):
//   * #UD or #GP on ENCLU (0F 01 D7): the leaf runs on the model (EEXIT
//     ends the run; EMAP, EUNMAP and EGETKEY resume after the instruction
//     with RAX = the result; others are a crash);
//   * syscall: CONFIDE_SYS_SET_HANDLER and arch_prctl(ARCH_SET_FS) are served
//     here, exit/exit_group end the run, ocalls go to the host (log, clock),
//     every other syscall is reflected into the enclave's library OS: the
//     handler its measured thread-info page names, or one it registered (or
//     gets -ENOSYS if there is neither);
//   * a write to a plugin page: PIE copy-on-write on the model (AEX, EAUG,
//     ERESUME, EACCEPTCOPY), the page tables are rebuilt and the write
//     retried;
//   * a fault on a page of ELRANGE that is not mapped: AEX, the pager
//     (RunOptions::page_in: ELDU of an evicted page), ERESUME, retry;
//   * any other fault, a halt, a triple fault: a crash, reported with the
//     vector and address; the thread leaves by AEX;
//   * the time limit: the vCPU is kicked out, the thread leaves by AEX.
// The VM survives all of these: the next Enter (of this or another enclave)
// starts clean. After a crash or timeout the enclave itself is normally torn
// down by its owner; the monitor does not decide that.
//
// Thread-safety: one thread drives an EnclaveVm at a time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "machine/machine.h"
#include "monitor/micro_vm.h"
#include "monitor/monitor.h"
#include "monitor/page_tables.h"

namespace confide::monitor {

enum class RunEnd : uint8_t {
  kEexit,    // the enclave left by EEXIT; status = RDI
  kExit,     // the enclave called exit/exit_group; status = its code
  kTimeout,  // stopped at the time limit
  kCrash,    // a fault the monitor does not resolve; reason says which
};
const char* RunEndName(RunEnd end);

struct EnclaveRun {
  RunEnd end = RunEnd::kEexit;
  uint64_t status = 0;
  std::string reason;  // kCrash/kTimeout: e.g. "#PF write at 0x10 (not present), rip 0x4000001234"
  std::string log;     // the enclave's stdout/stderr (CONFIDE_OCALL_LOG), up to kMaxLogBytes
  std::chrono::nanoseconds real_time{0};
};

inline constexpr size_t kMaxLogBytes = size_t{1} << 20;

struct RunOptions {
  std::optional<std::chrono::nanoseconds> time_limit;
  // EPC pages for copy-on-write copies; default Machine::FindFreePage.
  std::function<StatusOr<machine::EpcPage>()> allocate_page;
  // Receives the enclave's log output instead of EnclaveRun::log.
  std::function<void(int fd, std::string_view text)> log;
  // The OS's pager (e.g. platform's EPC driver): called, between AEX and
  // ERESUME, with the linear address of a page of the enclave that is not
  // resident and was touched;
  // returns true once it has loaded it back (ELDU), false if the enclave
  // has no page there (the fault is then a crash). Without a pager such a
  // fault is a crash.
  std::function<StatusOr<bool>(uint64_t linaddr)> page_in;
  // Called when the enclave issues EEXIT, before the leaf runs: what must
  // happen before anything leaves (EnTurbo: EINIT, the measurement
  // verified, for an enclave entered before it). An error fails closed: the
  // run ends as a crash, by AEX, and no reply is taken.
  std::function<Status()> before_eexit;
};

class EnclaveVm {
 public:
  ~EnclaveVm();  // the VM goes back to the monitor's pool (unless broken)
  EnclaveVm(const EnclaveVm&) = delete;
  EnclaveVm& operator=(const EnclaveVm&) = delete;

  machine::EpcPage secs() const { return secs_; }
  // The untrusted window shared with the enclave (image/enclave_abi.h).
  MutableByteSpan window() const { return vm_->window(); }

  // EENTERs the host enclave at `tcs` on `core` and runs it to one of the
  // ends of RunEnd. Errors (not ends): the model's EENTER refusals (e.g. an
  // uninitialized enclave, a busy TCS) and failures of KVM itself.
  StatusOr<EnclaveRun> Enter(machine::CoreId core, machine::EpcPage tcs,
                             const RunOptions& options = {});

  // The same for a thread that the caller has already EENTERed at `tcs` on
  // `core` (a start policy issues EENTER itself, then lets the enclave's
  // code run here): FailedPreconditionError unless the model shows this
  // enclave entered on `core`.
  StatusOr<EnclaveRun> Run(machine::CoreId core, machine::EpcPage tcs,
                           const RunOptions& options = {});

  const MonitorStats& stats() const { return stats_; }

 private:
  friend class Monitor;
  EnclaveVm(Monitor& monitor, machine::EpcPage secs, std::unique_ptr<MicroVm> vm, FramePool frames)
      : monitor_(monitor), secs_(secs), vm_(std::move(vm)), frames_(frames) {}

  struct Session;  // the state of one Enter
  // The run loop of a thread entered at `tcs`, from the vCPU's entry to
  // an end; on any error the thread leaves by AEX.
  StatusOr<EnclaveRun> RunThread(machine::CoreId core, machine::EpcPage tcs,
                                 const RunOptions& options,
                                 std::chrono::steady_clock::time_point start);
  // A fresh address space from the model; the old one's frames are
  // quarantined, and recycled once enough of them wait (Recycle).
  Status Rebuild();
  // Drops KVM's cached translations, then makes the quarantined frames
  // reusable (monitor/page_tables.h, FrameArena).
  Status Recycle();
  // One step of the run loop: std::nullopt to keep running, or the end.
  StatusOr<std::optional<EnclaveRun>> Step(Session& s, const VmExit& exit);
  StatusOr<std::optional<EnclaveRun>> OnSyscall(Session& s, const SyscallExit& sys);
  StatusOr<std::optional<EnclaveRun>> OnEnclu(Session& s, uint64_t rip);
  // Continues after the ENCLU at `rip` with RAX = `rax` (a leaf's result).
  StatusOr<std::optional<EnclaveRun>> ResumeAfterEnclu(uint64_t rip, uint64_t rax);
  StatusOr<std::optional<EnclaveRun>> OnWriteFault(Session& s, uint64_t linaddr, uint64_t rip);
  // A not-present fault inside ELRANGE: the pager's turn.
  StatusOr<std::optional<EnclaveRun>> OnMissingPage(Session& s, const PageFaultExit& pf);
  uint64_t ServiceOcall(Session& s, uint64_t nr, const std::array<uint64_t, 6>& args);
  // The syscall handler the thread-info page (BASEADDR + TCS.OGSBASE) names
  // in syscall_handler_offset, if that lies inside ELRANGE; else 0.
  uint64_t MeasuredSyscallHandler(const Session& s);
  // Leaves the enclave by AEX and ends the run with `end`.
  EnclaveRun Abort(Session& s, RunEnd end, std::string reason);

  Monitor& monitor_;
  machine::EpcPage secs_;
  std::unique_ptr<MicroVm> vm_;
  FramePool frames_;
  std::optional<AddressSpace> space_;
  bool broken_ = false;  // KVM state unknown: do not return the VM to the pool
  MonitorStats stats_;
};

}  // namespace confide::monitor
