// asm.h — a tiny x86-64 assembler for guest programs in the monitor's tests.
//
// Thread-safety: none (a value type).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "monitor/exit.h"

namespace confide::monitor::testing {

// A tiny x86-64 assembler: each method emits one instruction.
class Asm {
 public:
  Asm& MovEdiImm(uint32_t v) { return Op({0xbf}).Imm32(v); }        // mov edi, imm32
  Asm& ImulEdiEdiImm8(uint8_t v) { return Op({0x6b, 0xff, v}); }    // imul edi, edi, imm8
  Asm& MovEaxImm(uint32_t v) { return Op({0xb8}).Imm32(v); }        // mov eax, imm32
  Asm& MovRbxImm(uint64_t v) { return Op({0x48, 0xbb}).Imm64(v); }  // mov rbx, imm64
  Asm& MovRaxImm(uint64_t v) { return Op({0x48, 0xb8}).Imm64(v); }  // mov rax, imm64
  Asm& MovRcxImm(uint64_t v) { return Op({0x48, 0xb9}).Imm64(v); }  // mov rcx, imm64
  Asm& MovEdiEax() { return Op({0x89, 0xc7}); }                     // mov edi, eax
  Asm& MovRdiRax() { return Op({0x48, 0x89, 0xc7}); }               // mov rdi, rax
  Asm& MovRaxRdi() { return Op({0x48, 0x89, 0xf8}); }               // mov rax, rdi
  Asm& LoadRaxFromRbx() { return Op({0x48, 0x8b, 0x03}); }          // mov rax, [rbx]
  Asm& LoadRdiFromRbx() { return Op({0x48, 0x8b, 0x3b}); }          // mov rdi, [rbx]
  Asm& StoreRaxToRbx() { return Op({0x48, 0x89, 0x03}); }           // mov [rbx], rax
  Asm& JmpRbx() { return Op({0xff, 0xe3}); }                        // jmp rbx
  Asm& Syscall() { return Op({0x0f, 0x05}); }                       // syscall
  Asm& Hlt() { return Op({0xf4}); }                                 // hlt
  Asm& Cli() { return Op({0xfa}); }                                 // cli
  Asm& MovRaxCr0() { return Op({0x0f, 0x20, 0xc0}); }               // mov rax, cr0
  Asm& InAl60() { return Op({0xe4, 0x60}); }                        // in al, 0x60
  Asm& Ud2() { return Op({0x0f, 0x0b}); }                           // ud2
  Asm& JmpSelf() { return Op({0xeb, 0xfe}); }                       // jmp $
  Asm& MovEsiImm(uint32_t v) { return Op({0xbe}).Imm32(v); }        // mov esi, imm32
  Asm& MovEdxImm(uint32_t v) { return Op({0xba}).Imm32(v); }        // mov edx, imm32
  Asm& MovRdiImm(uint64_t v) { return Op({0x48, 0xbf}).Imm64(v); }  // mov rdi, imm64
  Asm& MovRspImm(uint64_t v) { return Op({0x48, 0xbc}).Imm64(v); }  // mov rsp, imm64
  Asm& MovRaxRbx() { return Op({0x48, 0x89, 0xd8}); }               // mov rax, rbx
  Asm& MovRdiRbx() { return Op({0x48, 0x89, 0xdf}); }               // mov rdi, rbx
  Asm& AddRaxRdi() { return Op({0x48, 0x01, 0xf8}); }               // add rax, rdi
  // FS.base at CPL3 (CR4.FSGSBASE): wrfsbase rbx, rdfsbase rdi.
  Asm& WrfsbaseRbx() { return Op({0xf3, 0x48, 0x0f, 0xae, 0xd3}); }
  Asm& RdfsbaseRdi() { return Op({0xf3, 0x48, 0x0f, 0xae, 0xc7}); }
  // mov rdi, fs:[0] (SIB without base or index: an absolute disp32)
  Asm& LoadRdiFromFs0() { return Op({0x64, 0x48, 0x8b, 0x3c, 0x25, 0, 0, 0, 0}); }
  // int3 up to byte `offset` (a second entry point or handler goes there).
  Asm& PadTo(size_t offset) {
    while (bytes_.size() < offset) bytes_.push_back(0xcc);
    return *this;
  }
  Asm& Enclu() { return Op({0x0f, 0x01, 0xd7}); }           // enclu
  Asm& Ret(uint16_t pop) { return Op({0xc2}).Imm16(pop); }  // ret imm16
  // EEXIT with status in rdi
  Asm& Eexit() { return MovEaxImm(4).Enclu(); }
  // exit(status in edi)
  Asm& Exit() { return MovEaxImm(kSysExit).Syscall(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  Asm& Op(std::initializer_list<uint8_t> b) {
    bytes_.insert(bytes_.end(), b);
    return *this;
  }
  Asm& Imm16(uint16_t v) {
    for (int i = 0; i < 2; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Asm& Imm32(uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Asm& Imm64(uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  std::vector<uint8_t> bytes_;
};

}  // namespace confide::monitor::testing
