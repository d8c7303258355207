// kvm.h — RAII wrappers over Linux KVM, and nothing else (Firecracker's
// vstate/ split): the /dev/kvm system fd (Kvm), a VM with its memory slots
// (Vm), a vCPU with its mmapped kvm_run (Vcpu). No policy lives here: what
// memory goes where is guest_layout.h, how a vCPU is set up is vcpu_setup.h,
// what an exit means is exit.h.
//
// Usage:
//   CONFIDE_ASSIGN_OR_RETURN(Kvm kvm, Kvm::Open());   // Unavailable without /dev/kvm
//   CONFIDE_ASSIGN_OR_RETURN(auto vm, Vm::Create(kvm));
//   CONFIDE_ASSIGN_OR_RETURN(auto slot, vm->MapFd(kEpcGpa, bytes, epc.fd(), 0));
//   CONFIDE_ASSIGN_OR_RETURN(auto vcpu, vm->CreateVcpu(0));
//   CONFIDE_ASSIGN_OR_RETURN(RunOutcome o, vcpu->Run(Deadline::After(100ms)));
//   if (o == RunOutcome::kExited) ... vcpu->run_state().exit_reason ...
//
// Time limit (as Firecracker kicks its vCPU threads): Run with a deadline
// arms a POSIX timer that sends KickSignal() to the calling thread; the
// signal handler sets kvm_run.immediate_exit, so KVM_RUN returns EINTR
// whether the signal lands inside the guest or just before KVM_RUN, and
// Run reports kTimedOut. The vCPU stays usable: the next Run resumes the
// guest where it was interrupted.
//
// Ownership: Kvm owns the /dev/kvm fd; Vm owns the VM fd and the mappings it
// creates for MapFd (MapHost borrows: the memory must outlive the slot, and
// the fd passed to MapFd may be closed after the call). Vcpu owns its fd and
// its kvm_run mapping. The kernel keeps a VM alive while any of its vCPU fds
// is open, but Vm::HostAddress is the only way to reach guest memory, so
// keep the Vm alive while you use its vCPUs.
//
// Thread-safety: Kvm is immutable after Open. Vm methods must not race with
// each other. A Vcpu is driven by one thread at a time (the thread that
// calls Run is the one the deadline timer signals).
#pragma once

#include <linux/kvm.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace confide::monitor {

inline constexpr int kKvmApiVersion = 12;

class Kvm {
 public:
  // Opens `path` (normally /dev/kvm) and checks KVM_GET_API_VERSION == 12 and
  // the capabilities confide needs (user memory, immediate_exit).
  // UnavailableError naming the path and the reason ("confide monitor needs
  // /dev/kvm: No such file or directory") if it is missing or cannot be
  // opened; FailedPreconditionError for a wrong API version or capability.
  static StatusOr<Kvm> Open(const std::string& path = "/dev/kvm");
  Kvm(Kvm&& other) noexcept;
  Kvm& operator=(Kvm&&) = delete;
  Kvm(const Kvm&) = delete;
  ~Kvm();

  int fd() const { return fd_; }
  // Size of a vCPU's kvm_run mapping (KVM_GET_VCPU_MMAP_SIZE).
  size_t vcpu_mmap_size() const { return vcpu_mmap_size_; }
  // KVM_CHECK_EXTENSION: 0 if unsupported, else the capability's value.
  int CheckExtension(int capability) const;
  // KVM_GET_SUPPORTED_CPUID: the CPUID leaves a guest may be given.
  StatusOr<std::vector<kvm_cpuid_entry2>> SupportedCpuid() const;

 private:
  Kvm(int fd, size_t vcpu_mmap_size) : fd_(fd), vcpu_mmap_size_(vcpu_mmap_size) {}
  int fd_ = -1;
  size_t vcpu_mmap_size_ = 0;
};

// A point in time by which a Run must return.
struct Deadline {
  std::chrono::steady_clock::time_point at;
  static Deadline After(std::chrono::nanoseconds d) {
    return Deadline{std::chrono::steady_clock::now() + d};
  }
};

enum class RunOutcome : uint8_t {
  kExited,    // KVM_RUN returned an exit: see Vcpu::run_state().exit_reason
  kTimedOut,  // the deadline passed first; the guest is paused mid-run
};

