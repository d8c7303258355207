// VM exits per invocation of a real Lua function (FunctionWorker on KVM):
// each exit costs ~120-140 us on this project's nested-KVM host, so their
// number is held here. What a cold start of the Lua runtime still exits for:
// one reflected syscall (musl's set_tid_address), two clock ocalls (Lua
// seeds itself from time(NULL)) and EEXIT. What it no longer exits for: the
// runtime's syscall handler (the thread-info page names it, measured:
// image/enclave_abi.h) and musl's thread pointer (WRFSBASE:
// runtime/libos.c, monitor/vcpu_setup.h): no exit the monitor serves itself
// (MonitorStats::syscalls_served), but for arch_prctl on a CPU without
// FSGSBASE, where WRFSBASE does not work. Copy-on-write exits of the runtime's data
// are left out of the count (vm_exits - cow_pages): how many there are is
// the start policy's business, not the runtime's.
//
// Without /dev/kvm every test skips loudly (GTEST_SKIP with the reason),
// never passes silently.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "monitor/vcpu_setup.h"
#include "platform/function_worker.h"
#include "platform/policy/start_policy.h"
#include "runtime/embedded.h"

namespace confide::platform {
namespace {

using namespace std::chrono_literals;

// set_tid_address, 2 clock ocalls, EEXIT; on a CPU without FSGSBASE also
// arch_prctl(ARCH_SET_FS), which the monitor serves (vcpu_setup.h).
uint64_t ServedPerEntry() { return monitor::CpuHasFsgsbase() ? 0 : 1; }
uint64_t LuaColdExits() { return 4 + ServedPerEntry(); }
// What an exit the monitor serves itself most likely means.
constexpr const char* kServedHint =
    "an exit for CONFIDE_SYS_SET_HANDLER or arch_prctl(ARCH_SET_FS): does the host's thread-info "
    "page name the runtime's handler (LayoutPieHost's plugin_syscall_handler_offset, from the "
    "runtime's LayoutInfo::syscall_handler_offset)? ";

std::string Breakdown(const monitor::MonitorStats& s) {
  return "exits " + std::to_string(s.vm_exits) + " = " + std::to_string(s.syscalls_reflected) +
         " reflected + " + std::to_string(s.ocalls) + " ocalls + " +
         std::to_string(s.syscalls_served) + " served by the monitor + " +
         std::to_string(s.enclu_emulated) + " ENCLU + " + std::to_string(s.cow_pages) +
         " copy-on-write + " + std::to_string(s.pages_loaded) + " pages loaded";
}

class ExitCountTest : public ::testing::Test {
 protected:
  // One worker for the suite: creating one generates an RSA-3072 key.
  static void SetUpTestSuite() {
    FunctionWorkerConfig c;
    c.epc_pages = 8192;
    c.heap_bytes = uint64_t{1} << 20;
    c.stack_bytes = uint64_t{256} << 10;
    c.window_bytes = uint64_t{1} << 20;
    c.time_limit = 10s;
    auto w = FunctionWorker::Create(runtime::lua_runtime_elf(), c);
    if (!w.ok()) {
      (w.error().code == ErrorCode::kUnavailable ? skip_ : error_) = w.error().ToString();
      return;
    }
    worker_ = std::move(*w);
    auto id = worker_->AddLuaFunction("upper", "return function(s) return string.upper(s) end");
    if (!id.ok()) {
      error_ = "AddLuaFunction: " + id.error().ToString();
      return;
    }
    upper_ = *id;
  }
  static void TearDownTestSuite() { worker_.reset(); }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << "no KVM, exits not counted: " << skip_;
    ASSERT_TRUE(error_.empty()) << error_;
  }

  // One invocation under `policy`, which must succeed.
  static std::optional<monitor::MonitorStats> Invoke(std::string_view policy) {
    auto inv = worker_->Invoke(*upper_, policy, AsBytes(std::string_view("hello")));
    EXPECT_TRUE(inv.ok()) << policy << ": " << inv.error().ToString();
    if (!inv.ok()) return std::nullopt;
    EXPECT_TRUE(inv->ok()) << policy << ": " << inv->Failure();
    EXPECT_EQ(std::string(inv->output.begin(), inv->output.end()), "HELLO") << policy;
    return inv->monitor;
  }

  static inline std::unique_ptr<FunctionWorker> worker_;
  static inline std::optional<FunctionId> upper_;
  static inline std::string skip_, error_;
};

TEST_F(ExitCountTest, PieColdLuaRunMakesFourExitsBesideCopyOnWrite) {
  for (int i = 0; i < 2; ++i) {  // the first invocation prepares the plugins: no difference
    std::optional<monitor::MonitorStats> s = Invoke("pie-cold");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->vm_exits - s->cow_pages, LuaColdExits()) << Breakdown(*s);
    EXPECT_EQ(s->syscalls_served, ServedPerEntry()) << kServedHint << Breakdown(*s);
  }
}

TEST_F(ExitCountTest, Sgx1ColdLuaRunMakesFourExits) {
  std::optional<monitor::MonitorStats> s = Invoke("sgx1-cold");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->vm_exits - s->cow_pages, LuaColdExits()) << Breakdown(*s);
  EXPECT_EQ(s->cow_pages, 0u) << "sgx1-cold shares no page";
  EXPECT_EQ(s->syscalls_served, ServedPerEntry()) << kServedHint << Breakdown(*s);
}

TEST_F(ExitCountTest, NoPolicyMakesAnExitTheMonitorServesItself) {
  for (const std::string& policy : RealPolicyNames()) {
    // Warm policies re-enter the enclave they keep: the second invocation.
    for (int i = 0; i < 2; ++i) {
      std::optional<monitor::MonitorStats> s = Invoke(policy);
      ASSERT_TRUE(s) << policy;
      EXPECT_EQ(s->syscalls_served, ServedPerEntry())
          << policy << ": " << kServedHint << Breakdown(*s);
    }
  }
  EXPECT_TRUE(worker_->ReleasePolicies().ok());
}

}  // namespace
}  // namespace confide::platform
