#include "monitor/kvm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

namespace confide::monitor {
namespace {

std::string Errno() { return std::strerror(errno); }

// kvm_cpuid2 and kvm_msrs end in a flexible array declared with the uapi
// __DECLARE_FLEX_ARRAY, which in C++ adds an empty struct of size 1: the
// C++ sizeof and the offset of `entries` differ from C's, and so do the
// ioctl numbers the header's macros compute from sizeof (the kernel rejects
// them with EINVAL). So confide never uses those structs: it lays out the C
// form by hand — an 8-byte header (count, padding) followed by the entries
// — in a byte buffer, and uses ioctl numbers computed with the C size (8).
struct FlexHeader {
  uint32_t count;
  uint32_t padding;
};
static_assert(sizeof(FlexHeader) == 8);
constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, __u64);
constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, __u64);
constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, __u64);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, __u64);

// State the kick signal handler reads. Thread-local (each vCPU thread has
// its own) and initial-exec, so that touching it from a signal handler never
// allocates. The generation tells a stale timer signal (queued just before
// its timer was deleted) from the current one.
__attribute__((tls_model("initial-exec"))) thread_local kvm_run* tls_run = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local volatile sig_atomic_t tls_generation = 0;
__attribute__((tls_model("initial-exec"))) thread_local volatile sig_atomic_t tls_kicked = 0;

void OnKick(int, siginfo_t* info, void*) {
  if (info->si_value.sival_int != tls_generation) return;  // stale timer
  tls_kicked = 1;
  if (tls_run != nullptr) tls_run->immediate_exit = 1;
}

Status InstallKickHandler() {
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_sigaction = OnKick;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    result = ::sigaction(KickSignal(), &sa, nullptr) == 0 ? 0 : errno;
  });
  if (result != 0) {
    return InternalError(
        fmt::format("cannot install the vCPU kick handler: {}", std::strerror(result)));
  }
  return OkStatus();
}

}  // namespace

int KickSignal() { return SIGRTMIN + 4; }

// ---- Kvm --------------------------------------------------------------------------

