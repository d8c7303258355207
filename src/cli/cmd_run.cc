// cmd_run.cc — `confide run` and `confide chain`: confidential functions,
// run for real (KVM micro-VMs, platform/function_worker.h).
//
//   confide run --function f.lua|f.enclave [--runtime lua] --input FILE|-
//               [--policy pie-cold|sgx1-cold] [--data FILE] [--mrenclave HEX]
//               [--stats] [--heap BYTES] [--timeout MS]
//
// A .enclave file is a function built and signed by `confide image build`;
// --mrenclave pins the function's measurement (a mismatch never runs).
//   confide chain f1.lua f2.lua ... --mode insitu|transfer --input FILE|-
//               [--data FILE] [--stats] [--heap BYTES] [--timeout MS]
//
// A chain feeds each function's output to the next; both modes print the
// same output (transfer: one enclave per function, sealed hand-off through
// the worker; in-situ: one enclave that remaps the code and keeps the data).
//
// The function's output goes to stdout, byte for byte. A Lua error, a crash
// or a timeout ends the command with exit status 1 and one line on stderr
// naming what happened (the Lua message for a Lua error). What the function
// prints (print, io is not available) goes to stderr, so stdout stays the
// output. --stats adds, on stderr, the real time of each phase and the
// machine model's virtual time by instruction.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "image/enclave_abi.h"
#include "image/plugin_image.h"
#include "platform/function_worker.h"
#include "runtime/embedded.h"

