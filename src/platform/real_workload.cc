#include "platform/real_workload.h"

#include <algorithm>

#include "machine/secs.h"

namespace confide::platform {
namespace {

using machine::PageType;
namespace secinfo = machine::secinfo;

constexpr uint8_t kRightsMask = secinfo::kR | secinfo::kW | secinfo::kX;

bool In(uint64_t offset, uint64_t start, uint64_t bytes) {
  return offset >= start && offset - start < bytes;
}

RegionKind KindOf(const image::SgxsPage& page, const image::LayoutInfo* host,
                  uint32_t ssa_frame_size) {
  if (page.secinfo.page_type() == PageType::kTcs) return RegionKind::kTcs;
  if (host) {
    if (In(page.offset, host->heap_offset, host->heap_size)) return RegionKind::kHeap;
    for (const image::ThreadLayout& t : host->threads) {
      if (In(page.offset, t.ssa_offset, uint64_t{image::kTcsNssa} * ssa_frame_size * kPageSize))
        return RegionKind::kSsa;
      if (In(page.offset, t.stack_offset, t.stack_size)) return RegionKind::kStack;
    }
  }
  return (page.secinfo.flags & secinfo::kX) ? RegionKind::kCode : RegionKind::kData;
}

uint64_t PagesOf(const EnclaveSpec& spec, RegionKind kind) {
  uint64_t n = 0;
  for (const Region& r : spec.regions) n += r.kind == kind ? r.pages : 0;
  return n;
}

}  // namespace

EnclaveSpec SpecFromImage(std::string name, const image::SgxsImage& image, uint64_t base,
                          const image::LayoutInfo* host) {
  EnclaveSpec spec;
  spec.name = std::move(name);
  spec.base = base;
  spec.size = image.size;
  spec.ssa_frame_size = image.ssa_frame_size;
  auto contents = std::make_shared<PageBytesByOffset>();
  for (const image::SgxsPage& page : image.pages) {
    const RegionKind kind = KindOf(page, host, image.ssa_frame_size);
    const bool shared = page.secinfo.page_type() == PageType::kSreg;
    const uint8_t rights =
        kind == RegionKind::kTcs ? 0 : static_cast<uint8_t>(page.secinfo.flags & kRightsMask);
    const bool measured = page.measured_chunks != 0;
    Region* last = spec.regions.empty() ? nullptr : &spec.regions.back();
    if (last && last->kind == kind && last->rights == rights && last->shared == shared &&
        last->measured == measured && last->offset + last->pages * kPageSize == page.offset) {
      last->pages++;
    } else {
      spec.regions.push_back(Region{kind, page.offset, 1, true, measured, shared, rights});
    }
    // Zero pages (the heap, stacks) need no copy: PageAt gives zeros.
    if (std::any_of(page.data.begin(), page.data.end(), [](uint8_t b) { return b != 0; }))
      (*contents)[page.offset] = page.data;
  }
  spec.contents = std::move(contents);
  return spec;
}

EnclaveSpec WorkloadHostSpec(const WorkloadProfile& workload, const SpecParams& p) {
  if (!workload.real) return HostSpec(p);
  EnclaveSpec spec = p.plugin_span > 0 ? workload.real->pie_host : workload.real->monolithic;
  spec.name = p.name;
  for (Region& r : spec.regions) {
    if (r.kind == RegionKind::kHeap) {
      r.added = p.heap_added;
      r.measured = p.heap_added && p.heap_measured;
    } else if (r.kind == RegionKind::kCode || r.kind == RegionKind::kData) {
      r.measured = p.code_measured;
    }
  }
  return spec;
}

WorkloadProfile RealWorkload(std::string name, std::shared_ptr<const RealImages> images) {
  WorkloadProfile w;
  w.name = std::move(name);
  w.description = "a real function (runs on the monitor)";
  w.runtime = "real";
  // Plugins: the first is the runtime, the rest the function's (and data).
  for (size_t i = 0; i < images->plugins.size(); ++i) {
    const uint64_t pages = images->plugins[i].TotalPages();
    (i == 0 ? w.runtime_pages : w.function_pages) += pages;
  }
  w.heap_pages = PagesOf(images->pie_host, RegionKind::kHeap);
  w.sgx_heap_pages = w.heap_pages;
  w.real = std::move(images);
  return w;
}

}  // namespace confide::platform
