// attestation.cc — EREPORT and EGETKEY (Intel SDM Vol. 3D §38.16-38.18,
// §40.4), the CPU's local attestation and key derivation.
//
// Keys are AES-128-CMAC over a derivation string keyed by the machine's root
// secret (the fuses), in the spirit of the SDM's EGETKEY pseudocode: the
// string holds KEYNAME, the identity fields the KEYPOLICY selects, the masked
// ATTRIBUTES and MISCSELECT, KEYID, ISVSVN, CONFIGSVN and CPUSVN. The layout of
// the string is confide's; what goes into it follows the SDM, so keys differ
// exactly when the SDM says they differ.

#include <algorithm>

#include <fmt/format.h>

#include "machine/machine.h"
#include "machine/machine_internal.h"

namespace confide::machine {
namespace {

struct Derivation {
  KeyName name = KeyName::kSeal;
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  uint16_t config_svn = 0;
  Attributes attributes;
  uint32_t misc_select = 0;
  crypto::Sha256Digest mr_enclave{};
  crypto::Sha256Digest mr_signer{};
  std::array<uint8_t, 32> key_id{};
  std::array<uint8_t, 16> cpu_svn{};
};

crypto::Aes128Key DeriveKey(const std::array<uint8_t, 32>& root, const Derivation& d) {
  std::array<uint8_t, 160> s{};
  uint8_t* p = s.data();
  StoreLe<uint16_t>(p, static_cast<uint16_t>(d.name));
  StoreLe<uint16_t>(p + 2, d.isv_prod_id);
  StoreLe<uint16_t>(p + 4, d.isv_svn);
  StoreLe<uint16_t>(p + 6, d.config_svn);
  StoreLe<uint64_t>(p + 8, d.attributes.flags);
  StoreLe<uint64_t>(p + 16, d.attributes.xfrm);
  StoreLe<uint32_t>(p + 24, d.misc_select);
  std::copy(d.mr_enclave.begin(), d.mr_enclave.end(), p + 32);
  std::copy(d.mr_signer.begin(), d.mr_signer.end(), p + 64);
  std::copy(d.key_id.begin(), d.key_id.end(), p + 96);
  std::copy(d.cpu_svn.begin(), d.cpu_svn.end(), p + 128);
  // The CMAC key condenses all 32 bytes of the root secret (the fuses), so
  // machines whose roots differ anywhere derive different keys.
  const crypto::Sha256Digest condensed = crypto::Sha256Of(root);
  crypto::Aes128Key root_key;
  std::copy_n(condensed.begin(), root_key.size(), root_key.begin());
  return crypto::AesCmac128(root_key, s);
}

// The report key of the enclave described by `target` (SDM EREPORT: derived
// from the target's MRENCLAVE, ATTRIBUTES, MISCSELECT, CONFIGSVN and KEYID).
crypto::Aes128Key ReportKey(const Machine& m, const crypto::Sha256Digest& mr_enclave,
                            const Attributes& attributes, uint32_t misc_select,
                            uint16_t config_svn) {
  Derivation d;
  d.name = KeyName::kReport;
  d.mr_enclave = mr_enclave;
  d.attributes = attributes;
  d.misc_select = misc_select;
  d.config_svn = config_svn;
  d.key_id = MachineOps::ReportKeyId(m);
  d.cpu_svn = MachineOps::Config(m).cpu_svn;
  return DeriveKey(MachineOps::RootSecret(m), d);
}

}  // namespace

StatusOr<Report> Machine::Ereport(CoreId core, const TargetInfo& target, const ReportData& data) {
  constexpr Instruction kI = Instruction::kEreport;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EncluCore(*this, core, kI));
  EnclaveState& e = *c->enclave;
  std::lock_guard lock(e.mu);
  // EnTurbo: a REPORT of an unverified enclave would vouch for it (entry.cc).
  if (!e.initialized)
    return FaultStatus(FaultVector::kGP, 0, "EREPORT: enclave is not initialized");
  Report r;
  r.cpu_svn = config_.cpu_svn;
  r.misc_select = e.secs.misc_select;
  r.attributes = e.secs.attributes;
  r.mr_enclave = e.secs.mr_enclave;
  r.mr_signer = e.secs.mr_signer;
  r.config_id = e.secs.config_id;
  r.isv_prod_id = e.secs.isv_prod_id;
  r.isv_svn = e.secs.isv_svn;
  r.config_svn = e.secs.config_svn;
  r.report_data = data;
  r.key_id = report_key_id_;
  const crypto::Aes128Key key = ReportKey(*this, target.measurement, target.attributes,
                                          target.misc_select, target.config_svn);
  r.mac = crypto::AesCmac128(key, r.SerializeBody());
  MachineOps::Charge(*this, *c, &e, kI);
  return r;
}

