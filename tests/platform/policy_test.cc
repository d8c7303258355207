// Start policies: every policy serves requests on the machine and leaves the
// EPC as it found it; full and cost-only modes issue the same instructions;
// a policy short of EPC evicts rather than fails; the policies order as the
// papers say they should.
#include "platform/policy/start_policy.h"

#include <gtest/gtest.h>

#include "platform/epc_driver.h"
#include "platform/instance_ops.h"
#include "tests/support/test_key.h"

namespace confide::platform {
namespace {

using machine::PageContents;

struct World {
  std::unique_ptr<machine::Machine> machine;
  std::unique_ptr<EpcDriver> driver;
  PolicyContext ctx;
};

World MakeWorld(uint32_t epc_pages, PageContents mode, uint32_t cores = 4) {
  machine::MachineConfig cfg;
  cfg.profile = machine::CostProfile::Default();
  cfg.epc_pages = epc_pages;
  cfg.cores = cores;
  cfg.page_contents = mode;
  cfg.root_secret = std::array<uint8_t, 32>{7};
  World w;
  auto m = machine::Machine::Create(cfg);
  EXPECT_TRUE(m.ok());
  w.machine = std::move(*m);
  w.driver = std::make_unique<EpcDriver>(*w.machine);
  w.ctx.machine = w.machine.get();
  w.ctx.driver = w.driver.get();
  w.ctx.software = BuiltinWorkloads(cfg.profile.frequency_hz).software;
  w.ctx.signing_key = &testing::TestSigningKey();
  return w;
}

// A small function: 3 libraries, some data and heap, a few written pages.
WorkloadProfile SmallWorkload() {
  WorkloadProfile p = SyntheticWorkload("small", 48, 24, 1'000'000);
  p.libraries = 3;
  p.runtime_pages = 24;
  p.library_pages = 20;
  p.function_pages = 4;
  p.data_pages = 3;
  p.sgx_heap_pages = 40;
  p.cow_fraction = 0.1;
  return p;
}

// Prepare, two requests, Shutdown; returns the latencies.
std::vector<uint64_t> ServeTwo(World& w, const std::string& name, const WorkloadProfile& wl,
                               PolicyOptions options = {}) {
  auto policy = MakePolicy(name, w.ctx, wl, options);
  EXPECT_TRUE(policy.ok()) << name;
  if (!policy.ok()) return {};
  Status prepared = (*policy)->Prepare(0);
  EXPECT_TRUE(prepared.ok()) << name << ": " << prepared.ToString();
  std::vector<uint64_t> latencies;
  for (int i = 0; i < 2; ++i) {
    auto cycles = ServeOne(w.ctx, **policy, 0);
    EXPECT_TRUE(cycles.ok()) << name << ": " << cycles.error().ToString();
    if (cycles.ok()) latencies.push_back(*cycles);
  }
  Status shut = (*policy)->Shutdown(0);
  EXPECT_TRUE(shut.ok()) << name << ": " << shut.ToString();
  return latencies;
}

class EveryPolicy : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryPolicy, LeavesTheEpcAsItFoundIt) {
  for (PageContents mode : {PageContents::kFull, PageContents::kCostOnly}) {
    World w = MakeWorld(2048, mode);
    const uint32_t free_before = w.machine->FreePageCount();
    std::vector<uint64_t> latencies = ServeTwo(w, GetParam(), SmallWorkload());
    ASSERT_EQ(latencies.size(), 2u);
    EXPECT_GT(latencies[0], 0u);
    ASSERT_TRUE(w.driver->ReleaseVaPages(0).ok());
    EXPECT_EQ(w.machine->FreePageCount(), free_before) << GetParam();
  }
}

TEST_P(EveryPolicy, CostOnlyModeIssuesTheSameInstructions) {
  World full = MakeWorld(2048, PageContents::kFull);
  World cost = MakeWorld(2048, PageContents::kCostOnly);
  std::vector<uint64_t> a = ServeTwo(full, GetParam(), SmallWorkload());
  std::vector<uint64_t> b = ServeTwo(cost, GetParam(), SmallWorkload());
  EXPECT_EQ(a, b);
  const machine::CounterSnapshot ca = full.machine->Counters();
  const machine::CounterSnapshot cb = cost.machine->Counters();
  EXPECT_EQ(ca.count, cb.count);
  EXPECT_EQ(ca.cycles, cb.cycles);
  for (auto field : machine::kPageEventFields) EXPECT_EQ(ca.events.*field, cb.events.*field);
}

TEST_P(EveryPolicy, EvictsRatherThanFailsWhenTheEpcIsShort) {
  // 160 EPC pages for a workload whose enclaves (and plugins) need more.
  World w = MakeWorld(160, PageContents::kCostOnly);
  WorkloadProfile big = SmallWorkload();
  big.runtime_pages = 150;
  big.heap_pages = 60;
  big.sgx_heap_pages = 80;
  std::vector<uint64_t> latencies = ServeTwo(w, GetParam(), big);
  EXPECT_EQ(latencies.size(), 2u);
  EXPECT_GT(w.driver->stats().evictions, 0u) << GetParam();
  ASSERT_TRUE(w.driver->ReleaseVaPages(0).ok());
  EXPECT_EQ(w.machine->FreePageCount(), 160u);
}

INSTANTIATE_TEST_SUITE_P(Policy, EveryPolicy, ::testing::ValuesIn(PolicyNames()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(Policy, UnknownNameListsTheKnownOnes) {
  World w = MakeWorld(256, PageContents::kCostOnly);
  auto p = MakePolicy("sgx3-magic", w.ctx, SmallWorkload());
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("pie-cold"), std::string::npos);
}

TEST(Policy, StartBeforePrepareIsRefused) {
  World w = MakeWorld(1024, PageContents::kCostOnly);
  auto p = MakePolicy("pie-cold", w.ctx, SmallWorkload());
  ASSERT_TRUE(p.ok());
  auto in = (*p)->Start(0);
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.error().code, ErrorCode::kFailedPrecondition);
}

TEST(Policy, PieColdStartsFasterThanSgxColdAndWarmFasterStill) {
  World w = MakeWorld(8192, PageContents::kCostOnly);
  WorkloadProfile wl = SmallWorkload();
  wl.runtime_pages = 2000;  // a runtime much larger than the host's private state
  wl.cow_fraction = 0.01;
  const uint64_t sgx = ServeTwo(w, "sgx1-cold", wl)[1];
  const uint64_t swhash = ServeTwo(w, "sgx1-swhash", wl)[1];
  const uint64_t pie = ServeTwo(w, "pie-cold", wl)[1];
  const uint64_t pie_warm = ServeTwo(w, "pie-warm", wl)[0];
  const uint64_t warm = ServeTwo(w, "sgx-warm", wl)[0];
  EXPECT_LT(swhash, sgx);  // PIE §III-C, Insight 1
  EXPECT_LT(pie * 10, sgx);
  EXPECT_LT(pie_warm, pie);
  EXPECT_LT(warm, swhash);
}

TEST(Policy, PieColdCopiesTheWrittenPluginPages) {
  World w = MakeWorld(2048, PageContents::kFull);
  WorkloadProfile wl = SmallWorkload();
  auto p = MakePolicy("pie-cold", w.ctx, wl);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE((*p)->Prepare(0).ok());
  auto in = (*p)->Start(0);
  ASSERT_TRUE(in.ok()) << in.error().ToString();
  EXPECT_EQ((*in)->mapped_plugins.size(), 2u + wl.libraries);
  ASSERT_TRUE((*p)->Run(0, **in).ok());
  EXPECT_EQ((*in)->cow_pages.size(), wl.cow_pages());
  EXPECT_EQ(w.machine->Counters().events.cow_copies, wl.cow_pages());
  ASSERT_TRUE((*p)->Finish(0, std::move(*in)).ok());
  ASSERT_TRUE((*p)->Shutdown(0).ok());
}

TEST(Policy, EnturboIsFasterWithMoreWorkersAndNeedsTheCores) {
  World w = MakeWorld(4096, PageContents::kCostOnly, /*cores=*/9);
  WorkloadProfile wl = SmallWorkload();
  wl.runtime_pages = 1000;
  wl.exec_cycles = 0;
  PolicyOptions one, eight, too_many;
  one.enturbo_workers = 1;
  eight.enturbo_workers = 8;
  too_many.enturbo_workers = 9;
  const uint64_t serial = ServeTwo(w, "sgx1-cold", wl)[0];
  const uint64_t t1 = ServeTwo(w, "enturbo", wl, one)[0];
  const uint64_t t8 = ServeTwo(w, "enturbo", wl, eight)[0];
  EXPECT_LT(t8 * 3, t1);
  EXPECT_LE(t1, serial);
  auto p = MakePolicy("enturbo", w.ctx, wl, too_many);
  ASSERT_TRUE(p.ok());
  auto in = (*p)->Start(0);
  ASSERT_FALSE(in.ok());
  EXPECT_NE(in.error().message.find("cores"), std::string::npos);
}

// On SGX2 the heap is EAUGed after EINIT (EAUG needs an initialized
// enclave); the measured part is code and data only, so more workers still
// help, and the policy leaves the EPC as it found it.
TEST(Policy, EnturboOnSgx2GrowsTheHeapAfterVerification) {
  World w = MakeWorld(4096, PageContents::kCostOnly, /*cores=*/9);
  WorkloadProfile wl = SmallWorkload();
  wl.runtime_pages = 1000;
  wl.exec_cycles = 0;
  const uint32_t free_before = w.machine->FreePageCount();
  PolicyOptions one, eight;
  one.enturbo_sgx2 = eight.enturbo_sgx2 = true;
  one.enturbo_workers = 1;
  eight.enturbo_workers = 8;
  const std::vector<uint64_t> t1 = ServeTwo(w, "enturbo", wl, one);
  const std::vector<uint64_t> t8 = ServeTwo(w, "enturbo", wl, eight);
  ASSERT_EQ(t1.size(), 2u);
  ASSERT_EQ(t8.size(), 2u);
  EXPECT_LT(t8[0] * 2, t1[0]);
  EXPECT_GE(w.machine->Counters().events.pages_augmented, 4 * uint64_t{wl.heap_pages});
  ASSERT_TRUE(w.driver->ReleaseVaPages(0).ok());
  EXPECT_EQ(w.machine->FreePageCount(), free_before);
}

TEST(Policy, WarmPoolsReuseTheirInstances) {
  for (const char* name : {"sgx-warm", "pie-warm"}) {
    World w = MakeWorld(4096, PageContents::kCostOnly);
    PolicyOptions o;
    o.pool_size = 2;
    auto p = MakePolicy(name, w.ctx, SmallWorkload(), o);
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE((*p)->Prepare(0).ok());
    const uint64_t ecreates =
        w.machine->Counters().count[static_cast<size_t>(machine::Instruction::kEcreate)];
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(ServeOne(w.ctx, **p, 0).ok()) << name;
    EXPECT_EQ(w.machine->Counters().count[static_cast<size_t>(machine::Instruction::kEcreate)],
              ecreates)
        << name << " created an enclave per request";
    ASSERT_TRUE((*p)->Shutdown(0).ok());
  }
}

}  // namespace
}  // namespace confide::platform