// The real-time signal used to kick a vCPU thread out of KVM_RUN. Its
// handler is installed (SA_RESTART) by the first Run with a deadline.
int KickSignal();

class Vcpu {
 public:
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;
  ~Vcpu();

  uint32_t id() const { return id_; }
  Status GetRegs(kvm_regs& regs) const;
  Status SetRegs(const kvm_regs& regs);
  Status GetSregs(kvm_sregs& sregs) const;
  Status SetSregs(const kvm_sregs& sregs);
  // KVM_SET_MSRS with (index, value) pairs; InternalError unless all are set.
  Status SetMsrs(const std::vector<std::pair<uint32_t, uint64_t>>& msrs);
  StatusOr<uint64_t> GetMsr(uint32_t index) const;
  // KVM_SET_CPUID2. REQUIRES: before the first Run.
  Status SetCpuid(const std::vector<kvm_cpuid_entry2>& entries);

  // KVM_RUN until the guest exits to user space (EINTR from a foreign
  // signal is retried), or until `deadline` passes (kTimedOut).
  // InternalError if KVM_RUN fails otherwise.
  StatusOr<RunOutcome> Run(std::optional<Deadline> deadline = std::nullopt);
  // The shared kvm_run structure: exit_reason and its union after kExited.
  const kvm_run& run_state() const { return *run_; }
  // Bytes of a KVM_EXIT_IO's data (io.size * io.count bytes).
  ByteSpan IoData() const;

 private:
  friend class Vm;
  Vcpu(uint32_t id, int fd, kvm_run* run, size_t run_size)
      : id_(id), fd_(fd), run_(run), run_size_(run_size) {}
  uint32_t id_;
  int fd_;
  kvm_run* run_;
  size_t run_size_;
};

class Vm {
 public:
  using SlotId = uint32_t;

  static StatusOr<std::unique_ptr<Vm>> Create(const Kvm& kvm);
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;
  ~Vm();

  // Maps `size` bytes of `fd` from `offset` (MAP_SHARED) and registers them
  // at guest-physical `gpa`. InvalidArgumentError for unaligned values or a
  // range that overlaps another slot; ResourceExhaustedError if out of slots.
  StatusOr<SlotId> MapFd(uint64_t gpa, uint64_t size, int fd, uint64_t offset,
                         bool read_only = false);
  // Registers caller-owned, page-aligned host memory at `gpa`.
  StatusOr<SlotId> MapHost(uint64_t gpa, MutableByteSpan memory, bool read_only = false);
  // Removes a slot (and the mapping MapFd made). NotFoundError if unknown.
  Status Unmap(SlotId slot);
  // Deletes and re-adds a slot with the same memory: KVM drops everything it
  // derived from that memory (shadow page tables, TLB entries). The monitor
  // needs this before it reuses page-table frames, because it writes them
  // from the host, where KVM's write protection of guest page tables does
  // not see it. REQUIRES: no vCPU of this VM runs.
  Status Reregister(SlotId slot);
  // The host address of guest-physical [gpa, gpa+len), if one slot holds it.
  StatusOr<uint8_t*> HostAddress(uint64_t gpa, uint64_t len) const;

  // KVM_CREATE_VCPU plus the kvm_run mapping.
  StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(uint32_t id);
  int fd() const { return fd_; }

 private:
  struct Slot {
    bool used = false;
    uint64_t gpa = 0;
    uint64_t size = 0;
    uint8_t* host = nullptr;
    bool owned_mapping = false;  // MapFd's mmap, unmapped with the slot
    bool read_only = false;
  };
  Vm(int fd, size_t vcpu_mmap_size, uint32_t max_slots)
      : fd_(fd), vcpu_mmap_size_(vcpu_mmap_size), max_slots_(max_slots) {}
  StatusOr<SlotId> AddSlot(uint64_t gpa, uint64_t size, uint8_t* host, bool owned, bool read_only);

  int fd_;
  size_t vcpu_mmap_size_;
  uint32_t max_slots_;
  std::vector<Slot> slots_;
};

}  // namespace confide::monitor
