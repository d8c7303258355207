// Enclaves built on the machine model, run for real by the monitor. Skips
// loudly (GTEST_SKIP, never a silent pass) when /dev/kvm is unavailable.
#include "monitor/enclave_vm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>

#include "asm.h"
#include "image/enclave_abi.h"
#include "image/loader.h"
#include "image/sgxs.h"
#include "image/signer.h"
#include "machine/report.h"
#include "machine/secs.h"
#include "monitor/guest_layout.h"
#include "monitor/monitor.h"
#include "monitor/vcpu_setup.h"
#include "tests/support/test_key.h"

namespace confide::monitor {
namespace {

using namespace std::chrono_literals;
using machine::PageType;
using machine::SecInfo;
using machine::secinfo::kR;
using machine::secinfo::kW;
using machine::secinfo::kX;
using testing::Asm;
using ::testing::HasSubstr;

// Host enclaves: code page at +0 (R+X), data at +0x1000 (RW), stack at
// +0x2000 (RW), TCS at +0x3000 (entry +0), SSA at +0x4000, maybe a
// thread-info page at +0x6000. A plugin: one R page of bytes at
// kPluginBase, in the host's ELRANGE but 2 MiB away from its pages.
constexpr uint64_t kHostBase = 0x4000'0000;
constexpr uint64_t kHostSize = 0x40'0000;
constexpr uint64_t kData = kHostBase + 0x1000;
constexpr uint64_t kStackTop = kHostBase + 0x3000;
constexpr uint64_t kPluginBase = kHostBase + 0x20'0000;
constexpr uint64_t kThreadInfo = kHostBase + 0x6000;  // LoadHost's, if any

image::SgxsPage Page(uint64_t offset, PageType type, uint64_t perms, ByteSpan bytes = {}) {
  image::SgxsPage p;
  p.offset = offset;
  p.secinfo = SecInfo::Make(type, perms);
  p.measured_chunks = image::kAllChunks;
  if (!bytes.empty())
    std::memcpy(p.data.data(), bytes.data(), std::min(bytes.size(), p.data.size()));
  return p;
}

class EnclaveVmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    machine::MachineConfig config;
    config.epc_pages = 256;
    config.cores = 2;
    machine_ = machine::Machine::Create(config).value();
    MonitorConfig mc;
    mc.window_bytes = 1 << 20;
    auto monitor = Monitor::Create(*machine_, mc);
    if (!monitor.ok() && monitor.error().code == ErrorCode::kUnavailable) {
      GTEST_SKIP() << "no KVM: " << monitor.error().message;
    }
    ASSERT_TRUE(monitor.ok()) << monitor.error().ToString();
    monitor_ = std::move(*monitor);
  }

  image::LoadedEnclave Load(const image::SgxsImage& img, uint64_t base) {
    image::SigningParams params;
    params.enclave_hash = image::MeasureSgxs(img);
    params.attributes = {machine::attr::kMode64Bit, 0x3};  // 64-bit, XFRM x87|SSE
    auto sig = image::SignEnclave(confide::testing::TestSigningKey(), params);
    EXPECT_TRUE(sig.ok());
    image::LoadOptions options;
    options.base = base;
    auto e = image::LoadEnclave(*machine_, 0, img, *sig, options);
    EXPECT_TRUE(e.ok()) << e.error().ToString();
    return *e;
  }

  // A host whose code page holds `program` and whose data page (kData)
  // starts with `data`. With `thread_info`, a thread-info page (R) at
  // kThreadInfo, which TCS.OGSBASE names; without, OGSBASE is 0 (the code
  // page, which holds no thread-info magic).
  image::LoadedEnclave LoadHost(const Asm& program, ByteSpan data = {},
                                const std::optional<confide_thread_info>& thread_info = {}) {
    image::SgxsImage img;
    img.size = kHostSize;
    img.pages.push_back(Page(0, PageType::kReg, kR | kX, program.bytes()));
    img.pages.push_back(Page(0x1000, PageType::kReg, kR | kW, data));
    img.pages.push_back(Page(0x2000, PageType::kReg, kR | kW));
    machine::Tcs tcs;
    tcs.nssa = 2;
    tcs.ossa = 0x4000;
    if (thread_info) tcs.ogsbase = kThreadInfo - kHostBase;
    img.pages.push_back(Page(0x3000, PageType::kTcs, 0, tcs.Serialize()));
    img.pages.push_back(Page(0x4000, PageType::kReg, kR | kW));
    img.pages.push_back(Page(0x5000, PageType::kReg, kR | kW));
    if (thread_info) {
      img.pages.push_back(
          Page(kThreadInfo - kHostBase, PageType::kReg, kR,
               ByteSpan(reinterpret_cast<const uint8_t*>(&*thread_info), sizeof *thread_info)));
    }
    return Load(img, kHostBase);
  }

