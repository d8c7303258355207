#include "platform/workload.h"

#include <cmath>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/bytes.h"

namespace confide::platform {

std::string_view BuiltinWorkloadsJson();  // builtin_workloads.cc (generated)

namespace {

using nlohmann::json;

constexpr double kMiB = 1024.0 * 1024.0;

uint64_t PagesOf(double bytes) {
  return static_cast<uint64_t>(std::ceil(bytes / static_cast<double>(kPageSize)));
}

// Reads a non-negative number under `key` of `obj`, naming `where` in errors.
StatusOr<double> Number(const json& obj, const char* key, const std::string& where,
                        double max = 1e15) {
  auto it = obj.find(key);
  if (it == obj.end()) return InvalidArgumentError(fmt::format("{}: missing \"{}\"", where, key));
  if (!it->is_number())
    return InvalidArgumentError(fmt::format("{}: \"{}\" is not a number", where, key));
  const double v = it->get<double>();
  if (!(v >= 0) || v > max)
    return InvalidArgumentError(
        fmt::format("{}: \"{}\" = {} is out of range [0, {}]", where, key, v, max));
  return v;
}

Status CheckKeys(const json& obj, const std::set<std::string>& allowed, const std::string& where) {
  if (!obj.is_object()) return InvalidArgumentError(where + ": not an object");
  for (const auto& [k, v] : obj.items())
    if (!allowed.count(k))
      return InvalidArgumentError(fmt::format("{}: unknown key \"{}\"", where, k));
  return OkStatus();
}

StatusOr<SoftwareCosts> ParseSoftware(const json& j) {
  const std::string w = "software_costs";
  CONFIDE_RETURN_IF_ERROR(
      CheckKeys(j,
                {"sha256_cycles_per_page", "zero_cycles_per_page", "copy_cycles_per_byte",
                 "transfer_cycles_per_byte", "attest_cycles", "reset_cycles_per_page", "sources"},
                w));
  SoftwareCosts s;
  CONFIDE_ASSIGN_OR_RETURN(double sha, Number(j, "sha256_cycles_per_page", w, 1e9));
  CONFIDE_ASSIGN_OR_RETURN(double zero, Number(j, "zero_cycles_per_page", w, 1e9));
  CONFIDE_ASSIGN_OR_RETURN(s.copy_cycles_per_byte, Number(j, "copy_cycles_per_byte", w, 1e6));
  CONFIDE_ASSIGN_OR_RETURN(s.transfer_cycles_per_byte,
                           Number(j, "transfer_cycles_per_byte", w, 1e6));
  CONFIDE_ASSIGN_OR_RETURN(double attest, Number(j, "attest_cycles", w, 1e12));
  CONFIDE_ASSIGN_OR_RETURN(double reset, Number(j, "reset_cycles_per_page", w, 1e9));
  s.sha256_cycles_per_page = static_cast<uint64_t>(sha);
  s.zero_cycles_per_page = static_cast<uint64_t>(zero);
  s.attest_cycles = static_cast<uint64_t>(attest);
  s.reset_cycles_per_page = static_cast<uint64_t>(reset);
  return s;
}

StatusOr<WorkloadProfile> ParseWorkload(const json& j, size_t index, uint64_t frequency_hz) {
  std::string w = fmt::format("workloads[{}]", index);
  CONFIDE_RETURN_IF_ERROR(
      CheckKeys(j,
                {"name", "description", "runtime", "libraries", "code_mb", "data_mb", "heap_mb",
                 "runtime_mb", "function_kb", "sgx_heap_mb", "exec_ms", "cow_fraction"},
                w));
  WorkloadProfile p;
  for (auto [key, field] : {std::pair{"name", &p.name}, std::pair{"description", &p.description},
                            std::pair{"runtime", &p.runtime}}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string() || it->get<std::string>().empty())
      return InvalidArgumentError(fmt::format("{}: \"{}\" must be a non-empty string", w, key));
    *field = it->get<std::string>();
  }
  w = fmt::format("workload \"{}\"", p.name);
  CONFIDE_ASSIGN_OR_RETURN(double libraries, Number(j, "libraries", w, 250));
  CONFIDE_ASSIGN_OR_RETURN(double code_mb, Number(j, "code_mb", w, 1e6));
  CONFIDE_ASSIGN_OR_RETURN(double data_mb, Number(j, "data_mb", w, 1e6));
  CONFIDE_ASSIGN_OR_RETURN(double heap_mb, Number(j, "heap_mb", w, 1e6));
  CONFIDE_ASSIGN_OR_RETURN(double runtime_mb, Number(j, "runtime_mb", w, 1e6));
  CONFIDE_ASSIGN_OR_RETURN(double function_kb, Number(j, "function_kb", w, 1e9));
  CONFIDE_ASSIGN_OR_RETURN(double sgx_heap_mb, Number(j, "sgx_heap_mb", w, 1e6));
  CONFIDE_ASSIGN_OR_RETURN(p.exec_ms, Number(j, "exec_ms", w, 1e9));
  CONFIDE_ASSIGN_OR_RETURN(p.cow_fraction, Number(j, "cow_fraction", w, 1.0));
  if (libraries != std::floor(libraries))
    return InvalidArgumentError(w + ": \"libraries\" must be a whole number");
  const double function_mb = function_kb / 1024.0;
  if (runtime_mb + function_mb > code_mb)
    return InvalidArgumentError(
        fmt::format("{}: runtime_mb + function_kb ({} MB) exceed code_mb ({} MB)", w,
                    runtime_mb + function_mb, code_mb));
  if (sgx_heap_mb < heap_mb)
    return InvalidArgumentError(
        fmt::format("{}: sgx_heap_mb ({}) is smaller than the heap the function uses ({})", w,
                    sgx_heap_mb, heap_mb));
  p.libraries = static_cast<uint32_t>(libraries);
  p.runtime_pages = PagesOf(runtime_mb * kMiB);
  p.function_pages = std::max<uint64_t>(1, PagesOf(function_kb * 1024.0));
  const uint64_t code_pages = PagesOf(code_mb * kMiB);
  p.library_pages = code_pages > p.runtime_pages + p.function_pages
                        ? code_pages - p.runtime_pages - p.function_pages
                        : 0;
  if (p.libraries == 0 && p.library_pages > 0) {
    p.runtime_pages += p.library_pages;  // no libraries: the runtime holds the rest
    p.library_pages = 0;
  }
  if (p.libraries > p.library_pages)
    return InvalidArgumentError(
        fmt::format("{}: {} libraries in {} pages", w, p.libraries, p.library_pages));
  p.data_pages = PagesOf(data_mb * kMiB);
  p.heap_pages = PagesOf(heap_mb * kMiB);
  p.sgx_heap_pages = PagesOf(sgx_heap_mb * kMiB);
  p.exec_cycles = static_cast<uint64_t>(p.exec_ms / 1000.0 * static_cast<double>(frequency_hz));
  return p;
}

}  // namespace

