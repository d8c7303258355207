// End-to-end tests with a real guest: hand-assembled CPL3 code in EPC pages,
// run in KVM micro-VMs under page tables built by the monitor. They skip
// loudly (GTEST_SKIP, never a silent pass) when /dev/kvm is unavailable.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <vector>

#include "asm.h"
#include "machine/epc.h"
#include "machine/secs.h"
#include "monitor/exit.h"
#include "monitor/guest_layout.h"
#include "monitor/kvm.h"
#include "monitor/micro_vm.h"
#include "monitor/page_tables.h"
#include "monitor/shared_memory.h"
#include "monitor/vcpu_setup.h"

namespace confide::monitor {
namespace {

using namespace std::chrono_literals;
using machine::secinfo::kR;
using machine::secinfo::kW;
using machine::secinfo::kX;
using testing::Asm;

// Guest linear layout of these tests (all in EPC pages):
constexpr uint64_t kCode = 0x40'0000;      // EPC page 1, R+X; programs at 0x100 steps
constexpr uint64_t kData = 0x40'1000;      // EPC page 2, R+W
constexpr uint64_t kReadOnly = 0x40'2000;  // EPC page 3, R
constexpr uint64_t kStack = 0x40'3000;     // EPC page 4, R+W
constexpr uint64_t kStackTop = kStack + 0x1000;
constexpr uint64_t kUnmapped = 0x50'0000;  // later backed by EPC page 5
constexpr uint64_t kOcall = kOcallFirst + 1;

class GuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kvm = Kvm::Open();
    if (!kvm.ok()) GTEST_SKIP() << "no /dev/kvm: " << kvm.error().message;
    kvm_.emplace(std::move(*kvm));
    epc_.emplace(machine::Epc::Create(kEpcPages).value());
    page_tables_.emplace(SharedMemory::Create("confide-pt", 256 * 4096).value());
    arena_ = FrameArena::Create(page_tables_->span(), kPageTableGpa).value();
    monitor_tree_.emplace(BuildMonitorSubtree(*arena_).value());
  }

  // An address space with the monitor subtree and the standard test pages.
  AddressSpace StandardSpace() {
    AddressSpace as = AddressSpace::Create(*arena_).value();
    EXPECT_TRUE(as.Link(*monitor_tree_).ok());
    EXPECT_TRUE(as.Map(kCode, EpcPageGpa(1), LeafFlagsFromEpcm(kR | kX, false)).ok());
    EXPECT_TRUE(as.Map(kData, EpcPageGpa(2), LeafFlagsFromEpcm(kR | kW, false)).ok());
    EXPECT_TRUE(as.Map(kReadOnly, EpcPageGpa(3), LeafFlagsFromEpcm(kR, false)).ok());
    EXPECT_TRUE(as.Map(kStack, EpcPageGpa(4), LeafFlagsFromEpcm(kR | kW, false)).ok());
    return as;
  }

  std::unique_ptr<MicroVm> NewVm() {
    auto vm = MicroVm::Create(*kvm_, {.page_table_fd = page_tables_->fd(),
                                      .page_table_bytes = page_tables_->size(),
                                      .epc_fd = epc_->fd(),
                                      .epc_bytes = uint64_t{kEpcPages} * 4096});
    EXPECT_TRUE(vm.ok()) << vm.error().ToString();
    return vm.ok() ? std::move(*vm) : nullptr;
  }

  // Places `program` in the code page at `offset`; returns its linear address.
  uint64_t Load(uint64_t offset, const Asm& program) {
    auto page = epc_->mutable_bytes(1);
    std::memcpy(page.data() + offset, program.bytes().data(), program.bytes().size());
    return kCode + offset;
  }

  static VmExit RunOrDie(MicroVm& vm, std::chrono::nanoseconds limit = 5s) {
    auto exit = vm.Run(Deadline::After(limit));
    EXPECT_TRUE(exit.ok()) << exit.error().ToString();
    return exit.ok() ? *exit : VmExit{UnknownExit{0, "run failed"}};
  }

  static constexpr uint32_t kEpcPages = 16;
  std::optional<Kvm> kvm_;
  std::optional<machine::Epc> epc_;
  std::optional<SharedMemory> page_tables_;
  std::unique_ptr<FrameArena> arena_;
  std::optional<Subtree> monitor_tree_;
};

