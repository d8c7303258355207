#include "image/layout.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "image/elf.h"
#include "image/enclave_abi.h"
#include "machine/secs.h"

namespace confide::image {
namespace {

static_assert(sizeof(confide_thread_info) <= 4096, "the thread info is one page");
// Appended after the plugin table: the fields before it keep the offsets
// that enclaves built earlier (and runtime/asm_abi.h) read.
static_assert(offsetof(confide_thread_info, syscall_handler_offset) ==
                  11 * sizeof(uint64_t) + CONFIDE_MAX_PLUGINS * 32,
              "confide_thread_info's existing layout changed");

using machine::PageType;
using machine::SecInfo;

constexpr uint64_t kPageMask = kPageSize - 1;
constexpr uint64_t kMinEnclaveSize = 0x2000;

uint64_t PageDown(uint64_t v) { return v & ~kPageMask; }
uint64_t PageUp(uint64_t v) { return (v + kPageMask) & ~kPageMask; }

uint64_t SecinfoPerms(uint32_t elf_flags) {
  uint64_t perms = 0;
  if (elf_flags & kElfPfR) perms |= machine::secinfo::kR;
  if (elf_flags & kElfPfW) perms |= machine::secinfo::kW;
  if (elf_flags & kElfPfX) perms |= machine::secinfo::kX;
  return perms;
}

SgxsPage MakePage(uint64_t offset, PageType type, uint64_t perms, bool measured) {
  SgxsPage page;
  page.offset = offset;
  page.secinfo = SecInfo::Make(type, perms);
  page.measured_chunks = measured ? kAllChunks : 0;
  return page;
}

// Appends, from li.image_end on, the heap and per thread TCS, SSA and stack;
// sets li's heap and threads fields and advances li.image_end.
void AppendHostRegions(const Manifest& manifest, SgxsImage& image, LayoutInfo& li) {
  const uint64_t rw = machine::secinfo::kR | machine::secinfo::kW;
  uint64_t cur = li.image_end;
  li.heap_offset = cur;
  li.heap_size = manifest.heap_size;
  for (uint64_t i = 0; i < manifest.heap_size / kPageSize; ++i, cur += kPageSize)
    image.pages.push_back(MakePage(cur, PageType::kReg, rw, manifest.measure_heap));
  for (uint32_t t = 0; t < manifest.threads; ++t) {
    ThreadLayout thread;
    thread.tcs_offset = cur;
    thread.ssa_offset = cur + kPageSize;
    thread.stack_offset =
        thread.ssa_offset + uint64_t{kTcsNssa} * manifest.ssa_frame_size * kPageSize;
    thread.stack_size = manifest.stack_size;
    thread.info_offset = thread.stack_top();
    machine::Tcs tcs;
    tcs.ossa = thread.ssa_offset;
    tcs.nssa = kTcsNssa;
    tcs.oentry = li.entry_offset;
    tcs.ofsbase = 0;
    tcs.ogsbase = thread.info_offset;
    tcs.fslimit = 0xfff;
    tcs.gslimit = 0xfff;
    SgxsPage tcs_page = MakePage(cur, PageType::kTcs, 0, /*measured=*/true);
    tcs_page.data = tcs.Serialize();
    image.pages.push_back(tcs_page);
    for (cur = thread.ssa_offset; cur < thread.stack_top(); cur += kPageSize)
      image.pages.push_back(MakePage(cur, PageType::kReg, rw, /*measured=*/true));
    li.threads.push_back(thread);
    image.pages.push_back(
        MakePage(thread.info_offset, PageType::kReg, machine::secinfo::kR, /*measured=*/true));
    cur += kPageSize;
  }
  li.image_end = cur;
  const uint64_t size = std::bit_ceil(std::max(li.image_end, kMinEnclaveSize));
  for (uint32_t t = 0; t < manifest.threads; ++t) {
    const ThreadLayout& thread = li.threads[t];
    confide_thread_info ti{};
    ti.magic = CONFIDE_THREAD_INFO_MAGIC;
    ti.self_offset = thread.info_offset;
    ti.tcs_offset = thread.tcs_offset;
    ti.stack_offset = thread.stack_offset;
    ti.stack_size = thread.stack_size;
    ti.heap_offset = li.heap_offset;
    ti.heap_size = li.heap_size;
    ti.thread_index = t;
    ti.thread_count = manifest.threads;
    ti.enclave_size = size;
    ti.syscall_handler_offset = li.syscall_handler_offset;
    ti.plugin_count = std::min<uint64_t>(manifest.plugins.size(), CONFIDE_MAX_PLUGINS);
    for (uint64_t i = 0; i < ti.plugin_count; ++i) {
      std::memcpy(ti.plugin_mrenclave[i], manifest.plugins[i].mrenclave.data(), 32);
    }
    for (SgxsPage& page : image.pages) {
      if (page.offset == thread.info_offset) std::memcpy(page.data.data(), &ti, sizeof ti);
    }
  }
}

}  // namespace

StatusOr<SgxsImage> LayoutFromElf(ByteSpan elf, const Manifest& manifest, LayoutInfo* info) {
  CONFIDE_RETURN_IF_ERROR(ValidateManifest(manifest));
  CONFIDE_ASSIGN_OR_RETURN(ElfFile file, ParseElf64(elf));
  const bool plugin = manifest.kind == EnclaveKind::kPlugin;
  LayoutInfo li;
  li.elf_base = PageDown(file.loads.front().vaddr);
  const ElfSegment& last = file.loads.back();
  const uint64_t elf_top = PageUp(last.vaddr + last.mem_size);
  if (elf_top - li.elf_base > kMaxElfSpan)
    return InvalidArgumentError(
        fmt::format("ELF: PT_LOAD segments span {:#x} bytes, more than the {:#x} allowed",
                    elf_top - li.elf_base, kMaxElfSpan));
  auto executable = [&](uint64_t addr) {
    return std::any_of(file.loads.begin(), file.loads.end(), [&](const ElfSegment& s) {
      return (s.flags & kElfPfX) && addr >= s.vaddr && addr - s.vaddr < s.mem_size;
    });
  };
  if (!executable(file.entry))
    return InvalidArgumentError(
        fmt::format("ELF: e_entry {:#x} is not inside an executable PT_LOAD segment", file.entry));
  li.entry_offset = file.entry - li.elf_base;
  CONFIDE_ASSIGN_OR_RETURN(std::optional<uint64_t> handler,
                           FindElfSymbol(elf, kSyscallHandlerSymbol));
  if (handler) {
    if (!executable(*handler))
      return InvalidArgumentError(
          fmt::format("ELF: {} {:#x} is not inside an executable PT_LOAD segment",
                      kSyscallHandlerSymbol, *handler));
    li.syscall_handler_offset = *handler - li.elf_base;
  }

  // ELF pages, keyed by offset. Segments are disjoint but may share a page;
  // such a page gets the union of their permissions.
  std::map<uint64_t, SgxsPage> elf_pages;
  for (const ElfSegment& s : file.loads) {
    const uint64_t perms = SecinfoPerms(s.flags);
    for (uint64_t va = PageDown(s.vaddr); va < s.vaddr + s.mem_size; va += kPageSize) {
      const uint64_t offset = va - li.elf_base;
      auto [it, inserted] =
          elf_pages.try_emplace(offset, MakePage(offset, PageType::kReg, 0, /*measured=*/true));
      it->second.secinfo.flags |= perms;
    }
    for (uint64_t done = 0; done < s.file_size;) {
      const uint64_t va = s.vaddr + done;
      const uint64_t in_page = va & kPageMask;
      const uint64_t n = std::min(s.file_size - done, kPageSize - in_page);
      SgxsPage& page = elf_pages.at(PageDown(va) - li.elf_base);
      std::copy_n(elf.data() + s.file_offset + done, n, page.data.begin() + in_page);
      done += n;
    }
  }

  SgxsImage image;
  image.ssa_frame_size = manifest.ssa_frame_size;
  for (auto& [offset, page] : elf_pages) {
    if (plugin) {
      page.secinfo = SecInfo::Make(PageType::kSreg, page.secinfo.perms() & ~machine::secinfo::kW);
    }
    image.pages.push_back(page);
  }
  li.elf_end = elf_top - li.elf_base;
  li.heap_offset = li.elf_end;
  li.image_end = li.elf_end;
  if (!plugin) AppendHostRegions(manifest, image, li);
  li.size = std::bit_ceil(std::max(li.image_end, kMinEnclaveSize));
  image.size = li.size;
  if (info != nullptr) *info = std::move(li);
  return image;
}

StatusOr<SgxsImage> LayoutPieHost(const Manifest& manifest, uint64_t plugin_size,
                                  uint64_t plugin_entry_offset,
                                  uint64_t plugin_syscall_handler_offset, LayoutInfo* info) {
  CONFIDE_RETURN_IF_ERROR(ValidateManifest(manifest));
  if (manifest.kind != EnclaveKind::kHost)
    return InvalidArgumentError("LayoutPieHost: the manifest's kind must be \"host\"");
  if (plugin_size == 0 || plugin_size % kPageSize != 0 || plugin_size > kMaxPluginRegion)
    return InvalidArgumentError(
        fmt::format("LayoutPieHost: plugin size {:#x} is not a non-zero page multiple <= {:#x}",
                    plugin_size, kMaxPluginRegion));
  if (plugin_entry_offset >= plugin_size)
    return InvalidArgumentError(
        fmt::format("LayoutPieHost: plugin entry {:#x} is not below the plugin size {:#x}",
                    plugin_entry_offset, plugin_size));
  if (plugin_syscall_handler_offset >= plugin_size)
    return InvalidArgumentError(fmt::format(
        "LayoutPieHost: plugin syscall handler {:#x} is not below the plugin size {:#x}",
        plugin_syscall_handler_offset, plugin_size));
  SgxsImage image;
  image.ssa_frame_size = manifest.ssa_frame_size;
  LayoutInfo li;
  li.entry_offset = plugin_entry_offset;
  li.syscall_handler_offset = plugin_syscall_handler_offset;
  li.elf_end = plugin_size;
  li.image_end = plugin_size;
  AppendHostRegions(manifest, image, li);
  li.size = std::bit_ceil(std::max(li.image_end, kMinEnclaveSize));
  image.size = li.size;
  if (info != nullptr) *info = std::move(li);
  return image;
}

}  // namespace confide::image
