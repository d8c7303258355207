// cmd_keygen.cc — `confide keygen`: a fresh RSA-3072 (e = 3) enclave signing key.
#include <sys/stat.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "base/file.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "crypto/rsa.h"
#include "machine/sigstruct.h"

namespace confide::cli {
namespace {

struct KeygenOptions {
  std::string out;
  bool force = false;
};

void RunKeygen(const KeygenOptions& o) {
  constexpr std::string_view kCmd = "keygen";
  struct stat st;
  if (!o.force && ::lstat(o.out.c_str(), &st) == 0)
    Fail(kCmd, o.out + ": file exists (use --force to overwrite)");
  crypto::Rsa3072PrivateKey key = ValueOrFail(kCmd, "", crypto::Rsa3072PrivateKey::Generate());
  const std::string pem = key.ToPem();
  OkOrFail(kCmd, o.out, WriteFileAtomically(o.out, AsBytes(pem), 0600));
  machine::Sigstruct s;
  const crypto::Rsa3072Block modulus = key.Modulus();
  std::reverse_copy(modulus.begin(), modulus.end(), s.modulus_le.begin());
  std::cout << fmt::format("wrote {} (RSA-3072, e=3, mode 0600)\nmrsigner {}\n", o.out,
                           ToHex(s.MrSigner()));
}

}  // namespace

void RegisterKeygenCommand(CLI::App& app) {
  auto opts = std::make_shared<KeygenOptions>();
  CLI::App* cmd = app.add_subcommand("keygen", "Generate an RSA-3072 (e=3) enclave signing key");
  cmd->add_option("--out", opts->out, "Where to write the PEM private key (mode 0600)")->required();
  cmd->add_flag("--force", opts->force, "Overwrite an existing file");
  cmd->callback([opts] { RunKeygen(*opts); });
}

}  // namespace confide::cli