// (a) CPL3 code computes 6 * 7 and passes it to an ocall; the host's result
// comes back in rax through sysretq, and the guest exits with it.
TEST_F(GuestTest, SyscallCarriesComputedValueAndReturnsResult) {
  AddressSpace as = StandardSpace();
  auto vm = NewVm();
  ASSERT_NE(vm, nullptr);
  uint64_t entry = Load(
      0x000, Asm().MovEdiImm(6).ImulEdiEdiImm8(7).MovEaxImm(kOcall).Syscall().MovEdiEax().Exit());
  ASSERT_TRUE(vm->Enter(as.cr3(), entry, kStackTop).ok());
  VmExit exit = RunOrDie(*vm);
  auto* sys = std::get_if<SyscallExit>(&exit);
  ASSERT_NE(sys, nullptr) << Describe(exit);
  EXPECT_EQ(sys->nr, kOcall);
  EXPECT_EQ(sys->args[0], 42u);
  EXPECT_EQ(sys->rip, entry + 15);  // after the syscall instruction
  ASSERT_TRUE(std::holds_alternative<OcallAction>(HandleExit(exit)));

  ASSERT_TRUE(vm->SetSyscallResult(1000).ok());
  exit = RunOrDie(*vm);
  sys = std::get_if<SyscallExit>(&exit);
  ASSERT_NE(sys, nullptr) << Describe(exit);
  EXPECT_EQ(sys->nr, kSysExit);
  EXPECT_EQ(sys->args[0], 1000u);
  Action a = HandleExit(exit);
  ASSERT_TRUE(std::holds_alternative<StopAction>(a));
  EXPECT_EQ(std::get<StopAction>(a).status, 1000u);
}

// (b) A read of an unmapped address faults not-present with that address;
// once the monitor maps the page, the guest resumes (iretq) and reads it.
TEST_F(GuestTest, ReadOfUnmappedPageFaultsThenResumesOnceMapped) {
  AddressSpace as = StandardSpace();
  auto vm = NewVm();
  ASSERT_NE(vm, nullptr);
  uint64_t entry =
      Load(0x100,
           Asm().MovRbxImm(kUnmapped + 8).LoadRaxFromRbx().MovRdiRax().MovEaxImm(kOcall).Syscall());
  ASSERT_TRUE(vm->Enter(as.cr3(), entry, kStackTop).ok());
  VmExit exit = RunOrDie(*vm);
  auto* pf = std::get_if<PageFaultExit>(&exit);
  ASSERT_NE(pf, nullptr) << Describe(exit);
  EXPECT_EQ(pf->addr, kUnmapped + 8);
  EXPECT_FALSE(pf->present);
  EXPECT_FALSE(pf->write);
  EXPECT_TRUE(pf->user);
  EXPECT_EQ(pf->rip, entry + 10);  // the load
  Action a = HandleExit(exit);
  ASSERT_TRUE(std::holds_alternative<PageMissingAction>(a));
  EXPECT_EQ(std::get<PageMissingAction>(a).linaddr, kUnmapped);

  const uint64_t value = 0x1122'3344'5566'7788;
  std::memcpy(epc_->mutable_bytes(5).data() + 8, &value, 8);
  ASSERT_TRUE(as.Map(kUnmapped, EpcPageGpa(5), LeafFlagsFromEpcm(kR, false)).ok());
  exit = RunOrDie(*vm);
  auto* sys = std::get_if<SyscallExit>(&exit);
  ASSERT_NE(sys, nullptr) << Describe(exit);
  EXPECT_EQ(sys->args[0], value);
}

// (c) A write to a page mapped read-only faults present+write: copy-on-write.
TEST_F(GuestTest, WriteToReadOnlyPageFaultsIntoCopyOnWrite) {
  AddressSpace as = StandardSpace();
  auto vm = NewVm();
  ASSERT_NE(vm, nullptr);
  uint64_t entry =
      Load(0x200, Asm().MovRbxImm(kReadOnly + 0x10).MovRaxImm(42).StoreRaxToRbx().Exit());
  ASSERT_TRUE(vm->Enter(as.cr3(), entry, kStackTop).ok());
  VmExit exit = RunOrDie(*vm);
  auto* pf = std::get_if<PageFaultExit>(&exit);
  ASSERT_NE(pf, nullptr) << Describe(exit);
  EXPECT_EQ(pf->addr, kReadOnly + 0x10);
  EXPECT_TRUE(pf->present);
  EXPECT_TRUE(pf->write);
  EXPECT_TRUE(pf->user);
  Action a = HandleExit(exit);
  ASSERT_TRUE(std::holds_alternative<CopyOnWriteAction>(a));
  EXPECT_EQ(std::get<CopyOnWriteAction>(a).linaddr, kReadOnly);
  uint64_t stored;
  std::memcpy(&stored, epc_->bytes(3).data() + 0x10, 8);
  EXPECT_EQ(stored, 0u);  // the write did not happen
}

