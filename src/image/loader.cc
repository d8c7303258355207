#include "image/loader.h"

#include <fmt/format.h>

namespace confide::image {

using machine::EpcPage;

Status UnloadEnclave(machine::Machine& m, machine::CoreId core, const LoadedEnclave& e) {
  Status first;
  for (EpcPage p : e.pages) {
    Status s = m.Eremove(core, p);
    if (!s.ok() && first.ok()) first = s;
  }
  Status s = m.Eremove(core, e.secs);
  if (!s.ok() && first.ok()) first = s;
  return first;
}

StatusOr<LoadedEnclave> LoadEnclave(machine::Machine& m, machine::CoreId core,
                                    const SgxsImage& image, const machine::Sigstruct& sig,
                                    const LoadOptions& options) {
  machine::Secs secs;
  secs.size = image.size;
  secs.base_addr = options.base;
  secs.ssa_frame_size = image.ssa_frame_size;
  secs.misc_select = options.misc_select;
  secs.attributes = options.attributes.value_or(sig.attributes);
  secs.attributes.flags &= ~machine::attr::kInit;

  LoadedEnclave e;
  e.base = options.base;
  CONFIDE_ASSIGN_OR_RETURN(e.secs, m.FindFreePage());
  CONFIDE_RETURN_IF_ERROR(Annotate(m.Ecreate(core, secs, e.secs), "loading enclave: ECREATE"));
  e.pages.reserve(image.pages.size());

  auto fail = [&](const Status& s, const std::string& what) {
    (void)UnloadEnclave(m, core, e);  // best effort; the original error matters
    return tl::unexpected(Annotate(s, "loading enclave: " + what).error());
  };
  for (const SgxsPage& page : image.pages) {
    auto free = m.FindFreePage();
    if (!free.ok()) return fail(free.status(), fmt::format("page at offset 0x{:x}", page.offset));
    const uint64_t linaddr = options.base + page.offset;
    Status s = m.Eadd(core, e.secs, linaddr, page.secinfo, page.data, *free);
    if (!s.ok()) return fail(s, fmt::format("EADD at offset 0x{:x}", page.offset));
    e.pages.push_back(*free);
    if (page.secinfo.page_type() == machine::PageType::kTcs) e.tcs.push_back(*free);
    for (int chunk = 0; chunk < kChunksPerPage; ++chunk) {
      if (!(page.measured_chunks & (1u << chunk))) continue;
      const uint64_t at = linaddr + uint64_t(chunk) * machine::kEextendChunkSize;
      s = m.Eextend(core, e.secs, at);
      if (!s.ok()) return fail(s, fmt::format("EEXTEND at offset 0x{:x}", at - options.base));
    }
  }
  if (options.einit) {
    Status s = m.Einit(core, e.secs, sig);
    if (!s.ok()) return fail(s, "EINIT");
  }
  return e;
}

}  // namespace confide::image
