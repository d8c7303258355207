// guest_layout.h — the memory map every confide micro-VM shares, and the ABI
// between the monitor (host) and its CPL0 trap stubs (guest).
//
// Guest-physical memory (identical in every VM; four KVM memory slots):
//
//   GPA 0x0000_0000 +--------------------------------------+
//                   | unmapped (guard; no slot)            |
//       0x0010_0000 +--------------------------------------+ kSystemGpa (slot 0)
//                   | +0x0000 GDT       (1 page)           |  monitor-private, per VM:
//                   | +0x1000 IDT       (1 page)           |  a memfd of kSystemPages
//                   | +0x2000 TSS       (1 page)           |  owned by the MicroVm
//                   | +0x3000 trap stubs (1 page, code)    |
//                   | +0x4000 unused    (4 pages)          |
//                   | +0x8000 kernel stack (8 pages)       |  RSP0 = top
//       0x0011_0000 +--------------------------------------+
//                   | unmapped                             |
//       0x4000_0000 +--------------------------------------+ kPageTableGpa (slot 1)
//                   | page-table frames (FrameArena),      |  monitor-private, shared
//                   | up to kMaxPageTablePages             |  by every VM of a monitor
//                   |                                      |  (plugin subtrees are shared)
//       0x6000_0000 +--------------------------------------+
//                   | unmapped                             |
//       0x8000_0000 +--------------------------------------+ kWindowGpa (slot 3)
//                   | the untrusted I/O window, up to 1 GiB|  per VM (its own memfd);
//                   | (image/enclave_abi.h)                |  linear CONFIDE_WINDOW_BASE
//       0xc000_0000 +--------------------------------------+
//                   | unmapped; KVM's own TSS/identity map |  kKvmTssGpa (Intel only)
//                   | pages at 0xfffb_c000..0xfffc_0000    |
//     0x1_0000_0000 +--------------------------------------+ kEpcGpa (slot 2)
//                   | the EPC: machine::Epc's memfd,       |  EPC page p at
//                   | page p at kEpcGpa + p * 4096         |  kEpcGpa + p * 4096
//                   +--------------------------------------+
//
// Guest-linear memory (per address space, built by page_tables.h):
//
//   0x0000_0000_0000_0000 .. 0x0000_7fff_ffff_ffff  enclave ELRANGEs, CPL3 (U=1);
//                                                   PTEs from the EPCM only
//   0x0000_7000_0000_0000 (CONFIDE_WINDOW_BASE)      the window, U=1 RW NX, one shared
//                                                   subtree; each VM backs its GPAs
//   0xffff_ff80_0000_0000 (PML4[511])               monitor: the system region
//                                                   above, supervisor-only (U=0),
//                                                   one shared PDPT subtree
//
// Page-table frames and the system region are never mapped user-accessible,
// so enclave code cannot read or write page tables, descriptors or stubs.
//
// Thread-safety: constants only.
#pragma once

#include <cstdint>

