// function_worker.h — real functions, run by the monitor on the machine: a
// worker that holds the Lua runtime and each function's code, and starts an
// enclave per invocation with one of the model's start policies
// (policy/start_policy.h). The policy decides the instructions (it lays out,
// measures and signs the function's real pages: platform/real_workload.h);
// the machine checks and executes them; the monitor runs the enclave's code
// between the policy's EENTER and the function's EEXIT
// (platform/monitor_executor.h). For example:
//
//   pie-cold:  per invocation a small host (heap, TCS, SSA, stack, thread
//              info) is created and EMAPs the runtime and function plugins,
//              which the policy built once; its heap comes by EAUG.
//   sgx1-cold: per invocation one enclave holding runtime, function and
//              host part, every page EADDed and EEXTENDed.
//
// Every policy puts every byte at the same linear address
// (image/enclave_abi.h), so the same runtime code runs unchanged under each;
// only the start differs. RealPolicyNames() lists the policies that run real
// functions.
//
// Input goes in, output comes out through the VM's window (untrusted memory):
// the runtime copies the input into the enclave before the function sees it.
//
// Thread-safety: one thread at a time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/rsa.h"
#include "image/enclave_abi.h"
#include "image/layout.h"
#include "image/loader.h"
#include "image/manifest.h"
#include "machine/counters.h"
#include "machine/machine.h"
#include "monitor/enclave_vm.h"
#include "monitor/monitor.h"
#include "platform/chain.h"
#include "platform/enclave_builder.h"
#include "platform/epc_driver.h"
#include "platform/monitor_executor.h"
#include "platform/policy/start_policy.h"
#include "platform/workload.h"

namespace confide::platform {

struct FunctionWorkerConfig {
  uint32_t epc_pages = 32768;  // 128 MiB
  uint64_t heap_bytes = uint64_t{8} << 20;
  uint64_t stack_bytes = uint64_t{256} << 10;
  std::chrono::milliseconds time_limit{10000};
  size_t vm_pool = 1;
  uint64_t window_bytes = uint64_t{64} << 20;
  std::string kvm_path = "/dev/kvm";
};

// Where the time of one invocation went.
struct InvocationTimes {
  std::chrono::nanoseconds create{0};    // the policy's Start: ECREATE .. EINIT (and EMAP)
  std::chrono::nanoseconds run{0};       // its Run: EENTER, the heap, the vCPU .. EEXIT
  std::chrono::nanoseconds teardown{0};  // its Finish: EUNMAP, EREMOVE (or a warm reset)
  std::chrono::nanoseconds total() const { return create + run + teardown; }
};

struct Invocation {
  monitor::RunEnd end = monitor::RunEnd::kEexit;
  uint64_t status = 0;  // CONFIDE_STATUS_* after EEXIT
  Bytes output;         // the reply (the error message when status != OK)
  std::string log;      // what the function printed
  std::string reason;   // crash or timeout details
  InvocationTimes times;
  machine::CounterSnapshot counters;  // the model's instructions of this invocation
  monitor::MonitorStats monitor;      // exits, reflected syscalls, copy-on-write pages
  bool ok() const;                    // EEXIT with CONFIDE_STATUS_OK
  // One line for a user: "function error: <message>", "crashed: ...", ...
  std::string Failure() const;
};

using FunctionId = uint32_t;
using DataId = uint32_t;

struct InvokeOptions {
  // The function's MRENCLAVE as the host's manifest names it (PIE's EMAP
  // compares it in the instruction): by default the plugin's own; a tenant
  // who pins another value gets SGX_INVALID_MEASUREMENT, never a run.
  std::optional<crypto::Sha256Digest> function_mrenclave;
  // A data plugin (AddData) mapped at the data slot too (pie-cold only);
  // a Lua function gets it as its second argument (runtime/lua_runtime.c).
  std::optional<DataId> data;
};

// How the functions of a chain hand their data on (shared/DESIGN.md,
// "Chaining"):
//   transfer: one pie-cold host per function; each seals its output
//             (runtime/seal.h) and the worker carries the ciphertext to the
//             next host, which opens it (Clemmys).
//   in-situ:  one host; its runtime EMAPs each function in turn over the
//             function slot, runs it on the data in the enclave heap and
//             EUNMAPs it: no byte of the data leaves the enclave (PIE Fig. 8b).
// (ChainMode is platform/chain.h's: the model's chains and these agree.)

struct ChainRun {
  // How the chain ended: the last enclave's end, status and output (or the
  // first failure's); times, counters, monitor stats and log of the chain.
  Invocation result;
  size_t enclaves = 0;              // host enclaves created
  uint64_t bytes_through_host = 0;  // data bytes the worker carried between enclaves
};

class FunctionWorker {
 public:
  // `runtime_elf` is the runtime (e.g. the Lua runtime) linked at
  // CONFIDE_ENCLAVE_BASE; it becomes a plugin now. UnavailableError without
  // KVM; InvalidArgumentError for a runtime ELF that does not fit the slot.
  static StatusOr<std::unique_ptr<FunctionWorker>> Create(ByteSpan runtime_elf,
                                                          const FunctionWorkerConfig& config);
  ~FunctionWorker();
  FunctionWorker(const FunctionWorker&) = delete;
  FunctionWorker& operator=(const FunctionWorker&) = delete;

