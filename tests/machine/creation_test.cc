// ECREATE, EADD, EEXTEND, EINIT, EREMOVE: success paths with their state
// changes and costs, and every check the handlers make (creation.cc).
#include <gtest/gtest.h>

#include "test_util.h"

namespace confide::machine::testing {
namespace {

using I = Instruction;

Secs GoodSecs() {
  Secs s;
  s.size = kHostSize;
  s.base_addr = kHostBase;
  s.ssa_frame_size = 1;
  s.attributes = {attr::kMode64Bit, kXfrm};
  return s;
}

class CreationTest : public MachineTest {
 protected:
  // An uninitialized, empty enclave at kHostBase.
  EpcPage Create(const Secs& s = GoodSecs()) {
    const EpcPage p = Free();
    EXPECT_OK(m().Ecreate(0, s, p));
    return p;
  }
};

// ---- ECREATE -------------------------------------------------------------------

TEST_F(CreationTest, EcreateClaimsSecsAndClearsIdentity) {
  const EpcPage p = Free();
  const uint32_t free_before = m().FreePageCount();
  Secs s = GoodSecs();
  s.mr_enclave.fill(0xaa);
  s.mr_signer.fill(0xbb);
  s.isv_prod_id = 7;
  s.isv_svn = 9;
  s.misc_select = 0;
  ASSERT_TRUE(Charged(0, I::kEcreate, [&] { return m().Ecreate(0, s, p); }));
  const EpcmEntry e = m().Epcm(p);
  EXPECT_TRUE(e.valid);
  EXPECT_EQ(e.type, PageType::kSecs);
  EXPECT_EQ(e.owner, p);
  EXPECT_EQ(m().FreePageCount(), free_before - 1);
  auto secs = m().SecsOf(p);
  ASSERT_OK(secs);
  EXPECT_EQ(secs->size, kHostSize);
  EXPECT_EQ(secs->base_addr, kHostBase);
  EXPECT_EQ(secs->mr_enclave, crypto::Sha256Digest{});
  EXPECT_EQ(secs->mr_signer, crypto::Sha256Digest{});
  EXPECT_EQ(secs->isv_prod_id, 0);
  EXPECT_EQ(secs->isv_svn, 0);
  EXPECT_EQ(secs->attributes.flags & attr::kInit, 0u);
  auto stats = m().StatsOf(p);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->count[Idx(I::kEcreate)], 1u);
  EXPECT_EQ(stats->cycles[Idx(I::kEcreate)], Cost(I::kEcreate));
}

TEST_F(CreationTest, EcreateZeroesTheSecsPage) {
  // EREMOVE of a VA page leaves its bytes (the versions) in the freed page;
  // ECREATE there must start from zeros.
  Built b = BuildHost(1);
  const EpcPage va = NewVa();
  ASSERT_OK(m().Eremove(0, b.tcs));
  ASSERT_OK(Evict(m(), 0, b.secs, b.data_pages[0], va, 3));
  ASSERT_OK(m().Eremove(0, va));
  ASSERT_NE(LoadLe<uint64_t>(m().PageBytes(va).data() + 24), 0u);
  ASSERT_OK(m().Ecreate(0, GoodSecs(), va));
  for (uint8_t byte : m().PageBytes(va)) ASSERT_EQ(byte, 0);
}

TEST_F(CreationTest, Ecreate32BitEnclaveBelow4GiB) {
  Secs s = GoodSecs();
  s.attributes.flags = 0;
  s.base_addr = 0x10000000;
  s.size = 0x100000;
  EXPECT_OK(m().Ecreate(0, s, Free()));
}

struct SecsCase {
  const char* name;
  std::function<void(Secs&)> mutate;
};
// gtest prints a parameter in the test's name: print the case's name, not its bytes.
void PrintTo(const SecsCase& c, std::ostream* os) { *os << c.name; }

class EcreateGpTest : public MachineTest, public ::testing::WithParamInterface<SecsCase> {};

TEST_P(EcreateGpTest, FaultsGp) {
  Secs s = GoodSecs();
  GetParam().mutate(s);
  const EpcPage p = Free();
  EXPECT_GP(QUIET(m().Ecreate(0, s, p)));
  EXPECT_FALSE(m().Epcm(p).valid);
  EXPECT_PF(m().SecsOf(p));
}

INSTANTIATE_TEST_SUITE_P(
    Checks, EcreateGpTest,
    ::testing::Values(
        SecsCase{"SizeNotPowerOfTwo", [](Secs& s) { s.size = 0x3000; }},
        SecsCase{"SizeBelowTwoPages",
                 [](Secs& s) {
                   s.size = 0x1000;
                   s.base_addr = 0x1000;
                 }},
        SecsCase{"SizeZero", [](Secs& s) { s.size = 0; }},
        SecsCase{"BaseNotAlignedToSize", [](Secs& s) { s.base_addr += kPageSize; }},
        SecsCase{"SsaFrameSizeZero", [](Secs& s) { s.ssa_frame_size = 0; }},
        SecsCase{"ReservedAttributeBit3", [](Secs& s) { s.attributes.flags |= 1u << 3; }},
        SecsCase{"ReservedAttributeHighBit", [](Secs& s) { s.attributes.flags |= 1ull << 40; }},
        SecsCase{"InitAttributeSet", [](Secs& s) { s.attributes.flags |= attr::kInit; }},
        SecsCase{"XfrmLacksSse", [](Secs& s) { s.attributes.xfrm = 0x1; }},
        SecsCase{"XfrmLacksX87", [](Secs& s) { s.attributes.xfrm = 0x2; }},
        SecsCase{"ThirtyTwoBitAbove4GiB", [](Secs& s) { s.attributes.flags = 0; }}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(CreationTest, EcreateSecsPageOutsideEpcFaultsPf) {
  EXPECT_PF_AT(QUIET(m().Ecreate(0, GoodSecs(), kEpcPages)), Epc::Address(kEpcPages));
}

TEST_F(CreationTest, EcreateSecsPageInUseFaultsPf) {
  const EpcPage p = Create();
  EXPECT_PF_AT(QUIET(m().Ecreate(0, GoodSecs(), p)), Epc::Address(p));
  // The first enclave is untouched.
  EXPECT_OK(m().SecsOf(p));
}

// ---- EADD ------------------------------------------------------------------------

TEST_F(CreationTest, EaddCopiesPageAndSetsEpcm) {
  const EpcPage secs = Create();
  const EpcPage p = Free();
  const Page bytes = PatternPage(3, 0);
  const uint32_t free_before = m().FreePageCount();
  const uint64_t addr = kHostBase + 5 * kPageSize;
  ASSERT_TRUE(Charged(
      0, I::kEadd,
      [&] {
        return m().Eadd(0, secs, addr, SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kX),
                        bytes, p);
      },
      secs));
  const EpcmEntry e = m().Epcm(p);
  EXPECT_TRUE(e.valid);
  EXPECT_EQ(e.type, PageType::kReg);
  EXPECT_EQ(e.perms, secinfo::kR | secinfo::kX);
  EXPECT_FALSE(e.pending);
  EXPECT_FALSE(e.modified);
  EXPECT_FALSE(e.pr);
  EXPECT_FALSE(e.blocked);
  EXPECT_EQ(e.linaddr, addr);
  EXPECT_EQ(e.owner, secs);
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), m().PageBytes(p).begin()));
  EXPECT_EQ(m().FreePageCount(), free_before - 1);
  EXPECT_EQ(m().StatsOf(secs)->events.pages_added, 1u);
  EXPECT_EQ(m().Counters().events.pages_added, 1u);
}