namespace confide::monitor {

inline constexpr uint64_t kGuestPageSize = 4096;

// ---- guest-physical ---------------------------------------------------------
inline constexpr uint64_t kSystemGpa = 0x0010'0000;
inline constexpr uint64_t kSystemPages = 16;
inline constexpr uint64_t kGdtOffset = 0x0000;
inline constexpr uint64_t kIdtOffset = 0x1000;
inline constexpr uint64_t kTssOffset = 0x2000;
inline constexpr uint64_t kStubOffset = 0x3000;
inline constexpr uint64_t kKernelStackOffset = 0x8000;
inline constexpr uint64_t kKernelStackSize = 0x8000;

inline constexpr uint64_t kPageTableGpa = 0x4000'0000;
inline constexpr uint64_t kMaxPageTablePages = 0x2'0000;  // 512 MiB of frames

inline constexpr uint64_t kWindowGpa = 0x8000'0000;
inline constexpr uint64_t kMaxWindowBytes = 0x4000'0000;

inline constexpr uint64_t kKvmTssGpa = 0xfffb'd000;  // KVM_SET_TSS_ADDR, 3 pages
inline constexpr uint64_t kKvmIdentityMapGpa = 0xfffb'c000;

inline constexpr uint64_t kEpcGpa = 0x1'0000'0000;
inline constexpr uint64_t EpcPageGpa(uint32_t page) { return kEpcGpa + uint64_t{page} * 4096; }

// ---- guest-linear -----------------------------------------------------------
// The system region is mapped at kSystemLinear + offset (PML4 slot 511).
inline constexpr uint64_t kMonitorLinearBase = 0xffff'ff80'0000'0000;
inline constexpr uint64_t kSystemLinear = kMonitorLinearBase;
inline constexpr uint64_t kKernelStackTop = kSystemLinear + kKernelStackOffset + kKernelStackSize;
// User code must stay below this (the lower canonical half).
inline constexpr uint64_t kUserLinearLimit = 0x0000'8000'0000'0000;

// ---- segment selectors (GDT layout) -----------------------------------------
// Linux's x86-64 layout, selector for selector: STAR needs kernel CS/SS and
// user SS/CS adjacent, and some KVM backends (PVM, the software-MMU KVM on
// hosts without VMX) require the guest's user CS/SS to equal the host's
// __USER_CS/__USER_DS (0x33/0x2b); with other values they treat user code as
// 32-bit and `syscall` breaks.
//   0x00 null | 0x08 null | 0x10 kernel code (L) | 0x18 kernel data |
//   0x20 null (Linux: user32 code; none here) | 0x28 user data |
//   0x30 user code (L) | 0x38 TSS (16 bytes)
inline constexpr uint16_t kKernelCs = 0x10;
inline constexpr uint16_t kKernelDs = 0x18;
inline constexpr uint16_t kSysretBase = 0x20;  // STAR[63:48]: SS = +8, CS = +16
inline constexpr uint16_t kUserDs = 0x28 | 3;
inline constexpr uint16_t kUserCs = 0x30 | 3;
inline constexpr uint16_t kTssSelector = 0x38;
inline constexpr int kGdtEntries = 9;

// ---- stub ABI -----------------------------------------------------------------
// `syscall` from CPL3 enters the stub at kStubOffset + kSyscallStubOffset,
// which executes `out kSyscallPort, eax` (the host sees KVM_EXIT_IO with the
// syscall number as data; arguments stay in rdi, rsi, rdx, r10, r8, r9 and
// the user rip/rflags in rcx/r11) and then `sysretq`: the host sets rax to
// the result and resumes.
//
// Every exception vector v (0..31) enters a stub that pushes a zero error
// code when the CPU pushes none, pushes v, and jumps to a common tail that
// pushes rax, executes `out kExceptionPort, eax` with eax = v, then pops rax,
// drops vector and error code and `iretq`s (so the host may fix the cause,
// e.g. map a page, and resume). At the exit, the kernel stack holds:
//
//   rsp+0  saved user rax    rsp+8  vector     rsp+16 error code
//   rsp+24 rip               rsp+32 cs         rsp+40 rflags
//   rsp+48 rsp               rsp+56 ss
//
// and CR2 (sregs) holds the faulting address of a #PF.
//
// Some KVM backends do not switch to CPL0 on `syscall` from a guest that is
// not paravirtualized for them: PVM (kvm_pvm, "Pagetable-based Virtual
// Machine", which provides /dev/kvm on hosts without VMX, as on confide's
// development machines) jumps to LSTAR but stays at CPL3. The stub page is
// supervisor-only, so that shows up as a CPL3 instruction-fetch #PF at
// exactly kSyscallEntryLinear, with the user's rcx (return rip), rdi..r9
// and, in the stub frame's saved-rax slot, the syscall number. The monitor
// decodes that as a syscall too (SyscallExit::trapped) and completes it by
// emulating sysretq from the host (MicroVm::SetSyscallResult). Enclave code
// gains nothing by faking it: it can always issue a real syscall.
inline constexpr uint16_t kSyscallPort = 0xf0;
inline constexpr uint16_t kExceptionPort = 0xf1;
inline constexpr uint64_t kSyscallStubOffset = 0x000;  // within the stub page
inline constexpr uint64_t kCommonStubOffset = 0x040;
inline constexpr uint64_t kVectorStubOffset = 0x100;  // + 16 * vector
inline constexpr uint64_t kVectorStubSize = 16;
inline constexpr int kExceptionVectors = 32;
inline constexpr uint64_t kExceptionFrameSlots = 8;
inline constexpr uint64_t kSyscallEntryLinear = kSystemLinear + kStubOffset + kSyscallStubOffset;

// MSRs (SDM Vol. 4, Table 2-2).
inline constexpr uint32_t kMsrStar = 0xc000'0081;
inline constexpr uint32_t kMsrLstar = 0xc000'0082;
inline constexpr uint32_t kMsrSfmask = 0xc000'0084;

}  // namespace confide::monitor
