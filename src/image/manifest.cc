#include "image/manifest.h"

#include "image/enclave_abi.h"

#include <algorithm>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace confide::image {
namespace {

using nlohmann::json;

tl::unexpected<Error> Bad(std::string_view key, std::string_view rule) {
  return InvalidArgumentError(fmt::format("manifest: {}: {}", key, rule));
}

// A SAX pass that finds syntax errors (with their byte position) and duplicate
// keys, which the DOM parser would silently collapse. Never throws.
class Checker : public nlohmann::json_sax<json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    if (!keys_.back().insert(k).second) {
      error_ = fmt::format("manifest: {}: duplicate key", k);
      return false;
    }
    return true;
  }
  bool end_object() override {
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception&) override {
    error_ = fmt::format("manifest: not valid JSON (error at byte {})", position);
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  std::vector<std::set<std::string>> keys_;
  std::string error_;
};

StatusOr<uint64_t> GetUint(std::string_view key, const json& v, uint64_t min, uint64_t max) {
  if (!v.is_number_integer())
    return Bad(key, fmt::format("must be an integer, got {}",
                                v.is_number_float() ? v.dump() : std::string(v.type_name())));
  if (!v.is_number_unsigned() || v.get<uint64_t>() < min || v.get<uint64_t>() > max)
    return Bad(key, fmt::format("must be in [{}, {}], got {}", min, max, v.dump()));
  return v.get<uint64_t>();
}

StatusOr<uint64_t> GetPageMultiple(std::string_view key, const json& v, uint64_t min,
                                   uint64_t max) {
  CONFIDE_ASSIGN_OR_RETURN(uint64_t n, GetUint(key, v, min, max));
  if (n % kPageSize != 0) return Bad(key, fmt::format("must be a multiple of 4096, got {}", n));
  return n;
}

StatusOr<bool> GetBool(std::string_view key, const json& v) {
  if (!v.is_boolean()) return Bad(key, fmt::format("must be a boolean, got {}", v.type_name()));
  return v.get<bool>();
}

bool ValidPluginName(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

StatusOr<std::vector<PluginRef>> GetPlugins(const json& v) {
  if (!v.is_array()) return Bad("plugins", fmt::format("must be an array, got {}", v.type_name()));
  if (v.size() > CONFIDE_MAX_PLUGINS) {
    // The thread-info page holds the table the host's EMAPs check against.
    return Bad("plugins", fmt::format("{} entries; a host may name at most {}", v.size(),
                                      CONFIDE_MAX_PLUGINS));
  }
  std::vector<PluginRef> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string where = fmt::format("plugins[{}]", i);
    const json& e = v[i];
    if (!e.is_object()) return Bad(where, fmt::format("must be an object, got {}", e.type_name()));
    for (const auto& [k, unused] : e.items())
      if (k != "name" && k != "mrenclave") return Bad(where + "." + k, "unknown key");
    if (!e.contains("name")) return Bad(where + ".name", "required");
    if (!e.contains("mrenclave")) return Bad(where + ".mrenclave", "required");
    const json& name = e["name"];
    const json& mr = e["mrenclave"];
    if (!name.is_string() || !ValidPluginName(name.get<std::string>()))
      return Bad(where + ".name", "must be a string of 1-64 characters from [A-Za-z0-9._-]");
    if (!mr.is_string() || mr.get<std::string>().size() != 64)
      return Bad(where + ".mrenclave", "must be a string of 64 hex characters");
    StatusOr<Bytes> hash = FromHex(mr.get<std::string>());
    if (!hash.ok()) return Bad(where + ".mrenclave", "must be a string of 64 hex characters");
    PluginRef ref;
    ref.name = name.get<std::string>();
    std::copy(hash->begin(), hash->end(), ref.mrenclave.begin());
    for (const PluginRef& other : out) {
      if (other.name == ref.name) return Bad(where + ".name", "duplicate plugin name " + ref.name);
      if (other.mrenclave == ref.mrenclave)
        return Bad(where + ".mrenclave", "duplicate plugin mrenclave");
    }
    out.push_back(std::move(ref));
  }
  return out;
}

constexpr std::string_view kHostOnlyKeys[] = {"heap_size", "stack_size", "threads", "measure_heap",
                                              "plugins"};

}  // namespace

const char* EnclaveKindName(EnclaveKind k) { return k == EnclaveKind::kPlugin ? "plugin" : "host"; }

