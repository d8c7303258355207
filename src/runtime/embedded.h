// embedded.h — the enclave ELFs of src/runtime, carried inside host binaries
// (link confide_runtime_embedded). Host-side C++; the runtime itself is C.
//
// Thread-safety: immutable data.
#pragma once

#include <cstdint>
#include <span>

namespace confide::runtime {

// The Lua 5.4 runtime (lua_runtime.c + the library OS), linked at
// CONFIDE_ENCLAVE_BASE: the runtime plugin of Lua functions.
std::span<const uint8_t> lua_runtime_elf();
// The native probe function (probe.c) the isolation tests use.
std::span<const uint8_t> probe_elf();

}  // namespace confide::runtime