TEST_F(CreationTest, EaddTcsHasNoPermissions) {
  const EpcPage secs = Create();
  const EpcPage p = Free();
  ASSERT_OK(m().Eadd(0, secs, kHostBase, SecInfo::Make(PageType::kTcs, 0), TcsPage(1), p));
  EXPECT_EQ(m().Epcm(p).type, PageType::kTcs);
  EXPECT_EQ(m().Epcm(p).perms, 0);
}

TEST_F(CreationTest, EaddSregMasksWriteButMeasuresGivenSecinfo) {
  const SecInfo rw = SecInfo::Make(PageType::kSreg, secinfo::kR | secinfo::kW);
  Secs s = GoodSecs();
  s.base_addr = kPluginBase;
  s.size = kPluginSize;
  const EpcPage secs = Create(s);
  const EpcPage p = Free();
  const Page bytes = PatternPage(4, 0);
  ASSERT_OK(m().Eadd(0, secs, kPluginBase, rw, bytes, p));
  EXPECT_EQ(m().Epcm(p).type, PageType::kSreg);
  EXPECT_EQ(m().Epcm(p).perms, secinfo::kR);
  // MRENCLAVE has the SECINFO as given (with W).
  const PageSpec given{0, rw, bytes, false};
  PageSpec masked = given;
  masked.secinfo = SecInfo::Make(PageType::kSreg, secinfo::kR);
  const auto want = MeasureExpected(1, kPluginSize, {given});
  ASSERT_NE(want, MeasureExpected(1, kPluginSize, {masked}));
  ASSERT_OK(m().Einit(0, secs, MakeSigstruct(want)));
  EXPECT_EQ(m().SecsOf(secs)->mr_enclave, want);
}

