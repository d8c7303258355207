// cmd_demo.cc — `confide demo` (what `make run` runs): first, on the model,
// builds and signs a small enclave image from
// the embedded demo ELF (enclaves/demo_enclave.c), creates it on the machine
// model, and compares the cost of starting it under SGX1 and under PIE.
//
//   SGX1  per start: ECREATE, EADD+EEXTEND of every page, EINIT, EENTER
//   PIE   once:      the ELF's pages as a plugin enclave (PT_SREG), EINIT
//         per start: a host enclave (heap, TCS, SSA, stack), EINIT, EENTER,
//                    EMAP of the plugin; one write to a runtime page shows
//                    copy-on-write (AEX, EAUG, ERESUME, EACCEPTCOPY)
//
// Host ELRANGE in the PIE case (the plugin sits at the host's base):
//
//   kBase                        kBase + plugin size                 + host size
//   |-- plugin (EMAP, shared) ---|-- heap --|-- TCS/SSA --|-- stack --|
//
// Everything runs in virtual time on the chosen cost profile; the model's own
// run time is printed beside it. The demo tears everything down and checks
// that the EPC is back to where it started. Then cmd_demo_real.cc runs real
// Lua functions on KVM (skipped, loudly, without /dev/kvm; --model-only skips
// it on purpose).
#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "crypto/rsa.h"
#include "enclaves/embedded.h"
#include "image/layout.h"
#include "image/loader.h"
#include "image/manifest.h"
#include "image/signer.h"
#include "machine/machine.h"

