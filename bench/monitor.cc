// bench_monitor — real invocations of Lua functions in KVM micro-VMs (the
// monitor and platform::FunctionWorker), measured side by side in one run on
// this host:
//
//   [1] a cold start, pie-cold (host enclave creation, EMAP of the runtime,
//       function and a 1 MiB data plugin, first entry, exit, teardown)
//       against sgx1-cold (one enclave, EADD + EEXTEND of every page) for the
//       same function and input, with a pool of one idle VM and without one
//       (a new KVM VM per invocation), and the VM exits behind them;
//   [2] EMAP of a 1 MiB vs a 256 MiB data plugin: pie-cold invocations that
//       differ only in the data plugin they map;
//   [3] a chain of three functions handing 1 MiB and 64 MiB on, in situ
//       (one host, the data never leaves it) vs by transfer (a host per
//       function, sealed output carried by the worker);
//   [4] the peer baseline: fork+exec (posix_spawn) of lua_baseline, a static
//       musl program running the same Lua code with no enclave, interleaved
//       with [1]'s invocations;
//   [5] every start policy that runs real functions, on the same function:
//       real time per phase beside the model's virtual time, the signature
//       instructions, and each policy's ratio to sgx1-cold.
//
// Without a pool: Monitor::Attach takes an idle VM if there is one and makes
// a new one otherwise, and the VM goes back to the pool when the invocation
// ends, also with vm_pool = 0; so vm_pool = 0 alone creates a VM only for the
// first invocation. To create one per invocation, the bench takes every idle
// VM out of the pool before each such invocation (attaching it to a plugin's
// SECS and holding it, never entering it) and frees the held VMs at the end.
//
// Real time from std::chrono::steady_clock; median and p90 (nearest rank)
// of the repetitions, the variants interleaved so that drifts hit all alike.
//
// Usage: bench_monitor [--quick] [--runs N] [--json FILE]
//   --quick   tiny sizes, a few seconds (run by ctest): checks that every
//             call succeeds, never the timings.
//   --runs N  repetitions of [1] (default 50).
//   --json F  also writes every figure to F as one JSON object.
// Exits 0 with a "SKIPPED: no /dev/kvm: ..." line when KVM is unavailable;
// non-zero if any call fails, printing the error.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "machine/instruction.h"
#include "platform/chain.h"
#include "platform/function_worker.h"
#include "runtime/embedded.h"

extern char** environ;