StatusOr<Kvm> Kvm::Open(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return UnavailableError(fmt::format("confide monitor needs {}: {}", path, Errno()));
  }
  if (!S_ISCHR(st.st_mode)) {
    return UnavailableError(fmt::format("confide monitor needs {}: not a character device", path));
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    std::string reason = Errno();
    if (errno == EACCES) reason += " (is the user in group kvm?)";
    return UnavailableError(fmt::format("confide monitor needs {}: {}", path, reason));
  }
  Kvm kvm(fd, 0);
  // SAFETY: KVM_GET_API_VERSION takes no argument and returns an int.
  int version = ::ioctl(fd, KVM_GET_API_VERSION, 0);
  if (version != kKvmApiVersion) {
    return FailedPreconditionError(
        fmt::format("confide monitor needs {} with KVM API version {}, found {}", path,
                    kKvmApiVersion, version < 0 ? Errno() : std::to_string(version)));
  }
  for (auto [cap, name] : {std::pair{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
                           std::pair{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"}}) {
    if (kvm.CheckExtension(cap) <= 0) {
      return FailedPreconditionError(
          fmt::format("confide monitor needs {} with {}: not supported", path, name));
    }
  }
  // SAFETY: KVM_GET_VCPU_MMAP_SIZE takes no argument and returns a size.
  int size = ::ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size < static_cast<int>(sizeof(kvm_run))) {
    return InternalError(
        fmt::format("KVM_GET_VCPU_MMAP_SIZE: {}", size < 0 ? Errno() : "too small"));
  }
  kvm.vcpu_mmap_size_ = static_cast<size_t>(size);
  return kvm;
}

Kvm::Kvm(Kvm&& other) noexcept : fd_(other.fd_), vcpu_mmap_size_(other.vcpu_mmap_size_) {
  other.fd_ = -1;
}

Kvm::~Kvm() {
  if (fd_ >= 0) ::close(fd_);
}

int Kvm::CheckExtension(int capability) const {
  // SAFETY: KVM_CHECK_EXTENSION takes the capability number by value.
  int r = ::ioctl(fd_, KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

StatusOr<std::vector<kvm_cpuid_entry2>> Kvm::SupportedCpuid() const {
  for (uint32_t n = 64; n <= 4096; n *= 2) {
    std::vector<uint8_t> buf(sizeof(FlexHeader) + n * sizeof(kvm_cpuid_entry2), 0);
    FlexHeader header{n, 0};
    std::memcpy(buf.data(), &header, sizeof(header));
    // SAFETY: buf holds the C layout of kvm_cpuid2 with room for n entries;
    // the kernel writes at most n entries and updates the count.
    if (::ioctl(fd_, kGetSupportedCpuid, buf.data()) == 0) {
      std::memcpy(&header, buf.data(), sizeof(header));
      std::vector<kvm_cpuid_entry2> entries(std::min(header.count, n));
      std::memcpy(entries.data(), buf.data() + sizeof(FlexHeader),
                  entries.size() * sizeof(kvm_cpuid_entry2));
      return entries;
    }
    if (errno != E2BIG) return InternalError("KVM_GET_SUPPORTED_CPUID: " + Errno());
  }
  return InternalError("KVM_GET_SUPPORTED_CPUID: too many entries");
}

// ---- Vm ---------------------------------------------------------------------------

StatusOr<std::unique_ptr<Vm>> Vm::Create(const Kvm& kvm) {
  // SAFETY: KVM_CREATE_VM takes the machine type (0: default) by value.
  int fd = ::ioctl(kvm.fd(), KVM_CREATE_VM, 0);
  if (fd < 0) return ResourceExhaustedError("KVM_CREATE_VM: " + Errno());
  int slots = kvm.CheckExtension(KVM_CAP_NR_MEMSLOTS);
  auto vm = std::unique_ptr<Vm>(
      new Vm(fd, kvm.vcpu_mmap_size(), static_cast<uint32_t>(slots > 0 ? slots : 32)));
  // Intel VMX needs three pages of guest-physical space for its real-mode
  // TSS and an identity-map page; confide never runs real mode, but the
  // addresses must not collide with a slot (guest_layout.h). Harmless on AMD.
  if (kvm.CheckExtension(KVM_CAP_SET_TSS_ADDR) > 0) {
    // SAFETY: KVM_SET_TSS_ADDR takes the guest-physical address by value.
    if (::ioctl(fd, KVM_SET_TSS_ADDR, static_cast<unsigned long>(0xfffbd000)) != 0) {
      return InternalError("KVM_SET_TSS_ADDR: " + Errno());
    }
  }
  if (kvm.CheckExtension(KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
    uint64_t addr = 0xfffbc000;
    // SAFETY: KVM_SET_IDENTITY_MAP_ADDR reads one u64 from &addr.
    if (::ioctl(fd, KVM_SET_IDENTITY_MAP_ADDR, &addr) != 0) {
      return InternalError("KVM_SET_IDENTITY_MAP_ADDR: " + Errno());
    }
  }
  return vm;
}

Vm::~Vm() {
  for (SlotId i = 0; i < slots_.size(); ++i) {
    if (slots_[i].used) (void)Unmap(i);
  }
  ::close(fd_);
}

StatusOr<Vm::SlotId> Vm::AddSlot(uint64_t gpa, uint64_t size, uint8_t* host, bool owned,
                                 bool read_only) {
  SlotId id = 0;
  while (id < slots_.size() && slots_[id].used) ++id;
  if (id >= max_slots_) return ResourceExhaustedError("out of KVM memory slots");
  kvm_userspace_memory_region region = {};
  region.slot = id;
  region.flags = read_only ? KVM_MEM_READONLY : 0;
  region.guest_phys_addr = gpa;
  region.memory_size = size;
  // SAFETY: converting the host pointer to the integer KVM expects.
  region.userspace_addr = reinterpret_cast<uint64_t>(host);
  // SAFETY: KVM reads the region struct; `host` stays mapped for the slot's
  // lifetime (owned here, or guaranteed by MapHost's caller).
  if (::ioctl(fd_, KVM_SET_USER_MEMORY_REGION, &region) != 0) {
    return InvalidArgumentError(
        fmt::format("KVM_SET_USER_MEMORY_REGION at {:#x} (+{:#x}): {}", gpa, size, Errno()));
  }
  if (id >= slots_.size()) slots_.resize(id + 1);
  slots_[id] = Slot{.used = true,
                    .gpa = gpa,
                    .size = size,
                    .host = host,
                    .owned_mapping = owned,
                    .read_only = read_only};
  return id;
}

static Status CheckRange(const std::vector<uint64_t>& starts, const std::vector<uint64_t>& ends,
                         uint64_t gpa, uint64_t size) {
  if (size == 0 || gpa % 4096 != 0 || size % 4096 != 0 || gpa + size < gpa) {
    return InvalidArgumentError(
        fmt::format("memory slot at {:#x} (+{:#x}) not page aligned", gpa, size));
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    if (gpa < ends[i] && starts[i] < gpa + size) {
      return InvalidArgumentError(fmt::format("memory slot at {:#x} overlaps another", gpa));
    }
  }
  return OkStatus();
}

StatusOr<Vm::SlotId> Vm::MapFd(uint64_t gpa, uint64_t size, int fd, uint64_t offset,
                               bool read_only) {
  std::vector<uint64_t> starts, ends;
  for (const Slot& s : slots_) {
    if (s.used) starts.push_back(s.gpa), ends.push_back(s.gpa + s.size);
  }
  CONFIDE_RETURN_IF_ERROR(CheckRange(starts, ends, gpa, size));
  if (offset % 4096 != 0) return InvalidArgumentError("fd offset not page aligned");
  int prot = PROT_READ | (read_only ? 0 : PROT_WRITE);
  // SAFETY: a fresh shared mapping of the caller's fd, owned by the slot and
  // unmapped in Unmap; the kernel holds its own reference to the file.
  void* p = ::mmap(nullptr, size, prot, MAP_SHARED | MAP_NORESERVE, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return ResourceExhaustedError("mmap of guest memory: " + Errno());
  auto slot = AddSlot(gpa, size, static_cast<uint8_t*>(p), true, read_only);
  // SAFETY: undoing the mapping just made, same address and length.
  if (!slot.ok()) ::munmap(p, size);
  return slot;
}

StatusOr<Vm::SlotId> Vm::MapHost(uint64_t gpa, MutableByteSpan memory, bool read_only) {
  std::vector<uint64_t> starts, ends;
  for (const Slot& s : slots_) {
    if (s.used) starts.push_back(s.gpa), ends.push_back(s.gpa + s.size);
  }
  CONFIDE_RETURN_IF_ERROR(CheckRange(starts, ends, gpa, memory.size()));
  // SAFETY: inspecting the pointer's alignment only.
  if (reinterpret_cast<uintptr_t>(memory.data()) % 4096 != 0) {
    return InvalidArgumentError("host memory not page aligned");
  }
  return AddSlot(gpa, memory.size(), memory.data(), false, read_only);
}

Status Vm::Unmap(SlotId id) {
  if (id >= slots_.size() || !slots_[id].used) return NotFoundError("no such memory slot");
  Slot& s = slots_[id];
  kvm_userspace_memory_region region = {};
  region.slot = id;
  region.guest_phys_addr = s.gpa;
  region.memory_size = 0;  // deletes the slot
  // SAFETY: KVM reads the region struct; size 0 removes the slot.
  if (::ioctl(fd_, KVM_SET_USER_MEMORY_REGION, &region) != 0) {
    return InternalError("deleting a memory slot: " + Errno());
  }
  // SAFETY: the mapping MapFd made, same address and length; no slot uses it.
  if (s.owned_mapping) ::munmap(s.host, s.size);
  s = Slot{};
  return OkStatus();
}

Status Vm::Reregister(SlotId id) {
  if (id >= slots_.size() || !slots_[id].used) return NotFoundError("no such memory slot");
  const Slot& s = slots_[id];
  kvm_userspace_memory_region region = {};
  region.slot = id;
  region.guest_phys_addr = s.gpa;
  // SAFETY: KVM reads the region struct; size 0 removes the slot, and the
  // second call registers the same, still mapped, host memory again.
  if (::ioctl(fd_, KVM_SET_USER_MEMORY_REGION, &region) != 0) {
    return InternalError("deleting a memory slot: " + Errno());
  }
  region.flags = s.read_only ? KVM_MEM_READONLY : 0;
  region.memory_size = s.size;
  region.userspace_addr = reinterpret_cast<uint64_t>(s.host);
  if (::ioctl(fd_, KVM_SET_USER_MEMORY_REGION, &region) != 0) {
    return InternalError("registering a memory slot again: " + Errno());
  }
  return OkStatus();
}

StatusOr<uint8_t*> Vm::HostAddress(uint64_t gpa, uint64_t len) const {
  for (const Slot& s : slots_) {
    if (s.used && gpa >= s.gpa && gpa - s.gpa <= s.size && len <= s.size - (gpa - s.gpa)) {
      return s.host + (gpa - s.gpa);
    }
  }
  return NotFoundError(fmt::format("guest-physical {:#x} (+{}) is in no slot", gpa, len));
}

StatusOr<std::unique_ptr<Vcpu>> Vm::CreateVcpu(uint32_t id) {
  // SAFETY: KVM_CREATE_VCPU takes the vCPU id by value and returns an fd.
  int fd = ::ioctl(fd_, KVM_CREATE_VCPU, static_cast<unsigned long>(id));
  if (fd < 0) return ResourceExhaustedError("KVM_CREATE_VCPU: " + Errno());
  // SAFETY: the vCPU fd's kvm_run area, of the size KVM reported; owned by
  // the Vcpu and unmapped in its destructor.
  void* p = ::mmap(nullptr, vcpu_mmap_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    ::close(fd);
    return ResourceExhaustedError("mmap of kvm_run: " + Errno());
  }
  // SAFETY: the mapping starts with a struct kvm_run (KVM API doc, 4.2).
  auto* run = static_cast<kvm_run*>(p);
  return std::unique_ptr<Vcpu>(new Vcpu(id, fd, run, vcpu_mmap_size_));
}

// ---- Vcpu -------------------------------------------------------------------------

Vcpu::~Vcpu() {
  // SAFETY: the kvm_run mapping made in CreateVcpu, same length.
  ::munmap(run_, run_size_);
  ::close(fd_);
}

Status Vcpu::GetRegs(kvm_regs& regs) const {
  // SAFETY: KVM writes one kvm_regs.
  if (::ioctl(fd_, KVM_GET_REGS, &regs) != 0) return InternalError("KVM_GET_REGS: " + Errno());
  return OkStatus();
}

Status Vcpu::SetRegs(const kvm_regs& regs) {
  // SAFETY: KVM reads one kvm_regs.
  if (::ioctl(fd_, KVM_SET_REGS, &regs) != 0) return InternalError("KVM_SET_REGS: " + Errno());
  return OkStatus();
}

Status Vcpu::GetSregs(kvm_sregs& sregs) const {
  // SAFETY: KVM writes one kvm_sregs.
  if (::ioctl(fd_, KVM_GET_SREGS, &sregs) != 0) return InternalError("KVM_GET_SREGS: " + Errno());
  return OkStatus();
}

Status Vcpu::SetSregs(const kvm_sregs& sregs) {
  // SAFETY: KVM reads one kvm_sregs.
  if (::ioctl(fd_, KVM_SET_SREGS, &sregs) != 0) {
    return InvalidArgumentError("KVM_SET_SREGS: " + Errno());
  }
  return OkStatus();
}

Status Vcpu::SetMsrs(const std::vector<std::pair<uint32_t, uint64_t>>& msrs) {
  std::vector<uint8_t> buf(sizeof(FlexHeader) + msrs.size() * sizeof(kvm_msr_entry), 0);
  FlexHeader header{static_cast<uint32_t>(msrs.size()), 0};
  std::memcpy(buf.data(), &header, sizeof(header));
  for (size_t i = 0; i < msrs.size(); ++i) {
    kvm_msr_entry e = {};
    e.index = msrs[i].first;
    e.data = msrs[i].second;
    std::memcpy(buf.data() + sizeof(FlexHeader) + i * sizeof(e), &e, sizeof(e));
  }
  // SAFETY: buf holds the C layout of kvm_msrs with `count` entries; KVM
  // reads them and returns how many it set.
  int n = ::ioctl(fd_, kSetMsrs, buf.data());
  if (n != static_cast<int>(msrs.size())) {
    return InternalError(fmt::format("KVM_SET_MSRS set {} of {} MSRs{}", n, msrs.size(),
                                     n < 0 ? ": " + Errno() : ""));
  }
  return OkStatus();
}

StatusOr<uint64_t> Vcpu::GetMsr(uint32_t index) const {
  std::vector<uint8_t> buf(sizeof(FlexHeader) + sizeof(kvm_msr_entry), 0);
  FlexHeader header{1, 0};
  std::memcpy(buf.data(), &header, sizeof(header));
  kvm_msr_entry e = {};
  e.index = index;
  std::memcpy(buf.data() + sizeof(FlexHeader), &e, sizeof(e));
  // SAFETY: buf holds the C layout of kvm_msrs with one entry, which KVM fills.
  if (::ioctl(fd_, kGetMsrs, buf.data()) != 1) {
    return InternalError(fmt::format("KVM_GET_MSRS {:#x}: {}", index, Errno()));
  }
  std::memcpy(&e, buf.data() + sizeof(FlexHeader), sizeof(e));
  return e.data;
}

Status Vcpu::SetCpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  std::vector<uint8_t> buf(sizeof(FlexHeader) + entries.size() * sizeof(kvm_cpuid_entry2), 0);
  FlexHeader header{static_cast<uint32_t>(entries.size()), 0};
  std::memcpy(buf.data(), &header, sizeof(header));
  std::memcpy(buf.data() + sizeof(FlexHeader), entries.data(),
              entries.size() * sizeof(kvm_cpuid_entry2));
  // SAFETY: buf holds the C layout of kvm_cpuid2 with `count` entries; KVM reads them.
  if (::ioctl(fd_, kSetCpuid2, buf.data()) != 0) return InternalError("KVM_SET_CPUID2: " + Errno());
  return OkStatus();
}

ByteSpan Vcpu::IoData() const {
  if (run_->exit_reason != KVM_EXIT_IO) return {};
  size_t len = size_t{run_->io.size} * run_->io.count;
  if (run_->io.data_offset + len > run_size_) return {};
  // SAFETY: data_offset is an offset into the kvm_run mapping (checked
  // against its size above) where KVM placed the port I/O bytes.
  return {reinterpret_cast<const uint8_t*>(run_) + run_->io.data_offset, len};
}

StatusOr<RunOutcome> Vcpu::Run(std::optional<Deadline> deadline) {
  timer_t timer{};
  bool armed = false;
  if (deadline) {
    CONFIDE_RETURN_IF_ERROR(InstallKickHandler());
    auto left = deadline->at - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) return RunOutcome::kTimedOut;
    tls_generation = tls_generation + 1;
    tls_kicked = 0;
    tls_run = run_;
    sigevent sev = {};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = KickSignal();
    sev.sigev_value.sival_int = tls_generation;
    sev._sigev_un._tid = ::gettid();
    if (::timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) {
      tls_run = nullptr;
      return InternalError("timer_create: " + Errno());
    }
    armed = true;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    itimerspec spec = {};
    spec.it_value.tv_sec = ns / 1'000'000'000;
    spec.it_value.tv_nsec = ns % 1'000'000'000;
    (void)::timer_settime(timer, 0, &spec, nullptr);
  }
  StatusOr<RunOutcome> result = RunOutcome::kExited;
  for (;;) {
    // SAFETY: KVM_RUN takes no argument; results land in the kvm_run mapping.
    if (::ioctl(fd_, KVM_RUN, 0) == 0) break;
    if (errno == EINTR || errno == EAGAIN) {
      if (deadline && (tls_kicked || std::chrono::steady_clock::now() >= deadline->at)) {
        result = RunOutcome::kTimedOut;
        break;
      }
      continue;  // a foreign signal: keep running
    }
    result = InternalError("KVM_RUN: " + Errno());
    break;
  }
  if (armed) {
    ::timer_delete(timer);
    tls_run = nullptr;
    tls_generation = tls_generation + 1;  // a late signal of this timer is now stale
    run_->immediate_exit = 0;
  }
  return result;
}

}  // namespace confide::monitor
