// elf_builder.h — hand-made ELF64 files for tests, valid or deliberately
// malformed.
//
// Thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <cstdint>
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

}  // namespace confide::image::testing