  // A host whose measured thread-info page names `syscall_handler_offset`.
  image::LoadedEnclave LoadHostWithHandler(const Asm& program, uint64_t syscall_handler_offset) {
    confide_thread_info ti{};
    ti.magic = CONFIDE_THREAD_INFO_MAGIC;
    ti.syscall_handler_offset = syscall_handler_offset;
    return LoadHost(program, {}, ti);
  }

  image::LoadedEnclave LoadPlugin(ByteSpan bytes) {
    image::SgxsImage img;
    img.size = 0x2000;
    img.pages.push_back(Page(0, PageType::kSreg, kR, bytes));
    return Load(img, kPluginBase);
  }

  EnclaveRun RunHost(const image::LoadedEnclave& host, RunOptions options = {}) {
    auto vm = monitor_->Attach(host.secs);
    EXPECT_TRUE(vm.ok()) << vm.error().ToString();
    if (!options.time_limit) options.time_limit = 10s;
    auto run = (*vm)->Enter(0, host.tcs[0], options);
    EXPECT_TRUE(run.ok()) << run.error().ToString();
    last_stats_ = (*vm)->stats();
    if (run.ok()) return *run;
    EnclaveRun failed;
    failed.end = RunEnd::kCrash;
    failed.reason = "Enter failed";
    return failed;
  }

  std::unique_ptr<machine::Machine> machine_;
  std::unique_ptr<Monitor> monitor_;
  MonitorStats last_stats_;
};

TEST_F(EnclaveVmTest, EexitEndsTheRunWithRdi) {
  auto host = LoadHost(Asm().MovEdiImm(42).Eexit());
  EnclaveRun run = RunHost(host);
  EXPECT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, 42u);
  EXPECT_FALSE(machine_->CurrentEnclave(0).has_value());  // the model left the enclave too
  EXPECT_EQ(last_stats_.enclu_emulated, 1u);
}

TEST_F(EnclaveVmTest, EntryRegistersFollowEenter) {
  // RBX = the TCS's linear address (SDM EENTER); the enclave returns it.
  auto host = LoadHost(Asm().MovRdiRbx().Eexit());
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, kHostBase + 0x3000);
}

TEST_F(EnclaveVmTest, LogOcallReadsTheWindow) {
  uint64_t text = 0;
  std::memcpy(&text, "hi!", 3);
  auto host = LoadHost(Asm()
                           .MovRbxImm(CONFIDE_WINDOW_BASE + 0x100)
                           .MovRaxImm(text)
                           .StoreRaxToRbx()
                           .MovEaxImm(CONFIDE_OCALL_LOG)
                           .MovEdiImm(1)
                           .MovEsiImm(0x100)
                           .MovEdxImm(3)
                           .Syscall()
                           .MovRdiRax()
                           .Eexit());
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, 3u);
  EXPECT_EQ(run.log, "hi!");
}

TEST_F(EnclaveVmTest, UnknownSyscallsGetEnosysWithoutAHandler) {
  auto host = LoadHost(Asm().MovEaxImm(2 /* open */).Syscall().MovRdiRax().Eexit());
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, kEnosys);
}

TEST_F(EnclaveVmTest, RegisteredHandlerReceivesReflectedSyscalls) {
  // Handler at +0x80: rax = 77 + rdi; ret $128. Main: register, call
  // syscall 2 with rdi = 5, EEXIT with the result.
  Asm main;
  main.MovRspImm(kStackTop)
      .MovEaxImm(CONFIDE_SYS_SET_HANDLER)
      .MovRdiImm(kHostBase + 0x80)
      .Syscall()
      .MovEdiImm(5)
      .MovEaxImm(2)
      .Syscall()
      .MovRdiRax()
      .Eexit();
  Asm program = main;
  program.PadTo(0x80).MovRaxImm(77).AddRaxRdi().Ret(128);
  auto host = LoadHost(program);
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, 82u);
  EXPECT_EQ(last_stats_.syscalls_reflected, 1u);
}