namespace confide {
namespace {

using platform::FunctionId;
using platform::FunctionWorker;
using platform::FunctionWorkerConfig;
using platform::Invocation;

using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = uint64_t{1} << 20;

struct Sizes {
  int runs;               // [1], per variant
  int exit_prints;        // [1], prints (one ocall each) of the exit-cost function
  int exit_reps;          // [1], repetitions of the exit-cost pair
  uint64_t data_small;    // [1] and [2]
  uint64_t data_big;      // [2]
  int emap_runs;          // [2], per size
  uint64_t chain_small;   // [3]
  uint64_t chain_big;     // [3]
  int chain_runs_small;   // [3], per mode
  int chain_runs_big;     // [3], per mode
  uint64_t chain_heap;    // [3]
  uint64_t chain_window;  // [3]
  int policy_runs;        // [5], per policy
};
constexpr Sizes kFull{50,        200, 10, 1 * kMiB,   256 * kMiB, 20, 1 * kMiB,
                      64 * kMiB, 5,   3,  512 * kMiB, 256 * kMiB, 20};
constexpr Sizes kQuick{3,        5, 2, 64 << 10,  1 * kMiB,  2, 4 << 10,
                       64 << 10, 1, 1, 16 * kMiB, 64 * kMiB, 1};

// ---- Helpers ------------------------------------------------------------------

[[noreturn]] void Fail(const std::string& what, const std::string& why) {
  std::fprintf(stderr, "bench_monitor: %s failed: %s\n", what.c_str(), why.c_str());
  std::exit(1);
}
void Check(const Status& s, const std::string& what) {
  if (!s.ok()) Fail(what, s.ToString());
}
template <typename T>
T Check(StatusOr<T> s, const std::string& what) {
  if (!s.ok()) Fail(what, s.status().ToString());
  return std::move(*s);
}

void Progress(const std::string& what) {
  std::fprintf(stderr, "bench_monitor: %s\n", what.c_str());
}

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// Median and p90 (nearest rank) of a sample.
struct Stat {
  std::vector<double> v;
  void Add(double x) { v.push_back(x); }
  double Rank(double q) const {
    if (v.empty()) return NAN;
    std::vector<double> s = v;
    std::sort(s.begin(), s.end());
    size_t k = static_cast<size_t>(std::ceil(q * s.size()));
    return s[std::clamp<size_t>(k, 1, s.size()) - 1];
  }
  double median() const {
    if (v.empty()) return NAN;
    std::vector<double> s = v;
    std::sort(s.begin(), s.end());
    const size_t n = s.size();
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
  double p90() const { return Rank(0.9); }
};

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}
std::string UsText(double us) {
  if (us >= 100000) return Fmt("%.1f ms", us / 1e3);
  if (us >= 10000) return Fmt("%.2f ms", us / 1e3);
  return Fmt("%.0f µs", us);
}
std::string MedP90(const Stat& s) {
  return "median " + UsText(s.median()) + ", p90 " + UsText(s.p90());
}
std::string Ratio(double a, double b) { return Fmt("%.2fx", a / b); }
std::string MiB(uint64_t bytes) {
  if (bytes < kMiB) return Fmt("%.0f KiB", bytes / 1024.0);
  return Fmt(bytes % kMiB ? "%.2f MiB" : "%.0f MiB", static_cast<double>(bytes) / kMiB);
}

// "what: value (baseline: value, ratio x)".
void Line(const std::string& what, const std::string& value, const std::string& note = "") {
  std::printf("  %s: %s%s%s\n", what.c_str(), value.c_str(), note.empty() ? "" : " ", note.c_str());
}

// Every figure, for --json.
std::vector<std::pair<std::string, double>> g_json;
void Record(const std::string& key, double v) { g_json.emplace_back(key, v); }
void RecordStat(const std::string& key, const Stat& s) {
  Record(key + ".median_us", s.median());
  Record(key + ".p90_us", s.p90());
}

Bytes Pattern(uint64_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (uint64_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    b[i] = static_cast<uint8_t>(x >> 24);
  }
  return b;
}

std::string HostFacts() {
  std::string backend = "unknown";
  if (access("/sys/module/kvm_pvm", F_OK) == 0) {
    backend = "kvm_pvm (PVM: nested, software-virtualized)";
  } else if (access("/sys/module/kvm_intel", F_OK) == 0) {
    backend = "kvm_intel";
  } else if (access("/sys/module/kvm_amd", F_OK) == 0) {
    backend = "kvm_amd";
  }
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return "kvm backend: " + backend + "; CPU: " + model + "; " +
         std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " online CPUs";
}

// ---- Workers and the VM pool -----------------------------------------------------

std::unique_ptr<FunctionWorker> NewWorker(const FunctionWorkerConfig& config, const char* what) {
  auto w = FunctionWorker::Create(runtime::lua_runtime_elf(), config);
  if (!w.ok() && w.error().code == ErrorCode::kUnavailable) {
    std::printf("SKIPPED: no /dev/kvm: %s\n", w.error().message.c_str());
    std::fflush(stdout);
    std::exit(0);
  }
  return Check(std::move(w), std::string("FunctionWorker::Create (") + what + ")");
}

// Keeps a worker's monitor without idle VMs, so that its next invocation
// creates a KVM VM: takes every idle VM out of the pool by attaching it to
// a plugin's SECS (never entered) and holds it. Release() before the
// worker dies.
class PoolDrain {
 public:
  explicit PoolDrain(FunctionWorker& w) : w_(w) {
    machine::Machine& m = w.machine();
    for (machine::EpcPage p = 0; p < m.epc_pages(); ++p) {
      if (m.VersionOf(p).ok()) {  // a SECS: the runtime plugin's, loaded first
        secs_ = p;
        return;
      }
    }
    Fail("PoolDrain", "no SECS in the EPC");
  }
  ~PoolDrain() { Release(); }
  void Drain() {
    while (w_.monitor().pool_size() > 0) {
      held_.push_back(Check(w_.monitor().Attach(secs_), "Monitor::Attach (drain)"));
    }
  }
  size_t held() const { return held_.size(); }
  void Release() { held_.clear(); }

