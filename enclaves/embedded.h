// embedded.h — enclave programs compiled with confide and carried inside its
// binaries (see enclaves/CMakeLists.txt), so that `confide demo` runs with no
// files beside it.
//
// Thread-safety: immutable data.
#pragma once

#include <cstdint>
#include <span>

namespace confide::enclaves {

// The ELF of enclaves/demo_enclave.c (link demo_enclave_embedded).
std::span<const uint8_t> demo_enclave_elf();

}  // namespace confide::enclaves
