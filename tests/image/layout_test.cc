#include "image/layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <set>

#include "base/file.h"
#include "elf_builder.h"
#include "image/elf.h"
#include "image/enclave_abi.h"
#include "machine/secs.h"

namespace confide::image {
namespace {

using machine::PageType;
using ::testing::HasSubstr;
using testing::MakeElf;
using testing::TwoSegmentElf;
using testing::WithSymbols;

constexpr uint8_t kR = 1, kW = 2, kX = 4;

const SgxsPage* FindPage(const SgxsImage& image, uint64_t offset) {
  for (const SgxsPage& p : image.pages)
    if (p.offset == offset) return &p;
  return nullptr;
}

// Checks the invariants every layout has: pages ascending and inside SIZE,
// SIZE a power of two, and the SGXS form round-trips and measures the same.
void ExpectWellFormed(const SgxsImage& image, const LayoutInfo& info) {
  EXPECT_EQ(image.size, info.size);
  EXPECT_GE(image.size, 0x2000u);
  EXPECT_EQ(image.size & (image.size - 1), 0u);
  EXPECT_GE(image.size, info.image_end);
  for (size_t i = 1; i < image.pages.size(); ++i)
    EXPECT_LT(image.pages[i - 1].offset, image.pages[i].offset);
  ASSERT_FALSE(image.pages.empty());
  EXPECT_EQ(image.pages.back().offset + kPageSize, info.image_end);
  const Bytes stream = WriteSgxs(image);
  StatusOr<SgxsImage> parsed = ParseSgxs(stream);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, image);
  EXPECT_EQ(MeasureSgxs(*parsed), MeasureSgxs(image));
}

TEST(Layout, HostEnclaveFromTwoSegments) {
  const Bytes elf = TwoSegmentElf();
  LayoutInfo info;
  StatusOr<SgxsImage> image = LayoutFromElf(elf, Manifest{}, &info);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ExpectWellFormed(*image, info);

  EXPECT_EQ(info.elf_base, 0x400000u);
  EXPECT_EQ(info.entry_offset, 0x10u);
  EXPECT_EQ(info.elf_end, 0x4000u);  // 0x401800 + 0x2000 rounded up
  EXPECT_EQ(info.heap_offset, 0x4000u);
  EXPECT_EQ(info.heap_size, 256u * 1024);
  ASSERT_EQ(info.threads.size(), 1u);
  const ThreadLayout& t = info.threads[0];
  EXPECT_EQ(t.tcs_offset, 0x4000u + 256 * 1024);
  EXPECT_EQ(t.ssa_offset, t.tcs_offset + 0x1000);
  EXPECT_EQ(t.stack_offset, t.ssa_offset + 2 * 0x1000);
  EXPECT_EQ(t.stack_size, 64u * 1024);
  EXPECT_EQ(t.info_offset, t.stack_top());
  EXPECT_EQ(info.image_end, t.info_offset + 0x1000);
  EXPECT_EQ(info.size, 0x80000u);
  EXPECT_EQ(image->ssa_frame_size, 1u);
  // 4 ELF pages, 64 heap, 1 TCS, 2 SSA, 16 stack, 1 thread info.
  EXPECT_EQ(image->pages.size(), 4u + 64 + 1 + 2 + 16 + 1);

  // Text page; the page text and data share (union of permissions); bss.
  const SgxsPage* text = FindPage(*image, 0x0);
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(text->secinfo.page_type(), PageType::kReg);
  EXPECT_EQ(text->secinfo.perms(), kR | kX);
  EXPECT_EQ(text->data[0], 0x1000 * 7 & 0xff);  // file offset 0x1000
  EXPECT_EQ(text->data[5], (0x1005 * 7) & 0xff);
  const SgxsPage* shared = FindPage(*image, 0x1000);
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(shared->secinfo.perms(), kR | kW | kX);
  EXPECT_EQ(shared->data[0x7ff], (0x27ff * 7) & 0xff);  // last text byte
  EXPECT_EQ(shared->data[0x800], (0x2800 * 7) & 0xff);  // first data byte
  EXPECT_EQ(shared->data[0x8ff], (0x28ff * 7) & 0xff);
  EXPECT_EQ(shared->data[0x900], 0);  // bss
  for (uint64_t off : {0x2000, 0x3000}) {
    const SgxsPage* bss = FindPage(*image, off);
    ASSERT_NE(bss, nullptr);
    EXPECT_EQ(bss->secinfo.perms(), kR | kW);
    EXPECT_TRUE(std::all_of(bss->data.begin(), bss->data.end(), [](uint8_t b) { return !b; }));
  }
  // Every page is measured in full; heap, SSA and stack are RW PT_REG.
  for (const SgxsPage& p : image->pages) {
    EXPECT_EQ(p.measured_chunks, kAllChunks) << p.offset;
    if (p.offset >= info.elf_end && p.offset != t.tcs_offset && p.offset != t.info_offset) {
      EXPECT_EQ(p.secinfo.flags, machine::SecInfo::Make(PageType::kReg, kR | kW).flags);
    }
  }
  // The TCS.
  const SgxsPage* tcs_page = FindPage(*image, t.tcs_offset);
  ASSERT_NE(tcs_page, nullptr);
  EXPECT_EQ(tcs_page->secinfo.flags, machine::SecInfo::Make(PageType::kTcs, 0).flags);
  const machine::Tcs tcs = machine::Tcs::Parse(tcs_page->data);
  EXPECT_EQ(tcs.oentry, 0x10u);
  EXPECT_EQ(tcs.ossa, t.ssa_offset);
  EXPECT_EQ(tcs.nssa, 2u);
  EXPECT_EQ(tcs.cssa, 0u);
  EXPECT_EQ(tcs.flags, 0u);
  EXPECT_EQ(tcs.ofsbase, 0u);
  EXPECT_EQ(tcs.ogsbase, t.info_offset);
  EXPECT_EQ(tcs.fslimit, 0xfffu);
  EXPECT_EQ(tcs.gslimit, 0xfffu);
  // The thread-info page the runtime finds through GS (image/enclave_abi.h).
  const SgxsPage* info_page = FindPage(*image, t.info_offset);
  ASSERT_NE(info_page, nullptr);
  EXPECT_EQ(info_page->secinfo.flags, machine::SecInfo::Make(PageType::kReg, kR).flags);
  confide_thread_info ti;
  std::memcpy(&ti, info_page->data.data(), sizeof ti);
  EXPECT_EQ(ti.magic, CONFIDE_THREAD_INFO_MAGIC);
  EXPECT_EQ(ti.self_offset, t.info_offset);
  EXPECT_EQ(ti.tcs_offset, t.tcs_offset);
  EXPECT_EQ(ti.stack_offset, t.stack_offset);
  EXPECT_EQ(ti.stack_size, t.stack_size);
  EXPECT_EQ(ti.heap_offset, info.heap_offset);
  EXPECT_EQ(ti.heap_size, info.heap_size);
  EXPECT_EQ(ti.thread_index, 0u);
  EXPECT_EQ(ti.thread_count, 1u);
  EXPECT_EQ(ti.enclave_size, info.size);
}

TEST(Layout, ThreadsSsaFramesAndUnmeasuredHeap) {
  Manifest m;
  m.threads = 3;
  m.ssa_frame_size = 2;
  m.heap_size = 8 * kPageSize;
  m.stack_size = 4 * kPageSize;
  m.measure_heap = false;
  LayoutInfo info;
  StatusOr<SgxsImage> image = LayoutFromElf(TwoSegmentElf(), m, &info);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ExpectWellFormed(*image, info);
  EXPECT_EQ(image->ssa_frame_size, 2u);
  ASSERT_EQ(info.threads.size(), 3u);
  EXPECT_EQ(image->pages.size(), 4u + 8 + 3 * (1 + 4 + 4 + 1));
  uint64_t expected_tcs = info.heap_offset + 8 * kPageSize;
  for (const ThreadLayout& t : info.threads) {
    EXPECT_EQ(t.tcs_offset, expected_tcs);
    EXPECT_EQ(t.stack_offset, t.ssa_offset + 4 * kPageSize);  // NSSA 2 * SSAFRAMESIZE 2
    const machine::Tcs tcs = machine::Tcs::Parse(FindPage(*image, t.tcs_offset)->data);
    EXPECT_EQ(tcs.ossa, t.ssa_offset);
    EXPECT_EQ(tcs.oentry, info.entry_offset);
    EXPECT_EQ(tcs.ogsbase, t.info_offset);
    confide_thread_info ti;
    std::memcpy(&ti, FindPage(*image, t.info_offset)->data.data(), sizeof ti);
    EXPECT_EQ(ti.thread_index, static_cast<uint64_t>(&t - info.threads.data()));
    EXPECT_EQ(ti.thread_count, 3u);
    EXPECT_EQ(ti.tcs_offset, t.tcs_offset);
    expected_tcs = t.info_offset + kPageSize;
  }
  for (const SgxsPage& p : image->pages) {
    const bool heap = p.offset >= info.heap_offset && p.offset < info.heap_offset + info.heap_size;
    EXPECT_EQ(p.measured_chunks, heap ? 0 : kAllChunks) << p.offset;
  }
  // An unmeasured heap changes MRENCLAVE; its pages are still EADDed.
  m.measure_heap = true;
  StatusOr<SgxsImage> measured = LayoutFromElf(TwoSegmentElf(), m);
  ASSERT_TRUE(measured.ok());
  EXPECT_NE(MeasureSgxs(*measured), MeasureSgxs(*image));
  EXPECT_EQ(measured->pages.size(), image->pages.size());
}

TEST(Layout, PluginEnclave) {
  Manifest m;
  m.kind = EnclaveKind::kPlugin;
  LayoutInfo info;
  StatusOr<SgxsImage> image = LayoutFromElf(TwoSegmentElf(), m, &info);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ExpectWellFormed(*image, info);
  ASSERT_EQ(image->pages.size(), 4u);
  EXPECT_TRUE(info.threads.empty());
  EXPECT_EQ(info.heap_size, 0u);
  EXPECT_EQ(info.image_end, 0x4000u);
  EXPECT_EQ(image->size, 0x4000u);
  const uint8_t perms[] = {kR | kX, kR | kX, kR, kR};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(image->pages[i].secinfo.page_type(), PageType::kSreg);
    EXPECT_EQ(image->pages[i].secinfo.perms(), perms[i]) << i;
    EXPECT_EQ(image->pages[i].measured_chunks, kAllChunks);
  }
}