// Calls syscall 2 with rdi = 5 and EEXITs with the result; `prologue` runs
// first. The handlers: at kHandler, rax = 77 + rdi; at kOtherHandler, rax =
// 1000 + rdi; both `ret $128`.
constexpr uint64_t kHandler = 0x80, kOtherHandler = 0xc0;
Asm SyscallTwoWithHandlers(Asm prologue = {}) {
  Asm program = prologue;
  program.MovRspImm(kStackTop).MovEdiImm(5).MovEaxImm(2).Syscall().MovRdiRax().Eexit();
  program.PadTo(kHandler).MovRaxImm(77).AddRaxRdi().Ret(128);
  program.PadTo(kOtherHandler).MovRaxImm(1000).AddRaxRdi().Ret(128);
  return program;
}

TEST_F(EnclaveVmTest, MeasuredHandlerReceivesReflectedSyscallsWithoutRegistering) {
  auto host = LoadHostWithHandler(SyscallTwoWithHandlers(), kHandler);
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, 82u);
  EXPECT_EQ(last_stats_.syscalls_reflected, 1u);
  EXPECT_EQ(last_stats_.syscalls_served, 0u);  // no CONFIDE_SYS_SET_HANDLER
  EXPECT_EQ(last_stats_.vm_exits, 2u);         // the syscall and EEXIT
  // Every entry reads it afresh: a second run finds it again.
  run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, 82u);
}

TEST_F(EnclaveVmTest, MeasuredHandlerOutsideElrangeIsIgnored) {
  // At ELRANGE's end, and so far out that BASEADDR + offset wraps around.
  for (uint64_t offset : {kHostSize, uint64_t{0} - kHostBase + 0x80}) {
    auto host = LoadHostWithHandler(SyscallTwoWithHandlers(), offset);
    EnclaveRun run = RunHost(host);
    ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
    EXPECT_EQ(run.status, kEnosys) << std::hex << offset;
    EXPECT_EQ(last_stats_.syscalls_reflected, 0u);
    ASSERT_TRUE(image::UnloadEnclave(*machine_, 0, host).ok());
  }
}

TEST_F(EnclaveVmTest, RegisteredHandlerWinsOverTheMeasuredOne) {
  Asm prologue;
  prologue.MovEaxImm(CONFIDE_SYS_SET_HANDLER).MovRdiImm(kHostBase + kOtherHandler).Syscall();
  auto host = LoadHostWithHandler(SyscallTwoWithHandlers(prologue), kHandler);
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, 1005u);
  EXPECT_EQ(last_stats_.syscalls_served, 1u);
}

// The monitor's word on WRFSBASE in a request's window (image/enclave_abi.h):
// set where the vCPU has CR4.FSGSBASE, cleared elsewhere, whatever the
// requester wrote; a window that holds no request is left alone.
TEST_F(EnclaveVmTest, WindowSaysWhetherWrfsbaseWorks) {
  // The enclave returns its window's flags word.
  auto host = LoadHost(Asm()
                           .MovRbxImm(CONFIDE_WINDOW_BASE + offsetof(confide_window, flags))
                           .LoadRdiFromRbx()
                           .Eexit());
  const uint64_t fsgsbase = CpuHasFsgsbase() ? CONFIDE_WINDOW_FSGSBASE : 0;
  auto flags_seen = [&](uint64_t magic, uint64_t flags) -> uint64_t {
    auto vm = monitor_->Attach(host.secs);
    EXPECT_TRUE(vm.ok()) << vm.error().ToString();
    if (!vm.ok()) return ~uint64_t{0};
    confide_window header{};
    header.magic = magic;
    header.flags = flags;
    std::memcpy((*vm)->window().data(), &header, sizeof header);
    RunOptions options;
    options.time_limit = 10s;
    auto run = (*vm)->Enter(0, host.tcs[0], options);
    EXPECT_TRUE(run.ok() && run->end == RunEnd::kEexit);
    return run.ok() ? run->status : ~uint64_t{0};
  };
  EXPECT_EQ(flags_seen(CONFIDE_WINDOW_MAGIC, CONFIDE_WINDOW_SEALED_INPUT),
            CONFIDE_WINDOW_SEALED_INPUT | fsgsbase);
  EXPECT_EQ(flags_seen(CONFIDE_WINDOW_MAGIC, CONFIDE_WINDOW_FSGSBASE), fsgsbase);
  EXPECT_EQ(flags_seen(0, CONFIDE_WINDOW_SEALED_INPUT), CONFIDE_WINDOW_SEALED_INPUT);
}