// (d) Privileged instructions at CPL3 are exceptions reported to the host.
TEST_F(GuestTest, PrivilegedInstructionsAtCpl3AreReportedExceptions) {
  AddressSpace as = StandardSpace();
  auto vm = NewVm();
  ASSERT_NE(vm, nullptr);
  struct Case {
    const char* name;
    Asm program;
    uint8_t vector;
  };
  std::vector<Case> cases = {{"hlt", Asm().Hlt(), 13},
                             {"cli", Asm().Cli(), 13},
                             {"mov rax, cr0", Asm().MovRaxCr0(), 13},
                             {"in al, 0x60", Asm().InAl60(), 13},
                             {"ud2", Asm().Ud2(), 6}};
  uint64_t offset = 0x300;
  for (const Case& c : cases) {
    uint64_t entry = Load(offset, c.program);
    offset += 0x10;
    ASSERT_TRUE(vm->Enter(as.cr3(), entry, kStackTop).ok());
    VmExit exit = RunOrDie(*vm);
    auto* x = std::get_if<ExceptionExit>(&exit);
    ASSERT_NE(x, nullptr) << c.name << ": " << Describe(exit);
    EXPECT_EQ(x->vector, c.vector) << c.name;
    EXPECT_EQ(x->error, 0u) << c.name;
    EXPECT_EQ(x->rip, entry) << c.name;
    EXPECT_TRUE(x->user) << c.name;
    Action a = HandleExit(exit);
    ASSERT_TRUE(std::holds_alternative<CrashAction>(a)) << c.name;
    EXPECT_EQ(std::get<CrashAction>(a).rip, entry);
    EXPECT_EQ(vm->SetSyscallResult(0).error().code, ErrorCode::kFailedPrecondition);
  }
}

// (e) An endless loop is stopped at the deadline, and the vCPU runs again.
TEST_F(GuestTest, EndlessLoopTimesOutAndTheVcpuRunsAgain) {
  AddressSpace as = StandardSpace();
  auto vm = NewVm();
  ASSERT_NE(vm, nullptr);
  uint64_t loop = Load(0x400, Asm().JmpSelf());
  uint64_t good = Load(0x000, Asm().MovEdiImm(6).ImulEdiEdiImm8(7).MovEaxImm(kOcall).Syscall());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(vm->Enter(as.cr3(), loop, kStackTop).ok());
    auto start = std::chrono::steady_clock::now();
    VmExit exit = RunOrDie(*vm, 100ms);
    auto took = std::chrono::steady_clock::now() - start;
    auto* t = std::get_if<TimeoutExit>(&exit);
    ASSERT_NE(t, nullptr) << Describe(exit);
    EXPECT_EQ(t->rip, loop);
    EXPECT_GE(took, 100ms);
    EXPECT_LT(took, 1500ms);
    ASSERT_TRUE(std::holds_alternative<StopAction>(HandleExit(exit)));

    ASSERT_TRUE(vm->Enter(as.cr3(), good, kStackTop).ok());
    exit = RunOrDie(*vm);
    auto* sys = std::get_if<SyscallExit>(&exit);
    ASSERT_NE(sys, nullptr) << "round " << round << ": " << Describe(exit);
    EXPECT_EQ(sys->args[0], 42u);
  }
  // A fresh VM on the same Kvm runs too.
  auto other = NewVm();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->Enter(as.cr3(), good, kStackTop).ok());
  VmExit exit = RunOrDie(*other);
  ASSERT_TRUE(std::holds_alternative<SyscallExit>(exit)) << Describe(exit);
}

