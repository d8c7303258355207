// pie.cc — PIE's EMAP and EUNMAP (ISCA'21 §IV-C, Table IV): region-wise
// mapping of an initialized plugin enclave into the current host enclave.
//
// EMAP records the plugin in the host's SECS (a map keyed by base address);
// its cost does not depend on the plugin's size. It fails when the plugin's
// ELRANGE leaves the host's ELRANGE or overlaps a private page (resident or
// evicted) or another mapped plugin. A host's private copy-on-write pages in a
// plugin's range survive EUNMAP and must be removed before a plugin is mapped
// there again (PIE Fig. 8b, phase II).

#include <algorithm>

#include <fmt/format.h>

#include "machine/machine.h"
#include "machine/machine_internal.h"

namespace confide::machine {
namespace {

tl::unexpected<Error> Conflict(const std::string& why) {
  return SgxErrorStatus(SgxError::kVaConflict, "EMAP: " + why);
}

template <typename Container>
bool AnyKeyIn(const Container& c, uint64_t begin, uint64_t end) {
  auto it = c.lower_bound(begin);
  return it != c.end() && *std::addressof(it->first) < end;
}

bool AnyIn(const std::set<uint64_t>& s, uint64_t begin, uint64_t end) {
  auto it = s.lower_bound(begin);
  return it != s.end() && *it < end;
}

}  // namespace

Status Machine::Emap(CoreId core, EpcPage plugin_secs, const crypto::Sha256Digest& expected) {
  constexpr Instruction kI = Instruction::kEmap;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EncluCore(*this, core, kI));
  std::shared_ptr<EnclaveState> host = c->enclave;
  CONFIDE_ASSIGN_OR_RETURN(auto plugin, MachineOps::LookupSecs(*this, plugin_secs));
  if (plugin == host)
    return SgxErrorStatus(SgxError::kNotAPlugin, "EMAP: an enclave cannot map itself");
  // Both locks at once (std::lock's back-off): until the kind check below the
  // target may be another host EMAPping this one, which would invert the
  // host -> plugin lock order and deadlock.
  std::scoped_lock locks(host->mu, plugin->mu);
  if (plugin->removed)
    return FaultStatus(FaultVector::kPF, Epc::Address(plugin_secs), "EMAP: SECS was removed");
  if (plugin->kind != EnclaveKind::kPlugin)
    return SgxErrorStatus(SgxError::kNotAPlugin,
                          "EMAP: " + PageName(plugin_secs) + " is not a plugin enclave");
  if (!plugin->initialized)
    return SgxErrorStatus(SgxError::kPluginNotInitialized, "EMAP: plugin has not been EINITed");
  if (plugin->plugin_torn)
    return SgxErrorStatus(SgxError::kPluginRemoved, "EMAP: a page of the plugin was EREMOVEd");
  if (plugin->secs.mr_enclave != expected)
    return SgxErrorStatus(SgxError::kInvalidMeasurement,
                          fmt::format("EMAP: plugin MRENCLAVE {} is not the expected {}",
                                      ToHex(plugin->secs.mr_enclave), ToHex(expected)));
  if (host->mappings.size() >= kMaxPluginsPerHost)
    return SgxErrorStatus(SgxError::kPluginMapFull,
                          fmt::format("EMAP: host already maps {} plugins", kMaxPluginsPerHost));
  const uint64_t begin = plugin->secs.base_addr;
  const uint64_t end = begin + plugin->secs.size;
  if (!host->Contains(begin) || end - host->secs.base_addr > host->secs.size)
    return Conflict(
        fmt::format("plugin range [0x{:x}, 0x{:x}) is outside the host's ELRANGE", begin, end));
  auto next = host->mappings.lower_bound(end);
  if (next != host->mappings.begin() && std::prev(next)->second.end > begin)
    return Conflict(
        fmt::format("plugin range [0x{:x}, 0x{:x}) overlaps a mapped plugin", begin, end));
  if (AnyKeyIn(host->pages, begin, end) || AnyIn(host->evicted, begin, end))
    return Conflict(
        fmt::format("plugin range [0x{:x}, 0x{:x}) overlaps a private page", begin, end));
  host->mappings[begin] = PluginMapping{plugin, end};
  plugin->mapped_by++;
  // EMAP is an ENCLU leaf: the host has a thread inside (this one).
  if (host->threads_inside.load(std::memory_order_acquire) > 0)
    plugin->busy_mappers.fetch_add(1, std::memory_order_release);
  MachineOps::Charge(*this, *c, host.get(), kI);
  return OkStatus();
}

Status Machine::Eunmap(CoreId core, EpcPage plugin_secs) {
  constexpr Instruction kI = Instruction::kEunmap;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EncluCore(*this, core, kI));
  std::shared_ptr<EnclaveState> host = c->enclave;
  std::lock_guard host_lock(host->mu);
  for (auto it = host->mappings.begin(); it != host->mappings.end(); ++it) {
    if (it->second.plugin->secs_page != plugin_secs) continue;
    std::shared_ptr<EnclaveState> plugin = it->second.plugin;
    host->mappings.erase(it);
    {
      std::lock_guard plugin_lock(plugin->mu);
      plugin->mapped_by--;
      if (host->threads_inside.load(std::memory_order_acquire) > 0)
        plugin->busy_mappers.fetch_sub(1, std::memory_order_release);
    }
    MachineOps::Charge(*this, *c, host.get(), kI);
    return OkStatus();
  }
  return SgxErrorStatus(SgxError::kPluginNotMapped,
                        "EUNMAP: " + PageName(plugin_secs) + " is not mapped by this host");
}

}  // namespace confide::machine