TEST_F(EnclaveVmTest, WrfsbaseAtCpl3SetsFsWithoutAnExit) {
  if (!CpuHasFsgsbase()) GTEST_SKIP() << "this CPU has no FSGSBASE: WRFSBASE raises #UD here";
  const uint64_t value = 0x0f5ba5e0f5ba5e00;
  std::array<uint8_t, 8> data{};
  StoreLe<uint64_t>(data.data(), value);
  // FS.base = kData; an exit (a clock ocall) in between; then read FS:[0].
  auto host = LoadHost(Asm()
                           .MovRbxImm(kData)
                           .WrfsbaseRbx()
                           .MovEaxImm(CONFIDE_OCALL_CLOCK)
                           .MovEdiImm(1 /* CLOCK_MONOTONIC */)
                           .Syscall()
                           .LoadRdiFromFs0()
                           .Eexit(),
                       data);
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, value);
  EXPECT_EQ(last_stats_.vm_exits, 2u);  // the ocall and EEXIT: WRFSBASE is none
}

TEST_F(EnclaveVmTest, FsBaseSurvivesAexAndEresumeAndEenterReloadsIt) {
  if (!CpuHasFsgsbase()) GTEST_SKIP() << "this CPU has no FSGSBASE: WRFSBASE raises #UD here";
  const uint64_t value = 0x5eed5eed5eed5eed;
  std::array<uint8_t, 8> data{};
  StoreLe<uint64_t>(data.data(), value);
  std::array<uint8_t, 8> plugin_bytes = {1};
  auto plugin = LoadPlugin(plugin_bytes);
  const auto plugin_mr = machine_->SecsOf(plugin.secs)->mr_enclave;
  // Stores FS.base at entry at kData + 8, sets FS.base = kData, writes the
  // plugin (copy-on-write: AEX, EAUG, ERESUME, a new address space), then
  // returns FS:[0].
  auto host = LoadHost(Asm()
                           .RdfsbaseRdi()  // FS.base at entry: BASEADDR + TCS.OFSBASE
                           .MovRbxImm(kData + 8)
                           .MovRaxRdi()
                           .StoreRaxToRbx()
                           .MovRbxImm(kData)
                           .WrfsbaseRbx()
                           .MovRbxImm(kPluginBase)
                           .MovRaxImm(0x1122334455667788)
                           .StoreRaxToRbx()  // copy-on-write
                           .LoadRdiFromFs0()
                           .Eexit(),
                       data);
  ASSERT_TRUE(machine_->Eenter(0, host.tcs[0]).ok());
  ASSERT_TRUE(machine_->Emap(0, plugin.secs, plugin_mr).ok());
  ASSERT_TRUE(machine_->Eexit(0).ok());
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, value);
  EXPECT_EQ(last_stats_.cow_pages, 1u);

  // The VM's FS.base is kData now; the next EENTER (same VM, same enclave)
  // loads BASEADDR + TCS.OFSBASE (0) again, which the program stores.
  auto fs_at_entry = [&]() -> uint64_t {
    std::array<uint8_t, 8> bytes{};
    EXPECT_TRUE(machine_->Eenter(0, host.tcs[0]).ok());
    EXPECT_TRUE(machine_->Read(0, kData + 8, bytes).ok());
    EXPECT_TRUE(machine_->Write(0, kData + 8, std::array<uint8_t, 8>{}).ok());
    EXPECT_TRUE(machine_->Eexit(0).ok());
    return LoadLe<uint64_t>(bytes.data());
  };
  EXPECT_EQ(fs_at_entry(), kHostBase);
  run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, value);
  EXPECT_EQ(monitor_->pool_size(), 1u);  // one VM ran both
  EXPECT_EQ(fs_at_entry(), kHostBase);
}

