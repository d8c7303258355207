// c_enclave.h — `confide image build --c`: C sources that define
// confide_function (runtime/function.h), compiled and linked with the
// runtime by musl-gcc into a whole enclave ELF at CONFIDE_ENCLAVE_BASE, the
// way the project's own enclave ELFs are built (runtime/toolchain.h).
//
// The compiler runs as a child process (no shell), in a fresh temporary
// directory that is removed afterwards; its diagnostics are returned, so a
// tenant sees their compiler errors as they are.
//
// Thread-safety: call from one thread (it forks).
#pragma once

#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace confide::cli {

// The ELF built from `sources` (.c files); `diagnostics` receives what the
// compiler and linker printed (warnings, or the errors), success or not.
// InvalidArgumentError naming the file for a missing or non-.c source, or
// naming the step that failed (compiling f.c, linking); UnavailableError if
// the compiler cannot be run.
StatusOr<Bytes> CompileCEnclave(const std::vector<std::string>& sources, std::string* diagnostics);

}  // namespace confide::cli