TEST(Layout, SmallestEnclaveIsTwoPages) {
  Manifest m;
  m.kind = EnclaveKind::kPlugin;
  StatusOr<SgxsImage> image = LayoutFromElf(MakeElf(0x10, {{1, 5, 0, 0, 0x100, 0x100}}, 0x1000), m);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->pages.size(), 1u);
  EXPECT_EQ(image->size, 0x2000u);
}

TEST(Layout, PieHostLeavesThePluginRangeEmpty) {
  Manifest plugin_manifest;
  plugin_manifest.kind = EnclaveKind::kPlugin;
  LayoutInfo plugin_info;
  StatusOr<SgxsImage> plugin = LayoutFromElf(TwoSegmentElf(), plugin_manifest, &plugin_info);
  ASSERT_TRUE(plugin.ok());

  Manifest m;
  m.threads = 2;
  m.heap_size = 4 * kPageSize;
  m.stack_size = 2 * kPageSize;
  LayoutInfo info;
  StatusOr<SgxsImage> host = LayoutPieHost(m, plugin->size, plugin_info.entry_offset, 0, &info);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  ExpectWellFormed(*host, info);
  EXPECT_EQ(info.elf_end, plugin->size);
  EXPECT_EQ(info.heap_offset, plugin->size);
  EXPECT_EQ(info.entry_offset, 0x10u);
  EXPECT_EQ(host->pages.front().offset, plugin->size);
  EXPECT_EQ(host->pages.size(), 4u + 2 * (1 + 2 + 2 + 1));
  ASSERT_EQ(info.threads.size(), 2u);
  for (const ThreadLayout& t : info.threads) {
    const machine::Tcs tcs = machine::Tcs::Parse(FindPage(*host, t.tcs_offset)->data);
    EXPECT_EQ(tcs.oentry, 0x10u);
    EXPECT_EQ(tcs.ossa, t.ssa_offset);
  }
  for (const SgxsPage& p : host->pages) EXPECT_NE(p.secinfo.page_type(), PageType::kSreg);
  EXPECT_EQ(host->size, std::bit_ceil(info.image_end));

  EXPECT_FALSE(LayoutPieHost(plugin_manifest, plugin->size, 0, 0).ok());  // kind plugin
  EXPECT_FALSE(LayoutPieHost(m, 0, 0, 0).ok());
  EXPECT_FALSE(LayoutPieHost(m, 0x1800, 0, 0).ok());
  EXPECT_THAT(LayoutPieHost(m, 0x4000, 0x4000, 0).error().message,
              HasSubstr("plugin entry 0x4000 is not below the plugin size 0x4000"));
}