StatusOr<crypto::Aes128Key> Machine::Egetkey(CoreId core, const KeyRequest& req) {
  constexpr Instruction kI = Instruction::kEgetkey;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EncluCore(*this, core, kI));
  if (req.key_policy & keypolicy::kReservedMask)
    return FaultStatus(FaultVector::kGP, 0, "EGETKEY: KEYPOLICY reserved bits set");
  EnclaveState& e = *c->enclave;
  std::lock_guard lock(e.mu);
  // EnTurbo: keys of an unverified enclave would let it seal data out (entry.cc).
  if (!e.initialized)
    return FaultStatus(FaultVector::kGP, 0, "EGETKEY: enclave is not initialized");
  const uint64_t attrs = e.secs.attributes.flags;
  Derivation d;
  d.cpu_svn = req.cpu_svn;
  switch (static_cast<KeyName>(req.key_name)) {
    case KeyName::kEinitToken:
      if (!(attrs & attr::kEinitTokenKey))
        return SgxErrorStatus(SgxError::kInvalidAttribute,
                              "EGETKEY: EINITTOKEN_KEY needs ATTRIBUTES.EINITTOKEN_KEY");
      break;
    case KeyName::kProvision:
    case KeyName::kProvisionSeal:
      if (!(attrs & attr::kProvisionKey))
        return SgxErrorStatus(SgxError::kInvalidAttribute,
                              "EGETKEY: provisioning keys need ATTRIBUTES.PROVISIONKEY");
      break;
    case KeyName::kReport: {
      auto key = ReportKey(*this, e.secs.mr_enclave, e.secs.attributes, e.secs.misc_select,
                           e.secs.config_svn);
      MachineOps::Charge(*this, *c, &e, kI);
      return key;
    }
    case KeyName::kSeal:
      break;
    default:
      return SgxErrorStatus(SgxError::kInvalidKeyname,
                            fmt::format("EGETKEY: KEYNAME {} is not defined", req.key_name));
  }
  // SVN checks: an enclave may ask for keys of its own or older versions only.
  if (req.isv_svn > e.secs.isv_svn)
    return SgxErrorStatus(
        SgxError::kInvalidIsvSvn,
        fmt::format("EGETKEY: ISVSVN {} exceeds the enclave's {}", req.isv_svn, e.secs.isv_svn));
  if (req.config_svn > e.secs.config_svn)
    return SgxErrorStatus(SgxError::kInvalidIsvSvn, "EGETKEY: CONFIGSVN exceeds the enclave's");
  // CPUSVN compared as a 16-byte little-endian number (confide's simplification
  // of the SDM's component-wise comparison).
  if (std::lexicographical_compare(config_.cpu_svn.rbegin(), config_.cpu_svn.rend(),
                                   req.cpu_svn.rbegin(), req.cpu_svn.rend()))
    return SgxErrorStatus(SgxError::kInvalidCpuSvn, "EGETKEY: CPUSVN is newer than the CPU's");
  d.name = static_cast<KeyName>(req.key_name);
  d.isv_svn = req.isv_svn;
  d.config_svn = req.config_svn;
  d.key_id = req.key_id;
  d.attributes = {attrs & req.attribute_mask.flags,
                  e.secs.attributes.xfrm & req.attribute_mask.xfrm};
  d.misc_select = e.secs.misc_select & req.misc_mask;
  if (!(req.key_policy & keypolicy::kNoIsvProdId)) d.isv_prod_id = e.secs.isv_prod_id;
  if (req.key_policy & keypolicy::kMrEnclave) d.mr_enclave = e.secs.mr_enclave;
  if (req.key_policy & keypolicy::kMrSigner) d.mr_signer = e.secs.mr_signer;
  MachineOps::Charge(*this, *c, &e, kI);
  return DeriveKey(root_secret_, d);
}

}  // namespace confide::machine
