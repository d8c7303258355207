#include "image/elf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <optional>
#include <string>

#include "base/file.h"
#include "elf_builder.h"

namespace confide::image {
namespace {

using ::testing::HasSubstr;
using testing::MakeElf;
using testing::TestPhdr;
using testing::TestSymbol;
using testing::TwoSegmentElf;
using testing::WithSymbols;

void ExpectRejected(const Bytes& elf, const std::string& offset, const std::string& rule) {
  StatusOr<ElfFile> r = ParseElf64(elf);
  ASSERT_FALSE(r.ok()) << rule;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("ELF offset " + offset + ": "));
  EXPECT_THAT(r.error().message, HasSubstr(rule));
}

TEST(Elf, ParsesTwoSegments) {
  StatusOr<ElfFile> r = ParseElf64(TwoSegmentElf());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->type, 3);
  EXPECT_EQ(r->entry, 0x400010u);
  ASSERT_EQ(r->loads.size(), 2u);
  EXPECT_EQ(r->loads[0].vaddr, 0x400000u);
  EXPECT_EQ(r->loads[0].flags, kElfPfR | kElfPfX);
  EXPECT_EQ(r->loads[1].file_size, 0x100u);
  EXPECT_EQ(r->loads[1].mem_size, 0x2000u);
}

TEST(Elf, SortsSegmentsAndSkipsOthers) {
  Bytes elf = MakeElf(0x5000,
                      {{1, 6, 0, 0x9000, 0, 0x1000},
                       {4, 4, 0, 0, 0, 0},
                       {1, 5, 0, 0x5000, 0x100, 0x100},
                       {1, 4, 0, 0x20000, 0, 0}},
                      0x1000);
  StatusOr<ElfFile> r = ParseElf64(elf);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->loads.size(), 2u);  // the PT_NOTE and the empty PT_LOAD are skipped
  EXPECT_EQ(r->loads[0].vaddr, 0x5000u);
  EXPECT_EQ(r->loads[1].vaddr, 0x9000u);
}

TEST(Elf, TinyEnclave) {
  StatusOr<Bytes> file = ReadFile(TINY_ENCLAVE_PATH);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  StatusOr<ElfFile> r = ParseElf64(*file);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->type, 3);  // static PIE
  bool entry_in_text = false;
  for (const ElfSegment& s : r->loads)
    entry_in_text |= (s.flags & kElfPfX) && r->entry >= s.vaddr && r->entry < s.vaddr + s.mem_size;
  EXPECT_TRUE(entry_in_text);
}

TEST(ElfSymbols, FindsAGlobalOrWeakDefinition) {
  const Bytes elf = WithSymbols(TwoSegmentElf(), {{"alpha", 0x400020}, {"beta", 0x400040, 0x22}});
  StatusOr<std::optional<uint64_t>> alpha = FindElfSymbol(elf, "alpha");
  ASSERT_TRUE(alpha.ok()) << alpha.status().ToString();
  EXPECT_EQ(*alpha, std::optional<uint64_t>(0x400020));
  EXPECT_EQ(*FindElfSymbol(elf, "beta"), std::optional<uint64_t>(0x400040));  // weak
  // Names match whole, not by prefix.
  EXPECT_EQ(*FindElfSymbol(elf, "alph"), std::nullopt);
  EXPECT_EQ(*FindElfSymbol(elf, "alphabet"), std::nullopt);
}

TEST(ElfSymbols, LocalAndUndefinedSymbolsAndStrippedFilesNameNothing) {
  const Bytes elf = WithSymbols(TwoSegmentElf(), {{"local", 0x400020, 0x02},  // STB_LOCAL
                                                  {"undefined", 0, 0x12, 0},
                                                  {"dup", 0x400010, 0x02},
                                                  {"dup", 0x400030}});
  EXPECT_EQ(*FindElfSymbol(elf, "local"), std::nullopt);
  EXPECT_EQ(*FindElfSymbol(elf, "undefined"), std::nullopt);
  EXPECT_EQ(*FindElfSymbol(elf, "dup"), std::optional<uint64_t>(0x400030));  // the global one
  // No section headers at all (e_shoff 0): nothing to find, not an error.
  StatusOr<std::optional<uint64_t>> none = FindElfSymbol(TwoSegmentElf(), "alpha");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, std::nullopt);
}

