// EREPORT and EGETKEY: report MACs verify with the target's report key and
// no other, keys depend on exactly what the policy selects, and every error
// (attestation.cc).
#include <gtest/gtest.h>

#include "crypto/aes.h"
#include "test_util.h"

namespace confide::machine::testing {
namespace {

using I = Instruction;

class AttestationTest : public MachineTest {
 protected:
  // Builds a host at `base` (distinct ELRANGEs keep enclaves apart).
  Built Host(uint64_t base, BuildOptions o = {}) {
    o.base = base;
    return Build(o);
  }
  TargetInfo TargetOf(const Built& b) {
    auto secs = m().SecsOf(b.secs);
    EXPECT_OK(secs);
    TargetInfo t;
    t.measurement = secs->mr_enclave;
    t.attributes = secs->attributes;
    t.misc_select = secs->misc_select;
    t.config_svn = secs->config_svn;
    return t;
  }
  // EGETKEY on `core` inside `b` (entered and left around the call).
  StatusOr<crypto::Aes128Key> KeyIn(CoreId core, const Built& b, const KeyRequest& r) {
    CONFIDE_RETURN_IF_ERROR(m().Eenter(core, b.tcs));
    auto key = m().Egetkey(core, r);
    CONFIDE_RETURN_IF_ERROR(m().Eexit(core));
    return key;
  }
  crypto::Aes128Key MustKey(CoreId core, const Built& b, const KeyRequest& r) {
    auto k = KeyIn(core, b, r);
    EXPECT_OK(k);
    return k.ok() ? *k : crypto::Aes128Key{};
  }
  static KeyRequest Request(KeyName name, uint16_t policy = keypolicy::kMrEnclave) {
    KeyRequest r;
    r.key_name = static_cast<uint16_t>(name);
    r.key_policy = policy;
    return r;
  }
};

// ---- EREPORT ---------------------------------------------------------------------

TEST_F(AttestationTest, EreportDescribesTheCallerAndIsCharged) {
  Built a = Host(kHostBase, {.isv_prod_id = 3, .isv_svn = 4});
  Built b = Host(2 * kHostBase, {.seed = 2});
  ReportData data{};
  data[0] = 0xde;
  data[63] = 0xad;
  ASSERT_OK(m().Eenter(1, a.tcs));
  StatusOr<Report> r;
  ASSERT_TRUE(Charged(
      1, I::kEreport,
      [&] {
        r = m().Ereport(1, TargetOf(b), data);
        return r.status();
      },
      a.secs));
  auto secs = m().SecsOf(a.secs);
  EXPECT_EQ(r->mr_enclave, a.mrenclave);
  EXPECT_EQ(r->mr_signer, secs->mr_signer);
  EXPECT_EQ(r->attributes, secs->attributes);
  EXPECT_NE(r->attributes.flags & attr::kInit, 0u);
  EXPECT_EQ(r->isv_prod_id, 3);
  EXPECT_EQ(r->isv_svn, 4);
  EXPECT_EQ(r->report_data, data);
  EXPECT_EQ(r->cpu_svn, MachineConfig{}.cpu_svn);
  EXPECT_NE(r->key_id, (std::array<uint8_t, 32>{}));
}

TEST_F(AttestationTest, EreportMacVerifiesOnlyWithTargetsReportKey) {
  Built a = Host(kHostBase);
  Built b = Host(2 * kHostBase, {.seed = 2});
  Built c = Host(3 * kHostBase, {.seed = 3});
  ASSERT_OK(m().Eenter(1, a.tcs));
  auto r = m().Ereport(1, TargetOf(b), ReportData{});
  ASSERT_OK(r);
  ASSERT_OK(m().Eexit(1));
  const auto body = r->SerializeBody();
  const auto kb = MustKey(2, b, Request(KeyName::kReport));
  const auto ka = MustKey(2, a, Request(KeyName::kReport));
  const auto kc = MustKey(2, c, Request(KeyName::kReport));
  EXPECT_EQ(crypto::AesCmac128(kb, body), r->mac);
  EXPECT_NE(crypto::AesCmac128(ka, body), r->mac);
  EXPECT_NE(crypto::AesCmac128(kc, body), r->mac);
  // A changed body no longer verifies.
  Report forged = *r;
  forged.isv_svn = 99;
  EXPECT_NE(crypto::AesCmac128(kb, forged.SerializeBody()), r->mac);
}

TEST_F(AttestationTest, EreportToSelfVerifies) {
  Built a = Host(kHostBase);
  ASSERT_OK(m().Eenter(1, a.tcs));
  auto r = m().Ereport(1, TargetOf(a), ReportData{});
  ASSERT_OK(r);
  auto k = m().Egetkey(1, Request(KeyName::kReport));
  ASSERT_OK(k);
  EXPECT_EQ(crypto::AesCmac128(*k, r->SerializeBody()), r->mac);
}

TEST_F(AttestationTest, ReportKeyDiffersAcrossMachines) {
  Built a = Host(kHostBase);
  const auto k1 = MustKey(1, a, Request(KeyName::kReport));
  auto other = MakeMachine(64, std::array<uint8_t, 32>{9});
  ASSERT_NE(other, nullptr);
  auto a2 = BuildEnclave(*other, {});
  ASSERT_OK(a2);
  ASSERT_OK(other->Eenter(1, a2->tcs));
  auto k2 = other->Egetkey(1, Request(KeyName::kReport));
  ASSERT_OK(k2);
  EXPECT_NE(k1, *k2);
}

// ---- EGETKEY: errors ---------------------------------------------------------------

class EgetkeyTest : public AttestationTest {
 protected:
  void SetUp() override {
    AttestationTest::SetUp();
    host_ = Host(kHostBase, {.config_svn = 2, .isv_svn = 5});
    ASSERT_OK(m().Eenter(1, host_.tcs));
  }
  Built host_;
};

TEST_F(EgetkeyTest, ReservedPolicyBitsFaultGp) {
  for (int bit = 6; bit < 16; ++bit) {
    SCOPED_TRACE(bit);
    EXPECT_GP(QUIET(m().Egetkey(1, Request(KeyName::kSeal, keypolicy::kMrEnclave | (1u << bit)))));
  }
}

TEST_F(EgetkeyTest, UnknownKeyNameIsInvalidKeyname) {
  for (uint16_t name : {5, 6, 0x100, 0xffff}) {
    KeyRequest r = Request(KeyName::kSeal);
    r.key_name = name;
    EXPECT_SGX(QUIET(m().Egetkey(1, r)), kInvalidKeyname);
  }
}

TEST_F(EgetkeyTest, ProvisionKeysNeedProvisionKeyAttribute) {
  EXPECT_SGX(QUIET(m().Egetkey(1, Request(KeyName::kProvision))), kInvalidAttribute);
  EXPECT_SGX(QUIET(m().Egetkey(1, Request(KeyName::kProvisionSeal))), kInvalidAttribute);
}

TEST_F(EgetkeyTest, EinitTokenKeyNeedsEinitTokenKeyAttribute) {
  EXPECT_SGX(QUIET(m().Egetkey(1, Request(KeyName::kEinitToken))), kInvalidAttribute);
}

TEST_F(EgetkeyTest, IsvSvnAboveEnclavesIsInvalidIsvSvn) {
  KeyRequest r = Request(KeyName::kSeal);
  r.isv_svn = 6;
  EXPECT_SGX(QUIET(m().Egetkey(1, r)), kInvalidIsvSvn);
  r.isv_svn = 5;
  EXPECT_OK(m().Egetkey(1, r));
}

TEST_F(EgetkeyTest, ConfigSvnAboveEnclavesIsInvalidIsvSvn) {
  KeyRequest r = Request(KeyName::kSeal);
  r.config_svn = 3;
  EXPECT_SGX(QUIET(m().Egetkey(1, r)), kInvalidIsvSvn);
  r.config_svn = 2;
  EXPECT_OK(m().Egetkey(1, r));
}

TEST_F(EgetkeyTest, CpuSvnAboveMachinesIsInvalidCpuSvn) {
  KeyRequest r = Request(KeyName::kSeal);
  r.cpu_svn = {2};
  EXPECT_SGX(QUIET(m().Egetkey(1, r)), kInvalidCpuSvn);
  r.cpu_svn = {0};
  r.cpu_svn[15] = 1;  // the most significant byte
  EXPECT_SGX(QUIET(m().Egetkey(1, r)), kInvalidCpuSvn);
  r.cpu_svn = {1};
  EXPECT_OK(m().Egetkey(1, r));
  r.cpu_svn = {0};
  EXPECT_OK(m().Egetkey(1, r));
}

TEST_F(EgetkeyTest, ReportKeyIgnoresSvnFields) {
  // EGETKEY(REPORT) has no SVN checks: it is the enclave's own report key.
  KeyRequest r = Request(KeyName::kReport);
  r.isv_svn = 100;
  r.cpu_svn = {0xff};
  EXPECT_OK(m().Egetkey(1, r));
}

// ---- EGETKEY: key derivation ---------------------------------------------------------

TEST_F(AttestationTest, EgetkeyIsChargedAndDeterministic) {
  Built a = Host(kHostBase);
  ASSERT_OK(m().Eenter(1, a.tcs));
  StatusOr<crypto::Aes128Key> k1;
  ASSERT_TRUE(Charged(
      1, I::kEgetkey,
      [&] {
        k1 = m().Egetkey(1, Request(KeyName::kSeal));
        return k1.status();
      },
      a.secs));
  auto k2 = m().Egetkey(1, Request(KeyName::kSeal));
  ASSERT_OK(k2);
  EXPECT_EQ(*k1, *k2);
}

TEST_F(AttestationTest, SealKeysUnderMrEnclaveDifferByMeasurement) {
  Built a = Host(kHostBase, {.seed = 1});
  Built b = Host(2 * kHostBase, {.seed = 2});  // other contents, same signer
  ASSERT_NE(a.mrenclave, b.mrenclave);
  const KeyRequest r = Request(KeyName::kSeal, keypolicy::kMrEnclave);
  EXPECT_NE(MustKey(1, a, r), MustKey(1, b, r));
}

TEST_F(AttestationTest, SealKeysUnderMrEnclaveAgreeForSameMeasurement) {
  // MRENCLAVE does not depend on BASEADDR: two instances of one image agree.
  Built a = Host(kHostBase, {.seed = 1});
  Built b = Host(2 * kHostBase, {.seed = 1});
  ASSERT_EQ(a.mrenclave, b.mrenclave);
  const KeyRequest r = Request(KeyName::kSeal, keypolicy::kMrEnclave);
  EXPECT_EQ(MustKey(1, a, r), MustKey(1, b, r));
}

TEST_F(AttestationTest, SealKeysUnderMrSignerAgreeForSameSigner) {
  Built a = Host(kHostBase, {.seed = 1});
  Built b = Host(2 * kHostBase, {.seed = 2});
  const KeyRequest r = Request(KeyName::kSeal, keypolicy::kMrSigner);
  EXPECT_EQ(MustKey(1, a, r), MustKey(1, b, r));
}

TEST_F(AttestationTest, SealKeysUnderMrSignerDifferBySigner) {
  Built a = Host(kHostBase, {.seed = 1});
  Built b = Host(2 * kHostBase, {.seed = 1, .key = &OtherSignerKey()});
  ASSERT_EQ(a.mrenclave, b.mrenclave);
  const KeyRequest r = Request(KeyName::kSeal, keypolicy::kMrSigner);
  EXPECT_NE(MustKey(1, a, r), MustKey(1, b, r));
  // Under MRENCLAVE they agree: same measurement.
  const KeyRequest e = Request(KeyName::kSeal, keypolicy::kMrEnclave);
  EXPECT_EQ(MustKey(1, a, e), MustKey(1, b, e));
}

TEST_F(AttestationTest, SealKeysUnderMrSignerDifferByIsvProdIdUnlessExcluded) {
  Built a = Host(kHostBase, {.seed = 1, .isv_prod_id = 1});
  Built b = Host(2 * kHostBase, {.seed = 2, .isv_prod_id = 2});
  EXPECT_NE(MustKey(1, a, Request(KeyName::kSeal, keypolicy::kMrSigner)),
            MustKey(1, b, Request(KeyName::kSeal, keypolicy::kMrSigner)));
  const KeyRequest r = Request(KeyName::kSeal, keypolicy::kMrSigner | keypolicy::kNoIsvProdId);
  EXPECT_EQ(MustKey(1, a, r), MustKey(1, b, r));
}

TEST_F(AttestationTest, KeysDependOnRequestFields) {
  Built a = Host(
      kHostBase,
      {.attributes = attr::kMode64Bit | attr::kProvisionKey | attr::kEinitTokenKey, .isv_svn = 3});
  const KeyRequest base = Request(KeyName::kSeal);
  const auto k = MustKey(1, a, base);
  std::vector<std::pair<const char*, KeyRequest>> variants;
  KeyRequest r = base;
  r.key_id[0] = 1;
  variants.push_back({"key id", r});
  r = base;
  r.isv_svn = 2;
  variants.push_back({"isv svn", r});
  r = base;
  r.cpu_svn = {1};  // the base asks for CPUSVN 0
  variants.push_back({"cpu svn", r});
  r = base;
  r.attribute_mask = {attr::kMode64Bit, 0};
  variants.push_back({"attribute mask", r});
  r = base;
  r.key_policy = keypolicy::kMrSigner;
  variants.push_back({"policy", r});
  r = base;
  r.key_name = static_cast<uint16_t>(KeyName::kProvisionSeal);
  variants.push_back({"provision seal", r});
  r = base;
  r.key_name = static_cast<uint16_t>(KeyName::kProvision);
  variants.push_back({"provision", r});
  r = base;
  r.key_name = static_cast<uint16_t>(KeyName::kEinitToken);
  variants.push_back({"einit token", r});
  for (auto& [what, req] : variants) {
    SCOPED_TRACE(what);
    EXPECT_NE(MustKey(1, a, req), k);
  }
}

TEST_F(AttestationTest, SealKeysDependOnRootSecret) {
  const KeyRequest r = Request(KeyName::kSeal);
  auto seal_key = [&](std::array<uint8_t, 32> root) {
    auto mm = MakeMachine(64, root);
    auto b = BuildEnclave(*mm, {});
    EXPECT_OK(b);
    EXPECT_OK(mm->Eenter(1, b->tcs));
    auto k = mm->Egetkey(1, r);
    EXPECT_OK(k);
    return *k;
  };
  EXPECT_EQ(seal_key(kRootSecret), seal_key(kRootSecret));
  // Every byte of the 32-byte root secret matters, the last as much as the first.
  for (size_t byte : {0, 15, 16, 31}) {
    SCOPED_TRACE(byte);
    std::array<uint8_t, 32> other = kRootSecret;
    other[byte] ^= 1;
    EXPECT_NE(seal_key(kRootSecret), seal_key(other));
  }
}

}  // namespace
}  // namespace confide::machine::testing