struct EaddCase {
  const char* name;
  SecInfo secinfo;
  uint64_t offset = 0;  // from kHostBase
  size_t src_size = kPageSize;
  std::function<void(Page&)> mutate_src = nullptr;
};
// gtest prints a parameter in the test's name: print the case's name, not its bytes.
void PrintTo(const EaddCase& c, std::ostream* os) { *os << c.name; }

class EaddGpTest : public CreationTest, public ::testing::WithParamInterface<EaddCase> {};

TEST_P(EaddGpTest, FaultsGp) {
  const EpcPage secs = Create();
  const EpcPage p = Free();
  Page src = TcsPage(1);
  if (GetParam().mutate_src) GetParam().mutate_src(src);
  const ByteSpan span(src.data(), GetParam().src_size);
  EXPECT_GP(QUIET(m().Eadd(0, secs, kHostBase + GetParam().offset, GetParam().secinfo, span, p)));
  EXPECT_FALSE(m().Epcm(p).valid);
}

const SecInfo kRegRw = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW);
const SecInfo kTcs = SecInfo::Make(PageType::kTcs, 0);

INSTANTIATE_TEST_SUITE_P(
    Checks, EaddGpTest,
    ::testing::Values(
        EaddCase{"SourceNot4096Bytes", kRegRw, 0, 4095},
        EaddCase{"SecinfoReservedBit6", SecInfo{kRegRw.flags | (1u << 6)}},
        EaddCase{"SecinfoReservedBit16", SecInfo{kRegRw.flags | (1u << 16)}},
        EaddCase{"PageTypeSecs", SecInfo::Make(PageType::kSecs, 0)},
        EaddCase{"PageTypeVa", SecInfo::Make(PageType::kVa, 0)},
        EaddCase{"PageTypeTrim", SecInfo::Make(PageType::kTrim, 0)},
        EaddCase{"PageTypeSsFirst", SecInfo::Make(PageType::kSsFirst, secinfo::kR)},
        EaddCase{"PendingSet", SecInfo{kRegRw.flags | secinfo::kPending}},
        EaddCase{"ModifiedSet", SecInfo{kRegRw.flags | secinfo::kModified}},
        EaddCase{"PrSet", SecInfo{kRegRw.flags | secinfo::kPr}},
        EaddCase{"TcsWithPermissions", SecInfo::Make(PageType::kTcs, secinfo::kR)},
        EaddCase{"WriteWithoutRead", SecInfo::Make(PageType::kReg, secinfo::kW)},
        EaddCase{"LinaddrNotPageAligned", kRegRw, 0x10},
        EaddCase{"LinaddrAboveElrange", kRegRw, kHostSize},
        EaddCase{"LinaddrBelowElrange", kRegRw, uint64_t{0} - kPageSize},
        EaddCase{"TcsStateNotZero", kTcs, 0, kPageSize, [](Page& p) { p[0] = 1; }},
        EaddCase{"TcsCssaNotZero", kTcs, 0, kPageSize, [](Page& p) { p[24] = 1; }},
        EaddCase{"TcsNssaZero", kTcs, 0, kPageSize, [](Page& p) { StoreLe<uint32_t>(&p[28], 0); }},
        EaddCase{"TcsOssaNotAligned", kTcs, 0, kPageSize, [](Page& p) { p[16] = 8; }},
        EaddCase{"TcsOfsbaseNotAligned", kTcs, 0, kPageSize, [](Page& p) { p[48] = 8; }},
        EaddCase{"TcsOgsbaseNotAligned", kTcs, 0, kPageSize, [](Page& p) { p[56] = 8; }},
        EaddCase{"TcsFlagsReserved", kTcs, 0, kPageSize, [](Page& p) { p[8] = 2; }}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(CreationTest, EaddTcsDebugOptInFlagIsAllowed) {
  const EpcPage secs = Create();
  Page tcs = TcsPage(1);
  tcs[8] = 1;  // TCS.FLAGS.DBGOPTIN
  EXPECT_OK(m().Eadd(0, secs, kHostBase, kTcs, tcs, Free()));
}

TEST_F(CreationTest, EaddAfterEinitFaultsGp) {
  Built b = BuildHost();
  const EpcPage p = Free();
  EXPECT_GP(QUIET(m().Eadd(0, b.secs, b.addr(10), kRegRw, PatternPage(1, 1), p)));
}

TEST_F(CreationTest, EaddToNonSecsFaultsPf) {
  Built b = BuildHost(1);
  const Page src{};
  // A free page, a regular page, and a page outside the EPC are no SECS.
  const EpcPage free_page = Free();
  EXPECT_PF_AT(QUIET(m().Eadd(0, free_page, kHostBase, kRegRw, src, free_page + 1)),
               Epc::Address(free_page));
  EXPECT_PF_AT(QUIET(m().Eadd(0, b.data_pages[0], kHostBase, kRegRw, src, free_page)),
               Epc::Address(b.data_pages[0]));
  EXPECT_PF(QUIET(m().Eadd(0, kEpcPages + 3, kHostBase, kRegRw, src, free_page)));
}

TEST_F(CreationTest, EaddTargetPageInUseOrOutsideEpcFaultsPf) {
  const EpcPage secs = Create();
  const Page src{};
  EXPECT_PF_AT(QUIET(m().Eadd(0, secs, kHostBase, kRegRw, src, secs)), Epc::Address(secs));
  EXPECT_PF_AT(QUIET(m().Eadd(0, secs, kHostBase, kRegRw, src, kEpcPages)),
               Epc::Address(kEpcPages));
  // The failed EADDs did not make the address taken.
  EXPECT_OK(m().Eadd(0, secs, kHostBase, kRegRw, src, Free()));
}

TEST_F(CreationTest, EaddSregIntoHostIsPageTypeMix) {
  const EpcPage secs = Create();
  ASSERT_OK(m().Eadd(0, secs, kHostBase, kRegRw, PatternPage(1, 0), Free()));
  EXPECT_SGX(
      QUIET(m().Eadd(0, secs, kHostBase + kPageSize, SecInfo::Make(PageType::kSreg, secinfo::kR),
                     PatternPage(1, 1), Free())),
      kPageTypeMix);
}

TEST_F(CreationTest, EaddRegOrTcsIntoPluginIsPageTypeMix) {
  const EpcPage secs = Create();
  ASSERT_OK(m().Eadd(0, secs, kHostBase, SecInfo::Make(PageType::kSreg, secinfo::kR),
                     PatternPage(1, 0), Free()));
  EXPECT_SGX(QUIET(m().Eadd(0, secs, kHostBase + kPageSize, kRegRw, PatternPage(1, 1), Free())),
             kPageTypeMix);
  EXPECT_SGX(QUIET(m().Eadd(0, secs, kHostBase + 2 * kPageSize, kTcs, TcsPage(1), Free())),
             kPageTypeMix);
}

TEST_F(CreationTest, EaddTwiceAtOneAddressIsVaConflict) {
  const EpcPage secs = Create();
  ASSERT_OK(m().Eadd(0, secs, kHostBase, kRegRw, PatternPage(1, 0), Free()));
  EXPECT_SGX(QUIET(m().Eadd(0, secs, kHostBase, kRegRw, PatternPage(1, 1), Free())), kVaConflict);
}

TEST_F(CreationTest, EaddAtEvictedAddressIsVaConflict) {
  const EpcPage secs = Create();
  const EpcPage p = Free();
  ASSERT_OK(m().Eadd(0, secs, kHostBase, kRegRw, PatternPage(1, 0), p));
  const EpcPage va = NewVa();
  ASSERT_OK(Evict(m(), 0, secs, p, va, 0));
  EXPECT_SGX(QUIET(m().Eadd(0, secs, kHostBase, kRegRw, PatternPage(1, 1), Free())), kVaConflict);
}

// ---- EEXTEND --------------------------------------------------------------------

TEST_F(CreationTest, EextendMeasuresChunkAndCounts) {
  const EpcPage secs = Create();
  const Page bytes = PatternPage(9, 0);
  ASSERT_OK(m().Eadd(0, secs, kHostBase + kPageSize, kRegRw, bytes, Free()));
  ASSERT_TRUE(Charged(
      0, I::kEextend, [&] { return m().Eextend(0, secs, kHostBase + kPageSize + 768); }, secs));
  EXPECT_EQ(m().StatsOf(secs)->events.chunks_measured, 1u);
  EXPECT_EQ(m().Counters().events.chunks_measured, 1u);
  // Expected stream: ECREATE, EADD, one EEXTEND of chunk 3.
  crypto::Sha256 h;
  h.Update(EcreateRecord(1, kHostSize));
  h.Update(EaddRecord(kPageSize, kRegRw));
  h.Update(EextendRecord(kPageSize + 768));
  h.Update(ByteSpan(bytes).subspan(768, 256));
  const auto want = h.Finish();
  ASSERT_OK(m().Einit(0, secs, MakeSigstruct(want)));
  EXPECT_EQ(m().SecsOf(secs)->mr_enclave, want);
}

TEST_F(CreationTest, EextendUnalignedFaultsGp) {
  const EpcPage secs = Create();
  ASSERT_OK(m().Eadd(0, secs, kHostBase, kRegRw, PatternPage(1, 0), Free()));
  EXPECT_GP(QUIET(m().Eextend(0, secs, kHostBase + 1)));
  EXPECT_GP(QUIET(m().Eextend(0, secs, kHostBase + 128)));
}

TEST_F(CreationTest, EextendOfNonSecsFaultsPf) {
  Built b = BuildHost(1);
  EXPECT_PF_AT(QUIET(m().Eextend(0, b.data_pages[0], b.addr(0))), Epc::Address(b.data_pages[0]));
}

TEST_F(CreationTest, EextendWithoutPageFaultsPfAtAddress) {
  const EpcPage secs = Create();
  EXPECT_PF_AT(QUIET(m().Eextend(0, secs, kHostBase + 0x3100)), kHostBase + 0x3100);
}

TEST_F(CreationTest, EextendAfterEinitFaultsGp) {
  Built b = BuildHost(1);
  EXPECT_GP(QUIET(m().Eextend(0, b.secs, b.addr(0))));
}

// ---- EINIT -----------------------------------------------------------------------

TEST_F(CreationTest, EinitSetsIdentity) {
  BuildOptions o;
  o.init = false;
  o.isv_prod_id = 0x1234;
  o.isv_svn = 5;
  Built b = Build(o);
  ASSERT_TRUE(Charged(
      0, I::kEinit, [&] { return m().Einit(0, b.secs, b.sigstruct); }, b.secs));
  auto secs = m().SecsOf(b.secs);
  ASSERT_OK(secs);
  EXPECT_EQ(secs->mr_enclave, b.mrenclave);
  EXPECT_EQ(secs->mr_signer, crypto::Sha256Of(b.sigstruct.modulus_le));
  EXPECT_EQ(secs->isv_prod_id, 0x1234);
  EXPECT_EQ(secs->isv_svn, 5);
  EXPECT_NE(secs->attributes.flags & attr::kInit, 0u);
  // Initialized: the thread can enter.
  EXPECT_OK(m().Eenter(1, b.tcs));
}

TEST_F(CreationTest, EinitAcceptsIntelVendor) {
  Built b = Build({.init = false});
  Sigstruct s = b.sigstruct;
  s.vendor = kSigstructVendorIntel;
  EXPECT_OK(m().Einit(0, b.secs, SignSigstruct(s)));
}

TEST_F(CreationTest, EinitTwiceFaultsGp) {
  Built b = BuildHost();
  EXPECT_GP(QUIET(m().Einit(0, b.secs, b.sigstruct)));
}

TEST_F(CreationTest, EinitOfNonSecsFaultsPf) {
  Built b = BuildHost();
  EXPECT_PF(QUIET(m().Einit(0, b.tcs, b.sigstruct)));
  EXPECT_PF(QUIET(m().Einit(0, kEpcPages, b.sigstruct)));
}

TEST_F(CreationTest, EinitOfEmptyEnclaveMakesAHost) {
  const EpcPage secs = Create();
  ASSERT_OK(m().Einit(0, secs, MakeSigstruct(MeasureExpected(1, kHostSize, {}))));
  // An empty initialized enclave is a host: another host cannot EMAP it.
  Built host = BuildHost();
  ASSERT_OK(m().Eenter(1, host.tcs));
  EXPECT_SGX(m().Emap(1, secs, m().SecsOf(secs)->mr_enclave), kNotAPlugin);
}

struct EinitCase {
  const char* name;
  // Builds the bad SIGSTRUCT from the enclave's good one.
  std::function<Sigstruct(const Built&)> make;
  SgxError want;
  BuildOptions build = {.init = false};
};
// gtest prints a parameter in the test's name: print the case's name, not its bytes.
void PrintTo(const EinitCase& c, std::ostream* os) { *os << c.name; }

class EinitFailTest : public CreationTest, public ::testing::WithParamInterface<EinitCase> {};

TEST_P(EinitFailTest, FailsClosedThenSucceedsWithGoodSigstruct) {
  Built b = Build(GetParam().build);
  const Sigstruct bad = GetParam().make(b);
  EXPECT_TRUE(HasSgxError(QUIET(m().Einit(0, b.secs, bad)), GetParam().want));
  // Still uninitialized: no identity, no entry, still extendable.
  auto secs = m().SecsOf(b.secs);
  ASSERT_OK(secs);
  EXPECT_EQ(secs->mr_enclave, crypto::Sha256Digest{});
  EXPECT_EQ(secs->mr_signer, crypto::Sha256Digest{});
  EXPECT_EQ(secs->attributes.flags & attr::kInit, 0u);
  EXPECT_GP(m().Eenter(1, b.tcs));
  // A correct SIGSTRUCT still initializes it, with the right measurement.
  ASSERT_OK(m().Einit(0, b.secs, b.sigstruct));
  EXPECT_EQ(m().SecsOf(b.secs)->mr_enclave, b.mrenclave);
  EXPECT_OK(m().Eenter(1, b.tcs));
}

Sigstruct Resigned(const Built& b, const std::function<void(Sigstruct&)>& f) {
  Sigstruct s = b.sigstruct;
  f(s);
  return SignSigstruct(s);
}

Sigstruct Tampered(const Built& b, const std::function<void(Sigstruct&)>& f) {
  Sigstruct s = b.sigstruct;
  f(s);
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Checks, EinitFailTest,
    ::testing::Values(
        EinitCase{"WrongEnclaveHash",
                  [](const Built& b) {
                    return Resigned(b, [](Sigstruct& s) { s.enclave_hash[0] ^= 1; });
                  },
                  SgxError::kInvalidMeasurement},
        EinitCase{"TamperedSignature",
                  [](const Built& b) {
                    return Tampered(b, [](Sigstruct& s) { s.signature_le[17] ^= 0x40; });
                  },
                  SgxError::kInvalidSignature},
        EinitCase{"SignedFieldChangedAfterSigning",
                  [](const Built& b) { return Tampered(b, [](Sigstruct& s) { s.isv_svn += 1; }); },
                  SgxError::kInvalidSignature},
        EinitCase{"HashChangedAfterSigning",
                  [](const Built& b) {
                    return Tampered(b, [](Sigstruct& s) { s.enclave_hash[3] ^= 1; });
                  },
                  SgxError::kInvalidSignature},
        EinitCase{"WrongQ1",
                  [](const Built& b) { return Tampered(b, [](Sigstruct& s) { s.q1_le[0] ^= 1; }); },
                  SgxError::kInvalidSignature},
        EinitCase{
            "WrongQ2",
            [](const Built& b) { return Tampered(b, [](Sigstruct& s) { s.q2_le[100] ^= 1; }); },
            SgxError::kInvalidSignature},
        EinitCase{"ModulusOfAnotherKey",
                  [](const Built& b) {
                    return Tampered(b, [](Sigstruct& s) {
                      const auto n = OtherSignerKey().Modulus();
                      std::reverse_copy(n.begin(), n.end(), s.modulus_le.begin());
                    });
                  },
                  SgxError::kInvalidSignature},
        EinitCase{"BadHeader",
                  [](const Built& b) { return Resigned(b, [](Sigstruct& s) { s.header[4] = 0; }); },
                  SgxError::kInvalidSigStruct},
        EinitCase{
            "BadHeader2",
            [](const Built& b) { return Resigned(b, [](Sigstruct& s) { s.header2[0] = 2; }); },
            SgxError::kInvalidSigStruct},
        EinitCase{
            "BadVendor",
            [](const Built& b) { return Resigned(b, [](Sigstruct& s) { s.vendor = 0x1234; }); },
            SgxError::kInvalidSigStruct},
        EinitCase{
            "ExponentNotThree",
            [](const Built& b) { return Tampered(b, [](Sigstruct& s) { s.exponent = 65537; }); },
            SgxError::kInvalidSigStruct},
        EinitCase{"MiscSelectMismatchUnderMask",
                  [](const Built& b) {
                    return Resigned(b, [](Sigstruct& s) {
                      s.misc_select = 1;
                      s.misc_mask = 1;
                    });
                  },
                  SgxError::kInvalidAttribute},
        EinitCase{"AttributeFlagsMismatchUnderMask",
                  [](const Built& b) {
                    return Resigned(b, [](Sigstruct& s) { s.attributes.flags |= attr::kDebug; });
                  },
                  SgxError::kInvalidAttribute},
        EinitCase{"XfrmMismatchUnderMask",
                  [](const Built& b) {
                    return Resigned(b, [](Sigstruct& s) { s.attributes.xfrm = 0x7; });
                  },
                  SgxError::kInvalidAttribute},
        EinitCase{"EnclaveDebugButSignerRequiresNonDebug",
                  [](const Built& b) {
                    return Resigned(b, [](Sigstruct& s) { s.attributes.flags &= ~attr::kDebug; });
                  },
                  SgxError::kInvalidAttribute,
                  BuildOptions{.init = false, .attributes = attr::kMode64Bit | attr::kDebug}},
        EinitCase{"SignatureCheckedBeforeMeasurement",
                  [](const Built& b) {
                    return Tampered(b, [](Sigstruct& s) {
                      s.enclave_hash[0] ^= 1;
                      s.signature_le[0] ^= 1;
                    });
                  },
                  SgxError::kInvalidSignature},
        EinitCase{"AttributesCheckedBeforeMeasurement",
                  [](const Built& b) {
                    return Resigned(b, [](Sigstruct& s) {
                      s.enclave_hash[0] ^= 1;
                      s.attributes.flags |= attr::kDebug;
                    });
                  },
                  SgxError::kInvalidAttribute}),
    [](const auto& info) { return std::string(info.param.name); });

// EINIT checks each SIGSTRUCT's signature once and remembers the ones that
// passed (MachineOps::VerifySigstructOnce): a remembered one is accepted
// again, charged as always, and a tampered copy of it is still refused.
TEST_F(CreationTest, EinitRemembersOnlyTheExactSigstructThatPassed) {
  Built first = Build({.init = false});
  Built second = Build({.init = false});  // the same image: the same SIGSTRUCT
  ASSERT_EQ(first.sigstruct.Serialize(), second.sigstruct.Serialize());
  ASSERT_TRUE(Charged(
      0, I::kEinit, [&] { return m().Einit(0, first.secs, first.sigstruct); }, first.secs));
  Sigstruct tampered = second.sigstruct;
  tampered.signature_le[17] ^= 0x40;
  EXPECT_TRUE(HasSgxError(QUIET(m().Einit(0, second.secs, tampered)), SgxError::kInvalidSignature));
  tampered = second.sigstruct;
  tampered.isv_svn += 1;  // a signed field
  EXPECT_TRUE(HasSgxError(QUIET(m().Einit(0, second.secs, tampered)), SgxError::kInvalidSignature));
  ASSERT_TRUE(Charged(
      0, I::kEinit, [&] { return m().Einit(0, second.secs, second.sigstruct); }, second.secs));
  EXPECT_EQ(m().SecsOf(second.secs)->mr_signer, m().SecsOf(first.secs)->mr_signer);
}

TEST_F(CreationTest, EinitIgnoresDifferencesOutsideTheMasks) {
  BuildOptions o;
  o.init = false;
  o.misc_select = 0x4;
  o.attributes = attr::kMode64Bit | attr::kDebug;
  Built b = Build(o);
  Sigstruct s = b.sigstruct;
  s.misc_select = 0x1;  // differs, but MISCMASK only covers bit 2
  s.misc_mask = 0x4;
  s.misc_select |= 0x4;
  s.attributes = {attr::kMode64Bit, 0x7};  // DEBUG and xfrm bit 2 differ, unmasked
  s.attribute_mask = {~attr::kDebug, 0x3};
  EXPECT_OK(m().Einit(0, b.secs, SignSigstruct(s)));
}

// ---- EREMOVE ---------------------------------------------------------------------

TEST_F(CreationTest, EremoveOfFreePageSucceedsAndIsCharged) {
  const EpcPage p = Free();
  const uint32_t free_before = m().FreePageCount();
  ASSERT_TRUE(Charged(0, I::kEremove, [&] { return m().Eremove(0, p); }));
  EXPECT_EQ(m().FreePageCount(), free_before);
  EXPECT_EQ(m().Counters().events.pages_removed, 0u);
}

TEST_F(CreationTest, EremoveOutsideEpcFaultsPf) {
  EXPECT_PF_AT(QUIET(m().Eremove(0, kEpcPages)), Epc::Address(kEpcPages));
}

TEST_F(CreationTest, EremoveOfVaPageFreesIt) {
  const EpcPage va = NewVa();
  const uint32_t free_before = m().FreePageCount();
  ASSERT_TRUE(Charged(0, I::kEremove, [&] { return m().Eremove(0, va); }));
  EXPECT_FALSE(m().Epcm(va).valid);
  EXPECT_EQ(m().FreePageCount(), free_before + 1);
}

TEST_F(CreationTest, EremoveOfRegularPageScrubsAndFrees) {
  Built b = BuildHost(2);
  const EpcPage p = b.data_pages[1];
  const uint32_t free_before = m().FreePageCount();
  ASSERT_TRUE(Charged(
      0, I::kEremove, [&] { return m().Eremove(0, p); }, b.secs));
  EXPECT_FALSE(m().Epcm(p).valid);
  EXPECT_EQ(m().FreePageCount(), free_before + 1);
  for (uint8_t byte : m().PageBytes(p)) ASSERT_EQ(byte, 0);
  EXPECT_EQ(m().StatsOf(b.secs)->events.pages_removed, 1u);
  EXPECT_EQ(m().Counters().events.pages_removed, 1u);
  // The address is free again: EAUG may put a page there.
  EXPECT_OK(m().Eaug(0, b.secs, b.addr(1), Free()));
}

TEST_F(CreationTest, EremoveOfSecsWithChildrenIsChildPresent) {
  Built b = BuildHost(1);
  EXPECT_SGX(QUIET(m().Eremove(0, b.secs)), kChildPresent);
  EXPECT_OK(m().SecsOf(b.secs));
}

TEST_F(CreationTest, EremoveOfSecsLastTearsDownEnclave) {
  Built b = BuildHost(2);
  const uint32_t free_before = m().FreePageCount();
  for (auto [addr, page] : b.page_at) ASSERT_OK(m().Eremove(0, page));
  ASSERT_TRUE(Charged(0, I::kEremove, [&] { return m().Eremove(0, b.secs); }));
  EXPECT_FALSE(m().Epcm(b.secs).valid);
  EXPECT_PF(m().SecsOf(b.secs));
  EXPECT_PF(m().StatsOf(b.secs));
  EXPECT_EQ(m().FreePageCount(), free_before + 4);
  EXPECT_EQ(m().Counters().events.pages_removed, 3u);  // the SECS is not counted
  // The page can hold a new enclave.
  EXPECT_OK(m().Ecreate(0, GoodSecs(), b.secs));
}

TEST_F(CreationTest, EremoveWhileThreadInsideIsEnclaveAct) {
  Built b = BuildHost(1);
  ASSERT_OK(m().Eenter(1, b.tcs));
  EXPECT_SGX(QUIET(m().Eremove(0, b.data_pages[0])), kEnclaveAct);
  EXPECT_SGX(QUIET(m().Eremove(0, b.tcs)), kEnclaveAct);
  ASSERT_OK(m().Eexit(1));
  EXPECT_OK(m().Eremove(0, b.data_pages[0]));
}

TEST_F(CreationTest, EremoveOfSecsWithOnlyEvictedPagesSucceeds) {
  Built b = BuildHost(1);
  const EpcPage va = NewVa();
  ASSERT_OK(m().Eremove(0, b.tcs));
  ASSERT_OK(Evict(m(), 0, b.secs, b.data_pages[0], va, 0));
  EXPECT_OK(m().Eremove(0, b.secs));
}

TEST_F(CreationTest, EremovedTcsCannotBeEntered) {
  Built b = BuildHost(1);
  ASSERT_OK(m().Eremove(0, b.tcs));
  EXPECT_PF_AT(m().Eenter(1, b.tcs), Epc::Address(b.tcs));
}

}  // namespace
}  // namespace confide::machine::testing