TEST(ElfSymbols, TinyEnclave) {
  StatusOr<Bytes> file = ReadFile(TINY_ENCLAVE_PATH);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  StatusOr<std::optional<uint64_t>> handler = FindElfSymbol(*file, "confide_syscall_handler");
  ASSERT_TRUE(handler.ok()) << handler.status().ToString();
  ASSERT_TRUE(handler->has_value());  // tiny_enclave.c defines it; the file is not stripped
  StatusOr<ElfFile> r = ParseElf64(*file);
  ASSERT_TRUE(r.ok());
  bool in_text = false;
  for (const ElfSegment& s : r->loads)
    in_text |= (s.flags & kElfPfX) && **handler >= s.vaddr && **handler < s.vaddr + s.mem_size;
  EXPECT_TRUE(in_text);
  EXPECT_EQ(*FindElfSymbol(*file, "no_such_symbol_here"), std::nullopt);
}

TEST(ElfSymbolErrors, MalformedTablesAreRefusedWithTheirOffset) {
  const Bytes good = WithSymbols(TwoSegmentElf(), {{"alpha", 0x400020}});
  const uint64_t shoff = LoadLe<uint64_t>(good.data() + 40);
  auto expect_refused = [](const Bytes& elf, const std::string& rule) {
    StatusOr<std::optional<uint64_t>> r = FindElfSymbol(elf, "alpha");
    ASSERT_FALSE(r.ok()) << rule;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.error().message, HasSubstr(rule));
  };
  Bytes elf = good;
  StoreLe<uint64_t>(elf.data() + 40, elf.size() - 64);  // the table runs off the end
  expect_refused(elf, "section header table");
  elf = good;
  StoreLe<uint16_t>(elf.data() + 58, 40);
  expect_refused(elf, "e_shentsize is not 64");
  elf = good;
  StoreLe<uint16_t>(elf.data() + 60, 0);
  expect_refused(elf, "extended section numbering");
  elf = good;
  StoreLe<uint64_t>(elf.data() + shoff + 64 + 32, uint64_t{1} << 40);  // .symtab's sh_size
  expect_refused(elf, "SHT_SYMTAB [");
  elf = good;
  StoreLe<uint32_t>(elf.data() + shoff + 64 + 40, 7);  // .symtab's sh_link
  expect_refused(elf, "sh_link 7 names no section");
  elf = good;
  StoreLe<uint64_t>(elf.data() + shoff + 2 * 64 + 24, elf.size());  // .strtab's sh_offset
  StoreLe<uint64_t>(elf.data() + shoff + 2 * 64 + 32, 16);
  expect_refused(elf, "its string table");
  elf = good;
  StoreLe<uint64_t>(elf.data() + shoff + 64 + 56, 16);  // .symtab's sh_entsize
  expect_refused(elf, "sh_entsize is not 24");
  // A name offset beyond the string table names nothing (and is no error).
  elf = good;
  StoreLe<uint32_t>(elf.data() + LoadLe<uint64_t>(good.data() + shoff + 64 + 24) + 24, 1000);
  StatusOr<std::optional<uint64_t>> r = FindElfSymbol(elf, "alpha");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, std::nullopt);
}

