#include "monitor/trap_stubs.h"

#include <cstring>

#include "monitor/guest_layout.h"

namespace confide::monitor {
namespace {

void Put64(PageBytes& page, size_t at, uint64_t v) { std::memcpy(page.data() + at, &v, 8); }

void Emit(PageBytes& page, size_t& at, std::initializer_list<uint8_t> bytes) {
  for (uint8_t b : bytes) page[at++] = b;
}

void EmitRel32(PageBytes& page, size_t& at, uint64_t target) {
  int32_t rel = static_cast<int32_t>(static_cast<int64_t>(target) - static_cast<int64_t>(at + 4));
  std::memcpy(page.data() + at, &rel, 4);
  at += 4;
}

// A code/data segment descriptor (SDM Vol. 3A §3.4.5): base 0, limit
// 0xfffff with G=1; `access` is P|DPL|S|type, `flags` is G|D/B|L (high nibble).
uint64_t Segment(uint8_t access, uint8_t flags) {
  return 0xffffull | (uint64_t{access} << 40) | (0xfull << 48) | (uint64_t{flags} << 52);
}

}  // namespace

bool PushesErrorCode(int v) {
  return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

PageBytes TrapStubPage() {
  PageBytes page;
  page.fill(0xf4);  // hlt: stray CPL0 execution stops the vCPU (KVM_EXIT_HLT)

  // syscall entry (LSTAR). CPL0, user RSP still loaded, rcx = user rip,
  // r11 = user rflags. Touches no register and no stack.
  size_t at = kSyscallStubOffset;
  Emit(page, at, {0xe7, static_cast<uint8_t>(kSyscallPort)});  // out 0xf0, eax  ; nr -> host
  Emit(page, at, {0x48, 0x0f, 0x07});                          // sysretq        ; host set rax

  // Common exception tail. Stack on entry: vector, error, rip, cs, rflags, rsp, ss.
  at = kCommonStubOffset;
  Emit(page, at, {0x50});                                        // push rax
  Emit(page, at, {0x8b, 0x44, 0x24, 0x08});                      // mov eax, [rsp+8] ; vector
  Emit(page, at, {0xe7, static_cast<uint8_t>(kExceptionPort)});  // out 0xf1, eax
  Emit(page, at, {0x58});                                        // pop rax
  Emit(page, at, {0x48, 0x83, 0xc4, 0x10});                      // add rsp, 16 ; vector, error
  Emit(page, at, {0x48, 0xcf});                                  // iretq      ; retry

  for (int v = 0; v < kExceptionVectors; ++v) {
    at = kVectorStubOffset + kVectorStubSize * v;
    if (!PushesErrorCode(v)) Emit(page, at, {0x6a, 0x00});  // push 0     ; dummy error code
    Emit(page, at, {0x6a, static_cast<uint8_t>(v)});        // push v     ; vector (imm8, v < 128)
    Emit(page, at, {0xe9});                                 // jmp common ; rel32
    EmitRel32(page, at, kCommonStubOffset);
  }
  return page;
}

uint16_t GdtLimit() { return kGdtEntries * 8 - 1; }

PageBytes GdtPage(uint64_t tss_base) {
  PageBytes page{};
  // access: P(0x80) | DPL<<5 | S(0x10) | type; type 0xb = code exec/read
  // accessed, 0x3 = data read/write accessed. flags: G(0x8) | D/B(0x4) | L(0x2).
  // 0x00, 0x08 and 0x20 stay null.
  Put64(page, kKernelCs, Segment(0x9b, 0xa));     // kernel code: DPL0, L=1
  Put64(page, kKernelDs, Segment(0x93, 0xc));     // kernel data: DPL0
  Put64(page, kUserDs & ~3, Segment(0xf3, 0xc));  // user data: DPL3 (sysret SS = STAR[63:48]+8)
  Put64(page, kUserCs & ~3, Segment(0xfb, 0xa));  // user code: DPL3, L=1 (sysret CS = +16)
  // 64-bit TSS descriptor, 16 bytes (SDM Vol. 3A §8.2.3): type 0xb (busy;
  // KVM loads TR directly and VMX requires a busy TSS), P=1, DPL0.
  uint64_t low = uint64_t{kTssLimit} | ((tss_base & 0xffffff) << 16) | (0x8bull << 40) |
                 (((tss_base >> 24) & 0xff) << 56);
  Put64(page, kTssSelector, low);
  Put64(page, kTssSelector + 8, tss_base >> 32);
  return page;
}

PageBytes IdtPage(uint64_t stub_base) {
  PageBytes page{};
  for (int v = 0; v < kExceptionVectors; ++v) {
    uint64_t target = stub_base + kVectorStubOffset + kVectorStubSize * v;
    // 64-bit interrupt gate (SDM Vol. 3A Figure 6-8): offset 15:0, selector,
    // IST 0, type 0xe with P=1 DPL=0 (0x8e), offset 31:16, offset 63:32.
    uint64_t low = (target & 0xffff) | (uint64_t{kKernelCs} << 16) | (0x8eull << 40) |
                   (((target >> 16) & 0xffff) << 48);
    Put64(page, 16 * v, low);
    Put64(page, 16 * v + 8, target >> 32);
  }
  return page;
}

PageBytes TssPage(uint64_t rsp0) {
  PageBytes page{};
  Put64(page, 4, rsp0);            // RSP0 at offset 4 (SDM Vol. 3A Figure 8-11)
  uint16_t iomap = kTssLimit + 1;  // I/O map base past the limit: no bitmap
  std::memcpy(page.data() + 102, &iomap, 2);
  return page;
}

}  // namespace confide::monitor