// The thread-info page of `thread` in `image`.
confide_thread_info ThreadInfoOf(const SgxsImage& image, const ThreadLayout& thread) {
  confide_thread_info ti{};
  const SgxsPage* page = FindPage(image, thread.info_offset);
  EXPECT_NE(page, nullptr);
  if (page != nullptr) std::memcpy(&ti, page->data.data(), sizeof ti);
  return ti;
}

TEST(Layout, ThreadInfoNamesTheElfsSyscallHandler) {
  const Bytes elf = WithSymbols(TwoSegmentElf(), {{"confide_syscall_handler", 0x400020}});
  Manifest m;
  m.threads = 2;
  LayoutInfo info;
  StatusOr<SgxsImage> image = LayoutFromElf(elf, m, &info);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ExpectWellFormed(*image, info);
  EXPECT_EQ(info.syscall_handler_offset, 0x20u);
  ASSERT_EQ(info.threads.size(), 2u);
  for (const ThreadLayout& t : info.threads) {
    const confide_thread_info ti = ThreadInfoOf(*image, t);
    EXPECT_EQ(ti.magic, CONFIDE_THREAD_INFO_MAGIC);
    EXPECT_EQ(ti.syscall_handler_offset, 0x20u);
  }
  // It is measured: a handler elsewhere is another enclave.
  const Bytes elsewhere = WithSymbols(TwoSegmentElf(), {{"confide_syscall_handler", 0x400030}});
  StatusOr<SgxsImage> other = LayoutFromElf(elsewhere, m);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(MeasureSgxs(*image), MeasureSgxs(*other));

  // A plugin's layout reports it too (it has no thread-info page of its own),
  // and a PIE host's thread-info pages carry the plugin's.
  Manifest plugin_manifest;
  plugin_manifest.kind = EnclaveKind::kPlugin;
  LayoutInfo plugin_info;
  StatusOr<SgxsImage> plugin = LayoutFromElf(elf, plugin_manifest, &plugin_info);
  ASSERT_TRUE(plugin.ok());
  EXPECT_EQ(plugin_info.syscall_handler_offset, 0x20u);
  LayoutInfo host_info;
  StatusOr<SgxsImage> host = LayoutPieHost(m, plugin->size, plugin_info.entry_offset,
                                           plugin_info.syscall_handler_offset, &host_info);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  ExpectWellFormed(*host, host_info);
  EXPECT_EQ(host_info.syscall_handler_offset, 0x20u);
  for (const ThreadLayout& t : host_info.threads) {
    EXPECT_EQ(ThreadInfoOf(*host, t).syscall_handler_offset, 0x20u);
  }
  EXPECT_THAT(LayoutPieHost(m, 0x4000, 0x10, 0x4000).error().message,
              HasSubstr("plugin syscall handler 0x4000 is not below the plugin size 0x4000"));
}

