// pie.h — PIE's plugin enclaves for a workload (ISCA'21 §IV, Fig. 8): the
// runtime, one plugin per library and the function, packed into one region
// of the host's ELRANGE, each aligned to its power-of-two size. Used by the
// PIE start policies and by in-situ chains, which remap one function's
// plugins for the next at the same addresses.
//
// Thread-safety: as the EpcDriver (one thread at a time).
#pragma once

#include <string>
#include <vector>

#include "platform/enclave_builder.h"
#include "platform/policy/start_policy.h"

namespace confide::platform::policy {

// The plugins of `w`, laid out from `base`: the runtime first, named after
// the runtime (not the function), so every function of one runtime lays it
// out at the same address with the same MRENCLAVE and consecutive functions
// of a chain can share it; then libraries and the function, biggest first,
// each aligned to its power-of-two size. REQUIRES: `base` aligned to every
// plugin's size (kEnclaveBase, 1 TiB, is).
std::vector<EnclaveSpec> PluginSpecs(const WorkloadProfile& w, uint64_t base);
// Bytes from `base` to the end of the last plugin of `specs`.
uint64_t PluginSpan(const std::vector<EnclaveSpec>& specs, uint64_t base);

// Builds (ECREATE, EADD + EEXTEND of PT_SREG pages, EINIT) every spec.
// On failure, destroys those already built.
StatusOr<std::vector<BuiltEnclave>> BuildPlugins(PolicyContext& ctx, CoreId core,
                                                 const std::vector<EnclaveSpec>& specs);
Status DestroyPlugins(PolicyContext& ctx, CoreId core, std::vector<BuiltEnclave>& plugins);

// The host's side, while `in` is entered on `core`: EMAP each plugin with
// its expected MRENCLAVE (appended to in->mapped_plugins) / EUNMAP each
// mapped plugin; the driver is told, so it keeps mapped plugins' pages in
// while the host runs.
Status MapPlugins(EpcDriver& driver, CoreId core, const std::vector<BuiltEnclave>& plugins,
                  Instance* in);
Status UnmapPlugins(EpcDriver& driver, CoreId core, Instance* in);

}  // namespace confide::platform::policy