uint64_t WorkloadProfile::library_plugin_pages(uint32_t i) const {
  if (libraries == 0 || i >= libraries) return 0;
  return library_pages / libraries + (i < library_pages % libraries ? 1 : 0);
}

uint64_t WorkloadProfile::cow_pages() const {
  return static_cast<uint64_t>(std::llround(cow_fraction * static_cast<double>(code_pages())));
}

StatusOr<WorkloadProfile> WorkloadSet::Find(std::string_view name) const {
  std::string names;
  for (const WorkloadProfile& w : workloads) {
    if (w.name == name) return w;
    names += (names.empty() ? "" : ", ") + w.name;
  }
  return NotFoundError(fmt::format("no workload \"{}\" (known: {})", name, names));
}

StatusOr<WorkloadSet> ParseWorkloads(std::string_view text, uint64_t frequency_hz) {
  if (frequency_hz == 0) return InvalidArgumentError("workloads: core frequency is 0");
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError("workloads: not valid JSON");
  CONFIDE_RETURN_IF_ERROR(
      CheckKeys(j, {"description", "software_costs", "workloads", "assumptions"}, "workloads"));
  if (!j.contains("software_costs"))
    return InvalidArgumentError("workloads: missing \"software_costs\"");
  if (!j.contains("workloads") || !j["workloads"].is_array() || j["workloads"].empty())
    return InvalidArgumentError("workloads: \"workloads\" must be a non-empty array");
  WorkloadSet set;
  CONFIDE_ASSIGN_OR_RETURN(set.software, ParseSoftware(j["software_costs"]));
  std::set<std::string> seen;
  for (size_t i = 0; i < j["workloads"].size(); ++i) {
    CONFIDE_ASSIGN_OR_RETURN(WorkloadProfile p, ParseWorkload(j["workloads"][i], i, frequency_hz));
    if (!seen.insert(p.name).second)
      return InvalidArgumentError(fmt::format("workloads: \"{}\" appears twice", p.name));
    set.workloads.push_back(std::move(p));
  }
  return set;
}

WorkloadSet BuiltinWorkloads(uint64_t frequency_hz) {
  StatusOr<WorkloadSet> set = ParseWorkloads(BuiltinWorkloadsJson(), frequency_hz);
  // The file is compiled in and covered by tests; a failure here is a build defect.
  if (!set.ok()) std::abort();
  return *std::move(set);
}

WorkloadProfile SyntheticWorkload(std::string name, uint64_t code_pages, uint64_t heap_pages,
                                  uint64_t exec_cycles) {
  WorkloadProfile p;
  p.name = std::move(name);
  p.description = "synthetic";
  p.runtime = "none";
  p.runtime_pages = code_pages > 1 ? code_pages - 1 : 1;
  p.function_pages = 1;
  p.heap_pages = heap_pages;
  p.sgx_heap_pages = heap_pages;
  p.data_pages = 1;
  p.exec_cycles = exec_cycles;
  return p;
}

}  // namespace confide::platform
