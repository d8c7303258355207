// elf.h — just enough of ELF64 to load an enclave: the header and the PT_LOAD
// program headers of an x86-64 little-endian executable (System V gABI,
// "Program Header"; AMD64 psABI), and a symbol's value from .symtab (gABI
// "Sections", "Symbol Table"), which the layout takes enclave ABI addresses
// from (image/layout.h).
//
// Every field is read with LoadLe at a bounds-checked offset, never through a
// cast of the file bytes to <elf.h> structs. Errors are InvalidArgumentError
// naming the byte offset in the file and the rule broken, e.g.
// "ELF offset 0x78: program header 1: PT_LOAD p_filesz 0x2000 > p_memsz 0x1000".
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace confide::image {

// p_flags bits.
inline constexpr uint32_t kElfPfX = 1;
inline constexpr uint32_t kElfPfW = 2;
inline constexpr uint32_t kElfPfR = 4;

struct ElfSegment {
  uint64_t vaddr = 0;
  uint64_t mem_size = 0;
  uint64_t file_offset = 0;  // [file_offset, file_offset + file_size) lies within the file
  uint64_t file_size = 0;    // <= mem_size
  uint32_t flags = 0;        // kElfPf*
};

struct ElfFile {
  uint16_t type = 0;  // ET_EXEC (2) or ET_DYN (3)
  uint64_t entry = 0;
  std::vector<ElfSegment> loads;  // PT_LOAD with p_memsz > 0, sorted by vaddr, disjoint
};

// Validates the ELF header and program headers: ELF64, little-endian, x86-64,
// ET_EXEC or ET_DYN, no PT_INTERP (an enclave cannot be dynamically linked),
// at least one non-empty PT_LOAD; each PT_LOAD with p_filesz <= p_memsz, its
// file range inside the file, its address range not wrapping and not
// overlapping another PT_LOAD.
StatusOr<ElfFile> ParseElf64(ByteSpan elf);

// The value (st_value) of the global or weak symbol `name` that an SHT_SYMTAB
// section of `elf` (validated by ParseElf64) defines; std::nullopt if none
// does, or the file has no symbol table (stripped). Local symbols are not
// looked at: two objects may each have a static one of the same name.
// InvalidArgumentError if the section headers, a symbol table or its string
// table lie outside the file or are malformed.
StatusOr<std::optional<uint64_t>> FindElfSymbol(ByteSpan elf, std::string_view name);

}  // namespace confide::image
