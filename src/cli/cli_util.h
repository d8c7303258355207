// cli_util.h — helpers every confide subcommand uses: failing with one line on
// stderr, reading files, and printing SGX structures for people.
//
// Thread-safety: main thread only (writes to std::cout / std::cerr).
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "image/sgxs.h"
#include "machine/sigstruct.h"

namespace confide::cli {

// Ends the running command: prints "confide <command>: <message>" as one line
// on stderr and throws CLI::RuntimeError(exit_code), which CLI11 turns into the
// exit status without printing anything more.
[[noreturn]] void Fail(std::string_view command, std::string_view message, int exit_code = 1);

// The error's message, prefixed with the SGX error name for SGX errors.
std::string Describe(const Error& error);

// `s`, or Fail(command, context + ": " + message).
void OkOrFail(std::string_view command, std::string_view context, const Status& s);
template <typename T>
T ValueOrFail(std::string_view command, std::string_view context, StatusOr<T> v) {
  if (!v.ok()) OkOrFail(command, context, v.status());
  return std::move(*v);
}

// All of `path`, or Fail.
Bytes ReadFileOrFail(std::string_view command, const std::string& path);

// "0x4 (MODE64BIT)" style rendering of ATTRIBUTES.FLAGS.
std::string AttributeFlagsString(uint64_t flags);
// "r-x" style rendering of SECINFO permissions.
std::string PermsString(uint8_t perms);

// The SIGSTRUCT's fields, one per line.
void PrintSigstruct(std::ostream& out, const machine::Sigstruct& s);
// ECREATE fields, the page table and counts of an SGXS image.
void PrintSgxs(std::ostream& out, const image::SgxsImage& image);

}  // namespace confide::cli
