// cmd_image.cc — `confide image measure`, `confide image sign` and
// `confide image build` (a Lua function as a signed plugin: a .enclave file,
// image/plugin_image.h), and the `image` subcommand that holds them (verify
// and inspect: cmd_inspect.cc).
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "base/file.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "crypto/rsa.h"
#include "image/manifest.h"
#include "image/plugin_image.h"
#include "image/sgxs.h"
#include "image/signer.h"
#include "machine/secs.h"

namespace confide::cli {
namespace {

// The XFRM every confide enclave is signed for: x87 and SSE state (bits 0, 1),
// the minimum the SDM allows (XFRM[1:0] must be 11b).
constexpr uint64_t kDefaultXfrm = 0x3;

// Validates the SGXS file at `path` and returns its MRENCLAVE, or Fail.
crypto::Sha256Digest MeasureSgxsFileOrFail(std::string_view command, const std::string& path) {
  const Bytes bytes = ReadFileOrFail(command, path);
  return ValueOrFail(command, path, image::MeasureSgxsStream(bytes));
}

void RunMeasure(const std::string& path) {
  std::cout << ToHex(MeasureSgxsFileOrFail("image measure", path)) << "\n";
}

struct SignOptions {
  std::string key;
  std::string out;
  std::string manifest;
  std::string date;
  std::string in;
};

crypto::Rsa3072PrivateKey ReadKeyOrFail(std::string_view command, const std::string& path) {
  const Bytes pem = ReadFileOrFail(command, path);
  return ValueOrFail(command, path,
                     crypto::Rsa3072PrivateKey::FromPem(
                         std::string_view(reinterpret_cast<const char*>(pem.data()), pem.size())));
}

void RunSign(const SignOptions& o) {
  constexpr std::string_view kCmd = "image sign";
  const crypto::Rsa3072PrivateKey key = ReadKeyOrFail(kCmd, o.key);
  const crypto::Sha256Digest mrenclave = MeasureSgxsFileOrFail(kCmd, o.in);
  image::Manifest manifest;
  if (!o.manifest.empty()) {
    const Bytes text = ReadFileOrFail(kCmd, o.manifest);
    manifest = ValueOrFail(kCmd, o.manifest,
                           image::ParseManifest(std::string_view(
                               reinterpret_cast<const char*>(text.data()), text.size())));
  }
  image::SigningParams p;
  p.enclave_hash = mrenclave;
  p.attributes.flags =
      machine::attr::kMode64Bit | (manifest.debug ? machine::attr::kDebug : uint64_t{0});
  p.attributes.xfrm = kDefaultXfrm;
  p.misc_select = manifest.misc_select;
  p.isv_prod_id = manifest.isv_prod_id;
  p.isv_svn = manifest.isv_svn;
  if (!o.date.empty()) p.date = ValueOrFail(kCmd, "--date", image::ParseBcdDate(o.date));
  const machine::Sigstruct sig = ValueOrFail(kCmd, "", image::SignEnclave(key, p));
  const auto bytes = sig.Serialize();
  OkOrFail(kCmd, o.out, WriteFileAtomically(o.out, bytes));
  std::cout << fmt::format("wrote {} ({} bytes)\nmrenclave {}\nmrsigner  {}\n", o.out, bytes.size(),
                           ToHex(sig.enclave_hash), ToHex(sig.MrSigner()));
}

struct BuildOptions {
  std::string lua;
  std::string key;
  std::string out;
  std::string name;
};

void RunBuild(const BuildOptions& o) {
  constexpr std::string_view kCmd = "image build";
  if (!o.lua.ends_with(".lua")) {
    Fail(kCmd,
         fmt::format("{}: a function is a .lua file (Lua source returning a function)", o.lua), 2);
  }
  const crypto::Rsa3072PrivateKey key = ReadKeyOrFail(kCmd, o.key);
  const Bytes source = ReadFileOrFail(kCmd, o.lua);
  const std::string name = o.name.empty() ? o.lua.substr(o.lua.find_last_of('/') + 1) : o.name;
  const image::SgxsImage img = ValueOrFail(kCmd, o.lua, image::LuaFunctionImage(name, source));
  image::SigningParams p;
  p.enclave_hash = image::MeasureSgxs(img);
  p.attributes.flags = machine::attr::kMode64Bit;
  p.attributes.xfrm = kDefaultXfrm;
  const machine::Sigstruct sig = ValueOrFail(kCmd, "signing", image::SignEnclave(key, p));
  const Bytes file = image::WriteEnclaveFile(img, sig);
  OkOrFail(kCmd, o.out, WriteFileAtomically(o.out, file));
  std::cout << fmt::format("wrote {} ({} bytes, {} pages)\nmrenclave {}\nmrsigner  {}\n", o.out,
                           file.size(), img.pages.size(), ToHex(sig.enclave_hash),
                           ToHex(sig.MrSigner()));
}

}  // namespace

void RegisterImageCommands(CLI::App& app) {
  CLI::App* image = app.add_subcommand("image", "Measure, sign, verify and inspect enclave images");
  image->require_subcommand(1);

  auto measure_in = std::make_shared<std::string>();
  CLI::App* measure =
      image->add_subcommand("measure", "Validate an SGXS file and print its MRENCLAVE");
  measure->add_option("FILE", *measure_in, "The enclave, in SGXS format")->required();
  measure->callback([measure_in] { RunMeasure(*measure_in); });

  auto sign_opts = std::make_shared<SignOptions>();
  CLI::App* sign = image->add_subcommand("sign", "Sign an SGXS enclave: write its SIGSTRUCT");
  sign->add_option("--key", sign_opts->key, "RSA-3072 e=3 private key (PEM)")->required();
  sign->add_option("--out", sign_opts->out, "Where to write the 1808-byte SIGSTRUCT")->required();
  sign->add_option("--manifest", sign_opts->manifest,
                   "Manifest JSON: ISVPRODID, ISVSVN, MISCSELECT and DEBUG come from it");
  sign->add_option("--date", sign_opts->date, "Signing date YYYYMMDD (default: today, UTC)");
  sign->add_option("IN", sign_opts->in, "The enclave, in SGXS format")->required();
  sign->callback([sign_opts] { RunSign(*sign_opts); });

  auto build_opts = std::make_shared<BuildOptions>();
  CLI::App* build = image->add_subcommand(
      "build", "Build a Lua function into a signed plugin enclave (a .enclave file)");
  build->add_option("--lua", build_opts->lua, "The function: Lua source returning a function")
      ->required();
  build->add_option("--key", build_opts->key, "RSA-3072 e=3 private key (PEM)")->required();
  build->add_option("--out", build_opts->out, "Where to write the .enclave file")->required();
  build->add_option("--name", build_opts->name, "The function's name (default: the file's)");
  build->callback([build_opts] { RunBuild(*build_opts); });

  RegisterImageVerifyCommand(*image);
  RegisterImageInspectCommand(*image);
}

}  // namespace confide::cli
