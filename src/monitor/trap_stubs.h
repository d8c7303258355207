// trap_stubs.h — the monitor's CPL0 code, hand-assembled, and the x86-64
// descriptor tables that route CPL3 events to it (SDM Vol. 3A §3.4.5, §6.14,
// §7.2.3, Vol. 2B SYSCALL/SYSRET). Pure: returns bytes; tests check them.
//
// The stub ABI (ports, entry offsets, the exception frame the host reads)
// is in guest_layout.h. Every stub ends in `out` to a monitor port, so the
// host sees KVM_EXIT_IO; the rest of the stub page is filled with `hlt`, so
// stray CPL0 execution stops with KVM_EXIT_HLT instead of running on.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>

namespace confide::monitor {

using PageBytes = std::array<uint8_t, 4096>;

// True for the vectors whose exception pushes an error code (SDM Vol. 3A
// Table 6-1): #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14, #AC 17, #CP 21,
// #VC 29, #SX 30.
bool PushesErrorCode(int vector);

// The stub page (mapped supervisor-only, R+X, at kSystemLinear + kStubOffset).
PageBytes TrapStubPage();

// GDT (selectors in guest_layout.h) with a 64-bit TSS descriptor for a TSS
// at linear `tss_base`. The table's limit for GDTR is GdtLimit().
PageBytes GdtPage(uint64_t tss_base);
uint16_t GdtLimit();

// 256 gates; vectors 0..31 are present 64-bit interrupt gates (DPL0, so a
// CPL3 `int n` is #GP) to the stubs of a stub page at linear `stub_base`.
PageBytes IdtPage(uint64_t stub_base);

// A 64-bit TSS with RSP0 = `rsp0` and no I/O bitmap (so CPL3 in/out is #GP).
PageBytes TssPage(uint64_t rsp0);
inline constexpr uint16_t kTssLimit = 103;

}  // namespace confide::monitor