TEST_F(EnclaveVmTest, HandlerOutsideElrangeIsRefused) {
  auto host = LoadHost(
      Asm().MovEaxImm(CONFIDE_SYS_SET_HANDLER).MovRdiImm(0x1000).Syscall().MovRdiRax().Eexit());
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, static_cast<uint64_t>(-22));
}

TEST_F(EnclaveVmTest, CrashIsReportedAndTheNextRunSucceeds) {
  auto bad = LoadHost(Asm().MovRbxImm(0x10).LoadRaxFromRbx().Eexit());
  EnclaveRun crash = RunHost(bad);
  EXPECT_EQ(crash.end, RunEnd::kCrash);
  EXPECT_THAT(crash.reason, HasSubstr("#PF"));
  EXPECT_THAT(crash.reason, HasSubstr("0x10"));
  EXPECT_FALSE(machine_->CurrentEnclave(0).has_value());  // left by AEX
  ASSERT_TRUE(image::UnloadEnclave(*machine_, 0, bad).ok());

  auto good = LoadHost(Asm().MovEdiImm(7).Eexit());
  EnclaveRun run = RunHost(good);
  EXPECT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, 7u);
  EXPECT_EQ(monitor_->pool_size(), 1u);  // one VM served both
}

TEST_F(EnclaveVmTest, LoopIsStoppedAtTheTimeLimit) {
  auto loop = LoadHost(Asm().JmpSelf());
  RunOptions options;
  options.time_limit = 50ms;
  EnclaveRun run = RunHost(loop, options);
  EXPECT_EQ(run.end, RunEnd::kTimeout);
  EXPECT_THAT(run.reason, HasSubstr("time limit"));
  ASSERT_TRUE(image::UnloadEnclave(*machine_, 0, loop).ok());
  auto good = LoadHost(Asm().MovEdiImm(9).Eexit());
  EXPECT_EQ(RunHost(good).status, 9u);
}

TEST_F(EnclaveVmTest, ExitSyscallEndsTheRun) {
  auto host = LoadHost(Asm().MovEdiImm(3).Exit());
  EnclaveRun run = RunHost(host);
  EXPECT_EQ(run.end, RunEnd::kExit);
  EXPECT_EQ(run.status, 3u);
}

TEST_F(EnclaveVmTest, OtherHostsAndTheMonitorAreUnreachable) {
  // Another host keeps a secret in its data page, at the same linear address
  // as the prober's own (every host has its own address space).
  auto other = LoadHost(Asm().MovEdiImm(1).Eexit());
  const uint64_t secret = 0x5ec2e75ec2e75ec2;
  ASSERT_TRUE(machine_->Eenter(0, other.tcs[0]).ok());
  std::array<uint8_t, 8> bytes;
  std::memcpy(bytes.data(), &secret, 8);
  ASSERT_TRUE(machine_->Write(0, kData, bytes).ok());
  ASSERT_TRUE(machine_->Eexit(0).ok());

  // The prober reads its own data page there: zero, not the secret.
  auto own = LoadHost(Asm().MovRbxImm(kData).LoadRdiFromRbx().Eexit());
  EnclaveRun run = RunHost(own);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, 0u);
  // The other host's EPC page, at its guest-physical address used as a
  // linear one, is not mapped.
  const uint64_t other_data_gpa = EpcPageGpa(other.pages[1]);
  auto by_gpa = LoadHost(Asm().MovRbxImm(other_data_gpa).LoadRdiFromRbx().Eexit());
  run = RunHost(by_gpa);
  EXPECT_EQ(run.end, RunEnd::kCrash);
  EXPECT_THAT(run.reason, HasSubstr("#PF"));
  // Nor are the monitor's pages (GDT, IDT, stubs): supervisor-only.
  auto probe_monitor = LoadHost(Asm().MovRbxImm(kSystemLinear).LoadRdiFromRbx().Eexit());
  run = RunHost(probe_monitor);
  EXPECT_EQ(run.end, RunEnd::kCrash);
  EXPECT_THAT(run.reason, HasSubstr("supervisor page"));
}

