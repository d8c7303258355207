// start_policy.h — the ways of starting an enclave function that the seeds
// describe, all on the one machine model so they compare fairly
// (shared/DESIGN.md, "Start policies"):
//
//   sgx1-cold      SGX: ECREATE, EADD + EEXTEND every page, EINIT, per request
//   sgx1-swhash    PIE §III-B: EADD every page, contents hashed in software by
//                  a measured loader, heap zeroed instead of measured
//   sgx2-eaug      SGX2: a minimal measured loader; code and heap by EAUG +
//                  EACCEPT, code permissions by EMODPE/EMODPR
//   clemmys-batch  Clemmys: code EADDed and measured, heap by EAUG in batches
//                  (one fault per batch), zero-on-free
//   enturbo        EnTurbo: EADD on the host core, EEXTEND by N worker cores in
//                  parallel with execution; nothing leaves before EINIT
//   template-fork  Enclavisor/Catalyzer: a measured template (code, data and
//                  initialized heap) made once; an instance maps it and
//                  copies what it writes
//   sgx-warm       PIE §VI: a pool of sgx1-swhash enclaves, reset (heap and
//                  data zeroed) between invocations
//   pie-cold       PIE: plugins (runtime, libraries, function) made once; per
//                  request a small host enclave, EMAPs, copy-on-write
//   pie-warm       pie-cold with a pool of host enclaves, reset between
//                  invocations
//
// A request runs Start (an instance ready to run, plugins mapped), Run
// (EENTER, execution, the function's writes, EEXIT) and Finish (teardown, or
// reset and back to the pool). Prepare makes what a policy keeps across
// requests; Shutdown releases it, leaving the EPC as Prepare found it. Every
// step issues the machine's instructions on the given core, so its cost is
// that core's virtual clock; software work (hashing, zeroing, copying) is
// charged with PolicyContext::ChargeSoftware.
//
// Thread-safety: a policy is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "crypto/rsa.h"
#include "machine/machine.h"
#include "platform/epc_driver.h"
#include "platform/workload.h"

namespace confide::platform {

// Software work a policy charges beside instructions, by kind.
enum class SoftwareWork : uint8_t {
  kHash,      // software SHA-256 of loaded pages
  kZero,      // zeroing pages
  kCopy,      // copying bytes inside an enclave
  kTransfer,  // SSL transfer between enclaves (chains)
  kAttest,    // mutual attestation and handshake (chains)
  kExecute,   // the function's own execution
  kReset,     // a warm instance's reset
};
inline constexpr size_t kSoftwareWorkCount = 7;
std::string_view SoftwareWorkName(SoftwareWork w);

struct SoftwareCounters {
  uint64_t cycles[kSoftwareWorkCount] = {};
  uint64_t total() const;
};

struct Instance;

// Runs an instance's function for real: the monitor executes the enclave's
// code on a vCPU (platform/monitor_executor.h). A policy's Execute step
// calls it with the instance entered; the thread leaves inside it (by the
// enclave's own EEXIT, or by AEX on a crash or a timeout), so afterwards the
// instance is not entered. Errors are the executor's own failures; what the
// function did (its output, a crash) is the executor's to report.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual Status Execute(CoreId core, Instance& in) = 0;
};

// What policies run on. Owned by the worker (or the simulator, or a test);
// outlives the policies that use it.
struct PolicyContext {
  machine::Machine* machine = nullptr;
  EpcDriver* driver = nullptr;
  SoftwareCosts software;
  const crypto::Rsa3072PrivateKey* signing_key = nullptr;
  // Called by policies between steps of long operations (about every 64
  // pages) with the core they run on; the simulator uses it to interleave
  // cores in virtual time. May be empty.
  std::function<void(CoreId)> yield;
  SoftwareCounters software_counters;
  // nullptr: execution is virtual time only (WorkloadProfile::exec_cycles).
  // Set: the function really runs (the workload must be real: workload.h).
  Executor* executor = nullptr;

  // Advances `core`'s virtual clock by `cycles` and counts them under `kind`.
  void ChargeSoftware(CoreId core, SoftwareWork kind, uint64_t cycles);
  void Yield(CoreId core) {
    if (yield) yield(core);
  }
};

struct PolicyOptions {
  // EnTurbo's measurement worker cores; 0: min(8, cores - 1) (8 is the
  // paper's sweet spot).
  uint32_t enturbo_workers = 0;
  bool enturbo_sgx2 = false;  // EnTurbo on SGX2: heap by EAUG, not measured
  uint32_t pool_size = 1;     // sgx-warm / pie-warm instances made by Prepare
  uint32_t eaug_batch = 64;   // clemmys-batch pages per heap fault
  uint32_t stack_pages = 16;  // per thread
};

// One running (or pooled) instance of a function. Fields a chain or a test
// may need; the rest is the policy's.
struct Instance {
  EpcPage secs = 0;
  uint64_t base = 0;
  uint64_t size = 0;
  uint64_t tcs_linaddr = 0;
  uint64_t heap_linaddr = 0;  // first heap page
  uint64_t heap_pages = 0;    // heap pages the instance has (committed)
  uint64_t data_linaddr = 0;
  std::vector<EpcPage> mapped_plugins;  // PIE: plugin SECS pages now EMAPped
  std::vector<uint64_t> cow_pages;      // PIE: private copies made by copy-on-write
  bool pooled = false;                  // came from a pool (warm)
  uint64_t heap_committed = 0;          // heap pages present (EADDed or EAUGed)
  EpcPage tcs_page = 0;                 // valid while entered
  bool entered = false;
  // The function crashed or timed out inside: its thread left by AEX, so
  // the instance must not serve again (a warm policy destroys it).
  bool tainted = false;
  // What must happen before the function's thread may leave the enclave
  // (EnTurbo: EINIT); the executor holds the function's EEXIT until it has.
  std::function<Status()> before_leave;
};

class StartPolicy {
 public:
  virtual ~StartPolicy() = default;
  virtual std::string_view name() const = 0;
  virtual const WorkloadProfile& workload() const = 0;

  virtual Status Prepare(CoreId core) = 0;
  virtual StatusOr<std::unique_ptr<Instance>> Start(CoreId core) = 0;
  virtual Status Run(CoreId core, Instance& instance) = 0;
  virtual Status Finish(CoreId core, std::unique_ptr<Instance> instance) = 0;
  virtual Status Shutdown(CoreId core) = 0;
};

// The policy names above, in that order.
const std::vector<std::string>& PolicyNames();

// The policies that start real functions (platform/real_workload.h), in
// PolicyNames' order: all but template-fork.
const std::vector<std::string>& RealPolicyNames();

// NotFoundError naming the known policies for an unknown name;
// UnimplementedError for a real workload and a policy not in
// RealPolicyNames. The context must outlive the policy.
StatusOr<std::unique_ptr<StartPolicy>> MakePolicy(std::string_view name, PolicyContext& ctx,
                                                  const WorkloadProfile& workload,
                                                  const PolicyOptions& options = {});

// Start + Run + Finish of one request on `core`. Returns the end-to-end
// latency on an idle machine: the core's virtual cycles from Start to the
// end of Run (the response). Finish (teardown, or a warm reset) follows the
// response on the same core, so it delays that core's next request.
StatusOr<uint64_t> ServeOne(PolicyContext& ctx, StartPolicy& policy, CoreId core);

}  // namespace confide::platform
