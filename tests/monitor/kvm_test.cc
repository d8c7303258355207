// Tests of the KVM wrappers. Those needing /dev/kvm skip loudly without it.
#include "monitor/kvm.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>

#include "machine/epc.h"
#include "monitor/guest_layout.h"
#include "monitor/shared_memory.h"

namespace confide::monitor {
namespace {

TEST(KvmOpenTest, MissingDeviceIsUnavailableAndSaysWhy) {
  auto kvm = Kvm::Open("/nonexistent/kvm");
  ASSERT_FALSE(kvm.ok());
  EXPECT_EQ(kvm.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(kvm.error().message,
            "confide monitor needs /nonexistent/kvm: No such file or directory");
}

TEST(KvmOpenTest, NotADeviceIsUnavailable) {
  auto kvm = Kvm::Open("/etc/hostname");
  ASSERT_FALSE(kvm.ok());
  EXPECT_EQ(kvm.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(kvm.error().message.find("not a character device"), std::string::npos);
}

TEST(KvmOpenTest, WrongDeviceFailsTheApiVersionCheck) {
  auto kvm = Kvm::Open("/dev/null");
  ASSERT_FALSE(kvm.ok());
  EXPECT_EQ(kvm.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(kvm.error().message.find("API version 12"), std::string::npos) << kvm.error().message;
}

TEST(EpcMemfdTest, EpcBytesAreTheMemfd) {
  auto epc = machine::Epc::Create(8).value();
  ASSERT_GE(epc.fd(), 0);
  epc.mutable_bytes(3)[17] = 0x5a;
  uint8_t b = 0;
  ASSERT_EQ(::pread(epc.fd(), &b, 1, 3 * 4096 + 17), 1);
  EXPECT_EQ(b, 0x5a);
  machine::Epc moved(std::move(epc));
  EXPECT_EQ(moved.bytes(3)[17], 0x5a);
  EXPECT_GE(moved.fd(), 0);
}

class KvmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kvm = Kvm::Open();
    if (!kvm.ok()) GTEST_SKIP() << "no /dev/kvm: " << kvm.error().message;
    kvm_.emplace(std::move(*kvm));
  }
  std::optional<Kvm> kvm_;
};

TEST_F(KvmTest, OpensWithApiVersion12) {
  EXPECT_GE(kvm_->fd(), 0);
  EXPECT_GE(kvm_->vcpu_mmap_size(), sizeof(kvm_run));
  EXPECT_GT(kvm_->CheckExtension(KVM_CAP_IMMEDIATE_EXIT), 0);
  auto cpuid = kvm_->SupportedCpuid();
  ASSERT_TRUE(cpuid.ok()) << cpuid.error().ToString();
  EXPECT_FALSE(cpuid->empty());
}

TEST_F(KvmTest, MemorySlotsFromFdAndHost) {
  auto vm = Vm::Create(*kvm_).value();
  auto mem = SharedMemory::Create("test", 4 * 4096).value();
  std::memset(mem.span().data(), 0, mem.size());
  auto fd_slot = vm->MapFd(0x10'0000, mem.size(), mem.fd(), 0);
  ASSERT_TRUE(fd_slot.ok()) << fd_slot.error().ToString();
  // Overlaps are refused; unaligned ranges too.
  EXPECT_EQ(vm->MapFd(0x10'2000, 4096, mem.fd(), 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(vm->MapFd(0x20'0100, 4096, mem.fd(), 0).error().code, ErrorCode::kInvalidArgument);
  // The slot's host view is the same memory as the memfd.
  uint8_t* host = vm->HostAddress(0x10'1000, 16).value();
  host[5] = 0x77;
  EXPECT_EQ(mem.span()[4096 + 5], 0x77);
  EXPECT_FALSE(vm->HostAddress(0x10'3ff8, 16).ok());  // runs past the slot

  auto host_slot = vm->MapHost(0x20'0000, mem.span());
  ASSERT_TRUE(host_slot.ok()) << host_slot.error().ToString();
  EXPECT_EQ(vm->HostAddress(0x20'1005, 1).value()[0], 0x77);
  ASSERT_TRUE(vm->Unmap(*host_slot).ok());
  EXPECT_FALSE(vm->HostAddress(0x20'0000, 1).ok());
  EXPECT_EQ(vm->Unmap(*host_slot).error().code, ErrorCode::kNotFound);
  // A freed slot number is reused.
  auto again = vm->MapHost(0x30'0000, mem.span());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *host_slot);
}

TEST_F(KvmTest, MapsTheEpcMemfd) {
  auto epc = machine::Epc::Create(16).value();
  auto vm = Vm::Create(*kvm_).value();
  ASSERT_TRUE(vm->MapFd(kEpcGpa, 16 * 4096, epc.fd(), 0).ok());
  epc.mutable_bytes(5)[0] = 0xab;
  EXPECT_EQ(vm->HostAddress(EpcPageGpa(5), 1).value()[0], 0xab);
}

TEST_F(KvmTest, CreatesVcpusWithRegisters) {
  auto vm = Vm::Create(*kvm_).value();
  auto vcpu = vm->CreateVcpu(0);
  ASSERT_TRUE(vcpu.ok()) << vcpu.error().ToString();
  kvm_regs regs;
  ASSERT_TRUE((*vcpu)->GetRegs(regs).ok());
  regs.rbx = 0x1234;
  ASSERT_TRUE((*vcpu)->SetRegs(regs).ok());
  kvm_regs back;
  ASSERT_TRUE((*vcpu)->GetRegs(back).ok());
  EXPECT_EQ(back.rbx, 0x1234u);
  kvm_sregs sregs;
  EXPECT_TRUE((*vcpu)->GetSregs(sregs).ok());
  EXPECT_FALSE(vm->CreateVcpu(0).ok());  // the id is taken
}

TEST_F(KvmTest, RunWithPastDeadlineTimesOutAtOnce) {
  auto vm = Vm::Create(*kvm_).value();
  auto vcpu = vm->CreateVcpu(0).value();
  auto r = vcpu->Run(Deadline{std::chrono::steady_clock::now() - std::chrono::seconds(1)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, RunOutcome::kTimedOut);
}

}  // namespace
}  // namespace confide::monitor
