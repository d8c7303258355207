// Tests of the hand-assembled stubs and descriptor tables (bytes only).
#include "monitor/trap_stubs.h"

#include <gtest/gtest.h>

#include <cstring>

#include "monitor/guest_layout.h"
#include "monitor/page_tables.h"
#include "monitor/vcpu_setup.h"

namespace confide::monitor {
namespace {

uint64_t Get64(const PageBytes& p, size_t at) {
  uint64_t v;
  std::memcpy(&v, p.data() + at, 8);
  return v;
}

TEST(TrapStubsTest, SyscallStubIsOutThenSysret) {
  PageBytes page = TrapStubPage();
  const uint8_t expect[] = {0xe7, kSyscallPort, 0x48, 0x0f, 0x07};
  EXPECT_EQ(std::memcmp(page.data() + kSyscallStubOffset, expect, sizeof(expect)), 0);
}

TEST(TrapStubsTest, VectorStubsPushErrorCodeVectorAndJumpToCommonTail) {
  PageBytes page = TrapStubPage();
  for (int v = 0; v < kExceptionVectors; ++v) {
    size_t at = kVectorStubOffset + kVectorStubSize * v;
    if (!PushesErrorCode(v)) {
      EXPECT_EQ(page[at], 0x6a) << v;  // push 0
      EXPECT_EQ(page[at + 1], 0x00) << v;
      at += 2;
    }
    EXPECT_EQ(page[at], 0x6a) << v;  // push v
    EXPECT_EQ(page[at + 1], v);
    EXPECT_EQ(page[at + 2], 0xe9) << v;  // jmp rel32
    int32_t rel;
    std::memcpy(&rel, page.data() + at + 3, 4);
    EXPECT_EQ(static_cast<int64_t>(at + 7) + rel, static_cast<int64_t>(kCommonStubOffset)) << v;
  }
  const uint8_t tail[] = {0x50, 0x8b, 0x44, 0x24, 0x08, 0xe7, kExceptionPort,
                          0x58, 0x48, 0x83, 0xc4, 0x10, 0x48, 0xcf};
  EXPECT_EQ(std::memcmp(page.data() + kCommonStubOffset, tail, sizeof(tail)), 0);
  EXPECT_EQ(page[4095], 0xf4);  // filler is hlt
  EXPECT_TRUE(PushesErrorCode(13));
  EXPECT_TRUE(PushesErrorCode(14));
  EXPECT_FALSE(PushesErrorCode(6));
}

TEST(TrapStubsTest, GdtHasKernelAndUserSegmentsAndTss) {
  const uint64_t tss = 0xffff'ff80'1234'5000;
  PageBytes gdt = GdtPage(tss);
  EXPECT_EQ(Get64(gdt, 0), 0u);
  EXPECT_EQ(kUserCs, 0x33);  // Linux's __USER_CS / __USER_DS
  EXPECT_EQ(kUserDs, 0x2b);
  EXPECT_EQ(kSysretBase + 16, kUserCs & ~3);  // sysretq's CS and SS
  EXPECT_EQ(kSysretBase + 8, kUserDs & ~3);
  EXPECT_EQ(kKernelCs + 8, kKernelDs);  // syscall's CS and SS
  EXPECT_EQ(Get64(gdt, kKernelCs), 0x00af'9b00'0000'ffffu);
  EXPECT_EQ(Get64(gdt, kKernelDs), 0x00cf'9300'0000'ffffu);
  EXPECT_EQ(Get64(gdt, kUserDs & ~3), 0x00cf'f300'0000'ffffu);
  EXPECT_EQ(Get64(gdt, kUserCs & ~3), 0x00af'fb00'0000'ffffu);
  uint64_t lo = Get64(gdt, kTssSelector), hi = Get64(gdt, kTssSelector + 8);
  uint64_t base = ((lo >> 16) & 0xffffff) | (((lo >> 56) & 0xff) << 24) | (hi << 32);
  EXPECT_EQ(base, tss);
  EXPECT_EQ(lo & 0xffff, kTssLimit);
  EXPECT_EQ((lo >> 40) & 0xff, 0x8bu);
  EXPECT_EQ(GdtLimit(), 71);
}

TEST(TrapStubsTest, IdtGatesPointAtStubs) {
  const uint64_t stubs = kSystemLinear + kStubOffset;
  PageBytes idt = IdtPage(stubs);
  for (int v = 0; v < 256; ++v) {
    uint64_t lo = Get64(idt, 16 * v), hi = Get64(idt, 16 * v + 8);
    if (v >= kExceptionVectors) {
      EXPECT_EQ(lo, 0u) << v;
      continue;
    }
    uint64_t target = (lo & 0xffff) | (((lo >> 48) & 0xffff) << 16) | (hi << 32);
    EXPECT_EQ(target, stubs + kVectorStubOffset + kVectorStubSize * v);
    EXPECT_EQ((lo >> 16) & 0xffff, kKernelCs);
    EXPECT_EQ((lo >> 40) & 0xff, 0x8eu);  // present, DPL0, interrupt gate
  }
}

TEST(TrapStubsTest, TssHasRsp0AndNoIoBitmap) {
  PageBytes tss = TssPage(kKernelStackTop);
  uint64_t rsp0;
  std::memcpy(&rsp0, tss.data() + 4, 8);
  EXPECT_EQ(rsp0, kKernelStackTop);
  EXPECT_GT(tss[102] | (tss[103] << 8), kTssLimit);
}

TEST(VcpuSetupTest, UserModeSregsAreCpl3LongMode) {
  kvm_sregs base = {};
  kvm_sregs s = UserModeSregs(base, 0x4000'1000, /*fsgsbase=*/true);
  EXPECT_EQ(s.cr3, 0x4000'1000u);
  EXPECT_TRUE(s.cr0 & (1u << 31));     // PG
  EXPECT_TRUE(s.cr0 & 1u);             // PE
  EXPECT_TRUE(s.cr4 & (1u << 5));      // PAE
  EXPECT_EQ(s.efer & 0xd01u, 0xd01u);  // SCE, LME, LMA, NXE
  EXPECT_EQ(s.cs.dpl, 3);
  EXPECT_EQ(s.cs.l, 1);
  EXPECT_EQ(s.cs.selector, kUserCs);
  EXPECT_EQ(s.ss.dpl, 3);
  EXPECT_EQ(s.ss.selector, kUserDs);
  EXPECT_EQ(s.tr.base, kSystemLinear + kTssOffset);
  EXPECT_EQ(s.idt.base, kSystemLinear + kIdtOffset);
}

TEST(VcpuSetupTest, Cr4FsgsbaseOnlyWhereAsked) {
  // Where the CPU lacks FSGSBASE, KVM refuses CR4.FSGSBASE (a reserved bit
  // for the guest's CPUID), and WRFSBASE would raise #UD.
  kvm_sregs base = {};
  EXPECT_EQ(UserModeSregs(base, 0x1000, /*fsgsbase=*/true).cr4 & kCr4Fsgsbase, kCr4Fsgsbase);
  EXPECT_EQ(UserModeSregs(base, 0x1000, /*fsgsbase=*/false).cr4 & kCr4Fsgsbase, 0u);
  EXPECT_EQ(UserModeSregs(base, 0x1000, /*fsgsbase=*/false).cr4, kCr4);
}

TEST(VcpuSetupTest, MonitorSubtreeMapsSystemRegionSupervisorOnly) {
  std::vector<uint8_t> storage(64 * 4096 + 4096);
  uint8_t* aligned = storage.data() + (4096 - reinterpret_cast<uintptr_t>(storage.data()) % 4096);
  auto arena = FrameArena::Create(MutableByteSpan{aligned, 64 * 4096}, kPageTableGpa).value();
  auto tree = BuildMonitorSubtree(*arena).value();
  auto as = AddressSpace::Create(*arena).value();
  ASSERT_TRUE(as.Link(tree).ok());
  auto stubs = as.Walk(kSystemLinear + kStubOffset).value();
  EXPECT_EQ(stubs.gpa, kSystemGpa + kStubOffset);
  EXPECT_FALSE(stubs.user);
  EXPECT_FALSE(stubs.writable);
  EXPECT_TRUE(stubs.executable);
  auto stack = as.Walk(kKernelStackTop - 8).value();
  EXPECT_TRUE(stack.writable);
  EXPECT_FALSE(stack.executable);
  EXPECT_FALSE(stack.user);
  EXPECT_FALSE(as.Walk(kSystemLinear + kKernelStackOffset - 8).ok());  // guard page
  ASSERT_TRUE(as.Unlink(tree).ok());
}

}  // namespace
}  // namespace confide::monitor
