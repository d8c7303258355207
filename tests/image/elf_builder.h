// elf_builder.h — hand-made ELF64 files for tests, valid or deliberately
// malformed.
//
// Thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"

namespace confide::image::testing {

struct TestPhdr {
  uint32_t type = 1;   // PT_LOAD
  uint32_t flags = 5;  // R|X
  uint64_t offset = 0;
  uint64_t vaddr = 0;
  uint64_t filesz = 0;
  uint64_t memsz = 0;
};

inline constexpr size_t kTestEhdrSize = 64;
inline constexpr size_t kTestPhdrSize = 56;

// An x86-64 ET_DYN ELF of `file_size` bytes: header, program headers at 64,
// and every other byte set to (offset * 7) & 0xff so copies can be checked.
inline Bytes MakeElf(uint64_t entry, const std::vector<TestPhdr>& phdrs, size_t file_size) {
  Bytes b(file_size);
  for (size_t i = 0; i < file_size; ++i) b[i] = static_cast<uint8_t>(i * 7);
  std::fill_n(b.begin(), kTestEhdrSize + phdrs.size() * kTestPhdrSize, 0);
  b[0] = 0x7f, b[1] = 'E', b[2] = 'L', b[3] = 'F', b[4] = 2, b[5] = 1, b[6] = 1;
  uint8_t* p = b.data();
  StoreLe<uint16_t>(p + 16, 3);   // ET_DYN
  StoreLe<uint16_t>(p + 18, 62);  // EM_X86_64
  StoreLe<uint32_t>(p + 20, 1);
  StoreLe<uint64_t>(p + 24, entry);
  StoreLe<uint64_t>(p + 32, kTestEhdrSize);
  StoreLe<uint16_t>(p + 52, kTestEhdrSize);
  StoreLe<uint16_t>(p + 54, kTestPhdrSize);
  StoreLe<uint16_t>(p + 56, static_cast<uint16_t>(phdrs.size()));
  for (size_t i = 0; i < phdrs.size(); ++i) {
    uint8_t* ph = p + kTestEhdrSize + i * kTestPhdrSize;
    StoreLe<uint32_t>(ph + 0, phdrs[i].type);
    StoreLe<uint32_t>(ph + 4, phdrs[i].flags);
    StoreLe<uint64_t>(ph + 8, phdrs[i].offset);
    StoreLe<uint64_t>(ph + 16, phdrs[i].vaddr);
    StoreLe<uint64_t>(ph + 24, phdrs[i].vaddr);
    StoreLe<uint64_t>(ph + 32, phdrs[i].filesz);
    StoreLe<uint64_t>(ph + 40, phdrs[i].memsz);
    StoreLe<uint64_t>(ph + 48, 0x1000);
  }
  return b;
}

// A text segment (R|X, [0x400000, +0x1800) from file offset 0x1000) and a data
// segment sharing text's last page (R|W, [0x401800, +0x2000), 0x100 bytes from
// file offset 0x2800, the rest bss). Entry 0x400010.
inline Bytes TwoSegmentElf() {
  return MakeElf(
      0x400010, {{1, 5, 0x1000, 0x400000, 0x1800, 0x1800}, {1, 6, 0x2800, 0x401800, 0x100, 0x2000}},
      0x3000);
}

struct TestSymbol {
  std::string name;
  uint64_t value = 0;
  uint8_t info = 0x12;  // st_info: STB_GLOBAL << 4 | STT_FUNC
  uint16_t shndx = 1;   // st_shndx: defined (0 is SHN_UNDEF)
};

// `elf` with a symbol table appended: SHT_SYMTAB (the null symbol, then
// `symbols`), its SHT_STRTAB, and a section header table [null, .symtab,
// .strtab] that e_shoff and e_shnum point at.
inline Bytes WithSymbols(Bytes elf, const std::vector<TestSymbol>& symbols) {
  constexpr size_t kSym = 24, kShdr = 64;
  Bytes strtab(1, 0);
  Bytes symtab((symbols.size() + 1) * kSym, 0);
  for (size_t i = 0; i < symbols.size(); ++i) {
    uint8_t* sym = symtab.data() + (i + 1) * kSym;
    StoreLe<uint32_t>(sym + 0, static_cast<uint32_t>(strtab.size()));
    sym[4] = symbols[i].info;
    StoreLe<uint16_t>(sym + 6, symbols[i].shndx);
    StoreLe<uint64_t>(sym + 8, symbols[i].value);
    strtab.insert(strtab.end(), symbols[i].name.begin(), symbols[i].name.end());
    strtab.push_back(0);
  }
  const uint64_t symtab_offset = elf.size();
  elf.insert(elf.end(), symtab.begin(), symtab.end());
  const uint64_t strtab_offset = elf.size();
  elf.insert(elf.end(), strtab.begin(), strtab.end());
  elf.resize((elf.size() + 7) & ~size_t{7}, 0);
  const uint64_t shoff = elf.size();
  Bytes sh(3 * kShdr, 0);
  StoreLe<uint32_t>(sh.data() + kShdr + 4, 2);  // SHT_SYMTAB
  StoreLe<uint64_t>(sh.data() + kShdr + 24, symtab_offset);
  StoreLe<uint64_t>(sh.data() + kShdr + 32, symtab.size());
  StoreLe<uint32_t>(sh.data() + kShdr + 40, 2);  // sh_link: the string table
  StoreLe<uint64_t>(sh.data() + kShdr + 56, kSym);
  StoreLe<uint32_t>(sh.data() + 2 * kShdr + 4, 3);  // SHT_STRTAB
  StoreLe<uint64_t>(sh.data() + 2 * kShdr + 24, strtab_offset);
  StoreLe<uint64_t>(sh.data() + 2 * kShdr + 32, strtab.size());
  elf.insert(elf.end(), sh.begin(), sh.end());
  StoreLe<uint64_t>(elf.data() + 40, shoff);  // e_shoff
  StoreLe<uint16_t>(elf.data() + 58, kShdr);  // e_shentsize
  StoreLe<uint16_t>(elf.data() + 60, 3);      // e_shnum
  return elf;
}

}  // namespace confide::image::testing
