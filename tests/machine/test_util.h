// test_util.h — shared helpers of the machine tests: status assertions, a
// cost profile with distinct cycle counts, SIGSTRUCT signing with one RSA key
// per test binary, the expected-MRENCLAVE replay, and a fixture that builds
// host and plugin enclaves with ECREATE/EADD/EEXTEND/EINIT.
//
// Thread-safety: the key accessors are safe (function-local statics); the rest
// is used from the test thread.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "crypto/rsa.h"
#include "crypto/sha256.h"
#include "machine/machine.h"
#include "machine/measurement.h"

namespace confide::machine::testing {

// ---- Status assertions ----------------------------------------------------

::testing::AssertionResult IsOk(const Status& s);
::testing::AssertionResult HasSgxError(const Status& s, SgxError e);
::testing::AssertionResult HasFault(const Status& s, FaultVector v);
// #PF at exactly `address`.
::testing::AssertionResult HasPageFault(const Status& s, uint64_t address);
template <typename T>
::testing::AssertionResult IsOk(const StatusOr<T>& s) {
  return IsOk(s.status());
}
template <typename T>
::testing::AssertionResult HasSgxError(const StatusOr<T>& s, SgxError e) {
  return HasSgxError(s.status(), e);
}
template <typename T>
::testing::AssertionResult HasFault(const StatusOr<T>& s, FaultVector v) {
  return HasFault(s.status(), v);
}

#define EXPECT_OK(expr) EXPECT_TRUE(::confide::machine::testing::IsOk(expr))
#define ASSERT_OK(expr) ASSERT_TRUE(::confide::machine::testing::IsOk(expr))
#define EXPECT_SGX(expr, code) \
  EXPECT_TRUE(::confide::machine::testing::HasSgxError((expr), ::confide::SgxError::code))
#define ASSERT_SGX(expr, code) \
  ASSERT_TRUE(::confide::machine::testing::HasSgxError((expr), ::confide::SgxError::code))
#define EXPECT_GP(expr) \
  EXPECT_TRUE(::confide::machine::testing::HasFault((expr), ::confide::FaultVector::kGP))
#define EXPECT_PF(expr) \
  EXPECT_TRUE(::confide::machine::testing::HasFault((expr), ::confide::FaultVector::kPF))
#define EXPECT_UD(expr) \
  EXPECT_TRUE(::confide::machine::testing::HasFault((expr), ::confide::FaultVector::kUD))
#define EXPECT_PF_AT(expr, addr) \
  EXPECT_TRUE(::confide::machine::testing::HasPageFault((expr), (addr)))

inline Status ToStatus(const Status& s) { return s; }
template <typename T>
Status ToStatus(const StatusOr<T>& s) {
  return s.status();
}
// In a MachineTest: evaluates `expr` (a Status or StatusOr) and checks it had
// no side effects; yields its Status.
#define QUIET(expr) \
  Quiet([&]() -> ::confide::Status { return ::confide::machine::testing::ToStatus(expr); })

// ---- Constants --------------------------------------------------------------

// Hosts live at 4 GiB with 16 MiB of ELRANGE; the default plugin's 64 KiB
// ELRANGE sits inside it at +8 MiB, clear of the host's own pages (low end)
// and TCS (top page).
inline constexpr uint64_t kHostBase = 0x100000000ull;
inline constexpr uint64_t kHostSize = 0x1000000ull;
inline constexpr uint64_t kPluginBase = kHostBase + 0x800000ull;
inline constexpr uint64_t kPluginSize = 0x10000ull;
inline constexpr uint64_t kXfrm = 0x3;

inline constexpr std::array<uint8_t, 32> kRootSecret = {
    0x63, 0x6f, 0x6e, 0x66, 0x69, 0x64, 0x65, 0x2d, 0x6d, 0x61, 0x63, 0x68, 0x69, 0x6e, 0x65, 0x2d,
    0x74, 0x65, 0x73, 0x74, 0x2d, 0x72, 0x6f, 0x6f, 0x74, 0x2d, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74};

inline size_t Idx(Instruction i) { return static_cast<size_t>(i); }

// The default profile with every instruction given a distinct, non-zero
// cycle count (the built-ins charge 0 for EBLOCK and ETRACK).
CostProfile TestProfile();

// A machine with the test profile, `epc_pages` pages, 4 cores and kRootSecret
// (or `root`), in full mode (or `contents`).
std::unique_ptr<Machine> MakeMachine(uint32_t epc_pages,
                                     std::optional<std::array<uint8_t, 32>> root = kRootSecret,
                                     uint32_t cores = 4,
                                     PageContents contents = PageContents::kFull);

// ---- Signing ----------------------------------------------------------------

// The test binary's signing keys, generated once on first use.
const crypto::Rsa3072PrivateKey& SignerKey();
const crypto::Rsa3072PrivateKey& OtherSignerKey();

// Fills MODULUS, EXPONENT, SIGNATURE, Q1 and Q2 of `s` for `key`.
Sigstruct SignSigstruct(Sigstruct s, const crypto::Rsa3072PrivateKey& key = SignerKey());

struct SigOptions {
  Attributes attributes{attr::kMode64Bit, kXfrm};
  Attributes attribute_mask{~uint64_t{0}, ~uint64_t{0}};
  uint32_t misc_select = 0;
  uint32_t misc_mask = ~uint32_t{0};
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  const crypto::Rsa3072PrivateKey* key = nullptr;  // nullptr: SignerKey()
};
// A signed SIGSTRUCT for ENCLAVEHASH `hash`. Signatures are cached by the
// signed bytes, so re-signing the same enclave is free.
Sigstruct MakeSigstruct(const crypto::Sha256Digest& hash, const SigOptions& o = {});

// ---- Measurement ------------------------------------------------------------

using Page = std::array<uint8_t, kPageSize>;

// A deterministic page pattern.
Page PatternPage(uint32_t seed, uint32_t index);
Page TcsPage(uint32_t nssa, uint64_t oentry = 0);

struct PageSpec {
  uint64_t offset = 0;  // from BASEADDR
  SecInfo secinfo;
  Page bytes{};
  bool measured = true;  // EEXTEND all 16 chunks
};

// SHA-256 of the ECREATE/EADD/EEXTEND record stream for these pages, built
// with the measurement.h records (independently of the machine).
crypto::Sha256Digest MeasureExpected(uint32_t ssa_frame_size, uint64_t size,
                                     const std::vector<PageSpec>& pages);

// ---- Enclave building -------------------------------------------------------

enum class Kind { kHost, kPlugin };

struct BuildOptions {
  Kind kind = Kind::kHost;
  uint64_t base = 0;   // 0: kHostBase (host) or kPluginBase (plugin)
  uint64_t size = 0;   // 0: kHostSize (host) or kPluginSize (plugin)
  uint32_t pages = 2;  // data pages at base, base+4K, ...: PT_REG (host) or PT_SREG (plugin)
  uint64_t perms = 0;  // 0: RW (host) or RX (plugin)
  uint32_t seed = 1;   // page contents
  bool tcs = true;     // hosts: a TCS at the top page of ELRANGE
  uint32_t nssa = 2;
  bool init = true;
  uint64_t attributes = attr::kMode64Bit;
  uint32_t misc_select = 0;
  uint16_t config_svn = 0;
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  const crypto::Rsa3072PrivateKey* key = nullptr;
  CoreId core = 0;
  uint32_t measure_range_pages = 0;  // EnTurbo (SECS.MEASURE_RANGE_PAGES)
};

struct Built {
  EpcPage secs = 0;
  EpcPage tcs = 0;  // hosts with a TCS
  uint64_t base = 0;
  uint64_t size = 0;
  uint64_t tcs_addr = 0;
  Secs secs_value;  // as given to ECREATE
  std::vector<PageSpec> specs;
  std::vector<EpcPage> data_pages;      // the data pages in order
  std::map<uint64_t, EpcPage> page_at;  // every page by linear address
  // Expected (and, after EINIT, actual): MeasureExpected for a full-mode SGX
  // enclave, else MeasurementBuilder in the machine's mode.
  crypto::Sha256Digest mrenclave{};
  Sigstruct sigstruct;

