#include "machine/cost_profile.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "machine/builtin_profiles.h"

namespace confide::machine {

using nlohmann::json;

StatusOr<CostProfile> CostProfile::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return InvalidArgumentError("cost profile is not a JSON object");
  CostProfile p;
  auto get_string = [&](const char* key, std::string* out) -> Status {
    if (!j.contains(key) || !j[key].is_string())
      return InvalidArgumentError(fmt::format("cost profile: \"{}\" must be a string", key));
    *out = j[key].get<std::string>();
    return OkStatus();
  };
  auto get_uint = [&](const json& obj, const std::string& key, uint64_t min,
                      uint64_t* out) -> Status {
    if (!obj.contains(key) || !obj[key].is_number_unsigned())
      return InvalidArgumentError(
          fmt::format("cost profile: \"{}\" must be a non-negative integer", key));
    *out = obj[key].get<uint64_t>();
    if (*out < min)
      return InvalidArgumentError(fmt::format("cost profile: \"{}\" must be >= {}", key, min));
    return OkStatus();
  };
  CONFIDE_RETURN_IF_ERROR(get_string("name", &p.name));
  if (j.contains("description")) CONFIDE_RETURN_IF_ERROR(get_string("description", &p.description));
  CONFIDE_RETURN_IF_ERROR(get_uint(j, "frequency_hz", 1, &p.frequency_hz));
  CONFIDE_RETURN_IF_ERROR(get_uint(j, "epc_bytes", 2 * 4096, &p.epc_bytes));
  if (p.epc_bytes % 4096 != 0)
    return InvalidArgumentError("cost profile: \"epc_bytes\" must be a multiple of 4096");
  uint64_t cores = 1;
  if (j.contains("cores")) CONFIDE_RETURN_IF_ERROR(get_uint(j, "cores", 1, &cores));
  p.cores = static_cast<uint32_t>(cores);
  if (!j.contains("cycles") || !j["cycles"].is_object())
    return InvalidArgumentError("cost profile: \"cycles\" must be an object");
  const json& cycles = j["cycles"];
  for (const auto& [key, value] : cycles.items()) {
    if (!InstructionFromCostKey(key))
      return InvalidArgumentError(
          fmt::format("cost profile: unknown instruction \"{}\" in cycles", key));
  }
  for (const auto& row : AllInstructions()) {
    std::string key(row.cost_key);
    if (!cycles.contains(key))
      return InvalidArgumentError(fmt::format("cost profile: cycles.{} is missing", key));
    CONFIDE_RETURN_IF_ERROR(get_uint(cycles, key, 0, &p.cycles[static_cast<size_t>(row.id)]));
  }
  return p;
}

StatusOr<CostProfile> CostProfile::Builtin(std::string_view name) {
  for (const auto& entry : BuiltinProfileTexts())
    if (entry.name == name) return FromJson(entry.json);
  std::string names;
  for (const auto& n : BuiltinNames()) names += (names.empty() ? "" : ", ") + n;
  return NotFoundError(fmt::format("no built-in cost profile \"{}\" (have: {})", name, names));
}

std::vector<std::string> CostProfile::BuiltinNames() {
  std::vector<std::string> names;
  for (const auto& entry : BuiltinProfileTexts()) names.emplace_back(entry.name);
  return names;
}

CostProfile CostProfile::Default() {
  // Parsed once: every default MachineConfig starts from it.
  static const CostProfile kDefault = [] {
    auto p = Builtin("pie-xeon-e3");
    // The built-in text is checked by tests; failing here is a build defect.
    if (!p.ok()) std::abort();
    return *p;
  }();
  return kDefault;
}

}  // namespace confide::machine
