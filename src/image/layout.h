// layout.h — where an enclave's pages go: its ELF's PT_LOAD segments and, for a
// host enclave, the heap and per thread a TCS, its SSA frames and a stack.
//
// Host enclave (offsets from BASEADDR; every region page aligned):
//
//   0 +--------------------------+ <- lowest PT_LOAD p_vaddr, rounded down to a page
//     | ELF PT_LOAD segments     |    PT_REG, R/W/X from p_flags, bss zero
//     +--------------------------+ heap_offset
//     | heap                     |    PT_REG RW; EEXTENDed unless measure_heap = false
//     +--------------------------+ threads[0].tcs_offset
//     | TCS                      |    PT_TCS: OENTRY = e_entry, OSSA = ssa_offset,
//     +--------------------------+    NSSA = 2, OFSBASE = 0, OGSBASE = info_offset,
//     |                          |    FS/GSLIMIT = 0xfff
//     | SSA  (NSSA frames of     |    PT_REG RW
//     |  SSAFRAMESIZE pages)     |
//     +--------------------------+ threads[0].stack_offset
//     | stack                    |    PT_REG RW; grows down from stack_top()
//     +--------------------------+ threads[0].info_offset
//     | thread info              |    PT_REG R: struct confide_thread_info; its
//     |                          |    syscall_handler_offset is the ELF's symbol
//     |                          |    confide_syscall_handler (0 without one)
//     +--------------------------+ threads[1].tcs_offset    (image/enclave_abi.h)
//     | ... one block per thread |
//     +--------------------------+ image_end
//     | (not added)              |
// SIZE+--------------------------+ SIZE = next power of two >= max(image_end, 0x2000)
//
// There are no guard pages: a stack that overflows runs into its SSA frames.
//
// Plugin enclave (PIE): only the ELF's pages, each PT_SREG with W cleared
// (shared read-only by every host that EMAPs it); no heap, TCS or stack.
//
// PIE host enclave (LayoutPieHost): the plugins' range comes first and holds
// no host page; the host EMAPs its plugin there after EINIT (the plugin was
// created at the same base, so the plugin's offsets hold in the host too):
//
//   0 +--------------------------+
//     | plugin (EMAP, shared)    |    no pages added by the host
//     +--------------------------+ plugin_size = heap_offset
//     | heap | TCS | SSA | stack |    as above; OENTRY = the plugin's entry,
//     | thread info              |    syscall_handler_offset = the plugin's handler
// SIZE+--------------------------+
//
// Every page but an unmeasured heap page is measured in full (16 EEXTENDs).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "image/manifest.h"
#include "image/sgxs.h"

namespace confide::image {

inline constexpr uint32_t kTcsNssa = 2;
// The largest ELF address span (lowest to highest PT_LOAD page) accepted.
inline constexpr uint64_t kMaxElfSpan = uint64_t{1} << 30;
// The largest plugin region of a PIE host (LayoutPieHost): the runtime,
// function and data slots of image/enclave_abi.h.
inline constexpr uint64_t kMaxPluginRegion = uint64_t{2} << 30;

struct ThreadLayout {
  uint64_t tcs_offset = 0;
  uint64_t ssa_offset = 0;    // kTcsNssa * ssa_frame_size pages
  uint64_t stack_offset = 0;  // lowest stack page
  uint64_t stack_size = 0;
  uint64_t info_offset = 0;  // the thread-info page (TCS.OGSBASE), just above the stack
  uint64_t stack_top() const { return stack_offset + stack_size; }
};

// Where things are; all offsets from BASEADDR.
struct LayoutInfo {
  uint64_t elf_base = 0;      // the ELF virtual address placed at offset 0
  uint64_t entry_offset = 0;  // e_entry - elf_base (the TCS's OENTRY)
  // confide_syscall_handler - elf_base (image/enclave_abi.h, the thread-info
  // page); 0 if the ELF has no such symbol. Set for plugins too: a PIE host
  // takes its plugin's (LayoutPieHost).
  uint64_t syscall_handler_offset = 0;
  uint64_t elf_end = 0;               // end of the last ELF page
  uint64_t heap_offset = 0;           // == elf_end; host only
  uint64_t heap_size = 0;             // 0 for a plugin
  std::vector<ThreadLayout> threads;  // empty for a plugin
  uint64_t image_end = 0;             // end of the last page added
  uint64_t size = 0;                  // SECS.SIZE
};

// The symbol the layout takes the thread-info page's syscall handler from.
inline constexpr std::string_view kSyscallHandlerSymbol = "confide_syscall_handler";

// Lays out `elf` (validated by ParseElf64; e_entry, and the symbol
// kSyscallHandlerSymbol if the ELF has one, must lie in an executable
// PT_LOAD) as `manifest` says. Pages come out in ascending offset order. If
// `info` is not null it receives where the regions are.
StatusOr<SgxsImage> LayoutFromElf(ByteSpan elf, const Manifest& manifest,
                                  LayoutInfo* info = nullptr);

// The private part of a PIE host enclave whose code lives in a plugin of
// `plugin_size` bytes (the plugin image's SIZE, or its elf_end) mapped at
// offset 0: heap, TCS, SSA and stack from offset `plugin_size` on, each TCS's
// OENTRY = `plugin_entry_offset`, each thread-info page's
// syscall_handler_offset = `plugin_syscall_handler_offset` (the plugin's
// LayoutInfo has both; 0 names none, and the runtime then registers its own
// at every entry: CONFIDE_SYS_SET_HANDLER, one VM exit). In `info`, elf_end
// = heap_offset = plugin_size.
// REQUIRES: manifest.kind == kHost; plugin_size a non-zero page multiple;
// plugin_entry_offset < plugin_size; plugin_syscall_handler_offset 0 or <
// plugin_size (else InvalidArgumentError).
StatusOr<SgxsImage> LayoutPieHost(const Manifest& manifest, uint64_t plugin_size,
                                  uint64_t plugin_entry_offset,
                                  uint64_t plugin_syscall_handler_offset,
                                  LayoutInfo* info = nullptr);

}  // namespace confide::image