namespace confide::cli {
namespace {

constexpr std::string_view kCmd = "demo";
constexpr uint64_t kBase = uint64_t{1} << 32;  // aligned for any enclave up to 4 GiB
constexpr machine::CoreId kCore = 0;

machine::Sigstruct Sign(const crypto::Rsa3072PrivateKey& key, const image::SgxsImage& img,
                        const image::Manifest& manifest) {
  image::SigningParams p;
  p.enclave_hash = image::MeasureSgxs(img);
  p.attributes = {machine::attr::kMode64Bit, 0x3};
  p.isv_prod_id = manifest.isv_prod_id;
  p.isv_svn = manifest.isv_svn;
  return ValueOrFail(kCmd, "signing", image::SignEnclave(key, p));
}

image::LoadOptions AtBase() {
  image::LoadOptions o;
  o.base = kBase;
  return o;
}

void PrintPhase(std::string_view title, const machine::CounterSnapshot& d,
                const machine::CostProfile& profile, double real_ms) {
  std::cout << title << "\n" << d.Breakdown(static_cast<double>(profile.frequency_hz));
  std::cout << fmt::format(
      "  pages added {}, 256-byte chunks measured {}, copy-on-write {}; "
      "model run time {:.2f} ms\n\n",
      d.events.pages_added, d.events.chunks_measured, d.events.cow_copies, real_ms);
}

// Runs `step` and returns what the machine counted meanwhile, and real ms.
template <typename F>
std::pair<machine::CounterSnapshot, double> Measure(machine::Machine& m, F step) {
  const machine::CounterSnapshot before = m.Counters();
  const auto t0 = std::chrono::steady_clock::now();
  step();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return {m.Counters().Since(before), ms};
}

void RunDemo(const std::string& profile_name) {
  const machine::CostProfile profile =
      ValueOrFail(kCmd, "cost profile", machine::CostProfile::Builtin(profile_name));
  machine::MachineConfig config;
  config.profile = profile;
  auto machine = ValueOrFail(kCmd, "creating the machine", machine::Machine::Create(config));
  machine::Machine& m = *machine;
  const uint32_t free_at_start = m.FreePageCount();
  std::cout << fmt::format("confide demo: the enclave machine on profile \"{}\"\n  {}\n\n",
                           profile.name, profile.description);

  const auto key =
      ValueOrFail(kCmd, "generating a signing key", crypto::Rsa3072PrivateKey::Generate());
  const ByteSpan elf = enclaves::demo_enclave_elf();

  // ---- SGX1: the whole image in one enclave, created per start. ----
  image::Manifest host_manifest;  // 256 KiB heap, 64 KiB stack, 1 thread
  host_manifest.isv_prod_id = 1;
  image::LayoutInfo sgx1_info;
  const image::SgxsImage sgx1_image = ValueOrFail(
      kCmd, "laying out the SGX1 image", image::LayoutFromElf(elf, host_manifest, &sgx1_info));
  const machine::Sigstruct sgx1_sig = Sign(key, sgx1_image, host_manifest);
  std::cout << fmt::format(
      "Image (enclaves/demo_enclave.c): {} pages = {} KiB; SIZE 0x{:x}\n"
      "  MRENCLAVE {}\n  MRSIGNER  {}\n\n",
      sgx1_image.pages.size(), sgx1_image.pages.size() * 4, sgx1_image.size,
      ToHex(sgx1_sig.enclave_hash), ToHex(sgx1_sig.MrSigner()));

  image::LoadedEnclave sgx1;
  auto [sgx1_cost, sgx1_ms] = Measure(m, [&] {
    sgx1 = ValueOrFail(kCmd, "creating the SGX1 enclave",
                       image::LoadEnclave(m, kCore, sgx1_image, sgx1_sig, AtBase()));
    OkOrFail(kCmd, "EENTER", m.Eenter(kCore, sgx1.tcs.at(0)));
  });
  const auto sgx1_secs = ValueOrFail(kCmd, "reading SECS", m.SecsOf(sgx1.secs));
  if (sgx1_secs.mr_enclave != sgx1_sig.enclave_hash)
    Fail(kCmd, "the machine's MRENCLAVE differs from the image's measurement");
  PrintPhase(fmt::format("SGX1 start (per request): {} pages", sgx1.pages.size()), sgx1_cost,
             profile, sgx1_ms);
  OkOrFail(kCmd, "EEXIT", m.Eexit(kCore));
  OkOrFail(kCmd, "removing the SGX1 enclave", image::UnloadEnclave(m, kCore, sgx1));

  // ---- PIE: the ELF as a plugin (once), a small host per start. ----
  image::Manifest plugin_manifest;
  plugin_manifest.kind = image::EnclaveKind::kPlugin;
  image::LayoutInfo plugin_info;
  const image::SgxsImage plugin_image = ValueOrFail(
      kCmd, "laying out the plugin", image::LayoutFromElf(elf, plugin_manifest, &plugin_info));
  const machine::Sigstruct plugin_sig = Sign(key, plugin_image, plugin_manifest);
  image::LoadedEnclave plugin;
  auto [plugin_cost, plugin_ms] = Measure(m, [&] {
    plugin = ValueOrFail(kCmd, "creating the plugin",
                         image::LoadEnclave(m, kCore, plugin_image, plugin_sig, AtBase()));
  });
  PrintPhase(
      fmt::format("PIE plugin (once, shared by every host): {} PT_SREG pages\n  MRENCLAVE {}",
                  plugin.pages.size(), ToHex(plugin_sig.enclave_hash)),
      plugin_cost, profile, plugin_ms);

  image::Manifest pie_manifest = host_manifest;
  pie_manifest.plugins.push_back({"demo-runtime", plugin_sig.enclave_hash});
  image::LayoutInfo host_info;
  const image::SgxsImage host_image =
      ValueOrFail(kCmd, "laying out the PIE host",
                  image::LayoutPieHost(pie_manifest, plugin_image.size, plugin_info.entry_offset,
                                       plugin_info.syscall_handler_offset, &host_info));
  const machine::Sigstruct host_sig = Sign(key, host_image, pie_manifest);
  image::LoadedEnclave host;
  auto [host_cost, host_ms] = Measure(m, [&] {
    host = ValueOrFail(kCmd, "creating the PIE host",
                       image::LoadEnclave(m, kCore, host_image, host_sig, AtBase()));
    OkOrFail(kCmd, "EENTER", m.Eenter(kCore, host.tcs.at(0)));
    for (const image::PluginRef& p : pie_manifest.plugins)
      OkOrFail(kCmd, "EMAP " + p.name, m.Emap(kCore, plugin.secs, p.mrenclave));
  });
  PrintPhase(fmt::format("PIE start (per request): host of {} pages + EMAP\n  MRENCLAVE {}",
                         host.pages.size(), ToHex(host_sig.enclave_hash)),
             host_cost, profile, host_ms);

  // The function writes one byte of the runtime: copy-on-write.
  const uint64_t runtime_page = kBase + plugin_info.elf_end - kPageSize;
  machine::EpcPage cow_page = 0;
  auto [cow_cost, cow_ms] = Measure(m, [&] {
    const uint8_t one = 1;
    Status w = m.Write(kCore, runtime_page, ByteSpan(&one, 1));
    if (!IsFault(w, FaultVector::kPF)) Fail(kCmd, "a write to a shared page did not fault");
    cow_page = ValueOrFail(kCmd, "EPC", m.FindFreePage());
    OkOrFail(kCmd, "copy-on-write", m.CopyOnWrite(kCore, host.tcs.at(0), runtime_page, cow_page));
    OkOrFail(kCmd, "write after copy-on-write", m.Write(kCore, runtime_page, ByteSpan(&one, 1)));
  });
  PrintPhase("PIE copy-on-write of one runtime page (first write by the function)", cow_cost,
             profile, cow_ms);

  // ---- Summary and teardown. ----
  const double sgx1_s = profile.Seconds(sgx1_cost.total_cycles());
  const double pie_s = profile.Seconds(host_cost.total_cycles());
  std::cout << fmt::format(
      "Per-request start on {}: SGX1 {:.3f} ms, PIE {:.3f} ms ({:.1f}x faster); the plugin costs "
      "{:.3f} ms once.\nEPC per instance: SGX1 {} pages, PIE host {} pages (+{} shared).\n",
      profile.name, 1e3 * sgx1_s, 1e3 * pie_s, sgx1_s / pie_s,
      1e3 * profile.Seconds(plugin_cost.total_cycles()), sgx1.pages.size() + 1,
      host.pages.size() + 1, plugin.pages.size() + 1);

  OkOrFail(kCmd, "EUNMAP", m.Eunmap(kCore, plugin.secs));
  OkOrFail(kCmd, "EEXIT", m.Eexit(kCore));
  OkOrFail(kCmd, "removing the copy-on-write page", m.Eremove(kCore, cow_page));
  OkOrFail(kCmd, "removing the PIE host", image::UnloadEnclave(m, kCore, host));
  OkOrFail(kCmd, "removing the plugin", image::UnloadEnclave(m, kCore, plugin));
  if (m.FreePageCount() != free_at_start)
    Fail(kCmd, fmt::format("EPC leak: {} free pages after teardown, {} before", m.FreePageCount(),
                           free_at_start));
  std::cout << fmt::format("Teardown: EPC back to {} free pages of {}.\n", m.FreePageCount(),
                           m.epc_pages());
}

}  // namespace

void RegisterDemoCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Start a small enclave under SGX1 and PIE on the model (cycle costs), then run Lua "
      "functions and a chain for real on KVM");
  auto profile = std::make_shared<std::string>("pie-xeon-e3");
  auto model_only = std::make_shared<bool>(false);
  cmd->add_option("--profile", *profile, "Cost profile: pie-xeon-e3 or j5005")
      ->capture_default_str();
  cmd->add_flag("--model-only", *model_only, "Skip the real runs on KVM");
  cmd->callback([profile, model_only] {
    RunDemo(*profile);
    if (!*model_only) RunRealDemo();
  });
}

}  // namespace confide::cli
