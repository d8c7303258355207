#include "image/plugin_image.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "image/enclave_abi.h"
#include "image/signer.h"

namespace confide::image {
namespace {

constexpr uint64_t kMagic = 0x4c434e4544464e43ull;  // "CNFDENCL"
constexpr uint64_t kVersion = 1;
constexpr size_t kHeader = 24;

SgxsPage ReadOnlyPage(uint64_t offset) {
  SgxsPage p;
  p.offset = offset;
  p.secinfo = machine::SecInfo::Make(machine::PageType::kSreg, machine::secinfo::kR);
  p.measured_chunks = kAllChunks;
  return p;
}

SgxsImage BlobImage(uint64_t magic, uint64_t kind, const std::string& name, ByteSpan bytes) {
  SgxsImage img;
  SgxsPage header = ReadOnlyPage(0);
  confide_blob_header h{};
  h.magic = magic;
  h.length = bytes.size();
  h.kind = kind;
  std::memcpy(h.name, name.data(), std::min(name.size(), sizeof h.name - 1));
  std::memcpy(header.data.data(), &h, sizeof h);
  img.pages.push_back(header);
  for (uint64_t off = 0; off < bytes.size(); off += kPageSize) {
    SgxsPage p = ReadOnlyPage(CONFIDE_BLOB_DATA + off);
    std::memcpy(p.data.data(), bytes.data() + off,
                std::min<uint64_t>(kPageSize, bytes.size() - off));
    img.pages.push_back(p);
  }
  img.size = std::bit_ceil(std::max<uint64_t>(img.pages.size() * kPageSize, 2 * kPageSize));
  return img;
}

}  // namespace

StatusOr<SgxsImage> LuaFunctionImage(const std::string& name, ByteSpan source) {
  if (source.empty()) return InvalidArgumentError(fmt::format("function {}: empty source", name));
  if (source.size() > CONFIDE_FUNCTION_SLOT_SIZE / 2) {
    return InvalidArgumentError(
        fmt::format("function {}: {} bytes of source is more than the {} allowed", name,
                    source.size(), CONFIDE_FUNCTION_SLOT_SIZE / 2));
  }
  return BlobImage(CONFIDE_FUNCTION_MAGIC, CONFIDE_FUNCTION_LUA_SOURCE, name, source);
}

StatusOr<SgxsImage> DataImage(const std::string& name, ByteSpan bytes) {
  if (bytes.size() > CONFIDE_DATA_SLOT_SIZE - CONFIDE_BLOB_DATA) {
    return InvalidArgumentError(fmt::format("data {}: {} bytes is more than the {} the slot holds",
                                            name, bytes.size(),
                                            CONFIDE_DATA_SLOT_SIZE - CONFIDE_BLOB_DATA));
  }
  return BlobImage(CONFIDE_DATA_MAGIC, 0, name, bytes);
}

Status CheckFunctionImage(const SgxsImage& image) {
  if (image.pages.empty() || image.pages[0].offset != 0) {
    return InvalidArgumentError("not a function plugin: no header page at offset 0");
  }
  confide_blob_header h;
  std::memcpy(&h, image.pages[0].data.data(), sizeof h);
  if (h.magic != CONFIDE_FUNCTION_MAGIC) {
    return InvalidArgumentError("not a function plugin: the header page has no function magic");
  }
  if (h.kind != CONFIDE_FUNCTION_LUA_SOURCE) {
    return InvalidArgumentError(fmt::format("function kind {} is not Lua source", h.kind));
  }
  if (image.size > CONFIDE_FUNCTION_SLOT_SIZE || h.length > image.size) {
    return InvalidArgumentError("the function plugin does not fit the function slot");
  }
  for (const SgxsPage& p : image.pages) {
    if (p.secinfo.page_type() != machine::PageType::kSreg ||
        p.secinfo.perms() != machine::secinfo::kR) {
      return InvalidArgumentError(fmt::format(
          "page at {:#x} is not a read-only PT_SREG page: a plugin shares every page", p.offset));
    }
  }
  return OkStatus();
}

bool IsWholeEnclave(const SgxsImage& image) {
  return std::any_of(image.pages.begin(), image.pages.end(), [](const SgxsPage& p) {
    return p.secinfo.page_type() == machine::PageType::kTcs;
  });
}

Bytes WriteEnclaveFile(const SgxsImage& image, const machine::Sigstruct& sigstruct) {
  const Bytes sgxs = WriteSgxs(image);
  const auto sig = sigstruct.Serialize();
  Bytes out(kHeader + sgxs.size() + sig.size());
  StoreLe<uint64_t>(out.data(), kMagic);
  StoreLe<uint64_t>(out.data() + 8, kVersion);
  StoreLe<uint64_t>(out.data() + 16, sgxs.size());
  std::memcpy(out.data() + kHeader, sgxs.data(), sgxs.size());
  std::memcpy(out.data() + kHeader + sgxs.size(), sig.data(), sig.size());
  return out;
}

StatusOr<EnclaveFile> ReadEnclaveFile(ByteSpan bytes) {
  if (bytes.size() < kHeader || LoadLe<uint64_t>(bytes.data()) != kMagic) {
    return InvalidArgumentError("not a .enclave file (no CNFDENCL magic at offset 0)");
  }
  if (const uint64_t v = LoadLe<uint64_t>(bytes.data() + 8); v != kVersion) {
    return InvalidArgumentError(
        fmt::format(".enclave version {} (this confide reads {})", v, kVersion));
  }
  const uint64_t n = LoadLe<uint64_t>(bytes.data() + 16);
  if (n > bytes.size() || bytes.size() - kHeader < n ||
      bytes.size() - kHeader - n != machine::kSigstructSize) {
    return InvalidArgumentError(fmt::format(
        ".enclave of {} bytes does not hold a {}-byte SGXS stream and a {}-byte SIGSTRUCT",
        bytes.size(), n, machine::kSigstructSize));
  }
  EnclaveFile f;
  CONFIDE_ASSIGN_OR_RETURN(f.image, ParseSgxs(bytes.subspan(kHeader, n)));
  CONFIDE_ASSIGN_OR_RETURN(f.sigstruct, machine::Sigstruct::Parse(bytes.subspan(kHeader + n)));
  const crypto::Sha256Digest measured = MeasureSgxs(f.image);
  CONFIDE_RETURN_IF_ERROR(VerifyEnclaveSignature(f.sigstruct, &measured));
  return f;
}

}  // namespace confide::image
