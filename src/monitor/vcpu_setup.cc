#include "monitor/vcpu_setup.h"

#include <cpuid.h>

#include <cstring>

#include "monitor/guest_layout.h"
#include "monitor/trap_stubs.h"

namespace confide::monitor {
namespace {

constexpr unsigned kCpuid7EbxFsgsbase = 1u << 0;

kvm_segment UserSegment(uint16_t selector, bool code) {
  kvm_segment s = {};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = code ? 0xb : 0x3;  // execute/read accessed : read/write accessed
  s.present = 1;
  s.dpl = 3;
  s.db = code ? 0 : 1;  // L=1 requires D=0 for code
  s.s = 1;
  s.l = code ? 1 : 0;
  s.g = 1;
  return s;
}

}  // namespace

Status WriteSystemRegion(MutableByteSpan system) {
  if (system.size() != kSystemPages * kGuestPageSize) {
    return InvalidArgumentError("system region must be kSystemPages pages");
  }
  std::memset(system.data(), 0, system.size());
  auto put = [&](uint64_t offset, const PageBytes& page) {
    std::memcpy(system.data() + offset, page.data(), page.size());
  };
  put(kGdtOffset, GdtPage(kSystemLinear + kTssOffset));
  put(kIdtOffset, IdtPage(kSystemLinear + kStubOffset));
  put(kTssOffset, TssPage(kKernelStackTop));
  put(kStubOffset, TrapStubPage());
  return OkStatus();
}

StatusOr<Subtree> BuildMonitorSubtree(FrameArena& arena) {
  CONFIDE_ASSIGN_OR_RETURN(
      Subtree tree,
      Subtree::Create(arena, kMonitorLinearBase, TableLevel::kPdpt, SubtreeAccess::kSupervisor));
  const PageFlags data{.writable = true, .user = false, .executable = false};
  const PageFlags code{.writable = false, .user = false, .executable = true};
  auto map = [&](uint64_t offset, PageFlags flags) {
    return tree.Map(kSystemLinear + offset, kSystemGpa + offset, flags);
  };
  CONFIDE_RETURN_IF_ERROR(map(kGdtOffset, data));
  CONFIDE_RETURN_IF_ERROR(map(kIdtOffset, data));
  CONFIDE_RETURN_IF_ERROR(map(kTssOffset, data));
  CONFIDE_RETURN_IF_ERROR(map(kStubOffset, code));
  for (uint64_t off = kKernelStackOffset; off < kKernelStackOffset + kKernelStackSize;
       off += kGuestPageSize) {
    CONFIDE_RETURN_IF_ERROR(map(off, data));
  }
  return tree;
}

bool CpuHasFsgsbase() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) != 0 && (ebx & kCpuid7EbxFsgsbase) != 0;
}

StatusOr<std::vector<kvm_cpuid_entry2>> GuestCpuid(const Kvm& kvm) {
  CONFIDE_ASSIGN_OR_RETURN(auto cpuid, kvm.SupportedCpuid());
  const bool fsgsbase = CpuHasFsgsbase();
  for (kvm_cpuid_entry2& e : cpuid) {
    if (e.function == 7 && e.index == 0) {
      if (fsgsbase) e.ebx |= kCpuid7EbxFsgsbase;
      return cpuid;
    }
  }
  return UnavailableError("KVM offers no CPUID leaf 7 (structured extended features)");
}

Status ConfigureVcpu(const Kvm& kvm, Vcpu& vcpu) {
  CONFIDE_ASSIGN_OR_RETURN(auto cpuid, GuestCpuid(kvm));
  CONFIDE_RETURN_IF_ERROR(vcpu.SetCpuid(cpuid));
  // STAR[47:32]: syscall CS (SS = +8); STAR[63:48]: sysret base (SS = +8, CS = +16).
  uint64_t star = (uint64_t{kSysretBase} << 48) | (uint64_t{kKernelCs} << 32);
  return vcpu.SetMsrs({{kMsrStar, star},
                       {kMsrLstar, kSystemLinear + kStubOffset + kSyscallStubOffset},
                       {kMsrSfmask, kSfmask}});
}

kvm_sregs UserModeSregs(const kvm_sregs& current, uint64_t cr3, bool fsgsbase) {
  kvm_sregs s = current;
  s.cr0 = kCr0;
  s.cr3 = cr3;
  s.cr4 = kCr4 | (fsgsbase ? kCr4Fsgsbase : 0);
  s.efer = kEfer;
  s.cs = UserSegment(kUserCs, /*code=*/true);
  s.ss = s.ds = s.es = s.fs = s.gs = UserSegment(kUserDs, /*code=*/false);
  s.fs.base = current.fs.base;  // FS/GS bases are the enclave's (TCS.OFSBASE/OGSBASE)
  s.gs.base = current.gs.base;
  s.tr = {};
  s.tr.base = kSystemLinear + kTssOffset;
  s.tr.limit = kTssLimit;
  s.tr.selector = kTssSelector;
  s.tr.type = 0xb;  // busy 64-bit TSS
  s.tr.present = 1;
  s.ldt = {};
  s.ldt.unusable = 1;
  s.gdt.base = kSystemLinear + kGdtOffset;
  s.gdt.limit = GdtLimit();
  s.idt.base = kSystemLinear + kIdtOffset;
  s.idt.limit = 16 * 256 - 1;
  s.cr2 = 0;
  return s;
}

Status EnterUser(Vcpu& vcpu, uint64_t cr3, uint64_t rip, uint64_t rsp, bool fsgsbase) {
  kvm_sregs sregs;
  CONFIDE_RETURN_IF_ERROR(vcpu.GetSregs(sregs));
  CONFIDE_RETURN_IF_ERROR(vcpu.SetSregs(UserModeSregs(sregs, cr3, fsgsbase)));
  kvm_regs regs = {};
  regs.rip = rip;
  regs.rsp = rsp;
  regs.rflags = 0x2;
  return vcpu.SetRegs(regs);
}

}  // namespace confide::monitor