TEST(ElfErrors, Header) {
  const Bytes good = TwoSegmentElf();
  ExpectRejected(Bytes(good.begin(), good.begin() + 63), "0x0",
                 "shorter than the 64-byte ELF64 header");
  Bytes b = good;
  b[1] = 'X';
  ExpectRejected(b, "0x0", "bad magic");
  b = good;
  b[4] = 1;
  ExpectRejected(b, "0x4", "EI_CLASS is not ELFCLASS64");
  b = good;
  b[5] = 2;
  ExpectRejected(b, "0x5", "EI_DATA is not ELFDATA2LSB");
  b = good;
  b[6] = 0;
  ExpectRejected(b, "0x6", "EI_VERSION");
  b = good;
  b[16] = 1;
  ExpectRejected(b, "0x10", "e_type 1 is neither ET_EXEC nor ET_DYN");
  b = good;
  b[18] = 3;
  ExpectRejected(b, "0x12", "e_machine 3 is not EM_X86_64");
  b = good;
  b[20] = 2;
  ExpectRejected(b, "0x14", "e_version");
  b = good;
  b[54] = 32;
  ExpectRejected(b, "0x36", "e_phentsize 32 is not 56");
  b = good;
  b[56] = 0, b[57] = 0;
  ExpectRejected(b, "0x38", "e_phnum is 0");
  b = good;
  b[56] = 0xff, b[57] = 0xff;
  ExpectRejected(b, "0x38", "PN_XNUM");
  b = good;
  StoreLe<uint64_t>(b.data() + 32, b.size() - 100);
  ExpectRejected(b, "0x20", "program header table");
  b = good;
  StoreLe<uint64_t>(b.data() + 32, ~uint64_t{0} - 8);
  ExpectRejected(b, "0x20", "program header table");
}

TEST(ElfErrors, ProgramHeaders) {
  ExpectRejected(MakeElf(0, {{1, 5, 0, 0, 0x2000, 0x1000}}, 0x3000), "0x40",
                 "program header 0: PT_LOAD p_filesz 0x2000 > p_memsz 0x1000");
  ExpectRejected(
      MakeElf(0, {{1, 5, 0, 0, 0x100, 0x100}, {1, 6, 0x2f00, 0x1000, 0x200, 0x200}}, 0x3000),
      "0x78", "program header 1: PT_LOAD file range [0x2f00, +0x200) is beyond the file");
  ExpectRejected(MakeElf(0, {{1, 5, ~uint64_t{0}, 0, 0x10, 0x10}}, 0x1000), "0x40",
                 "is beyond the file");
  ExpectRejected(MakeElf(0, {{1, 5, 0, ~uint64_t{0} - 0x100, 0x10, 0x10}}, 0x1000), "0x40",
                 "wraps around");
  ExpectRejected(
      MakeElf(0, {{1, 5, 0, 0x1000, 0x10, 0x2000}, {1, 6, 0, 0x2800, 0x10, 0x10}}, 0x1000), "0x78",
      "[0x2800, 0x2810) overlaps the PT_LOAD at [0x1000, 0x3000)");
  ExpectRejected(MakeElf(0, {{3, 4, 0, 0, 0x10, 0x10}, {1, 5, 0, 0, 0x10, 0x10}}, 0x1000), "0x40",
                 "program header 0: PT_INTERP");
  ExpectRejected(MakeElf(0, {{4, 4, 0, 0, 0x10, 0x10}}, 0x1000), "0x20",
                 "no non-empty PT_LOAD segment");
}

RC_GTEST_PROP(ElfProperty, MutatedElfsParseOrNameTheOffset, ()) {
  Bytes elf = TwoSegmentElf();
  const size_t n = *rc::gen::inRange<size_t>(1, 6);
  for (size_t i = 0; i < n; ++i) {
    // Mostly the header and program headers, where the structure is.
    const size_t at = *rc::gen::inRange<size_t>(0, *rc::gen::element<size_t>(176, elf.size()));
    elf[at] = *rc::gen::arbitrary<uint8_t>();
  }
  StatusOr<ElfFile> r = ParseElf64(elf);
  if (!r.ok()) {
    RC_ASSERT(r.error().message.rfind("ELF offset 0x", 0) == 0);
    return;
  }
  for (const ElfSegment& s : r->loads) {
    RC_ASSERT(s.file_size <= s.mem_size);
    RC_ASSERT(s.file_offset + s.file_size <= elf.size());
  }
}

}  // namespace
}  // namespace confide::image
