// cmd_image.cc — `confide image measure`, `confide image sign` and
// `confide image build` (a .enclave file, image/plugin_image.h: a Lua
// function as a signed plugin, or C sources and the runtime as a signed whole
// enclave, cli/c_enclave.h), and the `image` subcommand that holds them
// (verify and inspect: cmd_inspect.cc).
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/file.h"
#include "cli/c_enclave.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "crypto/rsa.h"
#include "image/enclave_abi.h"
#include "image/layout.h"
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

// The manifest at `path` (defaults if empty), or Fail.
image::Manifest ReadManifestOrFail(std::string_view command, const std::string& path) {
  if (path.empty()) return image::Manifest{};
  const Bytes text = ReadFileOrFail(command, path);
  return ValueOrFail(command, path,
                     image::ParseManifest(std::string_view(
                         reinterpret_cast<const char*>(text.data()), text.size())));
}

// What a SIGSTRUCT over `mrenclave` says, from the manifest: 64-bit mode,
// DEBUG if asked, the minimal XFRM, MISCSELECT, product id and SVN.
image::SigningParams SigningParamsFor(const image::Manifest& manifest,
                                      const crypto::Sha256Digest& mrenclave) {
  image::SigningParams p;
  p.enclave_hash = mrenclave;
  p.attributes.flags =
      machine::attr::kMode64Bit | (manifest.debug ? machine::attr::kDebug : uint64_t{0});
  p.attributes.xfrm = kDefaultXfrm;
  p.misc_select = manifest.misc_select;
  p.isv_prod_id = manifest.isv_prod_id;
  p.isv_svn = manifest.isv_svn;
  return p;
}

void RunSign(const SignOptions& o) {
  constexpr std::string_view kCmd = "image sign";
  const crypto::Rsa3072PrivateKey key = ReadKeyOrFail(kCmd, o.key);
  const crypto::Sha256Digest mrenclave = MeasureSgxsFileOrFail(kCmd, o.in);
  const image::Manifest manifest = ReadManifestOrFail(kCmd, o.manifest);
  image::SigningParams p = SigningParamsFor(manifest, mrenclave);
  if (!o.date.empty()) p.date = ValueOrFail(kCmd, "--date", image::ParseBcdDate(o.date));
  const machine::Sigstruct sig = ValueOrFail(kCmd, "", image::SignEnclave(key, p));
  const auto bytes = sig.Serialize();
  OkOrFail(kCmd, o.out, WriteFileAtomically(o.out, bytes));
  std::cout << fmt::format("wrote {} ({} bytes)\nmrenclave {}\nmrsigner  {}\n", o.out, bytes.size(),
                           ToHex(sig.enclave_hash), ToHex(sig.MrSigner()));
}

struct BuildOptions {
  std::string lua;
  std::vector<std::string> c;
  std::string manifest;
  std::string key;
  std::string out;
  std::string name;
};

// Signs `img` as the manifest says, writes the .enclave file, reports.
void SignAndWrite(std::string_view cmd, const BuildOptions& o, const image::SgxsImage& img,
                  const image::Manifest& manifest) {
  const crypto::Rsa3072PrivateKey key = ReadKeyOrFail(cmd, o.key);
  const machine::Sigstruct sig = ValueOrFail(
      cmd, "signing", image::SignEnclave(key, SigningParamsFor(manifest, image::MeasureSgxs(img))));
  const Bytes file = image::WriteEnclaveFile(img, sig);
  OkOrFail(cmd, o.out, WriteFileAtomically(o.out, file));
  std::cout << fmt::format("wrote {} ({} bytes, {} pages)\nmrenclave {}\nmrsigner  {}\n", o.out,
                           file.size(), img.pages.size(), ToHex(sig.enclave_hash),
                           ToHex(sig.MrSigner()));
}

// A Lua function: a plugin the worker maps into hosts.
void BuildLua(const BuildOptions& o) {
  constexpr std::string_view kCmd = "image build";
  if (!o.lua.ends_with(".lua")) {
    Fail(kCmd,
         fmt::format("{}: a function is a .lua file (Lua source returning a function)", o.lua), 2);
  }
  if (!o.manifest.empty()) {
    Fail(kCmd, "--manifest is for --c (a Lua function plugin has no heap, stack or threads)", 2);
  }
  (void)ReadKeyOrFail(kCmd, o.key);  // before the work: a bad key fails first
  const Bytes source = ReadFileOrFail(kCmd, o.lua);
  const std::string name = o.name.empty() ? o.lua.substr(o.lua.find_last_of('/') + 1) : o.name;
  const image::SgxsImage img = ValueOrFail(kCmd, o.lua, image::LuaFunctionImage(name, source));
  SignAndWrite(kCmd, o, img, image::Manifest{});
}

// C sources defining confide_function: a whole enclave with the runtime,
// laid out as the manifest says (heap, stack, threads), signed.
void BuildC(const BuildOptions& o) {
  constexpr std::string_view kCmd = "image build";
  (void)ReadKeyOrFail(kCmd, o.key);
  const image::Manifest manifest = ReadManifestOrFail(kCmd, o.manifest);
  if (manifest.kind != image::EnclaveKind::kHost) {
    Fail(kCmd, "--manifest: a C function builds a whole enclave (\"kind\": \"host\")", 2);
  }
  std::string diagnostics;
  StatusOr<Bytes> elf = CompileCEnclave(o.c, &diagnostics);
  std::cerr << diagnostics;  // the compiler's own words: warnings, or why it failed
  OkOrFail(kCmd, "building", elf.status());
  image::LayoutInfo info;
  const image::SgxsImage img =
      ValueOrFail(kCmd, "laying out", image::LayoutFromElf(*elf, manifest, &info));
  if (info.elf_base != CONFIDE_ENCLAVE_BASE) {
    Fail(kCmd, fmt::format("the ELF starts at {:#x}, not at CONFIDE_ENCLAVE_BASE", info.elf_base));
  }
  SignAndWrite(kCmd, o, img, manifest);
}

void RunBuild(const BuildOptions& o) {
  if (o.lua.empty() == o.c.empty()) {
    Fail("image build", "give either --lua FILE or --c FILE... (C sources)", 2);
  }
  if (!o.lua.empty()) {
    BuildLua(o);
  } else {
    BuildC(o);
  }
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
      "build",
      "Build a function into a signed enclave image (a .enclave file): a Lua function as a "
      "plugin, or C sources with the runtime as a whole enclave");
  build->add_option("--lua", build_opts->lua, "The function: Lua source returning a function");
  build->add_option("--c", build_opts->c,
                    "The function: C sources defining confide_function (runtime/function.h)");
  build->add_option("--manifest", build_opts->manifest,
                    "With --c: the enclave's manifest (JSON: heap_size, stack_size, threads, ...)");
  build->add_option("--key", build_opts->key, "RSA-3072 e=3 private key (PEM)")->required();
  build->add_option("--out", build_opts->out, "Where to write the .enclave file")->required();
  build->add_option("--name", build_opts->name, "The function's name (default: the file's)");
  build->callback([build_opts] { RunBuild(*build_opts); });

  RegisterImageVerifyCommand(*image);
  RegisterImageInspectCommand(*image);
}

}  // namespace confide::cli