TEST_F(EnclaveVmTest, PluginWriteLandsInAPrivateCopy) {
  std::array<uint8_t, 8> original = {1, 2, 3, 4, 5, 6, 7, 8};
  auto plugin = LoadPlugin(original);
  const auto plugin_mr = machine_->SecsOf(plugin.secs)->mr_enclave;
  // The host reads the plugin, writes it, and returns what it reads back.
  auto host = LoadHost(Asm()
                           .MovRbxImm(kPluginBase)
                           .LoadRaxFromRbx()
                           .MovRaxImm(0x1122334455667788)
                           .StoreRaxToRbx()
                           .LoadRdiFromRbx()
                           .Eexit());
  ASSERT_TRUE(machine_->Eenter(0, host.tcs[0]).ok());
  ASSERT_TRUE(machine_->Emap(0, plugin.secs, plugin_mr).ok());
  ASSERT_TRUE(machine_->Eexit(0).ok());

  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, 0x1122334455667788u);
  EXPECT_EQ(last_stats_.cow_pages, 1u);
  // The plugin's page and measurement are unchanged.
  EXPECT_TRUE(
      std::equal(original.begin(), original.end(), machine_->PageBytes(plugin.pages[0]).begin()));
  EXPECT_EQ(machine_->SecsOf(plugin.secs)->mr_enclave, plugin_mr);
}

TEST_F(EnclaveVmTest, UnmappedPluginIsUnreachable) {
  std::array<uint8_t, 8> bytes = {9};
  auto plugin = LoadPlugin(bytes);
  auto host = LoadHost(Asm().MovRbxImm(kPluginBase).LoadRdiFromRbx().Eexit());
  EnclaveRun run = RunHost(host);  // never EMAPped
  EXPECT_EQ(run.end, RunEnd::kCrash);
  (void)plugin;
}

// PIE's EMAP from inside the host (image/enclave_abi.h): RBX = the plugin's
// handle, RCX = the MRENCLAVE the host expects, from its own memory.
Asm EmapThenRead(machine::EpcPage plugin) {
  return Asm()
      .MovEaxImm(CONFIDE_ENCLU_EMAP)
      .MovRbxImm(plugin)
      .MovRcxImm(kData)
      .Enclu()
      .MovRdiRax()  // the leaf's result: 0 on success
      .MovRbxImm(kPluginBase)
      .LoadRaxFromRbx()  // faults unless the plugin is mapped
      .AddRaxRdi()
      .MovRdiRax()
      .Eexit();
}

TEST_F(EnclaveVmTest, EmapLeafMapsAPluginWithTheExpectedMeasurement) {
  std::array<uint8_t, 8> bytes = {0x42, 0, 0, 0, 0, 0, 0, 0};
  auto plugin = LoadPlugin(bytes);
  const auto mr = machine_->SecsOf(plugin.secs)->mr_enclave;
  auto host = LoadHost(EmapThenRead(plugin.secs), mr);
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, 0x42u);  // EMAP returned 0, then the plugin's first word
  EXPECT_EQ(machine_->MapOf(host.secs)->plugins, std::vector<machine::EpcPage>{plugin.secs});
}

TEST_F(EnclaveVmTest, EmapLeafRefusesAPluginTheHostDoesNotExpect) {
  std::array<uint8_t, 8> bytes = {0x42};
  auto plugin = LoadPlugin(bytes);
  crypto::Sha256Digest other = machine_->SecsOf(plugin.secs)->mr_enclave;
  other[0] ^= 1;
  // The host returns the leaf's result without touching the plugin.
  auto host = LoadHost(Asm()
                           .MovEaxImm(CONFIDE_ENCLU_EMAP)
                           .MovRbxImm(plugin.secs)
                           .MovRcxImm(kData)
                           .Enclu()
                           .MovRdiRax()
                           .Eexit(),
                       other);
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, static_cast<uint64_t>(SgxError::kInvalidMeasurement));
  EXPECT_TRUE(machine_->MapOf(host.secs)->plugins.empty());
  // A handle that names no enclave at all is refused too, never a crash.
  auto bogus = LoadHost(EmapThenRead(machine_->epc_pages() + 5), other);
  EnclaveRun bad = RunHost(bogus);
  EXPECT_EQ(bad.end, RunEnd::kCrash);  // the read of the unmapped plugin, after a refused EMAP
  EXPECT_THAT(bad.reason, HasSubstr("#PF"));
}

