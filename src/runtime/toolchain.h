// toolchain.h — how to build enclave code the way the runtime's own ELFs are
// built (cmake/ConfideEnclave.cmake), for `confide image build --c`: musl-gcc,
// its options, the runtime's headers (function.h: the function ABI) and the
// runtime itself as an archive of enclave objects. A function is one or more
// C files that define confide_function; linked with the archive, they make a
// whole enclave ELF at CONFIDE_ENCLAVE_BASE. Host-side C++.
//
// The paths are this build's (source and build trees), fixed when CMake
// configured it: a `confide` binary builds enclaves where it was built.
//
// Thread-safety: immutable data.
#pragma once

#include <string>
#include <vector>

namespace confide::runtime {

struct EnclaveToolchain {
  std::string compiler;               // musl-gcc
  std::vector<std::string> cflags;    // for each C file
  std::vector<std::string> includes;  // -I directories
  std::vector<std::string> ldflags;   // for the link, entry symbol included
  std::vector<std::string> libs;      // after the objects: the runtime archive, libsodium, -lm
};

const EnclaveToolchain& BuiltEnclaveToolchain();

}  // namespace confide::runtime
