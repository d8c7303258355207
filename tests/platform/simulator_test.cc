// The simulator of one worker machine (src/platform/sim): determinism for a
// seed, eviction instead of failure when instances do not fit the EPC,
// density under a DRAM limit, trace parsing, config checks, and an empty EPC
// after every run.
//
// Most tests use FakePolicy, a small start policy written here on the driver
// and the machine (ECREATE, EADD of N pages, touch every page, EREMOVE), so
// they test the simulator and not the real policies; one test runs real ones.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "platform/sim/simulator.h"
#include "platform/sim/trace.h"
#include "tests/support/test_key.h"

namespace confide::platform::sim {
namespace {

using machine::PageType;
using machine::SecInfo;

constexpr uint64_t kBase = 0x10000000;

// A stand-in start policy: Start builds an uninitialized enclave of the
// workload's code + heap pages (EPC pages from the driver, which evicts when
// it must), yielding every 16 pages; Run pins it, touches every page (loading
// back what was evicted) and charges the execution time; Finish destroys it.
// Every `fail_every`-th Start fails (0: never).
class FakePolicy : public StartPolicy {
 public:
  FakePolicy(PolicyContext& ctx, WorkloadProfile workload, uint32_t fail_every = 0)
      : ctx_(ctx), workload_(std::move(workload)), fail_every_(fail_every) {}

  std::string_view name() const override { return "fake"; }
  const WorkloadProfile& workload() const override { return workload_; }
  Status Prepare(CoreId) override { return OkStatus(); }

  StatusOr<std::unique_ptr<Instance>> Start(CoreId core) override {
    if (fail_every_ && ++starts_ % fail_every_ == 0) return InternalError("fake: planned failure");
    EpcDriver& d = *ctx_.driver;
    machine::Machine& m = *ctx_.machine;
    const uint64_t pages = Pages();
    machine::Secs secs;
    secs.size = 1;
    while (secs.size < (pages + 1) * kPageSize) secs.size <<= 1;
    secs.base_addr = kBase;
    secs.attributes = {machine::attr::kMode64Bit, 3};
    CONFIDE_ASSIGN_OR_RETURN(EpcPage secs_page, d.Allocate(core));
    CONFIDE_RETURN_IF_ERROR(m.Ecreate(core, secs, secs_page));
    d.Track(secs_page, 0, secs_page);
    auto instance = std::make_unique<Instance>();
    instance->secs = secs_page;
    instance->base = kBase;
    instance->size = secs.size;
    static const std::array<uint8_t, kPageSize> kZero{};
    for (uint64_t i = 0; i < pages; ++i) {
      auto page = d.Allocate(core);
      Status added =
          page.ok()
              ? m.Eadd(core, secs_page, kBase + i * kPageSize,
                       SecInfo::Make(PageType::kReg, machine::secinfo::kR | machine::secinfo::kW),
                       kZero, *page)
              : page.status();
      if (!added.ok()) {
        (void)d.Destroy(core, secs_page);
        return tl::unexpected(added.error());
      }
      d.Track(secs_page, kBase + i * kPageSize, *page);
      if (i % 16 == 15) ctx_.Yield(core);
    }
    return instance;
  }

  Status Run(CoreId core, Instance& instance) override {
    ctx_.driver->Pin(instance.secs);
    for (uint64_t i = 0; i < Pages(); ++i) {
      auto page = ctx_.driver->Resident(core, instance.secs, kBase + i * kPageSize);
      if (!page.ok()) {
        ctx_.driver->Unpin(instance.secs);
        return page.status();
      }
    }
    ctx_.ChargeSoftware(core, SoftwareWork::kExecute, workload_.exec_cycles);
    ctx_.Yield(core);  // pinned until the other cores catch up with the execution
    ctx_.driver->Unpin(instance.secs);
    return OkStatus();
  }

