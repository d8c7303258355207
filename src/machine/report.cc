#include "machine/report.h"

#include <algorithm>

#include <fmt/format.h>

namespace confide::machine {
namespace {

template <size_t N>
void Put(uint8_t* p, const std::array<uint8_t, N>& a) {
  std::copy(a.begin(), a.end(), p);
}
template <size_t N>
void Get(const uint8_t* p, std::array<uint8_t, N>* a) {
  std::copy_n(p, N, a->begin());
}

Status CheckSize(ByteSpan bytes, size_t want, const char* what) {
  if (bytes.size() != want)
    return InvalidArgumentError(
        fmt::format("{} must be {} bytes, got {}", what, want, bytes.size()));
  return OkStatus();
}

}  // namespace

std::array<uint8_t, 512> TargetInfo::Serialize() const {
  std::array<uint8_t, 512> out{};
  uint8_t* p = out.data();
  Put(p, measurement);
  StoreLe<uint64_t>(p + 32, attributes.flags);
  StoreLe<uint64_t>(p + 40, attributes.xfrm);
  StoreLe<uint16_t>(p + 50, config_svn);
  StoreLe<uint32_t>(p + 52, misc_select);
  Put(p + 64, config_id);
  return out;
}

StatusOr<TargetInfo> TargetInfo::Parse(ByteSpan bytes) {
  CONFIDE_RETURN_IF_ERROR(CheckSize(bytes, 512, "TARGETINFO"));
  const uint8_t* p = bytes.data();
  TargetInfo t;
  Get(p, &t.measurement);
  t.attributes.flags = LoadLe<uint64_t>(p + 32);
  t.attributes.xfrm = LoadLe<uint64_t>(p + 40);
  t.config_svn = LoadLe<uint16_t>(p + 50);
  t.misc_select = LoadLe<uint32_t>(p + 52);
  Get(p + 64, &t.config_id);
  return t;
}

std::array<uint8_t, kReportBodySize> Report::SerializeBody() const {
  std::array<uint8_t, kReportBodySize> out{};
  uint8_t* p = out.data();
  Put(p, cpu_svn);
  StoreLe<uint32_t>(p + 16, misc_select);
  Put(p + 32, isv_ext_prod_id);
  StoreLe<uint64_t>(p + 48, attributes.flags);
  StoreLe<uint64_t>(p + 56, attributes.xfrm);
  Put(p + 64, mr_enclave);
  Put(p + 128, mr_signer);
  Put(p + 192, config_id);
  StoreLe<uint16_t>(p + 256, isv_prod_id);
  StoreLe<uint16_t>(p + 258, isv_svn);
  StoreLe<uint16_t>(p + 260, config_svn);
  Put(p + 304, isv_family_id);
  Put(p + 320, report_data);
  return out;
}

std::array<uint8_t, kReportSize> Report::Serialize() const {
  std::array<uint8_t, kReportSize> out{};
  auto body = SerializeBody();
  std::copy(body.begin(), body.end(), out.begin());
  Put(out.data() + 384, key_id);
  Put(out.data() + 416, mac);
  return out;
}

StatusOr<Report> Report::Parse(ByteSpan bytes) {
  CONFIDE_RETURN_IF_ERROR(CheckSize(bytes, kReportSize, "REPORT"));
  const uint8_t* p = bytes.data();
  Report r;
  Get(p, &r.cpu_svn);
  r.misc_select = LoadLe<uint32_t>(p + 16);
  Get(p + 32, &r.isv_ext_prod_id);
  r.attributes.flags = LoadLe<uint64_t>(p + 48);
  r.attributes.xfrm = LoadLe<uint64_t>(p + 56);
  Get(p + 64, &r.mr_enclave);
  Get(p + 128, &r.mr_signer);
  Get(p + 192, &r.config_id);
  r.isv_prod_id = LoadLe<uint16_t>(p + 256);
  r.isv_svn = LoadLe<uint16_t>(p + 258);
  r.config_svn = LoadLe<uint16_t>(p + 260);
  Get(p + 304, &r.isv_family_id);
  Get(p + 320, &r.report_data);
  Get(p + 384, &r.key_id);
  Get(p + 416, &r.mac);
  return r;
}

std::array<uint8_t, 512> KeyRequest::Serialize() const {
  std::array<uint8_t, 512> out{};
  uint8_t* p = out.data();
  StoreLe<uint16_t>(p, key_name);
  StoreLe<uint16_t>(p + 2, key_policy);
  StoreLe<uint16_t>(p + 4, isv_svn);
  StoreLe<uint16_t>(p + 6, config_svn);
  Put(p + 8, cpu_svn);
  StoreLe<uint64_t>(p + 24, attribute_mask.flags);
  StoreLe<uint64_t>(p + 32, attribute_mask.xfrm);
  Put(p + 40, key_id);
  StoreLe<uint32_t>(p + 72, misc_mask);
  return out;
}

StatusOr<KeyRequest> KeyRequest::Parse(ByteSpan bytes) {
  CONFIDE_RETURN_IF_ERROR(CheckSize(bytes, 512, "KEYREQUEST"));
  const uint8_t* p = bytes.data();
  KeyRequest k;
  k.key_name = LoadLe<uint16_t>(p);
  k.key_policy = LoadLe<uint16_t>(p + 2);
  k.isv_svn = LoadLe<uint16_t>(p + 4);
  k.config_svn = LoadLe<uint16_t>(p + 6);
  Get(p + 8, &k.cpu_svn);
  k.attribute_mask.flags = LoadLe<uint64_t>(p + 24);
  k.attribute_mask.xfrm = LoadLe<uint64_t>(p + 32);
  Get(p + 40, &k.key_id);
  k.misc_mask = LoadLe<uint32_t>(p + 72);
  return k;
}

}  // namespace confide::machine