  // A Lua function (source text that returns a function) as a plugin.
  // InvalidArgumentError if it is empty or larger than the function slot.
  StatusOr<FunctionId> AddLuaFunction(std::string name, std::string_view source);
  // A function plugin built and signed elsewhere (`confide image build`, a
  // .enclave file: image/plugin_image.h). InvalidArgumentError unless it is
  // a Lua function plugin; EINIT's error if the SIGSTRUCT does not sign it.
  StatusOr<FunctionId> AddFunctionImage(std::string name, image::SgxsImage image,
                                        const machine::Sigstruct& sigstruct);

  // One invocation, started by `policy` (one of RealPolicyNames()). The
  // policy is made and prepared on first use for this function (and data,
  // and pinned MRENCLAVE) and kept: PIE's plugins are built once, warm
  // pools stay warm. Errors are the worker's own failures (KVM, the model,
  // an unknown policy: NotFoundError; a policy that cannot run real
  // functions: UnimplementedError); what the function does (errors,
  // crashes, timeouts) is in the Invocation.
  StatusOr<Invocation> Invoke(FunctionId function, std::string_view policy, ByteSpan input,
                              const InvokeOptions& options = {});

  // A whole enclave built and signed elsewhere (`confide image build --c`),
  // started as built: ECREATE, EADD and EEXTEND as its SGXS says, EINIT with
  // its owner's SIGSTRUCT, EENTER with `input`, teardown. No start policy
  // applies: the owner's signature fixes every page. InvalidArgumentError
  // unless it is a whole enclave (a TCS) at CONFIDE_ENCLAVE_BASE, or if
  // options name a data plugin; SGX_INVALID_MEASUREMENT if options pin
  // another MRENCLAVE; EINIT's error if the SIGSTRUCT does not sign it.
  StatusOr<Invocation> InvokeEnclave(const image::SgxsImage& image,
                                     const machine::Sigstruct& sigstruct, ByteSpan input,
                                     const InvokeOptions& options = {});

  // Shuts down every policy Invoke made (their plugins, warm pools), so
  // the EPC holds only the worker's own plugins; later invocations prepare
  // them again. The first error, after trying all.
  Status ReleasePolicies();

  // A data plugin: `bytes` (e.g. a model or a table) measured once and
  // mapped read-only at the data slot into the hosts that name it.
  // InvalidArgumentError if larger than the data slot.
  StatusOr<DataId> AddData(std::string name, ByteSpan bytes);

  // Runs `chain` (1 .. CONFIDE_MAX_PLUGINS - 2 functions) on `input`, each
  // function's output the next one's input; `data`, if given, is mapped for
  // every step. Both modes give the same output.
  StatusOr<ChainRun> InvokeChain(std::span<const FunctionId> chain, ChainMode mode, ByteSpan input,
                                 std::optional<DataId> data = std::nullopt);