  Status Finish(CoreId core, std::unique_ptr<Instance> instance) override {
    return ctx_.driver->Destroy(core, instance->secs);
  }
  Status Shutdown(CoreId) override { return OkStatus(); }

 private:
  uint64_t Pages() const { return workload_.code_pages() + workload_.heap_pages; }

  PolicyContext& ctx_;
  WorkloadProfile workload_;
  uint32_t fail_every_;
  uint32_t starts_ = 0;
};

PolicyFactory FakeFactory(uint32_t fail_every = 0) {
  return [fail_every](const FunctionSpec& f,
                      PolicyContext& ctx) -> StatusOr<std::unique_ptr<StartPolicy>> {
    return std::make_unique<FakePolicy>(ctx, f.workload, fail_every);
  };
}

// `pages` per instance (code + heap), 1 ms of execution (at 3.8 GHz) unless
// said otherwise, Poisson arrivals.
FunctionSpec Function(std::string name, uint64_t pages, double rate, double duration,
                      ArrivalProcess::Kind kind = ArrivalProcess::Kind::kPoisson,
                      uint64_t exec_cycles = 3'800'000) {
  FunctionSpec f;
  f.name = name;
  f.workload = SyntheticWorkload(name, pages / 2, pages - pages / 2, exec_cycles);
  f.policy = "fake";
  f.arrivals = ArrivalProcess{rate, duration, kind};
  return f;
}

SimConfig FakeConfig(uint32_t cores = 4, uint32_t epc_pages = 512) {
  SimConfig c;
  c.cores = cores;
  c.epc_pages = epc_pages;
  c.signing_key = &confide::testing::TestSigningKey();
  c.policy_factory = FakeFactory();
  return c;
}

SimReport MustRun(const SimConfig& config) {
  auto report = RunSimulation(config);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  if (!report.ok()) return {};
  EXPECT_TRUE(report->shutdown_error.empty()) << report->shutdown_error;
  EXPECT_TRUE(report->epc_empty_at_end) << report->Summary();
  return *std::move(report);
}

std::string ErrorOf(const SimConfig& config) {
  auto report = RunSimulation(config);
  EXPECT_FALSE(report.ok());
  if (report.ok()) return "";
  EXPECT_EQ(report.error().code, ErrorCode::kInvalidArgument) << report.error().ToString();
  return report.error().message;
}

// ---- Determinism -----------------------------------------------------------

TEST(Simulator, SameSeedGivesIdenticalReport) {
  SimConfig config = FakeConfig();
  config.seed = 42;
  config.functions = {Function("a", 150, 800, 0.1), Function("b", 90, 400, 0.1)};
  const SimReport r1 = MustRun(config);
  const SimReport r2 = MustRun(config);
  ASSERT_GT(r1.requests.size(), 50u);
  EXPECT_EQ(r1.requests, r2.requests);
  EXPECT_EQ(r1.overall, r2.overall);
  EXPECT_EQ(r1.functions, r2.functions);
  EXPECT_EQ(r1.evictions, r2.evictions);
  EXPECT_EQ(r1.reloads, r2.reloads);
  EXPECT_EQ(r1.counters.count, r2.counters.count);
  EXPECT_EQ(r1.counters.cycles, r2.counters.cycles);
  EXPECT_EQ(r1.switches, r2.switches);
  EXPECT_GT(r1.evictions, 0u);  // contention really happened
}

TEST(Simulator, DifferentSeedsGiveDifferentPoissonArrivals) {
  SimConfig config = FakeConfig();
  config.functions = {Function("a", 100, 500, 0.1)};
  config.seed = 1;
  const SimReport r1 = MustRun(config);
  config.seed = 2;
  const SimReport r2 = MustRun(config);
  EXPECT_NE(r1.requests, r2.requests);
}

TEST(Simulator, ArrivalsAreSortedAndCapped) {
  SimConfig config = FakeConfig();
  config.functions = {Function("a", 10, 1000, 1.0),
                      Function("b", 10, 100, 1.0, ArrivalProcess::Kind::kUniform)};
  auto all = GenerateArrivals(config);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_NEAR(static_cast<double>(all->size()), 1100, 150);
  for (size_t i = 1; i < all->size(); ++i) ASSERT_LE((*all)[i - 1].time_s, (*all)[i].time_s);
  size_t uniform = 0;
  for (const Arrival& a : *all) uniform += a.function == 1;
  EXPECT_EQ(uniform, 100u);
  config.max_requests = 17;
  auto capped = GenerateArrivals(config);
  ASSERT_TRUE(capped.ok());
  ASSERT_EQ(capped->size(), 17u);
  EXPECT_TRUE(std::equal(capped->begin(), capped->end(), all->begin()));
}

// ---- Contention ----------------------------------------------------------------

// Four cores, 150-page instances, a 512-page EPC: three instances fill it, so
// cores evict each other's pages; every request still completes. (Execution
// is short: a running instance is pinned whole by the driver, and four
// running at once would not fit.)
TEST(Simulator, InstancesThatDoNotFitTheEpcEvictRatherThanFail) {
  SimConfig config = FakeConfig(4, 512);
  config.functions = {Function("big", 150, 2000, 0.05, ArrivalProcess::Kind::kPoisson, 380'000)};
  const SimReport r = MustRun(config);
  ASSERT_GT(r.overall.requests, 40u);
  EXPECT_EQ(r.overall.completed, r.overall.requests) << r.overall.first_error;
  EXPECT_EQ(r.overall.failed, 0u);
  EXPECT_GT(r.evictions, 0u);
  EXPECT_GT(r.reloads, 0u);
  EXPECT_GE(r.density, 3u);                // more alive at once than fit
  EXPECT_LE(r.density, 4u);                // one per core
  EXPECT_GE(r.peak_epc_pages_used, 500u);  // the driver keeps a page for VA
  EXPECT_GT(r.counters.count[static_cast<size_t>(machine::Instruction::kEwb)], 0u);
}

TEST(Simulator, OneCoreServesFifoAndQueues) {
  SimConfig config = FakeConfig(1, 512);
  config.functions = {Function("a", 50, 5000, 0.02)};  // far more than one core serves
  const SimReport r = MustRun(config);
  ASSERT_GT(r.requests.size(), 10u);
  for (size_t i = 1; i < r.requests.size(); ++i) {
    EXPECT_GE(r.requests[i].start_cycles, r.requests[i - 1].finish_cycles);
    EXPECT_GE(r.requests[i].start_cycles, r.requests[i].arrival_cycles);
  }
  EXPECT_GT(r.overall.queueing.p90_ms, 0.5);
  EXPECT_EQ(r.density, 1u);
  EXPECT_EQ(r.evictions, 0u);
}

TEST(Simulator, IdleMachineLatencyIsServiceTime) {
  SimConfig config = FakeConfig(2, 512);
  // One request every 100 ms; each takes ~1 ms.
  config.functions = {Function("a", 40, 10, 0.5, ArrivalProcess::Kind::kUniform)};
  const SimReport r = MustRun(config);
  ASSERT_EQ(r.overall.requests, 5u);
  EXPECT_EQ(r.overall.queueing.max_ms, 0);
  EXPECT_GT(r.overall.latency.p50_ms, 1.0);  // 1 ms execution + building
  EXPECT_LT(r.overall.latency.max_ms, 10.0);
  EXPECT_EQ(r.density, 1u);
  EXPECT_NEAR(r.overall.throughput_rps, 5 / (0.4 + r.overall.latency.max_ms / 1e3), 0.5);
}

TEST(Simulator, FailedRequestsAreCountedNotFatal) {
  SimConfig config = FakeConfig(2, 512);
  config.policy_factory = FakeFactory(/*fail_every=*/3);
  config.functions = {Function("a", 40, 100, 0.3, ArrivalProcess::Kind::kUniform)};
  const SimReport r = MustRun(config);
  ASSERT_EQ(r.overall.requests, 30u);
  EXPECT_EQ(r.overall.failed, 10u);
  EXPECT_EQ(r.overall.completed, 20u);
  EXPECT_NE(r.overall.first_error.find("planned failure"), std::string::npos)
      << r.overall.first_error;
  EXPECT_EQ(r.functions[0].first_error, r.overall.first_error);
}

// ---- Density ---------------------------------------------------------------

uint32_t DensityAt(uint64_t dram_limit_bytes, std::string* limit) {
  SimConfig config = FakeConfig(2, 512);
  config.hold = true;
  config.dram_limit_bytes = dram_limit_bytes;
  config.functions = {Function("a", 100, 10000, 1.0)};
  const SimReport r = MustRun(config);
  *limit = r.hold_limit;
  EXPECT_EQ(r.overall.failed, 1u);  // the Start that found the limit
  return r.density;
}

TEST(Simulator, HoldModeDensityGrowsWithTheDramLimit) {
  const uint64_t epc = 512 * kPageSize;
  std::string limit1, limit2;
  const uint32_t d1 = DensityAt(epc + 1 * 1024 * 1024, &limit1);
  const uint32_t d2 = DensityAt(epc + 2 * 1024 * 1024, &limit2);
  EXPECT_NE(limit1.find("DRAM limit"), std::string::npos) << limit1;
  EXPECT_NE(limit2.find("DRAM limit"), std::string::npos) << limit2;
  // 100-page instances: 512 EPC pages + 256 backing pages per MiB.
  EXPECT_GE(d1, 6u);
  EXPECT_GT(d2, d1 + 1);
}

TEST(Simulator, HoldModeWithoutALimitStopsWhenArrivalsEnd) {
  SimConfig config = FakeConfig(2, 512);
  config.hold = true;
  config.max_requests = 5;
  config.functions = {Function("a", 50, 1000, 1.0)};
  const SimReport r = MustRun(config);
  EXPECT_EQ(r.density, 5u);
  EXPECT_TRUE(r.hold_limit.empty());
}

// ---- Trace -----------------------------------------------------------------

TEST(Simulator, TraceParses) {
  auto t = ParseTrace("# a trace\ntime,function\n0,a\n0.5, b  # second\n\n 0.5 ,a\r\n1.25,b");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const std::vector<TraceEvent> want = {{0, "a"}, {0.5, "b"}, {0.5, "a"}, {1.25, "b"}};
  EXPECT_EQ(*t, want);
  auto no_header = ParseTrace("0.1,x\n");
  ASSERT_TRUE(no_header.ok());
  EXPECT_EQ(no_header->size(), 1u);
  auto empty = ParseTrace("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(Simulator, TraceErrorsNameTheLine) {
  const struct {
    const char* csv;
    const char* want;
  } cases[] = {
      {"time,function\n0,a\nxyz,a\n", "trace line 3: time \"xyz\""},
      {"0,a\n# c\n1\n", "trace line 3: expected \"time,function\""},
      {"0,a\n1,b,c\n", "trace line 2: too many fields"},
      {"0,a\n2,a\n1,a\n", "trace line 3: time 1 is earlier"},
      {"-1,a\n", "trace line 1: time -1"},
      {"0,a\n1,\n", "trace line 2: empty function"},
      {"0,a\ntime,function\n", "trace line 2: time \"time\""},
      {"inf,a\n", "trace line 1: time inf"},
  };
  for (const auto& c : cases) {
    auto t = ParseTrace(c.csv);
    ASSERT_FALSE(t.ok()) << c.csv;
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(t.error().message.find(c.want), std::string::npos) << t.error().message;
  }
}

TEST(Simulator, TraceDrivesArrivals) {
  SimConfig config = FakeConfig(2, 512);
  config.functions = {Function("a", 30, 1, 1), Function("b", 30, 1, 1)};
  for (FunctionSpec& f : config.functions) f.arrivals.reset();
  auto trace = ParseTrace("0,a\n0,b\n0.010,a\n0.020,b\n0.020,b\n");
  ASSERT_TRUE(trace.ok());
  config.trace = *trace;
  const SimReport r = MustRun(config);
  ASSERT_EQ(r.requests.size(), 5u);
  EXPECT_EQ(r.functions[0].requests, 2u);
  EXPECT_EQ(r.functions[1].requests, 3u);
  EXPECT_EQ(r.requests[0].core, 0u);
  EXPECT_EQ(r.requests[1].core, 1u);  // both arrive at 0: both cores serve
  EXPECT_EQ(r.requests[0].arrival_cycles, r.requests[1].arrival_cycles);
  EXPECT_EQ(r.overall.completed, 5u);
}

// ---- Config checks ---------------------------------------------------------

TEST(Simulator, RejectsInvalidConfigs) {
  SimConfig none = FakeConfig();
  EXPECT_NE(ErrorOf(none).find("no functions"), std::string::npos);

  SimConfig unknown = FakeConfig();
  unknown.policy_factory = nullptr;
  unknown.functions = {Function("a", 10, 10, 1)};
  unknown.functions[0].policy = "sgx9-turbo";
  EXPECT_NE(ErrorOf(unknown).find("unknown policy \"sgx9-turbo\""), std::string::npos);

  SimConfig rate = FakeConfig();
  rate.functions = {Function("a", 10, 0, 1)};
  EXPECT_NE(ErrorOf(rate).find("arrival rate 0 must be > 0"), std::string::npos);

  SimConfig duration = FakeConfig();
  duration.functions = {Function("a", 10, 10, -1)};
  EXPECT_NE(ErrorOf(duration).find("duration -1 s"), std::string::npos);

  SimConfig twice = FakeConfig();
  twice.functions = {Function("a", 10, 10, 1), Function("a", 10, 10, 1)};
  EXPECT_NE(ErrorOf(twice).find("\"a\" is configured twice"), std::string::npos);

  SimConfig no_key = FakeConfig();
  no_key.signing_key = nullptr;
  no_key.functions = {Function("a", 10, 10, 1)};
  EXPECT_NE(ErrorOf(no_key).find("signing_key"), std::string::npos);

  SimConfig trace = FakeConfig();
  trace.functions = {Function("a", 10, 10, 1)};
  trace.functions[0].arrivals.reset();
  trace.trace = std::vector<TraceEvent>{{0, "a"}, {0.1, "zz"}};
  EXPECT_NE(ErrorOf(trace).find("trace event #1: unknown function \"zz\""), std::string::npos);
  trace.trace = std::vector<TraceEvent>{{0.2, "a"}, {0.1, "a"}};
  EXPECT_NE(ErrorOf(trace).find("trace event #1: time 0.1 is earlier"), std::string::npos);

  SimConfig both = trace;
  both.trace = std::vector<TraceEvent>{{0, "a"}};
  both.functions[0].arrivals = ArrivalProcess{1, 1};
  EXPECT_NE(ErrorOf(both).find("has an arrival process, but a trace"), std::string::npos);

  SimConfig neither = FakeConfig();
  neither.functions = {Function("a", 10, 10, 1)};
  neither.functions[0].arrivals.reset();
  EXPECT_NE(ErrorOf(neither).find("no arrival process"), std::string::npos);

  SimConfig huge = FakeConfig();
  huge.functions = {Function("a", 10, 1e9, 1)};
  EXPECT_NE(ErrorOf(huge).find("set max_requests"), std::string::npos);
}

// ---- Reporting -------------------------------------------------------------

TEST(Simulator, ReportsJsonSummaryAndProgress) {
  SimConfig config = FakeConfig(2, 512);
  config.functions = {Function("a", 60, 1000, 0.05)};
  std::vector<SimProgress> seen;
  config.progress = [&](const SimProgress& p) { seen.push_back(p); };
  config.progress_every_requests = 10;
  const SimReport r = MustRun(config);
  ASSERT_GE(seen.size(), r.requests.size() / 10);
  EXPECT_EQ(seen.back().completed, r.overall.completed);  // the final call
  EXPECT_EQ(seen.back().requests, r.requests.size());

  const nlohmann::json j = nlohmann::json::parse(r.ToJson(/*with_requests=*/true));
  EXPECT_EQ(j["overall"]["requests"], r.overall.requests);
  EXPECT_EQ(j["functions"][0]["policy"], "fake");
  EXPECT_EQ(j["requests"].size(), r.requests.size());
  EXPECT_TRUE(j["epc"]["empty_at_end"].get<bool>());
  EXPECT_GT(j["instructions"]["EADD"]["count"].get<uint64_t>(), 0u);
  EXPECT_GT(j["software_cycles"]["total"].get<uint64_t>(), 0u);
  const std::string s = r.Summary();
  EXPECT_NE(s.find("requests"), std::string::npos);
  EXPECT_NE(s.find("p99"), std::string::npos);
}

// ---- Real policies ---------------------------------------------------------

TEST(Simulator, RealPoliciesShareOneEpc) {
  SimConfig config;
  config.cores = 4;
  config.epc_pages = 512;
  config.signing_key = &confide::testing::TestSigningKey();
  for (const char* policy : {"pie-cold", "sgx1-swhash"}) {
    FunctionSpec f;
    f.name = policy;
    f.policy = policy;
    f.workload = SyntheticWorkload(policy, 120, 60, 3'800'000);
    f.arrivals = ArrivalProcess{400, 0.1, ArrivalProcess::Kind::kPoisson};
    config.functions.push_back(f);
  }
  const SimReport r = MustRun(config);
  ASSERT_GT(r.overall.requests, 40u);
  EXPECT_EQ(r.overall.failed, 0u) << r.overall.first_error;
  EXPECT_GT(r.prepare_ms, 0);  // pie-cold builds its plugins in Prepare
  EXPECT_GT(r.evictions, 0u) << r.Summary();
  EXPECT_LT(r.functions[0].latency.p50_ms, r.functions[1].latency.p50_ms) << r.Summary();
  EXPECT_GT(r.counters.count[static_cast<size_t>(machine::Instruction::kEmap)], 0u);

  const SimReport again = MustRun(config);
  EXPECT_EQ(again.requests, r.requests);
  EXPECT_EQ(again.evictions, r.evictions);
  EXPECT_EQ(again.counters.cycles, r.counters.cycles);
}

// The one-core-at-a-time baton must not serialize idle cores behind busy
// ones: sixteen cores, a burst of sixteen simultaneous requests, each served
// at once on its own core.
TEST(Simulator, SimultaneousArrivalsRunInParallel) {
  SimConfig config = FakeConfig(16, 4096);
  config.functions = {Function("a", 100, 1, 1)};
  config.functions[0].arrivals.reset();
  config.trace = std::vector<TraceEvent>(16, TraceEvent{0.001, "a"});
  const SimReport r = MustRun(config);
  ASSERT_EQ(r.requests.size(), 16u);
  for (uint32_t i = 0; i < 16; ++i) {
    EXPECT_EQ(r.requests[i].core, i);
    EXPECT_EQ(r.requests[i].start_cycles, r.requests[i].arrival_cycles);
    EXPECT_EQ(r.requests[i].finish_cycles,
              r.requests[0].finish_cycles);  // same work, no contention
  }
  EXPECT_EQ(r.density, 16u);
  EXPECT_GT(r.switches, 16u);
}

}  // namespace
}  // namespace confide::platform::sim