// Enclave code cannot reach monitor pages: stubs and kernel stack are
// supervisor-only, page tables are not mapped at all; nor can it execute data.
TEST_F(GuestTest, EnclaveCannotTouchMonitorPagesOrExecuteData) {
  AddressSpace as = StandardSpace();
  auto vm = NewVm();
  ASSERT_NE(vm, nullptr);
  struct Case {
    uint64_t addr;
    bool present;
  };
  uint64_t offset = 0x500;
  for (Case c : {Case{kSystemLinear + kStubOffset, true}, Case{kKernelStackTop - 8, true},
                 Case{kSystemLinear + kGdtOffset, true}, Case{kPageTableGpa, false},
                 Case{as.cr3(), false}}) {
    uint64_t entry = Load(offset, Asm().MovRbxImm(c.addr).LoadRaxFromRbx().Exit());
    offset += 0x20;
    ASSERT_TRUE(vm->Enter(as.cr3(), entry, kStackTop).ok());
    VmExit exit = RunOrDie(*vm);
    auto* pf = std::get_if<PageFaultExit>(&exit);
    ASSERT_NE(pf, nullptr) << std::hex << c.addr << ": " << Describe(exit);
    EXPECT_EQ(pf->addr, c.addr);
    EXPECT_EQ(pf->present, c.present) << std::hex << c.addr;
    EXPECT_TRUE(pf->user);
    if (c.present) {
      EXPECT_TRUE(std::holds_alternative<CrashAction>(HandleExit(exit)));
    }
  }
  uint64_t entry = Load(offset, Asm().MovRbxImm(kData).JmpRbx());
  ASSERT_TRUE(vm->Enter(as.cr3(), entry, kStackTop).ok());
  VmExit exit = RunOrDie(*vm);
  auto* pf = std::get_if<PageFaultExit>(&exit);
  ASSERT_NE(pf, nullptr) << Describe(exit);
  EXPECT_TRUE(pf->fetch);
  EXPECT_TRUE(pf->present);
  EXPECT_EQ(pf->addr, kData);
  EXPECT_TRUE(std::holds_alternative<CrashAction>(HandleExit(exit)));
}

// (f) Two VMs share the EPC memfd (and the page-table memory), each under its
// own address space: B sees A's write only through a page B maps (read-only),
// and faults on the page A wrote that B does not map.
TEST_F(GuestTest, TwoVmsShareTheEpcOnlyWhereMapped) {
  constexpr uint64_t kShared = 0x60'0000;     // in A: EPC page 6, R+W
  constexpr uint64_t kPrivate = 0x60'1000;    // in A: EPC page 7, R+W; not in B
  constexpr uint64_t kSharedInB = 0x70'0000;  // in B: EPC page 6, read-only
  AddressSpace space_a = StandardSpace();
  AddressSpace space_b = StandardSpace();
  ASSERT_TRUE(space_a.Map(kShared, EpcPageGpa(6), LeafFlagsFromEpcm(kR | kW, false)).ok());
  ASSERT_TRUE(space_a.Map(kPrivate, EpcPageGpa(7), LeafFlagsFromEpcm(kR | kW, false)).ok());
  ASSERT_TRUE(space_b.Map(kSharedInB, EpcPageGpa(6), LeafFlagsFromEpcm(kR, false)).ok());
  auto vm_a = NewVm();
  auto vm_b = NewVm();
  ASSERT_NE(vm_a, nullptr);
  ASSERT_NE(vm_b, nullptr);

  const uint64_t v1 = 0xfeed'f00d'0000'0001, v2 = 0xfeed'f00d'0000'0002;
  uint64_t writer = Load(0x700, Asm()
                                    .MovRbxImm(kShared)
                                    .MovRaxImm(v1)
                                    .StoreRaxToRbx()
                                    .MovRbxImm(kPrivate)
                                    .MovRaxImm(v2)
                                    .StoreRaxToRbx()
                                    .Exit());
  uint64_t reader = Load(0x800, Asm()
                                    .MovRbxImm(kSharedInB)
                                    .LoadRdiFromRbx()
                                    .MovEaxImm(kOcall)
                                    .Syscall()
                                    .MovRbxImm(kPrivate)
                                    .LoadRaxFromRbx()
                                    .Exit());
  uint64_t b_writes = Load(0x900, Asm().MovRbxImm(kSharedInB).StoreRaxToRbx().Exit());

  ASSERT_TRUE(vm_a->Enter(space_a.cr3(), writer, kStackTop).ok());
  VmExit exit = RunOrDie(*vm_a);
  ASSERT_TRUE(std::holds_alternative<SyscallExit>(exit)) << Describe(exit);
  EXPECT_EQ(std::get<SyscallExit>(exit).nr, kSysExit);
  uint64_t host_view;
  std::memcpy(&host_view, epc_->bytes(7).data(), 8);
  EXPECT_EQ(host_view, v2);  // the private page does hold A's data

  ASSERT_TRUE(vm_b->Enter(space_b.cr3(), reader, kStackTop).ok());
  exit = RunOrDie(*vm_b);
  auto* sys = std::get_if<SyscallExit>(&exit);
  ASSERT_NE(sys, nullptr) << Describe(exit);
  EXPECT_EQ(sys->args[0], v1);  // A's write, through B's own mapping
  ASSERT_TRUE(vm_b->SetSyscallResult(0).ok());
  exit = RunOrDie(*vm_b);
  auto* pf = std::get_if<PageFaultExit>(&exit);
  ASSERT_NE(pf, nullptr) << Describe(exit);
  EXPECT_EQ(pf->addr, kPrivate);
  EXPECT_FALSE(pf->present);

  ASSERT_TRUE(vm_b->Enter(space_b.cr3(), b_writes, kStackTop).ok());
  exit = RunOrDie(*vm_b);
  pf = std::get_if<PageFaultExit>(&exit);
  ASSERT_NE(pf, nullptr) << Describe(exit);
  EXPECT_TRUE(pf->present);
  EXPECT_TRUE(pf->write);
  std::memcpy(&host_view, epc_->bytes(6).data(), 8);
  EXPECT_EQ(host_view, v1);  // B could not change it
}

