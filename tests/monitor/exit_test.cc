// Tests of DecodeExit and HandleExit with fake exits: no guest runs.
#include "monitor/exit.h"

#include <linux/kvm.h>

#include <gtest/gtest.h>

#include "monitor/guest_layout.h"

namespace confide::monitor {
namespace {

RawExit SyscallRaw(uint64_t nr, uint64_t arg0) {
  RawExit r;
  r.reason = KVM_EXIT_IO;
  r.io_out = true;
  r.io_port = kSyscallPort;
  r.io_value = nr & 0xffffffff;
  r.rax = nr;
  r.rdi = arg0;
  r.rsi = 2, r.rdx = 3, r.r10 = 4, r.r8 = 5, r.r9 = 6;
  r.rcx = 0x40'0010;
  return r;
}

RawExit ExceptionRaw(uint64_t vector, uint64_t error, uint64_t rip, uint64_t cs) {
  RawExit r;
  r.reason = KVM_EXIT_IO;
  r.io_out = true;
  r.io_port = kExceptionPort;
  r.io_value = vector;
  r.rsp = kKernelStackTop - 64;
  r.frame = std::array<uint64_t, 8>{0xaaaa, vector, error, rip, cs, 0x2, 0x7000, kUserDs};
  return r;
}

TEST(DecodeExitTest, Syscall) {
  VmExit e = DecodeExit(SyscallRaw(0x1001, 42));
  auto* s = std::get_if<SyscallExit>(&e);
  ASSERT_NE(s, nullptr) << Describe(e);
  EXPECT_EQ(s->nr, 0x1001u);
  EXPECT_EQ(s->args, (std::array<uint64_t, 6>{42, 2, 3, 4, 5, 6}));
  EXPECT_EQ(s->rip, 0x40'0010u);
}

// A backend that does not switch to CPL0 on syscall (PVM) shows it as a CPL3
// fetch fault at LSTAR; it decodes as a syscall, number from the saved rax.
TEST(DecodeExitTest, SyscallTrappedAtLstar) {
  RawExit raw = ExceptionRaw(14, /*P|U|I*/ 0x15, kSyscallEntryLinear, kUserCs);
  raw.cr2 = kSyscallEntryLinear;
  raw.frame->at(0) = kSysExit;  // the user's rax
  raw.rdi = 9;
  raw.rcx = 0x40'0042;
  VmExit e = DecodeExit(raw);
  auto* s = std::get_if<SyscallExit>(&e);
  ASSERT_NE(s, nullptr) << Describe(e);
  EXPECT_TRUE(s->trapped);
  EXPECT_EQ(s->nr, kSysExit);
  EXPECT_EQ(s->args[0], 9u);
  EXPECT_EQ(s->rip, 0x40'0042u);
  // The same fault anywhere else, or from CPL0, stays a page fault.
  raw.cr2 = kSyscallEntryLinear + 1;
  EXPECT_TRUE(std::holds_alternative<PageFaultExit>(DecodeExit(raw)));
  raw.cr2 = kSyscallEntryLinear;
  raw.frame->at(4) = kKernelCs;
  EXPECT_TRUE(std::holds_alternative<PageFaultExit>(DecodeExit(raw)));
}

TEST(DecodeExitTest, PageFaultBits) {
  RawExit raw = ExceptionRaw(14, /*P|W|U*/ 0x7, 0x40'0020, kUserCs);
  raw.cr2 = 0x50'0123;
  VmExit e = DecodeExit(raw);
  auto* pf = std::get_if<PageFaultExit>(&e);
  ASSERT_NE(pf, nullptr) << Describe(e);
  EXPECT_EQ(pf->addr, 0x50'0123u);
  EXPECT_TRUE(pf->present);
  EXPECT_TRUE(pf->write);
  EXPECT_TRUE(pf->user);
  EXPECT_FALSE(pf->fetch);
  EXPECT_EQ(pf->rip, 0x40'0020u);

  raw.frame->at(2) = 0x10;  // not present, supervisor, instruction fetch
  pf = std::get_if<PageFaultExit>(&(e = DecodeExit(raw)));
  ASSERT_NE(pf, nullptr);
  EXPECT_FALSE(pf->present);
  EXPECT_FALSE(pf->user);
  EXPECT_TRUE(pf->fetch);
}

TEST(DecodeExitTest, GeneralProtection) {
  VmExit e = DecodeExit(ExceptionRaw(13, 0, 0x40'0030, kUserCs));
  auto* x = std::get_if<ExceptionExit>(&e);
  ASSERT_NE(x, nullptr) << Describe(e);
  EXPECT_EQ(x->vector, 13);
  EXPECT_EQ(x->rip, 0x40'0030u);
  EXPECT_TRUE(x->user);
  EXPECT_FALSE(std::get<ExceptionExit>(DecodeExit(ExceptionRaw(6, 0, 1, kKernelCs))).user);
}

TEST(DecodeExitTest, InconsistentFramesAndOtherExitsAreUnknown) {
  RawExit raw = ExceptionRaw(13, 0, 1, kUserCs);
  raw.io_value = 12;  // port says another vector than the stack
  EXPECT_TRUE(std::holds_alternative<UnknownExit>(DecodeExit(raw)));
  raw.frame.reset();
  EXPECT_TRUE(std::holds_alternative<UnknownExit>(DecodeExit(raw)));
  RawExit io = SyscallRaw(1, 1);
  io.io_port = 0x3f8;
  EXPECT_TRUE(std::holds_alternative<UnknownExit>(DecodeExit(io)));
  RawExit mmio;
  mmio.reason = KVM_EXIT_MMIO;
  mmio.mmio_addr = 0xdead'0000;
  VmExit e = DecodeExit(mmio);
  ASSERT_TRUE(std::holds_alternative<UnknownExit>(e));
  EXPECT_NE(std::get<UnknownExit>(e).detail.find("0xdead0000"), std::string::npos);
}

TEST(DecodeExitTest, HaltShutdownTimeout) {
  RawExit raw;
  raw.reason = KVM_EXIT_HLT;
  raw.rip = 0x99;
  EXPECT_EQ(std::get<HaltExit>(DecodeExit(raw)).rip, 0x99u);
  raw.reason = KVM_EXIT_SHUTDOWN;
  EXPECT_TRUE(std::holds_alternative<ShutdownExit>(DecodeExit(raw)));
  raw.timed_out = true;  // whatever kvm_run says
  EXPECT_TRUE(std::holds_alternative<TimeoutExit>(DecodeExit(raw)));
}

TEST(HandleExitTest, SyscallsExitOcallOrRefuse) {
  Action a = HandleExit(SyscallExit{.nr = kSysExit, .args = {7}});
  ASSERT_TRUE(std::holds_alternative<StopAction>(a));
  EXPECT_EQ(std::get<StopAction>(a).reason, StopReason::kExit);
  EXPECT_EQ(std::get<StopAction>(a).status, 7u);
  EXPECT_TRUE(std::holds_alternative<StopAction>(HandleExit(SyscallExit{.nr = kSysExitGroup})));

  a = HandleExit(SyscallExit{.nr = kOcallFirst + 1, .args = {1, 2}});
  ASSERT_TRUE(std::holds_alternative<OcallAction>(a));
  EXPECT_EQ(std::get<OcallAction>(a).nr, kOcallFirst + 1);
  EXPECT_EQ(std::get<OcallAction>(a).args[1], 2u);

  a = HandleExit(SyscallExit{.nr = 2 /* open */});
  ASSERT_TRUE(std::holds_alternative<ResumeAction>(a));
  EXPECT_EQ(std::get<ResumeAction>(a).result, kEnosys);
  EXPECT_TRUE(std::holds_alternative<ResumeAction>(HandleExit(SyscallExit{.nr = kOcallLast + 1})));
}

TEST(HandleExitTest, WriteToReadOnlyPageAsksForCopyOnWrite) {
  Action a = HandleExit(
      PageFaultExit{.addr = 0x50'0123, .present = true, .write = true, .user = true, .error = 7});
  ASSERT_TRUE(std::holds_alternative<CopyOnWriteAction>(a));
  EXPECT_EQ(std::get<CopyOnWriteAction>(a).linaddr, 0x50'0000u);
}

TEST(HandleExitTest, NotPresentPageIsMissing) {
  Action a = HandleExit(PageFaultExit{.addr = 0x60'0008, .present = false, .user = true});
  ASSERT_TRUE(std::holds_alternative<PageMissingAction>(a));
  EXPECT_EQ(std::get<PageMissingAction>(a).linaddr, 0x60'0000u);
  EXPECT_EQ(std::get<PageMissingAction>(a).addr, 0x60'0008u);
}

TEST(HandleExitTest, OtherFaultsCrash) {
  // Execute of an NX page, CPL3 read of a supervisor page, a fault in CPL0.
  for (PageFaultExit pf : {PageFaultExit{.present = true, .user = true, .fetch = true},
                           PageFaultExit{.present = true, .write = false, .user = true},
                           PageFaultExit{.present = false, .user = false}}) {
    Action a = HandleExit(pf);
    ASSERT_TRUE(std::holds_alternative<CrashAction>(a));
    EXPECT_EQ(std::get<CrashAction>(a).vector, 14);
  }
  Action a = HandleExit(ExceptionExit{.vector = 13, .error = 0, .rip = 0x40'0003, .user = true});
  ASSERT_TRUE(std::holds_alternative<CrashAction>(a));
  const auto& c = std::get<CrashAction>(a);
  EXPECT_EQ(c.vector, 13);
  EXPECT_EQ(c.rip, 0x40'0003u);
  EXPECT_NE(c.reason.find("#GP"), std::string::npos) << c.reason;
  EXPECT_NE(c.reason.find("0x400003"), std::string::npos) << c.reason;
  EXPECT_TRUE(std::holds_alternative<CrashAction>(HandleExit(ShutdownExit{})));
  EXPECT_TRUE(std::holds_alternative<CrashAction>(HandleExit(HaltExit{})));
  EXPECT_TRUE(std::holds_alternative<CrashAction>(HandleExit(UnknownExit{})));
}

TEST(HandleExitTest, TimeoutStops) {
  Action a = HandleExit(TimeoutExit{});
  ASSERT_TRUE(std::holds_alternative<StopAction>(a));
  EXPECT_EQ(std::get<StopAction>(a).reason, StopReason::kTimeout);
}

TEST(HandleExitTest, VectorNames) {
  EXPECT_EQ(VectorName(13), "#GP");
  EXPECT_EQ(VectorName(14), "#PF");
  EXPECT_EQ(VectorName(6), "#UD");
  EXPECT_EQ(VectorName(200), "#200");
}

}  // namespace
}  // namespace confide::monitor