  machine::Machine& machine() { return *machine_; }
  // The OS's EPC driver under the policies: evictions and reloads so far.
  const DriverStats& epc_driver_stats() const { return driver_->stats(); }
  monitor::Monitor& monitor() { return *monitor_; }
  const crypto::Sha256Digest& runtime_mrenclave() const { return runtime_.mrenclave; }
  crypto::Sha256Digest function_mrenclave(FunctionId f) const {
    return functions_.at(f).plugin.mrenclave;
  }

 private:
  struct Plugin {
    image::SgxsImage image;
    BuiltEnclave built;  // through the EPC driver
    crypto::Sha256Digest mrenclave{};
  };
  // An enclave image ready to load: laid out, measured and signed once.
  struct Prepared {
    image::SgxsImage image;
    machine::Sigstruct sigstruct;
  };
  struct Function {
    std::string name;
    Plugin plugin;
  };
  using Request = EnclaveRequest;
  // A start policy kept for one function (and data and pin): its real
  // images, its workload, the policy itself (Prepared).
  struct PolicySlot {
    WorkloadProfile workload;
    std::unique_ptr<StartPolicy> policy;
  };
  // A plugin the worker EMAPs into a new host, and the MRENCLAVE it expects.
  using Emapping = std::pair<const Plugin*, crypto::Sha256Digest>;
  FunctionWorker(const FunctionWorkerConfig& config) : config_(config) {}
  // Builds `prepared` as a plugin at `base` (through the EPC driver).
  StatusOr<Plugin> BuildPlugin(const std::string& name, Prepared prepared, uint64_t base);
  StatusOr<FunctionId> AddPrepared(std::string name, Prepared prepared);
  StatusOr<Prepared> Prepare(image::SgxsImage image);
  StatusOr<image::LoadedEnclave> LoadPrepared(const Prepared& p, uint64_t base);
  // The signed image of a PIE host that may map `plugins` (in this order:
  // its thread-info page's plugin table), made once per combination.
  StatusOr<const Prepared*> PieHost(const std::vector<const Plugin*>& plugins);
  // Creates a host from `image`, EMAPs `emap`, serves `request`, tears down.
  StatusOr<Invocation> RunEnclave(const Prepared& image, const std::vector<Emapping>& emap,
                                  const Request& request);
  // A host's manifest without plugins: heap, stack, one thread.
  image::Manifest HostManifest() const;
  // The whole enclave of SGX policies: runtime, function and host part
  // (`info`: where the host part's regions are).
  StatusOr<image::SgxsImage> MonolithicImage(const Function& f, image::LayoutInfo* info) const;
  // The real images of `f` (with `data`, the function's MRENCLAVE named as
  // `expected`) as a start policy's workload.
  StatusOr<WorkloadProfile> FunctionWorkload(const Function& f, const Plugin* data,
                                             const crypto::Sha256Digest& expected);
  // The policy `name` for this function, data and pin: made and prepared
  // on first use.
  StatusOr<StartPolicy*> PolicyFor(std::string_view name, FunctionId id, std::optional<DataId> data,
                                   const crypto::Sha256Digest& expected);
  // EUNMAPs what `e` still maps, then EREMOVEs all its pages.
  Status Unload(const image::LoadedEnclave& e);

  FunctionWorkerConfig config_;
  std::unique_ptr<machine::Machine> machine_;
  std::unique_ptr<monitor::Monitor> monitor_;
  std::optional<crypto::Rsa3072PrivateKey> key_;
  Bytes runtime_elf_;
  uint64_t runtime_entry_offset_ = 0;
  // The runtime's confide_syscall_handler, which every host's thread-info
  // page names (image/enclave_abi.h): no exit to register it.
  uint64_t runtime_syscall_handler_offset_ = 0;
  std::vector<uint64_t> runtime_written_;  // linear addresses of its .data and .bss
  Plugin runtime_;
  std::vector<Function> functions_;
  std::vector<Plugin> data_;
  std::map<std::vector<machine::EpcPage>, Prepared> pie_hosts_;  // by the plugins' SECS
  // What start policies run on: the OS's EPC driver, the executor, the
  // context; and the policies made so far, by policy, function, data, pin.
  std::unique_ptr<EpcDriver> driver_;
  std::unique_ptr<MonitorExecutor> executor_;
  PolicyContext policy_context_;
  std::map<std::string, PolicySlot> policies_;
};

}  // namespace confide::platform
