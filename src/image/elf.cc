#include "image/elf.h"

#include <algorithm>
#include <string>

#include <fmt/format.h>

namespace confide::image {
namespace {

// ELF64 header field offsets (gABI "ELF Header").
constexpr size_t kEhdrSize = 64;
constexpr size_t kEiClass = 4, kEiData = 5, kEiVersion = 6;
constexpr size_t kEType = 16, kEMachine = 18, kEVersion = 20, kEEntry = 24, kEPhoff = 32;
constexpr size_t kEShoff = 40, kEPhentsize = 54, kEPhnum = 56, kEShentsize = 58, kEShnum = 60;
// ELF64 program header field offsets.
constexpr size_t kPhdrSize = 56;
constexpr size_t kPType = 0, kPFlags = 4, kPOffset = 8, kPVaddr = 16, kPFilesz = 32, kPMemsz = 40;
// ELF64 section header and symbol field offsets (gABI "Sections", "Symbol Table").
constexpr size_t kShdrSize = 64;
constexpr size_t kShType = 4, kShOffset = 24, kShSize = 32, kShLink = 40, kShEntsize = 56;
constexpr size_t kSymSize = 24;
constexpr size_t kStName = 0, kStInfo = 4, kStShndx = 6, kStValue = 8;
constexpr uint32_t kShtSymtab = 2;
constexpr uint16_t kShnUndef = 0;
constexpr uint8_t kStbLocal = 0;

constexpr uint8_t kElfClass64 = 2;
constexpr uint8_t kElfData2Lsb = 1;
constexpr uint16_t kEtExec = 2, kEtDyn = 3;
constexpr uint16_t kEmX8664 = 62;
constexpr uint32_t kPtLoad = 1, kPtInterp = 3;
constexpr uint16_t kPnXnum = 0xffff;

tl::unexpected<Error> Fail(uint64_t offset, std::string_view rule) {
  return InvalidArgumentError(fmt::format("ELF offset {:#x}: {}", offset, rule));
}

// The file range [offset, offset + size) if it lies inside the file.
bool InFile(ByteSpan elf, uint64_t offset, uint64_t size) {
  return offset <= elf.size() && size <= elf.size() - offset;
}

}  // namespace

StatusOr<ElfFile> ParseElf64(ByteSpan elf) {
  const uint8_t* p = elf.data();
  if (elf.size() < kEhdrSize)
    return Fail(0,
                fmt::format("file is {} bytes, shorter than the 64-byte ELF64 header", elf.size()));
  if (p[0] != 0x7f || p[1] != 'E' || p[2] != 'L' || p[3] != 'F')
    return Fail(0, "bad magic (not an ELF file)");
  if (p[kEiClass] != kElfClass64) return Fail(kEiClass, "EI_CLASS is not ELFCLASS64");
  if (p[kEiData] != kElfData2Lsb) return Fail(kEiData, "EI_DATA is not ELFDATA2LSB");
  if (p[kEiVersion] != 1) return Fail(kEiVersion, "EI_VERSION is not EV_CURRENT");
  ElfFile out;
  out.type = LoadLe<uint16_t>(p + kEType);
  if (out.type != kEtExec && out.type != kEtDyn)
    return Fail(kEType, fmt::format("e_type {} is neither ET_EXEC nor ET_DYN", out.type));
  if (uint16_t m = LoadLe<uint16_t>(p + kEMachine); m != kEmX8664)
    return Fail(kEMachine, fmt::format("e_machine {} is not EM_X86_64 (62)", m));
  if (LoadLe<uint32_t>(p + kEVersion) != 1) return Fail(kEVersion, "e_version is not EV_CURRENT");
  out.entry = LoadLe<uint64_t>(p + kEEntry);
  const uint64_t phoff = LoadLe<uint64_t>(p + kEPhoff);
  const uint16_t phentsize = LoadLe<uint16_t>(p + kEPhentsize);
  const uint16_t phnum = LoadLe<uint16_t>(p + kEPhnum);
  if (phentsize != kPhdrSize)
    return Fail(kEPhentsize, fmt::format("e_phentsize {} is not 56", phentsize));
  if (phnum == 0) return Fail(kEPhnum, "e_phnum is 0 (no program headers)");
  if (phnum == kPnXnum) return Fail(kEPhnum, "e_phnum PN_XNUM (extended numbering) unsupported");
  if (phoff > elf.size() || uint64_t{phnum} * kPhdrSize > elf.size() - phoff)
    return Fail(kEPhoff, fmt::format("program header table [{:#x}, +{} * 56) is beyond the "
                                     "file ({} bytes)",
                                     phoff, phnum, elf.size()));

  for (uint16_t i = 0; i < phnum; ++i) {
    const uint64_t at = phoff + uint64_t{i} * kPhdrSize;
    const uint8_t* ph = p + at;
    const uint32_t type = LoadLe<uint32_t>(ph + kPType);
    if (type == kPtInterp)
      return Fail(at, fmt::format("program header {}: PT_INTERP (an enclave cannot be "
                                  "dynamically linked)",
                                  i));
    if (type != kPtLoad) continue;
    ElfSegment s;
    s.flags = LoadLe<uint32_t>(ph + kPFlags);
    s.file_offset = LoadLe<uint64_t>(ph + kPOffset);
    s.vaddr = LoadLe<uint64_t>(ph + kPVaddr);
    s.file_size = LoadLe<uint64_t>(ph + kPFilesz);
    s.mem_size = LoadLe<uint64_t>(ph + kPMemsz);
    const std::string what = fmt::format("program header {}: PT_LOAD", i);
    if (s.file_size > s.mem_size)
      return Fail(at,
                  fmt::format("{} p_filesz {:#x} > p_memsz {:#x}", what, s.file_size, s.mem_size));
    if (s.file_offset > elf.size() || s.file_size > elf.size() - s.file_offset)
      return Fail(at, fmt::format("{} file range [{:#x}, +{:#x}) is beyond the file ({} bytes)",
                                  what, s.file_offset, s.file_size, elf.size()));
    // The last page must also be addressable: vaddr + memsz rounded up to a page.
    if (s.mem_size > UINT64_MAX - kPageSize || s.vaddr > UINT64_MAX - kPageSize - s.mem_size)
      return Fail(at, fmt::format("{} address range [{:#x}, +{:#x}) wraps around", what, s.vaddr,
                                  s.mem_size));
    if (s.mem_size == 0) continue;
    for (const ElfSegment& o : out.loads)
      if (s.vaddr < o.vaddr + o.mem_size && o.vaddr < s.vaddr + s.mem_size)
        return Fail(at,
                    fmt::format("{} [{:#x}, {:#x}) overlaps the PT_LOAD at [{:#x}, {:#x})", what,
                                s.vaddr, s.vaddr + s.mem_size, o.vaddr, o.vaddr + o.mem_size));
    out.loads.push_back(s);
  }
  if (out.loads.empty()) return Fail(kEPhoff, "no non-empty PT_LOAD segment");
  std::sort(out.loads.begin(), out.loads.end(),
            [](const ElfSegment& a, const ElfSegment& b) { return a.vaddr < b.vaddr; });
  return out;
}

StatusOr<std::optional<uint64_t>> FindElfSymbol(ByteSpan elf, std::string_view name) {
  CONFIDE_RETURN_IF_ERROR(ParseElf64(elf).status());
  const uint8_t* p = elf.data();
  const uint64_t shoff = LoadLe<uint64_t>(p + kEShoff);
  const uint16_t shnum = LoadLe<uint16_t>(p + kEShnum);
  if (shoff == 0) return std::nullopt;  // no section headers: nothing to look in
  if (LoadLe<uint16_t>(p + kEShentsize) != kShdrSize)
    return Fail(kEShentsize, "e_shentsize is not 64");
  // e_shnum 0 with a table: the count is in section 0 (extended numbering).
  if (shnum == 0) return Fail(kEShnum, "e_shnum 0 (extended section numbering) unsupported");
  if (!InFile(elf, shoff, uint64_t{shnum} * kShdrSize))
    return Fail(kEShoff, fmt::format("section header table [{:#x}, +{} * 64) is beyond the file "
                                     "({} bytes)",
                                     shoff, shnum, elf.size()));
  for (uint16_t i = 0; i < shnum; ++i) {
    const uint64_t at = shoff + uint64_t{i} * kShdrSize;
    const uint8_t* sh = p + at;
    if (LoadLe<uint32_t>(sh + kShType) != kShtSymtab) continue;
    const uint64_t sym_off = LoadLe<uint64_t>(sh + kShOffset);
    const uint64_t sym_size = LoadLe<uint64_t>(sh + kShSize);
    const uint32_t link = LoadLe<uint32_t>(sh + kShLink);
    if (LoadLe<uint64_t>(sh + kShEntsize) != kSymSize)
      return Fail(at, fmt::format("section {}: SHT_SYMTAB sh_entsize is not 24", i));
    if (!InFile(elf, sym_off, sym_size))
      return Fail(at, fmt::format("section {}: SHT_SYMTAB [{:#x}, +{:#x}) is beyond the file", i,
                                  sym_off, sym_size));
    if (link >= shnum)
      return Fail(at, fmt::format("section {}: sh_link {} names no section", i, link));
    const uint8_t* strtab = p + shoff + uint64_t{link} * kShdrSize;
    const uint64_t str_off = LoadLe<uint64_t>(strtab + kShOffset);
    const uint64_t str_size = LoadLe<uint64_t>(strtab + kShSize);
    if (!InFile(elf, str_off, str_size))
      return Fail(at, fmt::format("section {}: its string table [{:#x}, +{:#x}) is beyond the "
                                  "file",
                                  i, str_off, str_size));
    const std::string_view strings(reinterpret_cast<const char*>(p + str_off), str_size);
    for (uint64_t s = 0; s < sym_size / kSymSize; ++s) {
      const uint8_t* sym = p + sym_off + s * kSymSize;
      if ((sym[kStInfo] >> 4) == kStbLocal || LoadLe<uint16_t>(sym + kStShndx) == kShnUndef)
        continue;
      const uint32_t name_at = LoadLe<uint32_t>(sym + kStName);
      if (name_at >= strings.size()) continue;  // a bad name matches nothing
      const std::string_view rest = strings.substr(name_at);
      if (rest.substr(0, rest.find('\0')) == name) return LoadLe<uint64_t>(sym + kStValue);
    }
  }
  return std::nullopt;
}

}  // namespace confide::image
