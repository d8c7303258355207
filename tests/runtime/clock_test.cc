// The enclave's clock (src/runtime/clock.c) on the real monitor: a clock read
// costs one ocall and no reflected syscall (one VM exit, not two), and the C
// library's clock functions still answer with the host's time and musl's
// errors. The probe runtime (src/runtime/probe.c) reads the clocks; the
// monitor's stats count the exits. Without /dev/kvm every test skips loudly
// (GTEST_SKIP with the reason), never passes silently; the same clock
// functions are also tested without KVM, under enclave_runner
// (runtime_elf_test.cc).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "platform/function_worker.h"
#include "runtime/embedded.h"

namespace confide::platform {
namespace {

using namespace std::chrono_literals;

std::string Text(const Bytes& b) { return std::string(b.begin(), b.end()); }

class EnclaveClockTest : public ::testing::Test {
 protected:
  // One worker for the suite: creating one generates an RSA-3072 key.
  static void SetUpTestSuite() {
    FunctionWorkerConfig c;
    c.epc_pages = 8192;
    c.heap_bytes = uint64_t{1} << 20;
    c.window_bytes = uint64_t{1} << 20;
    c.time_limit = 10s;
    auto w = FunctionWorker::Create(runtime::probe_elf(), c);
    if (!w.ok()) {
      (w.error().code == ErrorCode::kUnavailable ? skip_ : error_) = w.error().ToString();
      return;
    }
    worker_ = std::move(*w);
    // The probe ignores the function plugin's bytes, but there must be some.
    auto id = worker_->AddLuaFunction("probe", "-- ignored by the probe");
    if (!id.ok()) {
      error_ = "AddLuaFunction: " + id.error().ToString();
      return;
    }
    probe_ = *id;
  }
  static void TearDownTestSuite() { worker_.reset(); }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << "no KVM, the enclave's clock not tested: " << skip_;
    ASSERT_TRUE(error_.empty()) << error_;
  }

  // A pie-cold invocation of the probe: a fresh enclave, so each one starts
  // musl and makes the same syscalls before the probe's op.
  static Invocation Probe(std::string_view input) {
    auto inv = worker_->Invoke(*probe_, "pie-cold", AsBytes(input));
    EXPECT_TRUE(inv.ok()) << "Invoke: " << inv.error().ToString();
    if (!inv.ok()) return Invocation{};
    EXPECT_TRUE(inv->ok()) << input << ": " << inv->Failure();
    return std::move(*inv);
  }

  static inline std::unique_ptr<FunctionWorker> worker_;
  static inline std::optional<FunctionId> probe_;
  static inline std::string skip_, error_;
};

TEST_F(EnclaveClockTest, AClockReadIsOneOcallAndNoReflectedSyscall) {
  // "e" reads no clock, "t" reads CLOCK_MONOTONIC twice; all else is equal.
  const Invocation echo = Probe("e");
  const Invocation clock = Probe("t");
  ASSERT_EQ(Text(clock.output), "clock ok");
  EXPECT_EQ(clock.monitor.syscalls_reflected, echo.monitor.syscalls_reflected)
      << "clock_gettime went through a reflected syscall";
  EXPECT_EQ(clock.monitor.ocalls, echo.monitor.ocalls + 2);
  EXPECT_EQ(clock.monitor.vm_exits, echo.monitor.vm_exits + 2);
}

TEST_F(EnclaveClockTest, TheCLibraryClocksAnswerWithTheHostsTimeAndMuslsErrors) {
  const time_t before = std::time(nullptr);
  const Invocation inv = Probe("T");
  const time_t after = std::time(nullptr);
  long long rt_s = 0, rt_ns = 0, t = 0, tod_s = 0, tod_us = 0;
  char cpu[8] = "";
  int einval = 0, efault = 0;
  const std::string out = Text(inv.output);
  ASSERT_EQ(std::sscanf(out.c_str(),
                        "realtime=%lld.%lld time=%lld tod=%lld.%lld cpu=%7s einval=%d efault=%d",
                        &rt_s, &rt_ns, &t, &tod_s, &tod_us, cpu, &einval, &efault),
            8)
      << out;
  // Read in this order inside the enclave, from the host's CLOCK_REALTIME.
  EXPECT_LE(before, rt_s) << out;
  EXPECT_LE(rt_s, tod_s) << out;
  EXPECT_LE(tod_s, t) << out;
  EXPECT_LE(t, after) << out;
  EXPECT_LT(rt_ns, 1000000000) << out;
  EXPECT_LT(tod_us, 1000000) << out;
  EXPECT_STREQ(cpu, "ok") << out;
  EXPECT_EQ(einval, EINVAL) << "clock_gettime of an unknown clock: " << out;
  EXPECT_EQ(efault, EFAULT) << "clock_gettime into NULL: " << out;
}

}  // namespace
}  // namespace confide::platform
