// cmd_inspect.cc — `confide image verify` (check a SIGSTRUCT, optionally
// against an SGXS file) and `confide image inspect` (print an SGXS file or a
// SIGSTRUCT for people).
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "image/sgxs.h"
#include "image/signer.h"
#include "machine/measurement.h"
#include "machine/sigstruct.h"

namespace confide::cli {
namespace {

struct VerifyOptions {
  std::string sig;
  std::string sgxs;
};

void RunVerify(const VerifyOptions& o) {
  constexpr std::string_view kCmd = "image verify";
  const Bytes bytes = ReadFileOrFail(kCmd, o.sig);
  const machine::Sigstruct sig = ValueOrFail(kCmd, o.sig, machine::Sigstruct::Parse(bytes));
  std::optional<crypto::Sha256Digest> mrenclave;
  if (!o.sgxs.empty()) {
    const Bytes stream = ReadFileOrFail(kCmd, o.sgxs);
    mrenclave = ValueOrFail(kCmd, o.sgxs, image::MeasureSgxsStream(stream));
  }
  const crypto::Sha256Digest* expected = mrenclave ? &*mrenclave : nullptr;
  PrintSigstruct(std::cout, sig);
  if (mrenclave) std::cout << fmt::format("sgxs mrenclave  {}\n", ToHex(*mrenclave));
  std::string first_failure;
  for (const image::SignatureCheck& c : image::CheckEnclaveSignature(sig, expected)) {
    std::cout << fmt::format("check {:<12} {}\n", c.name,
                             c.status.ok() ? "ok" : "FAILED: " + Describe(c.status.error()));
    if (!c.status.ok() && first_failure.empty())
      first_failure = c.name + " check failed: " + Describe(c.status.error());
  }
  // The authoritative verdict (what EINIT would check), in case the per-check
  // view and it ever disagree.
  const Status verdict = image::VerifyEnclaveSignature(sig, expected);
  if (first_failure.empty() && !verdict.ok()) first_failure = Describe(verdict.error());
  std::cout.flush();
  if (!first_failure.empty()) Fail(kCmd, o.sig + ": " + first_failure);
  std::cout << "verified" << (mrenclave ? " (signature and enclave hash)" : " (signature)") << "\n";
}

enum class FileKind { kSgxs, kSigstruct };

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

FileKind DetectKind(std::string_view command, const std::string& path, const Bytes& bytes) {
  if (bytes.size() >= 8 && LoadLe<uint64_t>(bytes.data()) == machine::kTagEcreate)
    return FileKind::kSgxs;
  const auto header = machine::Sigstruct::WithHeaders().header;
  if (bytes.size() == machine::kSigstructSize &&
      std::equal(header.begin(), header.end(), bytes.begin()))
    return FileKind::kSigstruct;
  if (EndsWith(path, ".sgxs")) return FileKind::kSgxs;
  if (EndsWith(path, ".sig")) return FileKind::kSigstruct;
  Fail(command, path +
                    ": neither an SGXS stream (starts with ECREATE) nor a 1808-byte "
                    "SIGSTRUCT, and the name ends in neither .sgxs nor .sig");
}

void RunInspect(const std::string& path) {
  constexpr std::string_view kCmd = "image inspect";
  const Bytes bytes = ReadFileOrFail(kCmd, path);
  if (DetectKind(kCmd, path, bytes) == FileKind::kSgxs) {
    std::cout << path << ": SGXS, " << bytes.size() << " bytes\n";
    PrintSgxs(std::cout, ValueOrFail(kCmd, path, image::ParseSgxs(bytes)));
  } else {
    std::cout << path << ": SIGSTRUCT, " << bytes.size() << " bytes\n";
    PrintSigstruct(std::cout, ValueOrFail(kCmd, path, machine::Sigstruct::Parse(bytes)));
  }
}

}  // namespace

void RegisterImageVerifyCommand(CLI::App& image) {
  auto opts = std::make_shared<VerifyOptions>();
  CLI::App* cmd = image.add_subcommand(
      "verify", "Check a SIGSTRUCT: headers, signature, Q1/Q2 and, with --sgxs, ENCLAVEHASH");
  cmd->add_option("SIG", opts->sig, "The 1808-byte SIGSTRUCT")->required();
  cmd->add_option("--sgxs", opts->sgxs, "The enclave (SGXS) whose MRENCLAVE must match");
  cmd->callback([opts] { RunVerify(*opts); });
}

void RegisterImageInspectCommand(CLI::App& image) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = image.add_subcommand("inspect", "Print an SGXS file or a SIGSTRUCT");
  cmd->add_option("FILE", *path, "An .sgxs or .sig file")->required();
  cmd->callback([path] { RunInspect(*path); });
}

}  // namespace confide::cli
