#include "cli/cli_util.h"

#include <algorithm>
#include <bit>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "base/file.h"
#include "machine/secs.h"

namespace confide::cli {

void Fail(std::string_view command, std::string_view message, int exit_code) {
  std::string line(message);
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  std::cerr << "confide " << command << ": " << line << std::endl;
  throw CLI::RuntimeError(exit_code);
}

std::string Describe(const Error& error) {
  if (error.code == ErrorCode::kSgxError || error.code == ErrorCode::kFault)
    return error.ToString();
  return error.message;
}

void OkOrFail(std::string_view command, std::string_view context, const Status& s) {
  if (s.ok()) return;
  Fail(command,
       context.empty() ? Describe(s.error()) : fmt::format("{}: {}", context, Describe(s.error())));
}

Bytes ReadFileOrFail(std::string_view command, const std::string& path) {
  return ValueOrFail(command, "", ReadFile(path));
}

std::string AttributeFlagsString(uint64_t flags) {
  namespace attr = machine::attr;
  static const std::pair<uint64_t, const char*> kNames[] = {{attr::kInit, "INIT"},
                                                            {attr::kDebug, "DEBUG"},
                                                            {attr::kMode64Bit, "MODE64BIT"},
                                                            {attr::kProvisionKey, "PROVISIONKEY"},
                                                            {attr::kEinitTokenKey, "EINITTOKENKEY"},
                                                            {attr::kCet, "CET"},
                                                            {attr::kKss, "KSS"}};
  std::string names;
  for (const auto& [bit, name] : kNames) {
    if (!(flags & bit)) continue;
    names += names.empty() ? "" : "|";
    names += name;
  }
  return names.empty() ? fmt::format("{:#x}", flags) : fmt::format("{:#x} ({})", flags, names);
}

std::string PermsString(uint8_t perms) {
  std::string s = "---";
  if (perms & machine::secinfo::kR) s[0] = 'r';
  if (perms & machine::secinfo::kW) s[1] = 'w';
  if (perms & machine::secinfo::kX) s[2] = 'x';
  return s;
}

void PrintSigstruct(std::ostream& out, const machine::Sigstruct& s) {
  out << fmt::format("vendor          {:#x}\n", s.vendor)
      << fmt::format("date            {:04x}-{:02x}-{:02x}\n", s.date >> 16, (s.date >> 8) & 0xff,
                     s.date & 0xff)
      << fmt::format("attributes      flags {} xfrm {:#x}\n",
                     AttributeFlagsString(s.attributes.flags), s.attributes.xfrm)
      << fmt::format("attribute mask  flags {:#x} xfrm {:#x}\n", s.attribute_mask.flags,
                     s.attribute_mask.xfrm)
      << fmt::format("misc select     {:#x} mask {:#x}\n", s.misc_select, s.misc_mask)
      << fmt::format("isv prod id     {}\n", s.isv_prod_id)
      << fmt::format("isv svn         {}\n", s.isv_svn)
      << fmt::format("enclave hash    {}\n", ToHex(s.enclave_hash))
      << fmt::format("mrsigner        {}\n", ToHex(s.MrSigner()));
}

void PrintSgxs(std::ostream& out, const image::SgxsImage& image) {
  out << fmt::format("ECREATE         size {:#x} ssa_frame_size {}\n", image.size,
                     image.ssa_frame_size)
      << fmt::format("mrenclave       {}\n", ToHex(image::MeasureSgxs(image)));
  out << fmt::format("{:>12}  {:<8} {:<5} {}\n", "offset", "type", "perms", "measured chunks");
  std::map<std::string, size_t> per_type;
  size_t measured = 0, unmeasured_data = 0;
  for (const image::SgxsPage& page : image.pages) {
    const char* type = machine::PageTypeName(page.secinfo.page_type());
    const int n = std::popcount(page.measured_chunks);
    out << fmt::format("{:>#12x}  {:<8} {:<5} {:2}/16 ({:#06x})\n", page.offset, type,
                       PermsString(page.secinfo.perms()), n, page.measured_chunks);
    ++per_type[type];
    measured += static_cast<size_t>(n);
    for (int i = 0; i < image::kChunksPerPage; ++i) {
      if (page.measured_chunks & (1u << i)) continue;
      const auto* chunk = page.data.data() + i * machine::kEextendChunkSize;
      if (std::any_of(chunk, chunk + machine::kEextendChunkSize, [](uint8_t b) { return b; }))
        ++unmeasured_data;
    }
  }
  out << fmt::format("pages {}", image.pages.size());
  for (const auto& [type, count] : per_type) out << fmt::format(", {} {}", type, count);
  out << fmt::format("; EEXTEND chunks {}; unmeasured chunks with data {}\n", measured,
                     unmeasured_data);
}

}  // namespace confide::cli