// A plugin subtree linked into two VMs' address spaces: code in the plugin
// runs in both, and a write to it faults into copy-on-write.
TEST_F(GuestTest, SharedPluginSubtreeRunsInTwoVms) {
  constexpr uint64_t kPluginBase = uint64_t{1} << 30;
  auto plugin =
      Subtree::Create(*arena_, kPluginBase, TableLevel::kPd, SubtreeAccess::kUserReadOnly).value();
  // Plugin code in EPC page 8: rdi = [plugin data]; ocall.
  Asm code = Asm()
                 .MovRbxImm(kPluginBase + 0x1000)
                 .LoadRdiFromRbx()
                 .MovEaxImm(kOcall)
                 .Syscall()
                 .MovRbxImm(kPluginBase + 0x1000)
                 .StoreRaxToRbx();
  std::memcpy(epc_->mutable_bytes(8).data(), code.bytes().data(), code.bytes().size());
  const uint64_t secret = 0x5eed;
  std::memcpy(epc_->mutable_bytes(9).data(), &secret, 8);
  ASSERT_TRUE(plugin.Map(kPluginBase, EpcPageGpa(8), LeafFlagsFromEpcm(kR | kX, true)).ok());
  ASSERT_TRUE(
      plugin.Map(kPluginBase + 0x1000, EpcPageGpa(9), LeafFlagsFromEpcm(kR | kW, true)).ok());
  AddressSpace a = StandardSpace(), b = StandardSpace();
  ASSERT_TRUE(a.Link(plugin).ok());
  ASSERT_TRUE(b.Link(plugin).ok());
  for (AddressSpace* as : {&a, &b}) {
    auto vm = NewVm();
    ASSERT_NE(vm, nullptr);
    ASSERT_TRUE(vm->Enter(as->cr3(), kPluginBase, kStackTop).ok());
    VmExit exit = RunOrDie(*vm);
    ASSERT_TRUE(std::holds_alternative<SyscallExit>(exit)) << Describe(exit);
    EXPECT_EQ(std::get<SyscallExit>(exit).args[0], secret);
    ASSERT_TRUE(vm->SetSyscallResult(0).ok());
    exit = RunOrDie(*vm);
    ASSERT_TRUE(std::holds_alternative<CopyOnWriteAction>(HandleExit(exit))) << Describe(exit);
  }
  ASSERT_TRUE(a.Unlink(plugin).ok());
  ASSERT_TRUE(b.Unlink(plugin).ok());
}

}  // namespace
}  // namespace confide::monitor