StatusOr<Manifest> ParseManifest(std::string_view text) {
  Checker checker;
  if (!json::sax_parse(text, &checker, json::input_format_t::json, /*strict=*/true) ||
      !checker.error().empty())
    return InvalidArgumentError(checker.error().empty() ? "manifest: not valid JSON"
                                                        : checker.error());
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgumentError("manifest: not valid JSON");
  if (!doc.is_object())
    return InvalidArgumentError(
        fmt::format("manifest: the top level must be an object, got {}", doc.type_name()));

  Manifest m;
  if (doc.contains("kind")) {
    const json& kind = doc["kind"];
    if (kind.is_string() && kind.get<std::string>() == "host") {
      m.kind = EnclaveKind::kHost;
    } else if (kind.is_string() && kind.get<std::string>() == "plugin") {
      m.kind = EnclaveKind::kPlugin;
    } else {
      return Bad("kind", "must be \"host\" or \"plugin\", got " +
                             kind.dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
  for (const auto& [key, v] : doc.items()) {
    if (m.kind == EnclaveKind::kPlugin &&
        std::find(std::begin(kHostOnlyKeys), std::end(kHostOnlyKeys), key) !=
            std::end(kHostOnlyKeys))
      return Bad(key, "only for kind \"host\" (a plugin has no heap, threads or stacks)");
    if (key == "kind") {
      continue;
    } else if (key == "heap_size") {
      CONFIDE_ASSIGN_OR_RETURN(m.heap_size, GetPageMultiple(key, v, 0, kMaxHeapSize));
    } else if (key == "stack_size") {
      CONFIDE_ASSIGN_OR_RETURN(m.stack_size, GetPageMultiple(key, v, kPageSize, kMaxStackSize));
    } else if (key == "threads") {
      CONFIDE_ASSIGN_OR_RETURN(uint64_t n, GetUint(key, v, 1, kMaxThreads));
      m.threads = static_cast<uint32_t>(n);
    } else if (key == "ssa_frame_size") {
      CONFIDE_ASSIGN_OR_RETURN(uint64_t n, GetUint(key, v, 1, kMaxSsaFrameSize));
      m.ssa_frame_size = static_cast<uint32_t>(n);
    } else if (key == "isv_prod_id") {
      CONFIDE_ASSIGN_OR_RETURN(uint64_t n, GetUint(key, v, 0, 0xffff));
      m.isv_prod_id = static_cast<uint16_t>(n);
    } else if (key == "isv_svn") {
      CONFIDE_ASSIGN_OR_RETURN(uint64_t n, GetUint(key, v, 0, 0xffff));
      m.isv_svn = static_cast<uint16_t>(n);
    } else if (key == "misc_select") {
      CONFIDE_ASSIGN_OR_RETURN(uint64_t n, GetUint(key, v, 0, 0xffffffff));
      m.misc_select = static_cast<uint32_t>(n);
    } else if (key == "debug") {
      CONFIDE_ASSIGN_OR_RETURN(m.debug, GetBool(key, v));
    } else if (key == "measure_heap") {
      CONFIDE_ASSIGN_OR_RETURN(m.measure_heap, GetBool(key, v));
    } else if (key == "plugins") {
      CONFIDE_ASSIGN_OR_RETURN(m.plugins, GetPlugins(v));
    } else {
      return Bad(key, "unknown key");
    }
  }
  return m;
}

Status ValidateManifest(const Manifest& m) {
  if (m.kind == EnclaveKind::kPlugin) {
    const Manifest d;
    const std::pair<const char*, bool> host_only[] = {
        {"heap_size", m.heap_size != d.heap_size},
        {"stack_size", m.stack_size != d.stack_size},
        {"threads", m.threads != d.threads},
        {"measure_heap", m.measure_heap != d.measure_heap},
        {"plugins", !m.plugins.empty()}};
    for (const auto& [key, set] : host_only)
      if (set) return Bad(key, "only for kind \"host\" (a plugin has no heap, threads or stacks)");
  }
  // Every other rule is ParseManifest's: check them in one place.
  return ParseManifest(ManifestToJson(m)).status();
}

std::string ManifestToJson(const Manifest& m) {
  nlohmann::ordered_json j;
  j["kind"] = EnclaveKindName(m.kind);
  if (m.kind == EnclaveKind::kHost) {
    j["heap_size"] = m.heap_size;
    j["stack_size"] = m.stack_size;
    j["threads"] = m.threads;
  }
  j["ssa_frame_size"] = m.ssa_frame_size;
  j["isv_prod_id"] = m.isv_prod_id;
  j["isv_svn"] = m.isv_svn;
  j["debug"] = m.debug;
  j["misc_select"] = m.misc_select;
  if (m.kind == EnclaveKind::kHost) {
    j["measure_heap"] = m.measure_heap;
    nlohmann::ordered_json plugins = nlohmann::ordered_json::array();
    for (const PluginRef& p : m.plugins)
      plugins.push_back({{"name", p.name}, {"mrenclave", ToHex(p.mrenclave)}});
    j["plugins"] = std::move(plugins);
  }
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace confide::image
