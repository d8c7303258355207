// vcpu_setup.h — puts a confide vCPU into 64-bit long mode and starts it at
// CPL3 on enclave code, with the monitor's GDT, IDT, TSS and trap stubs
// (trap_stubs.h) behind it.
//
//   CPL3 enclave code --syscall------> LSTAR stub --out 0xf0--> host (KVM_EXIT_IO)
//                     --exception v--> IDT[v] stub --out 0xf1--> host (frame on RSP0 stack)
//                     <--sysretq / iretq-- when the host resumes
//
// State set (SDM Vol. 3A §9.8.5 "Initializing IA-32e Mode"):
//   CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE|OSFXSR|OSXMMEXCPT,
//   EFER = SCE|LME|LMA|NXE, CR3 = the address space's PML4,
//   CS = 0x33 (DPL3, L=1), SS/DS/ES/FS/GS = 0x2b (DPL3), TR = 0x38,
//   GDTR/IDTR at the system region's linear addresses, RFLAGS = 0x2 (IF=0:
//   no interrupts are ever injected), STAR/LSTAR/SFMASK for syscall.
//
// TLB: page-table edits that add rights (not-present -> present) need no
// flush: x86 does not cache not-present entries. Edits that remove rights
// (Unmap, Unlink, EMODPR) must be followed by a guest TLB flush before the
// guest runs again; NOT HANDLED YET (the plan: resume through a CPL0 stub
// that reloads CR3 before iretq/sysretq). Today every test that removes
// rights starts a fresh VM or address space.
//
// Thread-safety: functions of a Vcpu, which its one driving thread calls.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

#include "base/bytes.h"
#include "base/status.h"
#include "monitor/kvm.h"
#include "monitor/page_tables.h"

namespace confide::monitor {

inline constexpr uint64_t kCr0 =
    (1ull << 0) | (1ull << 1) | (1ull << 4) | (1ull << 5) | (1ull << 16) | (1ull << 31);
inline constexpr uint64_t kCr4 = (1ull << 5) | (1ull << 9) | (1ull << 10);
inline constexpr uint64_t kEfer = (1ull << 0) | (1ull << 8) | (1ull << 10) | (1ull << 11);
// RFLAGS bits syscall clears: TF, IF, DF, IOPL, NT, AC (as Linux does).
inline constexpr uint64_t kSfmask = 0x47700;

// Writes GDT, IDT, TSS and trap stubs into `system`, the monitor-private
// region of kSystemPages pages that the VM sees at kSystemGpa.
// InvalidArgumentError if `system` is not exactly that size.
Status WriteSystemRegion(MutableByteSpan system);

// The PDPT subtree that maps the system region at kSystemLinear
// (PML4[511]), supervisor-only: GDT/IDT/TSS/stack RW+NX, stubs R+X, the
// unused pages (a guard below the stack) absent. Identical for every VM, so
// one subtree per arena serves all address spaces (AddressSpace::Link).
StatusOr<Subtree> BuildMonitorSubtree(FrameArena& arena);

// Once per vCPU, before its first run: the CPUID KVM supports (long mode,
// NX and SYSCALL must be visible to the guest for KVM to accept EFER) and
// the syscall MSRs.
Status ConfigureVcpu(const Kvm& kvm, Vcpu& vcpu);

// The special registers for CPL3 long mode under page tables `cr3`; other
// fields (APIC base, interrupt bitmap, FS/GS bases) are kept from `current`.
kvm_sregs UserModeSregs(const kvm_sregs& current, uint64_t cr3);

// Starts (or restarts) the vCPU at CPL3: sregs as above, rip/rsp as given,
// general registers zero. Any paused stub state is discarded.
Status EnterUser(Vcpu& vcpu, uint64_t cr3, uint64_t rip, uint64_t rsp);

}  // namespace confide::monitor