  uint64_t addr(uint32_t i) const { return base + uint64_t{i} * kPageSize; }
};

// ECREATE/EADD/EEXTEND (and EINIT unless !o.init) of an enclave, pages picked
// with FindFreePage. Fails on the first failing instruction.
StatusOr<Built> BuildEnclave(Machine& m, const BuildOptions& o);

// EBLOCK, ETRACK, EWB of `page` of enclave `secs` into (va, slot).
StatusOr<EvictedPage> Evict(Machine& m, CoreId core, EpcPage secs, EpcPage page, EpcPage va,
                            uint32_t slot);

// Compares the architectural EPCM fields (not the tracking epoch).
::testing::AssertionResult SameEpcm(const EpcmEntry& a, const EpcmEntry& b, bool compare_blocked);

// ---- Fixture ------------------------------------------------------------------

class MachineTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kEpcPages = 512;

  void SetUp() override;
  Machine& m() { return *m_; }

  // BuildEnclave on this machine; fails the test on error.
  Built Build(const BuildOptions& o = {});
  Built BuildHost(uint32_t pages = 2) { return Build({.pages = pages}); }
  Built BuildPlugin(uint64_t base = kPluginBase, uint32_t seed = 7, uint32_t pages = 2) {
    return Build({.kind = Kind::kPlugin, .base = base, .pages = pages, .seed = seed});
  }
  // A free EPC page (fails the test if none).
  EpcPage Free();
  // A fresh VA page.
  EpcPage NewVa();
  uint64_t Cost(Instruction i) const { return m_->profile().Cycles(i); }
  // Moves every core's clock to the latest one, so that the next instruction
  // on any core starts at its core's clock (no enclave is busy later).
  void SyncClocks();
  // Runs `fn`, which must succeed as one instruction `i` on `core`, and checks
  // the core's clock advanced by exactly the profile's cycles and the machine
  // (and, if given, enclave `secs`) counted it once with those cycles.
  ::testing::AssertionResult Charged(CoreId core, Instruction i, const std::function<Status()>& fn,
                                     std::optional<EpcPage> secs = std::nullopt);
  // Runs `fn` and returns its status; adds a failure if it charged a cycle,
  // counted an instruction or claimed/freed an EPC page (failing instructions
  // must do none of these). Used through QUIET(expr).
  Status Quiet(const std::function<Status()>& fn);

  std::unique_ptr<Machine> m_;
};

}  // namespace confide::machine::testing