TEST(Layout, ThreadInfoNamesNoHandlerWithoutTheSymbol) {
  // No section headers at all, and a symbol table without the name.
  for (const Bytes& elf : {TwoSegmentElf(), WithSymbols(TwoSegmentElf(), {{"main", 0x400020}})}) {
    LayoutInfo info;
    StatusOr<SgxsImage> image = LayoutFromElf(elf, Manifest{}, &info);
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    EXPECT_EQ(info.syscall_handler_offset, 0u);
    ASSERT_EQ(info.threads.size(), 1u);
    const confide_thread_info ti = ThreadInfoOf(*image, info.threads[0]);
    EXPECT_EQ(ti.magic, CONFIDE_THREAD_INFO_MAGIC);
    EXPECT_EQ(ti.syscall_handler_offset, 0u);
  }
  // A PIE host laid out without a handler names none either.
  Manifest m;
  LayoutInfo info;
  StatusOr<SgxsImage> host = LayoutPieHost(m, 0x4000, 0x10, 0, &info);
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  EXPECT_EQ(ThreadInfoOf(*host, info.threads[0]).syscall_handler_offset, 0u);
}

TEST(LayoutErrors, SyscallHandlerMustBeInExecutableSegment) {
  // 0x401900 is in the data segment (R|W).
  StatusOr<SgxsImage> r = LayoutFromElf(
      WithSymbols(TwoSegmentElf(), {{"confide_syscall_handler", 0x401900}}), Manifest{});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message,
              HasSubstr("confide_syscall_handler 0x401900 is not inside an executable PT_LOAD"));
}

