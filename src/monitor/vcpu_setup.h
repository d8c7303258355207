// vcpu_setup.h — puts a confide vCPU into 64-bit long mode and starts it at
// CPL3 on enclave code, with the monitor's GDT, IDT, TSS and trap stubs
// (trap_stubs.h) behind it.
//
//   CPL3 enclave code --syscall------> LSTAR stub --out 0xf0--> host (KVM_EXIT_IO)
//                     --exception v--> IDT[v] stub --out 0xf1--> host (frame on RSP0 stack)
//                     <--sysretq / iretq-- when the host resumes
//
// State set (SDM Vol. 3A §9.8.5 "Initializing IA-32e Mode"):
//   CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE|OSFXSR|OSXMMEXCPT (+FSGSBASE if the CPU has it),
//   EFER = SCE|LME|LMA|NXE, CR3 = the address space's PML4,
//   CS = 0x33 (DPL3, L=1), SS/DS/ES/FS/GS = 0x2b (DPL3), TR = 0x38,
//   GDTR/IDTR at the system region's linear addresses, RFLAGS = 0x2 (IF=0:
//   no interrupts are ever injected), STAR/LSTAR/SFMASK for syscall.
//
// CR4.FSGSBASE (SDM Vol. 3A §2.5; the instructions: Vol. 2 "WRFSBASE/
// WRGSBASE") lets CPL3 code set its FS and GS bases itself: the runtime sets
// musl's thread pointer with WRFSBASE instead of arch_prctl(ARCH_SET_FS),
// which is a VM exit at every entry. It is set where the CPU has FSGSBASE
// (CpuHasFsgsbase), and the monitor says so to the enclave in its window
// (CONFIDE_WINDOW_FSGSBASE, image/enclave_abi.h); elsewhere WRFSBASE would
// raise #UD, so the runtime makes the arch_prctl. Why it weakens nothing:
//   * the bases are the enclave's own address arithmetic: a base outside
//     ELRANGE reaches only what the enclave's page tables map, which the
//     enclave can address directly anyway (ELRANGE, its window);
//   * the CPL0 code behind the enclave (trap_stubs.h) never uses FS or GS
//     (no SWAPGS, no FS:/GS: operand), so no privileged code trusts them;
//   * SGX itself lets enclaves change them: the SSA's GPRSGX region holds
//     FSBASE and GSBASE, which AEX saves (SDM Vol. 3D, "Layout of GPRSGX
//     Portion of the State Save Area"), and WRFSBASE/WRGSBASE are not among
//     the instructions illegal inside an enclave (Vol. 3D, chapter "Intel SGX
//     Interactions with IA32 and Intel 64 Architecture"), so a real enclave
//     may use them whenever the OS has set CR4.FSGSBASE (as Linux does).
// EENTER still loads both bases from the TCS (EnclaveVm), and an AEX ...
// ERESUME keeps the vCPU's, as the SSA would.
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
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "monitor/kvm.h"
#include "monitor/page_tables.h"

namespace confide::monitor {

inline constexpr uint64_t kCr0 =
    (1ull << 0) | (1ull << 1) | (1ull << 4) | (1ull << 5) | (1ull << 16) | (1ull << 31);
inline constexpr uint64_t kCr4 = (1ull << 5) | (1ull << 9) | (1ull << 10);
inline constexpr uint64_t kCr4Fsgsbase = 1ull << 16;
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

// Whether this CPU has FSGSBASE (CPUID.(EAX=07H,ECX=0):EBX[0]; every Intel
// CPU since Ivy Bridge and every AMD Zen has it, but a hypervisor may hide
// it, as the AMD EPYC VMs this project also runs on do).
bool CpuHasFsgsbase();

// The CPUID a confide vCPU gets: what KVM supports (long mode, NX and
// SYSCALL must be visible to the guest for KVM to accept EFER), plus
// FSGSBASE where the CPU has it (for KVM to accept CR4.FSGSBASE). kvm_pvm,
// this project's host, leaves FSGSBASE out of its supported list, yet
// accepts the bit and runs WRFSBASE at CPL3 (tests/monitor/enclave_vm_test.cc;
// PVM runs guest code at the CPU's own CPL3, where the host kernel has
// enabled FSGSBASE), so it is offered whenever this CPU has it.
// UnavailableError if KVM offers no CPUID leaf 7 at all.
StatusOr<std::vector<kvm_cpuid_entry2>> GuestCpuid(const Kvm& kvm);

// Once per vCPU, before its first run: GuestCpuid and the syscall MSRs.
Status ConfigureVcpu(const Kvm& kvm, Vcpu& vcpu);

// The special registers for CPL3 long mode under page tables `cr3`, with
// CR4.FSGSBASE if `fsgsbase`; other fields (APIC base, interrupt bitmap,
// FS/GS bases) are kept from `current`.
kvm_sregs UserModeSregs(const kvm_sregs& current, uint64_t cr3, bool fsgsbase);

// Starts (or restarts) the vCPU at CPL3: sregs as above, rip/rsp as given,
// general registers zero. Any paused stub state is discarded.
Status EnterUser(Vcpu& vcpu, uint64_t cr3, uint64_t rip, uint64_t rsp, bool fsgsbase);

}  // namespace confide::monitor