TEST_F(EnclaveVmTest, EunmapLeafMakesThePluginUnreachable) {
  std::array<uint8_t, 8> bytes = {7};
  auto plugin = LoadPlugin(bytes);
  const auto mr = machine_->SecsOf(plugin.secs)->mr_enclave;
  auto host = LoadHost(Asm()
                           .MovEaxImm(CONFIDE_ENCLU_EMAP)
                           .MovRbxImm(plugin.secs)
                           .MovRcxImm(kData)
                           .Enclu()
                           .MovEaxImm(CONFIDE_ENCLU_EUNMAP)
                           .Enclu()  // RBX still names the plugin
                           .MovRbxImm(kPluginBase)
                           .LoadRdiFromRbx()
                           .Eexit(),
                       mr);
  EnclaveRun run = RunHost(host);
  EXPECT_EQ(run.end, RunEnd::kCrash);
  EXPECT_TRUE(machine_->MapOf(host.secs)->plugins.empty());
}

TEST_F(EnclaveVmTest, EgetkeyLeafWritesTheKeyIntoTheEnclave) {
  machine::KeyRequest request;
  request.key_name = static_cast<uint16_t>(machine::KeyName::kSeal);
  request.key_policy = machine::keypolicy::kMrSigner;
  request.key_id[0] = 0x99;
  const auto request_bytes = request.Serialize();
  constexpr uint64_t kKeyAt = kData + 0x200;
  auto host = LoadHost(Asm()
                           .MovEaxImm(CONFIDE_ENCLU_EGETKEY)
                           .MovRbxImm(kData)
                           .MovRcxImm(kKeyAt)
                           .Enclu()
                           .MovRbxImm(kKeyAt)
                           .LoadRdiFromRbx()  // the key's first 8 bytes
                           .Eexit(),
                       request_bytes);
  EnclaveRun run = RunHost(host);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  // The same request on the model directly, inside the same enclave.
  ASSERT_TRUE(machine_->Eenter(0, host.tcs[0]).ok());
  auto key = machine_->Egetkey(0, request);
  ASSERT_TRUE(machine_->Eexit(0).ok());
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  EXPECT_EQ(run.status, LoadLe<uint64_t>(key->data()));
  EXPECT_NE(run.status, 0u);
}

// Evicts the host's data page (EBLOCK, ETRACK, EWB into a fresh VA page);
// returns the blob and the VA page.
std::pair<machine::EvictedPage, machine::EpcPage> EvictData(machine::Machine& m,
                                                            const image::LoadedEnclave& host) {
  const auto map = m.MapOf(host.secs).value();
  machine::EpcPage data = 0;
  for (const auto& [linaddr, page] : map.pages) {
    if (linaddr == kData) data = page;
  }
  const machine::EpcPage va = m.FindFreePage().value();
  EXPECT_TRUE(m.Epa(0, va).ok());
  EXPECT_TRUE(m.Eblock(0, data).ok());
  EXPECT_TRUE(m.Etrack(0, host.secs).ok());
  auto blob = m.Ewb(0, data, va, 0);
  EXPECT_TRUE(blob.ok()) << blob.error().ToString();
  return {*blob, va};
}

TEST_F(EnclaveVmTest, TouchOfAnEvictedPageIsLoadedBackByThePager) {
  const uint64_t value = 0x0123456789abcdef;
  std::array<uint8_t, 8> data{};
  StoreLe<uint64_t>(data.data(), value);
  auto host = LoadHost(Asm().MovRbxImm(kData).LoadRdiFromRbx().Eexit(), data);
  auto [blob, va] = EvictData(*machine_, host);
  int calls = 0;
  RunOptions options;
  options.page_in = [&, blob = blob, va = va](uint64_t linaddr) -> StatusOr<bool> {
    ++calls;
    if (linaddr != kData) return false;
    CONFIDE_ASSIGN_OR_RETURN(machine::EpcPage page, machine_->FindFreePage());
    CONFIDE_RETURN_IF_ERROR(machine_->Eldu(0, blob, host.secs, page, va, 0));
    return true;
  };
  EnclaveRun run = RunHost(host, options);
  ASSERT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, value);  // the page came back with its bytes
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(last_stats_.pages_loaded, 1u);
}