namespace confide::cli {
namespace {

constexpr std::string_view kCmd = "run";
constexpr std::string_view kChainCmd = "chain";

struct RunCommandOptions {
  std::string function;
  std::string data;                // a data plugin's file, for confide run
  std::string mrenclave;           // the function's pinned MRENCLAVE (hex), for confide run
  std::vector<std::string> chain;  // confide chain
  std::string mode;
  std::string runtime = "lua";
  std::string input;
  std::string policy = "pie-cold";
  bool policy_given = false;  // --policy on the command line
  bool stats = false;
  uint64_t heap = uint64_t{8} << 20;
  uint64_t timeout_ms = 10000;
};

Bytes ReadInput(const std::string& path) {
  if (path != "-") return ReadFileOrFail(kCmd, path);
  std::string all{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  return Bytes(all.begin(), all.end());
}

void PrintStats(const platform::Invocation& inv, platform::FunctionWorker& worker) {
  auto ms = [](std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; };
  const auto& profile = worker.machine().profile();
  std::cerr << fmt::format(
      "real time: create {:.3f} ms, run {:.3f} ms, teardown {:.3f} ms, total {:.3f} ms\n",
      ms(inv.times.create), ms(inv.times.run), ms(inv.times.teardown), ms(inv.times.total()));
  std::cerr << fmt::format(
      "monitor: {} VM exits, {} syscalls into the library OS, {} ocalls, {} copy-on-write pages\n",
      inv.monitor.vm_exits, inv.monitor.syscalls_reflected, inv.monitor.ocalls,
      inv.monitor.cow_pages);
  std::cerr << fmt::format("virtual time ({} at {:.1f} GHz): {:.3f} ms\n", profile.name,
                           static_cast<double>(profile.frequency_hz) / 1e9,
                           profile.Seconds(inv.counters.total_cycles()) * 1e3)
            << inv.counters.Breakdown(static_cast<double>(profile.frequency_hz));
}

// --mrenclave's digest, or Fail.
crypto::Sha256Digest PinOrFail(const std::string& hex) {
  const Bytes pin = ValueOrFail(kCmd, "--mrenclave", FromHex(hex));
  if (pin.size() != 32) Fail(kCmd, "--mrenclave: 64 hex digits (a SHA-256)", 2);
  crypto::Sha256Digest digest{};
  std::copy(pin.begin(), pin.end(), digest.begin());
  return digest;
}

// A worker with the Lua runtime and `files` as its functions.
std::unique_ptr<platform::FunctionWorker> StartWorker(std::string_view cmd,
                                                      const RunCommandOptions& o,
                                                      const std::vector<std::string>& files,
                                                      std::vector<platform::FunctionId>* ids) {
  if (o.runtime != "lua") {
    Fail(cmd, fmt::format("unknown runtime \"{}\" (this version has: lua)", o.runtime), 2);
  }
  std::vector<Bytes> sources;
  for (const std::string& file : files) {
    if (!file.ends_with(".lua") && !file.ends_with(".enclave")) {
      Fail(cmd,
           fmt::format("{}: a function is a .lua file (Lua source returning a function) or a "
                       ".enclave file (confide image build)",
                       file),
           2);
    }
    sources.push_back(ReadFileOrFail(cmd, file));
  }
  platform::FunctionWorkerConfig config;
  config.heap_bytes = o.heap;
  config.time_limit = std::chrono::milliseconds(o.timeout_ms);
  auto worker = ValueOrFail(cmd, "starting the worker",
                            platform::FunctionWorker::Create(runtime::lua_runtime_elf(), config));
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string name = files[i].substr(files[i].find_last_of('/') + 1);
    const Bytes& source = sources[i];
    if (files[i].ends_with(".enclave")) {
      image::EnclaveFile f = ValueOrFail(cmd, files[i], image::ReadEnclaveFile(source));
      if (image::IsWholeEnclave(f.image)) {
        Fail(cmd,
             fmt::format("{}: a whole enclave (image build --c) runs alone, with confide run; "
                         "a chain takes function plugins",
                         files[i]),
             2);
      }
      ids->push_back(ValueOrFail(cmd, files[i],
                                 worker->AddFunctionImage(name, std::move(f.image), f.sigstruct)));
      continue;
    }
    ids->push_back(ValueOrFail(
        cmd, files[i],
        worker->AddLuaFunction(
            name, std::string_view(reinterpret_cast<const char*>(source.data()), source.size()))));
  }
  return worker;
}

// The file at `path` as a data plugin of `worker`.
platform::DataId AddDataOrFail(std::string_view cmd, const std::string& path,
                               platform::FunctionWorker& worker) {
  const Bytes data = ReadFileOrFail(cmd, path);
  return ValueOrFail(cmd, path, worker.AddData(path.substr(path.find_last_of('/') + 1), data));
}

// The end of both commands: the log to stderr, stats, then the output or
// the failure.
void Finish(std::string_view cmd, std::string_view what, const platform::Invocation& inv,
            bool stats, platform::FunctionWorker& worker) {
  std::cerr << inv.log;
  if (stats) PrintStats(inv, worker);
  if (!inv.ok()) Fail(cmd, fmt::format("{}: {}", what, inv.Failure()), 1);
  std::cout.write(reinterpret_cast<const char*>(inv.output.data()),
                  static_cast<std::streamsize>(inv.output.size()));
  std::cout.flush();
}

// A whole enclave (`confide image build --c`): started as its owner built
// and signed it.
void RunWholeEnclave(const RunCommandOptions& o, const image::EnclaveFile& f) {
  if (o.policy_given && o.policy != "sgx1-cold") {
    Fail(kCmd,
         fmt::format("--policy {}: a whole enclave starts as its owner built and signed it "
                     "(sgx1-cold); start policies choose how to build function plugins",
                     o.policy),
         2);
  }
  if (!o.data.empty()) Fail(kCmd, "--data: a whole enclave maps no data plugin", 2);
  platform::InvokeOptions options;
  if (!o.mrenclave.empty()) options.function_mrenclave = PinOrFail(o.mrenclave);
  platform::FunctionWorkerConfig config;
  config.heap_bytes = o.heap;
  config.time_limit = std::chrono::milliseconds(o.timeout_ms);
  auto worker = ValueOrFail(kCmd, "starting the worker",
                            platform::FunctionWorker::Create(runtime::lua_runtime_elf(), config));
  const Bytes input = ReadInput(o.input);
  const platform::Invocation inv = ValueOrFail(
      kCmd, "invoking the enclave", worker->InvokeEnclave(f.image, f.sigstruct, input, options));
  Finish(kCmd, o.function.substr(o.function.find_last_of('/') + 1), inv, o.stats, *worker);
}

void Run(const RunCommandOptions& o) {
  if (o.function.ends_with(".enclave")) {
    image::EnclaveFile f =
        ValueOrFail(kCmd, o.function, image::ReadEnclaveFile(ReadFileOrFail(kCmd, o.function)));
    if (image::IsWholeEnclave(f.image)) return RunWholeEnclave(o, f);
  }
  const std::vector<std::string>& real = platform::RealPolicyNames();
  if (std::find(real.begin(), real.end(), o.policy) == real.end()) {
    Fail(kCmd,
         fmt::format("--policy: \"{}\" does not start real functions (choose one of {})", o.policy,
                     fmt::join(real, ", ")),
         2);
  }
  std::vector<platform::FunctionId> ids;
  auto worker = StartWorker(kCmd, o, {o.function}, &ids);
  platform::InvokeOptions options;
  if (!o.mrenclave.empty()) options.function_mrenclave = PinOrFail(o.mrenclave);
  if (!o.data.empty()) {
    if (!o.policy.starts_with("pie-")) {
      Fail(kCmd, "--data needs a PIE policy, pie-cold or pie-warm (a data plugin is EMAPped)", 2);
    }
    options.data = AddDataOrFail(kCmd, o.data, *worker);
  }
  const Bytes input = ReadInput(o.input);
  const platform::Invocation inv =
      ValueOrFail(kCmd, "invoking the function", worker->Invoke(ids[0], o.policy, input, options));
  Finish(kCmd, o.function.substr(o.function.find_last_of('/') + 1), inv, o.stats, *worker);
}

void Chain(const RunCommandOptions& o) {
  const platform::ChainMode mode =
      ValueOrFail(kChainCmd, "--mode", platform::ParseChainMode(o.mode));
  std::vector<platform::FunctionId> ids;
  auto worker = StartWorker(kChainCmd, o, o.chain, &ids);
  std::optional<platform::DataId> data;
  if (!o.data.empty()) data = AddDataOrFail(kChainCmd, o.data, *worker);
  const Bytes input = ReadInput(o.input);
  const platform::ChainRun run =
      ValueOrFail(kChainCmd, "running the chain", worker->InvokeChain(ids, mode, input, data));
  if (o.stats) {
    std::cerr << fmt::format("chain ({}): {} enclaves, {} data bytes carried by the host\n",
                             platform::ChainModeName(mode), run.enclaves, run.bytes_through_host);
  }
  Finish(kChainCmd, "chain", run.result, o.stats, *worker);
}

}  // namespace

void RegisterRunCommand(CLI::App& app) {
  auto o = std::make_shared<RunCommandOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run a function in an enclave, for real (KVM)");
  cmd->add_option("--function", o->function,
                  "The function: a .lua file, or a .enclave file from confide image build")
      ->required();
  cmd->add_option("--mrenclave", o->mrenclave,
                  "Run only if the function's MRENCLAVE is this (64 hex digits)");
  cmd->add_option("--runtime", o->runtime, "The language runtime plugin")->default_str("lua");
  cmd->add_option("--input", o->input, "Input file, or - for stdin")->required();
  cmd->add_option("--policy", o->policy,
                  fmt::format("Start policy: {}", fmt::join(platform::RealPolicyNames(), ", ")))
      ->default_str("pie-cold");
  cmd->add_option("--data", o->data,
                  "A file mapped as a data plugin; the Lua function's second argument");
  cmd->add_flag("--stats", o->stats, "Print real and virtual time on stderr");
  cmd->add_option("--heap", o->heap, "Enclave heap in bytes (page multiple)")
      ->default_str("8388608");
  cmd->add_option("--timeout", o->timeout_ms, "Time limit in milliseconds")->default_str("10000");
  cmd->callback([o, cmd] {
    o->policy_given = cmd->get_option("--policy")->count() > 0;
    Run(*o);
  });
}

void RegisterChainCommand(CLI::App& app) {
  auto o = std::make_shared<RunCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "chain", "Run functions in a chain, each one's output the next one's input (KVM)");
  cmd->add_option("functions", o->chain, "The functions, in order: .lua or .enclave files")
      ->required()
      ->expected(1, CONFIDE_MAX_PLUGINS - 2);
  cmd->add_option("--mode", o->mode, "insitu (one enclave, PIE) or transfer (sealed hand-off)")
      ->required();
  cmd->add_option("--data", o->data, "A file mapped as a data plugin for every function");
  cmd->add_option("--input", o->input, "Input file, or - for stdin")->required();
  cmd->add_flag("--stats", o->stats, "Print real and virtual time on stderr");
  cmd->add_option("--heap", o->heap, "Enclave heap in bytes (page multiple)")
      ->default_str("8388608");
  cmd->add_option("--timeout", o->timeout_ms, "Time limit in milliseconds")->default_str("10000");
  cmd->callback([o] { Chain(*o); });
}

}  // namespace confide::cli