TEST(LayoutErrors, EntryMustBeInExecutableSegment) {
  StatusOr<SgxsImage> r = LayoutFromElf(
      MakeElf(0x1800, {{1, 5, 0, 0, 0x100, 0x1000}, {1, 6, 0, 0x1000, 0, 0x1000}}, 0x1000),
      Manifest{});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("e_entry 0x1800 is not inside an executable PT_LOAD"));
}

TEST(LayoutErrors, SpanTooLarge) {
  StatusOr<SgxsImage> r = LayoutFromElf(
      MakeElf(0, {{1, 5, 0, 0, 0x100, 0x1000}, {1, 6, 0, uint64_t{1} << 31, 0, 0x1000}}, 0x1000),
      Manifest{});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("PT_LOAD segments span"));
}

TEST(LayoutErrors, BadElfAndBadManifest) {
  StatusOr<SgxsImage> r = LayoutFromElf(Bytes(100, 0), Manifest{});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("ELF offset 0x0: bad magic"));
  Manifest m;
  m.stack_size = 123;
  r = LayoutFromElf(TwoSegmentElf(), m);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("stack_size"));
}

RC_GTEST_PROP(LayoutProperty, MutatedElfsLayOutOrFailCleanly, ()) {
  Bytes elf = TwoSegmentElf();
  const size_t n = *rc::gen::inRange<size_t>(1, 4);
  for (size_t i = 0; i < n; ++i)
    elf[*rc::gen::inRange<size_t>(0, 176)] = *rc::gen::arbitrary<uint8_t>();
  // Keep the pages materialized small: skip ELFs spanning more than 16 MiB.
  StatusOr<ElfFile> parsed = ParseElf64(elf);
  // (A bool first: RC_PRE's expression capture does not short-circuit ||.)
  const bool small = !parsed.ok() || parsed->loads.back().vaddr + parsed->loads.back().mem_size -
                                             parsed->loads.front().vaddr <
                                         (uint64_t{16} << 20);
  RC_PRE(small);
  Manifest m;
  m.heap_size = 0;
  m.kind = *rc::gen::element(EnclaveKind::kHost, EnclaveKind::kPlugin);
  LayoutInfo info;
  StatusOr<SgxsImage> r = LayoutFromElf(elf, m, &info);
  if (!r.ok()) return;
  RC_ASSERT(r->size >= info.image_end);
  RC_ASSERT(ParseSgxs(WriteSgxs(*r)).ok());
}

class TinyEnclave : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<Bytes> f = ReadFile(TINY_ENCLAVE_PATH);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    elf_ = *f;
    StatusOr<ElfFile> parsed = ParseElf64(elf_);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    file_ = *parsed;
  }
  // Pages the PT_LOAD segments cover.
  size_t ElfPageCount() const {
    std::set<uint64_t> pages;
    for (const ElfSegment& s : file_.loads)
      for (uint64_t va = s.vaddr & ~uint64_t{0xfff}; va < s.vaddr + s.mem_size; va += kPageSize)
        pages.insert(va);
    return pages.size();
  }
  Bytes elf_;
  ElfFile file_;
};