TEST_F(EnclaveVmTest, EvictedPageWithoutAPagerOrAFailingOneIsACrash) {
  auto host = LoadHost(Asm().MovRbxImm(kData).LoadRdiFromRbx().Eexit());
  (void)EvictData(*machine_, host);
  EnclaveRun run = RunHost(host);
  EXPECT_EQ(run.end, RunEnd::kCrash);
  EXPECT_THAT(run.reason, HasSubstr("not-present"));
  RunOptions options;
  options.page_in = [](uint64_t) -> StatusOr<bool> { return DataLossError("backing store lost"); };
  run = RunHost(host, options);
  EXPECT_EQ(run.end, RunEnd::kCrash);
  EXPECT_THAT(run.reason, HasSubstr("backing store lost"));
}

TEST_F(EnclaveVmTest, BeforeEexitRunsInsideAndAnErrorHoldsTheExitBack) {
  auto host = LoadHost(Asm().MovEdiImm(7).Eexit());
  int calls = 0;
  RunOptions options;
  options.before_eexit = [&]() -> Status {
    ++calls;
    // Still inside when it runs: the EEXIT has not happened yet.
    EXPECT_EQ(machine_->CurrentEnclave(0), std::optional<machine::EpcPage>(host.secs));
    return OkStatus();
  };
  EnclaveRun run = RunHost(host, options);
  EXPECT_EQ(run.end, RunEnd::kEexit) << run.reason;
  EXPECT_EQ(run.status, 7u);
  EXPECT_EQ(calls, 1);

  // Fails closed: a crash, the thread out by AEX, no EEXIT.
  options.before_eexit = [] { return Status(SgxErrorStatus(SgxError::kInvalidMeasurement, "x")); };
  run = RunHost(host, options);
  EXPECT_EQ(run.end, RunEnd::kCrash);
  EXPECT_THAT(run.reason, HasSubstr("EEXIT at rip"));
  EXPECT_THAT(run.reason, HasSubstr("SGX_INVALID_MEASUREMENT"));
  EXPECT_FALSE(machine_->CurrentEnclave(0).has_value());
  EXPECT_EQ(machine_->Counters().count[static_cast<size_t>(machine::Instruction::kAex)], 1u);
}

TEST_F(EnclaveVmTest, RunContinuesAThreadTheCallerEntered) {
  auto host = LoadHost(Asm().MovEdiImm(5).Eexit());
  auto vm = monitor_->Attach(host.secs);
  ASSERT_TRUE(vm.ok()) << vm.error().ToString();
  // Not entered: refused, nothing run.
  auto refused = (*vm)->Run(0, host.tcs[0]);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition) << refused.error().ToString();
  ASSERT_TRUE(machine_->Eenter(0, host.tcs[0]).ok());
  auto run = (*vm)->Run(0, host.tcs[0]);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(run->end, RunEnd::kEexit) << run->reason;
  EXPECT_EQ(run->status, 5u);
  EXPECT_FALSE(machine_->CurrentEnclave(0).has_value());
  EXPECT_EQ(machine_->Counters().count[static_cast<size_t>(machine::Instruction::kEenter)],
            1u);  // the caller's
}

TEST(MonitorWithoutKvm, RefusesWithAClearMessage) {
  machine::MachineConfig config;
  config.epc_pages = 16;
  config.cores = 1;
  auto machine = machine::Machine::Create(config).value();
  MonitorConfig mc;
  mc.kvm_path = "/nonexistent/kvm";
  auto monitor = Monitor::Create(*machine, mc);
  ASSERT_FALSE(monitor.ok());
  EXPECT_EQ(monitor.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(monitor.error().message, HasSubstr("confide monitor needs /nonexistent/kvm"));
}

TEST(MonitorWithoutKvm, RefusesACostOnlyMachine) {
  machine::MachineConfig config;
  config.epc_pages = 16;
  config.cores = 1;
  config.page_contents = machine::PageContents::kCostOnly;
  auto machine = machine::Machine::Create(config).value();
  auto monitor = Monitor::Create(*machine, {});
  ASSERT_FALSE(monitor.ok());
  EXPECT_THAT(monitor.error().message, HasSubstr("cost-only"));
}

}  // namespace
}  // namespace confide::monitor