 private:
  FunctionWorker& w_;
  machine::EpcPage secs_ = 0;
  std::vector<std::unique_ptr<monitor::EnclaveVm>> held_;
};

Invocation InvokeOk(FunctionWorker& w, FunctionId f, std::string_view start, ByteSpan input,
                    const platform::InvokeOptions& options, std::string_view expected,
                    const std::string& what) {
  Invocation inv = Check(w.Invoke(f, start, input, options), what);
  if (!inv.ok()) Fail(what, inv.Failure());
  if (!expected.empty() && std::string_view(reinterpret_cast<const char*>(inv.output.data()),
                                            inv.output.size()) != expected) {
    Fail(what, "unexpected output");
  }
  return inv;
}

// ---- [4] the peer baseline: fork+exec of a static musl Lua program ---------------

// Runs `exe source_path` with `input` on stdin; returns its stdout. Fails
// the bench on a non-zero exit.
std::string Spawn(const std::string& exe, const std::string& source_path, ByteSpan input) {
  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) Fail("pipe", "errno");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  std::string arg0 = exe, arg1 = source_path;
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid;
  const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) Fail("posix_spawn " + exe, std::strerror(rc));
  close(in_pipe[0]);
  close(out_pipe[1]);
  std::string out;
  size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) close(in_fd), in_fd = -1;
  char buf[65536];
  for (;;) {
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
    if (poll(fds, in_fd >= 0 ? 2 : 1, -1) < 0) Fail("poll", std::strerror(errno));
    if (in_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == input.size()) close(in_fd), in_fd = -1;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = read(out_pipe[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  if (in_fd >= 0) close(in_fd);
  close(out_pipe[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Fail("lua_baseline", "exited with status " + std::to_string(status));
  }
  return out;
}

// ---- [1] cold start, pool vs no pool, and the peer baseline -------------------------

constexpr char kUpper[] = "return function(s) return string.upper(s) end\n";
constexpr char kInput[] = "hello, confide";
constexpr char kOutput[] = "HELLO, CONFIDE";

struct Variant {
  std::string name;
  std::function<void()> run;
  Stat total, create, run_phase, teardown;
  Stat virtual_us;  // the model's cycles of the invocation, at the profile's frequency
  uint64_t exits = 0, syscalls = 0, served = 0, ocalls = 0, enclu = 0, eadd = 0, eextend = 0,
           emap = 0;
  uint64_t eaug = 0;
  void Note(const Invocation& inv) {
    total.Add(Us(inv.times.total()));
    create.Add(Us(inv.times.create));
    run_phase.Add(Us(inv.times.run));
    teardown.Add(Us(inv.times.teardown));
    exits = inv.monitor.vm_exits;
    syscalls = inv.monitor.syscalls_reflected;
    served = inv.monitor.syscalls_served;
    ocalls = inv.monitor.ocalls;
    enclu = inv.monitor.enclu_emulated;
    eadd = inv.counters.events.pages_added;
    eextend = inv.counters.events.chunks_measured;
    emap = inv.counters.count[static_cast<size_t>(machine::Instruction::kEmap)];
    eaug = inv.counters.count[static_cast<size_t>(machine::Instruction::kEaug)];
    virtual_us.Add(static_cast<double>(inv.counters.total_cycles()) * 1e6 /
                   static_cast<double>(frequency_hz));
  }
  uint64_t frequency_hz = 3'800'000'000;  // set from the worker's cost profile
};

std::string Phases(const Variant& v) {
  return "create " + UsText(v.create.median()) + " + run " + UsText(v.run_phase.median()) +
         " + teardown " + UsText(v.teardown.median());
}

void BenchColdStart(const Sizes& z, const std::string& source_path) {
  Progress("[1] creating the workers (RSA-3072 keys, the runtime plugin) ...");
  FunctionWorkerConfig pooled_config;
  pooled_config.vm_pool = 1;
  FunctionWorkerConfig bare_config = pooled_config;
  bare_config.vm_pool = 0;
  auto pooled = NewWorker(pooled_config, "vm_pool = 1");
  auto bare = NewWorker(bare_config, "vm_pool = 0");
  // The same pooled worker with a 1 MiB heap: how much of a cold start is
  // the host's heap, EAUGed (pie-cold) or EADDed (sgx1-cold) and EREMOVEd at every start.
  FunctionWorkerConfig small_heap_config = pooled_config;
  small_heap_config.heap_bytes = kMiB;
  auto small_heap = NewWorker(small_heap_config, "heap 1 MiB");
  const Bytes data = Pattern(z.data_small, 1);
  const ByteSpan input(reinterpret_cast<const uint8_t*>(kInput), std::strlen(kInput));
  const FunctionId fp = Check(pooled->AddLuaFunction("upper", kUpper), "AddLuaFunction");
  const FunctionId fb = Check(bare->AddLuaFunction("upper", kUpper), "AddLuaFunction");
  const platform::DataId dp = Check(pooled->AddData("data", data), "AddData");
  const platform::DataId db = Check(bare->AddData("data", data), "AddData");
  const FunctionId fs = Check(small_heap->AddLuaFunction("upper", kUpper), "AddLuaFunction");
  const platform::DataId ds = Check(small_heap->AddData("data", data), "AddData");
  // The exit cost: the same function with K prints, each a flushed line of
  // stdout, which the library OS hands to the host as one ocall.
  const std::string prints_k = "return function(s) for i = 1, " + std::to_string(z.exit_prints) +
                               " do print(i) end return string.upper(s) end\n";
  const FunctionId fk = Check(pooled->AddLuaFunction("prints", prints_k), "AddLuaFunction");
  PoolDrain drain(*bare);

  platform::InvokeOptions with_data, bare_data, small_data;
  with_data.data = dp;
  bare_data.data = db;
  small_data.data = ds;
  std::vector<Variant> v(8);
  v[0].name = "pie-cold, pool";
  v[0].run = [&] {
    v[0].Note(InvokeOk(*pooled, fp, "pie-cold", input, with_data, kOutput, v[0].name));
  };
  v[1].name = "sgx1-cold, pool";
  v[1].run = [&] { v[1].Note(InvokeOk(*pooled, fp, "sgx1-cold", input, {}, kOutput, v[1].name)); };
  v[2].name = "pie-cold without data plugin, pool";
  v[2].run = [&] { v[2].Note(InvokeOk(*pooled, fp, "pie-cold", input, {}, kOutput, v[2].name)); };
  v[3].name = "pie-cold, no pool";
  v[3].run = [&] {
    drain.Drain();
    v[3].Note(InvokeOk(*bare, fb, "pie-cold", input, bare_data, kOutput, v[3].name));
  };
  v[4].name = "sgx1-cold, no pool";
  v[4].run = [&] {
    drain.Drain();
    v[4].Note(InvokeOk(*bare, fb, "sgx1-cold", input, {}, kOutput, v[4].name));
  };
  Stat spawn;
  v[5].name = "fork+exec lua_baseline";
  v[5].run = [&] {
    const auto t0 = Clock::now();
    const std::string out = Spawn(CONFIDE_LUA_BASELINE, source_path, input);
    spawn.Add(Us(Clock::now() - t0));
    if (out != kOutput) Fail("lua_baseline", "unexpected output '" + out + "'");
  };
  v[6].name = "pie-cold, pool, heap 1 MiB";
  v[6].run = [&] {
    v[6].Note(InvokeOk(*small_heap, fs, "pie-cold", input, small_data, kOutput, v[6].name));
  };
  v[7].name = "sgx1-cold, pool, heap 1 MiB";
  v[7].run = [&] {
    v[7].Note(InvokeOk(*small_heap, fs, "sgx1-cold", input, {}, kOutput, v[7].name));
  };
  // Warm-up, not measured: the images of both starts are laid out and
  // signed at the first invocation, the plugins' page-table subtrees built.
  Progress("[1] warm-up ...");
  for (auto& x : v) x.run();
  for (auto& x : v) {
    Variant fresh;
    fresh.name = x.name;
    fresh.run = x.run;
    x = std::move(fresh);
  }
  spawn = Stat{};

  Progress("[1] " + std::to_string(z.runs) + " runs of " + std::to_string(v.size()) +
           " interleaved variants + VM creation ...");
  Stat vm_create;
  for (int i = 0; i < z.runs; ++i) {
    for (size_t k = 0; k < v.size(); ++k) v[(i + k) % v.size()].run();
    drain.Drain();
    const auto t0 = Clock::now();
    Check(bare->monitor().FillPool(1), "Monitor::FillPool");
    vm_create.Add(Us(Clock::now() - t0));
  }
  drain.Drain();
  const size_t vms_created = drain.held();

  Progress("[1] exit cost: " + std::to_string(z.exit_reps) + " x (0 vs " +
           std::to_string(z.exit_prints) + " prints) ...");
  Stat run0, runk;
  uint64_t exits0 = 0, exitsk = 0;
  std::vector<double> per_exit;
  (void)InvokeOk(*pooled, fk, "pie-cold", input, {}, kOutput, "prints warm-up");
  for (int i = 0; i < z.exit_reps; ++i) {
    const Invocation a = InvokeOk(*pooled, fp, "pie-cold", input, {}, kOutput, "0 prints");
    const Invocation b = InvokeOk(*pooled, fk, "pie-cold", input, {}, kOutput, "prints");
    run0.Add(Us(a.times.run));
    runk.Add(Us(b.times.run));
    exits0 = a.monitor.vm_exits;
    exitsk = b.monitor.vm_exits;
    if (exitsk > exits0) {
      per_exit.push_back((Us(b.times.run) - Us(a.times.run)) /
                         static_cast<double>(exitsk - exits0));
    }
  }
  Stat exit_cost{per_exit};

  // ---- print -----------------------------------------------------------------
  const auto runtime_bytes = runtime::lua_runtime_elf().size();
  std::printf(
      "\n[1] Cold start of one Lua function, real time per invocation: median and p90 of %d "
      "runs,\n    the %zu variants (and the fork+exec baseline) interleaved, warm-up excluded.\n",
      z.runs, v.size() - 1);
  Line("function", "return function(s) return string.upper(s) end, input \"" + std::string(kInput) +
                       "\" (" + std::to_string(std::strlen(kInput)) + " bytes)");
  Line("pie-cold maps (EMAP)",
       "runtime plugin (lua_runtime.elf, " + MiB(runtime_bytes) + ") + function plugin + a " +
           MiB(z.data_small) + " data plugin = " + MiB(runtime_bytes + z.data_small) +
           "+ of plugins",
       runtime_bytes + z.data_small >= kMiB
           ? "(the runtime alone is < 1 MiB; with the data plugin the mapped plugins are >= 1 MiB)"
           : "(--quick: less than 1 MiB of plugins)");
  Line("pie-cold host", Fmt("%.0f pages EADDed", static_cast<double>(v[0].eadd)) + ", " +
                            Fmt("%.0f", static_cast<double>(v[0].eextend)) + " chunks EEXTENDed, " +
                            std::to_string(v[0].eaug) + " pages EAUGed (heap 8 MiB), " +
                            std::to_string(v[0].emap) + " EMAPs per invocation");
  Line("sgx1-cold enclave", Fmt("%.0f pages EADDed", static_cast<double>(v[1].eadd)) + ", " +
                                Fmt("%.0f", static_cast<double>(v[1].eextend)) +
                                " chunks EEXTENDed per invocation (runtime + function + host)");

  std::printf("  with a pool of idle VMs (vm_pool = 1; the VM goes back after each invocation):\n");
  Line("  pie-cold total", MedP90(v[0].total),
       "(baseline sgx1-cold: " + MedP90(v[1].total) + ", ratio sgx1/pie median " +
           Ratio(v[1].total.median(), v[0].total.median()) + ", p90 " +
           Ratio(v[1].total.p90(), v[0].total.p90()) + ")");
  Line("  pie-cold phases (medians)", Phases(v[0]), "(baseline sgx1-cold: " + Phases(v[1]) + ")");
  Line("  pie-cold without the data plugin", MedP90(v[2].total),
       "(baseline pie-cold with it: " + UsText(v[0].total.median()) + ", ratio " +
           Ratio(v[0].total.median(), v[2].total.median()) + ")");
  const bool met = v[0].total.median() <= 300;
  Line("  pie-cold, heap 1 MiB instead of 8 MiB", MedP90(v[6].total),
       "(baseline sgx1-cold, heap 1 MiB: " + MedP90(v[7].total) + ", ratio sgx1/pie median " +
           Ratio(v[7].total.median(), v[6].total.median()) + "; phases " + Phases(v[6]) + "; " +
           std::to_string(v[6].eadd) + " pages EADDed)");
  Line("  target pie-cold median <= 300 µs with the pool",
       std::string(met ? "met" : "NOT met") + " (" + UsText(v[0].total.median()) + ")");

  std::printf(
      "  without a pool (every idle VM is taken out before each invocation: Attach creates a "
      "KVM VM):\n");
  Line("  pie-cold total", MedP90(v[3].total),
       "(baseline sgx1-cold: " + MedP90(v[4].total) + ", ratio sgx1/pie median " +
           Ratio(v[4].total.median(), v[3].total.median()) + ", p90 " +
           Ratio(v[4].total.p90(), v[3].total.p90()) + ")");
  Line("  pie-cold phases (medians)", Phases(v[3]), "(baseline sgx1-cold: " + Phases(v[4]) + ")");
  Line("  pie-cold, no pool vs pool", UsText(v[3].total.median()),
       "(baseline with the pool: " + UsText(v[0].total.median()) + ", ratio " +
           Ratio(v[3].total.median(), v[0].total.median()) + ")");
  Line("  KVM micro-VM creation alone (Monitor::FillPool of one VM)", MedP90(vm_create),
       "(" + std::to_string(vms_created) + " VMs created and held during [1])");

  std::printf("  VM exits:\n");
  auto exits_text = [](const Variant& x) {
    return std::to_string(x.exits) + " (" + std::to_string(x.syscalls) + " syscalls reflected, " +
           std::to_string(x.served) + " served by the monitor, " + std::to_string(x.ocalls) +
           " ocalls, " + std::to_string(x.enclu) + " ENCLU emulated)";
  };
  Line("  exits per pie-cold invocation", exits_text(v[0]),
       "(baseline sgx1-cold: " + exits_text(v[1]) + ")");
  Line("  one VM exit round trip (an ocall)", MedP90(exit_cost),
       "(from the run phase with " + std::to_string(z.exit_prints) +
           " flushed prints: " + std::to_string(exitsk) + " exits, " + UsText(runk.median()) +
           ", vs " + std::to_string(exits0) + " exits, " + UsText(run0.median()) + "; " +
           std::to_string(per_exit.size()) + " pairs)");
  const double floor_us = static_cast<double>(v[0].exits) * exit_cost.median();
  Line("  exit floor of a pie-cold run phase", UsText(floor_us),
       "(exits x round trip; baseline measured run phase: " + UsText(v[0].run_phase.median()) +
           ", ratio " + Ratio(v[0].run_phase.median(), floor_us) + ")");

  std::printf(
      "\n[4] Peer baseline: fork+exec (posix_spawn) of %s, static musl + liblua5.4,\n"
      "    no enclave, same function and input, interleaved with [1].\n",
      CONFIDE_LUA_BASELINE);
  Line("fork+exec lua_baseline", MedP90(spawn));
  Line("pie-cold with the pool", UsText(v[0].total.median()),
       "(baseline fork+exec: " + UsText(spawn.median()) + ", ratio " +
           Ratio(v[0].total.median(), spawn.median()) + ")");
  Line("sgx1-cold with the pool", UsText(v[1].total.median()),
       "(baseline fork+exec: " + UsText(spawn.median()) + ", ratio " +
           Ratio(v[1].total.median(), spawn.median()) + ")");
  Line("pie-cold without a pool", UsText(v[3].total.median()),
       "(baseline fork+exec: " + UsText(spawn.median()) + ", ratio " +
           Ratio(v[3].total.median(), spawn.median()) + ")");

  const char* keys[] = {"pie_pool",    "sgx1_pool", "pie_nodata_pool", "pie_nopool",
                        "sgx1_nopool", "fork_exec", "pie_pool_heap1m", "sgx1_pool_heap1m"};
  for (size_t i = 0; i < v.size(); ++i) {
    if (i == 5) continue;  // the baseline, recorded below
    RecordStat(std::string("cold.") + keys[i] + ".total", v[i].total);
    Record(std::string("cold.") + keys[i] + ".create_median_us", v[i].create.median());
    Record(std::string("cold.") + keys[i] + ".run_median_us", v[i].run_phase.median());
    Record(std::string("cold.") + keys[i] + ".teardown_median_us", v[i].teardown.median());
    Record(std::string("cold.") + keys[i] + ".vm_exits", static_cast<double>(v[i].exits));
  }
  RecordStat("cold.vm_create", vm_create);
  RecordStat("cold.exit_round_trip", exit_cost);
  RecordStat("baseline.fork_exec", spawn);
  Record("cold.target_300us_met", met ? 1 : 0);
  drain.Release();
}

// ---- [2] EMAP of a small vs a big data plugin ---------------------------------------

void BenchEmap(const Sizes& z) {
  FunctionWorkerConfig config;
  config.vm_pool = 1;
  // Plugins, hosts and the big data plugin: 100,000 pages (390 MiB).
  config.epc_pages = static_cast<uint32_t>(std::max<uint64_t>(32768, z.data_big / 4096 + 34464));
  Progress("[2] creating the worker (" + std::to_string(config.epc_pages) + " EPC pages) ...");
  auto w = NewWorker(config, "EMAP");
  const FunctionId f = Check(w->AddLuaFunction("upper", kUpper), "AddLuaFunction");
  const Bytes small = Pattern(z.data_small, 2);
  Progress("[2] AddData of " + MiB(z.data_big) + " (EADD + EEXTEND of every page, once) ...");
  Bytes big = Pattern(z.data_big, 3);
  const platform::DataId ds = Check(w->AddData("small", small), "AddData small");
  const auto t0 = Clock::now();
  const platform::DataId dbig = Check(w->AddData("big", big), "AddData big");
  const double add_big_us = Us(Clock::now() - t0);
  big = Bytes();
  const ByteSpan input(reinterpret_cast<const uint8_t*>(kInput), std::strlen(kInput));

  Progress("[2] first invocations (the plugins' page-table subtrees are built once) ...");
  auto invoke = [&](platform::DataId d, const char* what) {
    platform::InvokeOptions options;
    options.data = d;
    return InvokeOk(*w, f, "pie-cold", input, options, kOutput, what);
  };
  const Invocation first_small = invoke(ds, "EMAP small (first)");
  const Invocation first_big = invoke(dbig, "EMAP big (first)");
  Progress("[2] " + std::to_string(z.emap_runs) + " runs per size, interleaved ...");
  Stat create_s, create_b, total_s, total_b, run_s, run_b;
  uint64_t emaps = 0, emap_cycles_s = 0, emap_cycles_b = 0;
  constexpr size_t kEmap = static_cast<size_t>(machine::Instruction::kEmap);
  for (int i = 0; i < z.emap_runs; ++i) {
    for (int k = 0; k < 2; ++k) {
      const bool is_big = (i + k) % 2 == 1;
      const Invocation inv = invoke(is_big ? dbig : ds, is_big ? "EMAP big" : "EMAP small");
      (is_big ? create_b : create_s).Add(Us(inv.times.create));
      (is_big ? total_b : total_s).Add(Us(inv.times.total()));
      (is_big ? run_b : run_s).Add(Us(inv.times.run));
      emaps = inv.counters.count[kEmap];
      (is_big ? emap_cycles_b : emap_cycles_s) = inv.counters.cycles[kEmap];
    }
  }
  const double ratio = create_b.median() / create_s.median();
  std::printf(
      "\n[2] EMAP of a %s vs a %s data plugin: pie-cold invocations of the same function that\n"
      "    differ only in the data plugin mapped (with the runtime and function plugins); "
      "median of %d each,\n    interleaved; the first invocation of each excluded.\n",
      MiB(z.data_small).c_str(), MiB(z.data_big).c_str(), z.emap_runs);
  Line("AddData " + MiB(z.data_big), UsText(add_big_us),
       "(once: layout, EADD + EEXTEND of every page, signing, EINIT)");
  Line("create (ECREATE .. EINIT + EMAPs), " + MiB(z.data_big), UsText(create_b.median()),
       "(baseline " + MiB(z.data_small) + ": " + UsText(create_s.median()) + ", ratio " +
           Ratio(create_b.median(), create_s.median()) +
           "; target <= 1.5: " + (ratio <= 1.5 ? "met" : "NOT met") + ")");
  Line("run (EENTER .. EEXIT on the vCPU), " + MiB(z.data_big), UsText(run_b.median()),
       "(baseline " + MiB(z.data_small) + ": " + UsText(run_s.median()) + ", ratio " +
           Ratio(run_b.median(), run_s.median()) + ")");
  Line("total, " + MiB(z.data_big), UsText(total_b.median()),
       "(baseline " + MiB(z.data_small) + ": " + UsText(total_s.median()) + ", ratio " +
           Ratio(total_b.median(), total_s.median()) + ")");
  Line("first invocation, " + MiB(z.data_big), UsText(Us(first_big.times.total())),
       "(baseline " + MiB(z.data_small) + ": " + UsText(Us(first_small.times.total())) +
           "; builds the plugin's page-table subtrees)");
  Line("model: EMAPs per invocation / virtual cycles, " + MiB(z.data_big),
       std::to_string(emaps) + " / " + std::to_string(emap_cycles_b),
       "(baseline " + MiB(z.data_small) + ": " + std::to_string(emaps) + " / " +
           std::to_string(emap_cycles_s) + ")");
  Record("emap.add_big_us", add_big_us);
  RecordStat("emap.small.create", create_s);
  RecordStat("emap.big.create", create_b);
  RecordStat("emap.small.total", total_s);
  RecordStat("emap.big.total", total_b);
  Record("emap.ratio_create", ratio);
  Record("emap.ratio_total", total_b.median() / total_s.median());
}

// ---- [3] chain hand-off, in situ vs transfer ---------------------------------------

void BenchChain(const Sizes& z) {
  FunctionWorkerConfig config;
  config.vm_pool = 1;
  config.heap_bytes = z.chain_heap;
  config.window_bytes = z.chain_window;
  config.time_limit = std::chrono::milliseconds(60000);
  config.epc_pages = static_cast<uint32_t>(z.chain_heap / 4096 + 8192);
  Progress("[3] creating the worker (heap " + MiB(z.chain_heap) + ", window " +
           MiB(z.chain_window) + ", " + std::to_string(config.epc_pages) + " EPC pages) ...");
  auto w = NewWorker(config, "chain");
  const FunctionId rev1 = Check(
      w->AddLuaFunction("reverse1", "return function(s) return string.reverse(s) end\n"), "add");
  const FunctionId same =
      Check(w->AddLuaFunction("identity", "return function(s) return s end\n"), "add");
  const FunctionId rev2 = Check(
      w->AddLuaFunction("reverse2", "return function(s) return string.reverse(s) end\n"), "add");
  const std::vector<FunctionId> chain = {rev1, same, rev2};
  const platform::ChainMode modes[] = {platform::ChainMode::kInSitu,
                                       platform::ChainMode::kTransfer};

  struct Cell {
    Stat wall, total, create, run, teardown;
    uint64_t through_host = 0;
    size_t enclaves = 0;
  };
  Cell cells[2][2];  // [size][mode]
  const uint64_t sizes[] = {z.chain_small, z.chain_big};
  const int runs[] = {z.chain_runs_small, z.chain_runs_big};
  for (int s = 0; s < 2; ++s) {
    const Bytes data = Pattern(sizes[s], 4 + s);
    Progress("[3] " + MiB(sizes[s]) + ": warm-up and " + std::to_string(runs[s]) +
             " runs per mode ...");
    for (int i = -1; i < runs[s]; ++i) {  // i = -1: warm-up
      for (int k = 0; k < 2; ++k) {
        const int m = (i + k + 2) % 2;
        const std::string what =
            "InvokeChain " + std::string(ChainModeName(modes[m])) + " " + MiB(sizes[s]);
        const auto t0 = Clock::now();
        const platform::ChainRun r = Check(w->InvokeChain(chain, modes[m], data), what);
        const double wall = Us(Clock::now() - t0);
        if (!r.result.ok()) Fail(what, r.result.Failure());
        if (r.result.output != data) Fail(what, "output differs from the input");
        if (i < 0) continue;
        cells[s][m].wall.Add(wall);
        cells[s][m].total.Add(Us(r.result.times.total()));
        cells[s][m].create.Add(Us(r.result.times.create));
        cells[s][m].run.Add(Us(r.result.times.run));
        cells[s][m].teardown.Add(Us(r.result.times.teardown));
        cells[s][m].through_host = r.bytes_through_host;
        cells[s][m].enclaves = r.enclaves;
      }
    }
  }
  std::printf(
      "\n[3] Chain of 3 functions (string.reverse, identity, string.reverse) on %s and %s of\n"
      "    data, in situ (one host; the runtime EMAPs each function in turn) vs transfer (a\n"
      "    pie-cold host per function; each seals its output, the worker carries it on).\n"
      "    Heap %s, window %s, EPC %u pages. Wall time of InvokeChain (includes copying the\n"
      "    input into the window and the output out), median of %d (%s) and %d (%s); the\n"
      "    enclave phases (create + run + teardown) beside it.\n",
      MiB(sizes[0]).c_str(), MiB(sizes[1]).c_str(), MiB(z.chain_heap).c_str(),
      MiB(z.chain_window).c_str(), config.epc_pages, runs[0], MiB(sizes[0]).c_str(), runs[1],
      MiB(sizes[1]).c_str());
  for (int s = 0; s < 2; ++s) {
    const Cell& in = cells[s][0];
    const Cell& tr = cells[s][1];
    Line("in-situ, " + MiB(sizes[s]),
         UsText(in.wall.median()) + " (phases " + UsText(in.total.median()) + "; " +
             std::to_string(in.enclaves) + " enclave, " + std::to_string(in.through_host) +
             " bytes through the host)",
         "(baseline transfer: " + UsText(tr.wall.median()) + " (phases " +
             UsText(tr.total.median()) + "; " + std::to_string(tr.enclaves) + " enclaves, " +
             std::to_string(tr.through_host) + " bytes through the host), ratio transfer/in-situ " +
             Ratio(tr.wall.median(), in.wall.median()) + ")");
  }
  for (int s = 0; s < 2; ++s)
    for (int m = 0; m < 2; ++m) {
      const Cell& c = cells[s][m];
      Line("  phases, " + std::string(ChainModeName(modes[m])) + ", " + MiB(sizes[s]),
           "create " + UsText(c.create.median()) + " + run " + UsText(c.run.median()) +
               " + teardown " + UsText(c.teardown.median()));
    }
  for (int m = 0; m < 2; ++m) {
    Line(std::string(ChainModeName(modes[m])) + ", " + MiB(sizes[1]) + " / " + MiB(sizes[0]),
         Ratio(cells[1][m].wall.median(), cells[0][m].wall.median()) + " wall, " +
             Ratio(cells[1][m].total.median(), cells[0][m].total.median()) + " phases",
         "(hand-off bytes through the host: " + std::to_string(cells[1][m].through_host) + " vs " +
             std::to_string(cells[0][m].through_host) + ")");
  }
  const char* size_keys[] = {"small", "big"};
  const char* mode_keys[] = {"insitu", "transfer"};
  for (int s = 0; s < 2; ++s)
    for (int m = 0; m < 2; ++m) {
      const std::string key = std::string("chain.") + size_keys[s] + "." + mode_keys[m];
      RecordStat(key + ".wall", cells[s][m].wall);
      Record(key + ".bytes_through_host", static_cast<double>(cells[s][m].through_host));
    }
}

void WriteJson(const std::string& path) {
  std::ofstream out(path);
  out << "{\n";
  for (size_t i = 0; i < g_json.size(); ++i) {
    out << "  \"" << g_json[i].first << "\": ";
    if (std::isfinite(g_json[i].second)) {
      out << Fmt("%.3f", g_json[i].second);
    } else {
      out << "null";
    }
    out << (i + 1 < g_json.size() ? ",\n" : "\n");
  }
  out << "}\n";
  if (!out) Fail("writing " + path, "I/O error");
}

// ---- [5] every start policy of the model that runs real functions ----------------

void BenchPolicies(const Sizes& z) {
  Progress("[5] every real start policy: creating the worker ...");
  FunctionWorkerConfig config;
  config.vm_pool = 1;
  config.heap_bytes = kMiB;
  auto w = NewWorker(config, "policies");
  const FunctionId f = Check(w->AddLuaFunction("upper", kUpper), "AddLuaFunction");
  const ByteSpan input(reinterpret_cast<const uint8_t*>(kInput), std::strlen(kInput));
  const std::vector<std::string>& names = platform::RealPolicyNames();
  std::vector<Variant> v(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    v[i].name = names[i];
    v[i].frequency_hz = w->machine().profile().frequency_hz;
  }
  // Warm-up: each policy prepared (plugins built, pools filled), not measured.
  for (const std::string& name : names) (void)InvokeOk(*w, f, name, input, {}, kOutput, name);
  Progress("[5] " + std::to_string(z.policy_runs) + " runs of " + std::to_string(names.size()) +
           " interleaved policies ...");
  for (int r = 0; r < z.policy_runs; ++r) {
    for (size_t k = 0; k < v.size(); ++k) {
      Variant& x = v[(r + k) % v.size()];
      x.Note(InvokeOk(*w, f, x.name, input, {}, kOutput, x.name));
    }
  }
  std::printf(
      "\n[5] Every start policy of the model that runs real functions, the same Lua function\n"
      "    (string.upper, heap 1 MiB, VM pool): real time (median of %d, interleaved) beside the\n"
      "    model's virtual time on the %s profile, and the instructions that tell them apart.\n",
      z.policy_runs, w->machine().profile().name.c_str());
  std::printf("    %-14s %10s %10s %10s %10s %6s %7s %8s %6s %5s %12s %11s\n", "policy", "real",
              "create", "run", "teardown", "exits", "EADD", "EEXTEND", "EAUG", "EMAP", "virtual",
              "sgx1/policy");
  const Variant* sgx1 = &v[0];
  for (const Variant& x : v)
    if (x.name == "sgx1-cold") sgx1 = &x;
  for (const Variant& x : v) {
    std::printf("    %-14s %10s %10s %10s %10s %6llu %7llu %8llu %6llu %5llu %12s %11s\n",
                x.name.c_str(), UsText(x.total.median()).c_str(), UsText(x.create.median()).c_str(),
                UsText(x.run_phase.median()).c_str(), UsText(x.teardown.median()).c_str(),
                static_cast<unsigned long long>(x.exits), static_cast<unsigned long long>(x.eadd),
                static_cast<unsigned long long>(x.eextend), static_cast<unsigned long long>(x.eaug),
                static_cast<unsigned long long>(x.emap), UsText(x.virtual_us.median()).c_str(),
                Ratio(sgx1->total.median(), x.total.median()).c_str());
    RecordStat("policies." + x.name + ".real", x.total);
    RecordStat("policies." + x.name + ".virtual", x.virtual_us);
  }
  std::printf(
      "    (real: create + run + teardown; warm policies create nothing per request but restore\n"
      "     their enclave's initial bytes at teardown; EEXTEND counts 256-byte chunks)\n");
}

}  // namespace
}  // namespace confide

int main(int argc, char** argv) {
  using namespace confide;  // NOLINT
  bool quick = false;
  int runs = 0;
  std::string json;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
      if (runs < 1) {
        std::fprintf(stderr, "--runs needs a positive number\n");
        return 2;
      }
    } else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--runs N] [--json FILE]\n", argv[0]);
      return 2;
    }
  }
  Sizes z = quick ? kQuick : kFull;
  if (runs > 0) z.runs = runs;

  std::printf("# bench_monitor%s: real Lua invocations in KVM micro-VMs on this host\n",
              quick ? " --quick (tiny sizes; numbers are not meaningful)" : "");
  std::printf("# reproduce: make bench   (or: ./build/bench/bench_monitor)\n");
  std::printf("# host: %s\n", HostFacts().c_str());
  std::fflush(stdout);

  // The baseline's copy of the function, on disk for lua_baseline to read.
  char path[] = "/tmp/bench_monitor_XXXXXX.lua";
  const int fd = mkstemps(path, 4);
  if (fd < 0 ||
      write(fd, kUpper, std::strlen(kUpper)) != static_cast<ssize_t>(std::strlen(kUpper))) {
    Fail("writing the baseline's Lua source", std::strerror(errno));
  }
  close(fd);

  const auto start = Clock::now();
  BenchColdStart(z, path);
  unlink(path);
  std::fflush(stdout);
  BenchEmap(z);
  std::fflush(stdout);
  BenchChain(z);
  std::fflush(stdout);
  BenchPolicies(z);
  std::printf("\n# total %.1f s\n", std::chrono::duration<double>(Clock::now() - start).count());
  if (!json.empty()) WriteJson(json);
  return 0;
}