TEST_F(TinyEnclave, HostLayout) {
  Manifest m;
  m.threads = 2;
  LayoutInfo info;
  StatusOr<SgxsImage> image = LayoutFromElf(elf_, m, &info);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ExpectWellFormed(*image, info);
  const size_t elf_pages = ElfPageCount();
  EXPECT_GE(elf_pages, 2u);
  EXPECT_EQ(image->pages.size(), elf_pages + 64 + 2 * (1 + 2 + 16 + 1));
  EXPECT_EQ(info.entry_offset, file_.entry - (file_.loads.front().vaddr & ~uint64_t{0xfff}));

  size_t rx = 0, rw = 0, wx = 0, tcs = 0;
  for (const SgxsPage& p : image->pages) {
    if (p.offset >= info.elf_end) continue;
    const uint8_t perms = p.secinfo.perms();
    rx += perms == (kR | kX);
    rw += perms == (kR | kW);
    wx += (perms & kW) && (perms & kX);
  }
  EXPECT_GE(rx, 1u);  // _start
  EXPECT_GE(rw, 1u);  // data + bss
  EXPECT_EQ(wx, 0u);
  for (const ThreadLayout& t : info.threads) {
    const SgxsPage* page = FindPage(*image, t.tcs_offset);
    ASSERT_NE(page, nullptr);
    EXPECT_EQ(page->secinfo.page_type(), PageType::kTcs);
    const machine::Tcs parsed = machine::Tcs::Parse(page->data);
    EXPECT_EQ(parsed.oentry, info.entry_offset);
    EXPECT_EQ(parsed.ossa, t.ssa_offset);
    EXPECT_EQ(parsed.nssa, 2u);
    EXPECT_EQ(parsed.fslimit, 0xfffu);
    ++tcs;
  }
  EXPECT_EQ(tcs, 2u);
  // The entry point's page is executable and holds _start's code.
  const SgxsPage* entry = FindPage(*image, info.entry_offset & ~uint64_t{0xfff});
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(entry->secinfo.perms() & kX);
  // tiny_enclave.c's confide_syscall_handler, named in every thread-info page.
  StatusOr<std::optional<uint64_t>> handler = FindElfSymbol(elf_, kSyscallHandlerSymbol);
  ASSERT_TRUE(handler.ok() && handler->has_value());
  EXPECT_EQ(info.syscall_handler_offset,
            **handler - (file_.loads.front().vaddr & ~uint64_t{0xfff}));
  EXPECT_NE(info.syscall_handler_offset, 0u);
  for (const ThreadLayout& t : info.threads) {
    EXPECT_EQ(ThreadInfoOf(*image, t).syscall_handler_offset, info.syscall_handler_offset);
  }
}

TEST_F(TinyEnclave, MeasurementIsStable) {
  StatusOr<SgxsImage> a = LayoutFromElf(elf_, Manifest{});
  StatusOr<SgxsImage> b = LayoutFromElf(elf_, Manifest{});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(MeasureSgxs(*a), MeasureSgxs(*b));
  EXPECT_EQ(WriteSgxs(*a), WriteSgxs(*b));
  EXPECT_EQ(MeasureSgxs(*a), crypto::Sha256Of(WriteSgxs(*a)));
  // Anything the manifest changes in the layout changes MRENCLAVE.
  Manifest bigger;
  bigger.heap_size += kPageSize;
  StatusOr<SgxsImage> c = LayoutFromElf(elf_, bigger);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(MeasureSgxs(*a), MeasureSgxs(*c));
}

TEST_F(TinyEnclave, PluginLayout) {
  Manifest m;
  m.kind = EnclaveKind::kPlugin;
  LayoutInfo info;
  StatusOr<SgxsImage> image = LayoutFromElf(elf_, m, &info);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ExpectWellFormed(*image, info);
  EXPECT_EQ(image->pages.size(), ElfPageCount());
  for (const SgxsPage& p : image->pages) {
    EXPECT_EQ(p.secinfo.page_type(), PageType::kSreg);
    EXPECT_FALSE(p.secinfo.perms() & kW);
  }
}

}  // namespace
}  // namespace confide::image
