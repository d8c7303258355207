// manifest.h — the enclave manifest: what an image needs besides its code.
//
// A JSON object; every key is optional and unknown keys are errors:
//
//   {
//     "kind": "host",            // "host" (default) or "plugin" (PIE)
//     "heap_size": 262144,       // bytes, page multiple, <= 1 GiB     (host)
//     "stack_size": 65536,       // bytes per thread, page multiple,
//                                //   1 page .. 256 MiB                (host)
//     "threads": 1,              // TCS count, 1..64                   (host)
//     "ssa_frame_size": 1,       // SECS.SSAFRAMESIZE in pages, 1..16
//     "isv_prod_id": 0,          // 0..65535
//     "isv_svn": 0,              // 0..65535
//     "debug": false,            // ATTRIBUTES.DEBUG
//     "misc_select": 0,          // 0..0xffffffff
//     "measure_heap": true,      // EEXTEND heap pages              (host)
//     "plugins": [               // the plugins the host may EMAP  (host)
//       {"name": "python", "mrenclave": "<64 hex chars>"}
//     ]
//   }
//
// Keys marked (host) are errors in a plugin manifest: a plugin enclave has no
// heap, threads or stacks of its own (PIE ISCA'21 §IV). Plugin names are
// 1-64 characters of [A-Za-z0-9._-] and, like mrenclaves, unique.
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "crypto/sha256.h"

namespace confide::image {

enum class EnclaveKind : uint8_t { kHost, kPlugin };
const char* EnclaveKindName(EnclaveKind k);  // "host" / "plugin"

struct PluginRef {
  std::string name;
  crypto::Sha256Digest mrenclave{};
  bool operator==(const PluginRef&) const = default;
};

inline constexpr uint64_t kMaxHeapSize = uint64_t{1} << 30;
inline constexpr uint64_t kMaxStackSize = uint64_t{256} << 20;
inline constexpr uint32_t kMaxThreads = 64;
inline constexpr uint32_t kMaxSsaFrameSize = 16;

struct Manifest {
  EnclaveKind kind = EnclaveKind::kHost;
  uint64_t heap_size = 256 * 1024;
  uint64_t stack_size = 64 * 1024;
  uint32_t threads = 1;
  uint32_t ssa_frame_size = 1;
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  bool debug = false;
  uint32_t misc_select = 0;
  bool measure_heap = true;
  std::vector<PluginRef> plugins;

  bool operator==(const Manifest&) const = default;
};

// Parses and validates a manifest; InvalidArgumentError("manifest: <key>:
// <rule>") on malformed JSON, unknown keys, wrong types or out-of-range values.
StatusOr<Manifest> ParseManifest(std::string_view json);

// The rules ParseManifest enforces, for a Manifest built in code: page
// multiples and ranges, host-only fields at their defaults for a plugin, plugin
// names and mrenclaves unique.
Status ValidateManifest(const Manifest& manifest);

// The manifest as pretty JSON, every key written (host-only keys omitted for a
// plugin); ParseManifest(ManifestToJson(m)) == m for every valid m.
std::string ManifestToJson(const Manifest& manifest);

}  // namespace confide::image
