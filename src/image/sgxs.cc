#include "image/sgxs.h"

#include <algorithm>
#include <string>
#include <unordered_set>

#include <fmt/format.h>

namespace confide::image {
namespace {

using machine::kEextendChunkSize;
using machine::kMeasurementRecordSize;

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// The tag's 8 bytes in stream order, as hex and as printable text.
std::string DescribeTag(const uint8_t* rec) {
  std::string text;
  for (size_t i = 0; i < 8 && rec[i] != 0; ++i)
    text += (rec[i] >= 0x20 && rec[i] < 0x7f) ? static_cast<char>(rec[i]) : '?';
  return fmt::format("0x{} (\"{}\")", ToHex(ByteSpan(rec, 8)), text);
}

// Parser state; one record at a time.
class Parser {
 public:
  Parser(ByteSpan stream, const SgxsLimits& limits, bool keep_pages)
      : stream_(stream), limits_(limits), keep_pages_(keep_pages) {}

  // MRENCLAVE of what Run() parsed: the stream's records, UNMEASRD excluded.
  crypto::Sha256Digest Measurement() { return measurement_.Finish(); }

  StatusOr<SgxsImage> Run() {
    if (stream_.empty()) return Fail(0, "stream is empty (the first record must be ECREATE)");
    while (pos_ < stream_.size()) {
      const size_t left = stream_.size() - pos_;
      if (left < kMeasurementRecordSize)
        return Fail(pos_, fmt::format("truncated record: {} bytes left, a record is 64", left));
      const uint8_t* rec = stream_.data() + pos_;
      const uint64_t tag = LoadLe<uint64_t>(rec);
      if (pos_ == 0 && tag != machine::kTagEcreate)
        return Fail(0, "first record must be ECREATE, found tag " + DescribeTag(rec));
      size_t consumed = kMeasurementRecordSize;
      switch (tag) {
        case machine::kTagEcreate:
          CONFIDE_RETURN_IF_ERROR(Ecreate(rec));
          break;
        case machine::kTagEadd:
          CONFIDE_RETURN_IF_ERROR(Eadd(rec));
          break;
        case machine::kTagEextend:
          CONFIDE_RETURN_IF_ERROR(Extend(rec, /*measured=*/true));
          consumed += kEextendChunkSize;
          break;
        case machine::kTagUnmeasured:
          CONFIDE_RETURN_IF_ERROR(Extend(rec, /*measured=*/false));
          consumed += kEextendChunkSize;
          break;
        default:
          return Fail(pos_, "unknown record tag " + DescribeTag(rec));
      }
      pos_ += consumed;
    }
    return std::move(image_);
  }

 private:
  static tl::unexpected<Error> Fail(size_t pos, std::string_view rule) {
    return InvalidArgumentError(fmt::format("SGXS offset {:#x}: {}", pos, rule));
  }

  // ECREATE record: tag | SSAFRAMESIZE u32 @8 | SIZE u64 @12 | zeros @20.
  Status Ecreate(const uint8_t* rec) {
    if (pos_ != 0) return Fail(pos_, "second ECREATE record (exactly one is allowed, first)");
    image_.ssa_frame_size = LoadLe<uint32_t>(rec + 8);
    image_.size = LoadLe<uint64_t>(rec + 12);
    if (!AllZero(rec + 20, kMeasurementRecordSize - 20))
      return Fail(pos_, "ECREATE reserved bytes [20,64) must be zero");
    if (!IsPowerOfTwo(image_.size) || image_.size < 0x2000)
      return Fail(pos_,
                  fmt::format("ECREATE SIZE {:#x} is not a power of two >= 0x2000", image_.size));
    if (image_.ssa_frame_size < 1) return Fail(pos_, "ECREATE SSAFRAMESIZE must be at least 1");
    measurement_.Update(ByteSpan(rec, kMeasurementRecordSize));
    return OkStatus();
  }

  // EADD record: tag | OFFSET u64 @8 | SECINFO[0..48) @16.
  Status Eadd(const uint8_t* rec) {
    const uint64_t offset = LoadLe<uint64_t>(rec + 8);
    const machine::SecInfo secinfo{LoadLe<uint64_t>(rec + 16)};
    const std::string what = fmt::format("EADD at enclave offset {:#x}", offset);
    if (offset % kPageSize != 0) return Fail(pos_, what + " is not page aligned");
    if (offset >= image_.size)
      return Fail(pos_, fmt::format("{} is beyond SIZE {:#x}", what, image_.size));
    if (added_.count(offset)) return Fail(pos_, what + ": page already added");
    if (pages_ >= limits_.max_pages)
      return Fail(pos_, fmt::format("{}: more than {} EADD records (SgxsLimits::max_pages)", what,
                                    limits_.max_pages));
    if (secinfo.reserved_bits_set() || !AllZero(rec + 24, kMeasurementRecordSize - 24))
      return Fail(pos_, fmt::format("{}: SECINFO reserved bits must be zero (FLAGS {:#x})", what,
                                    secinfo.flags));
    const machine::PageType type = secinfo.page_type();
    if (type != machine::PageType::kReg && type != machine::PageType::kTcs &&
        type != machine::PageType::kSreg)
      return Fail(pos_, fmt::format("{}: page type {} ({}) cannot be added by EADD (PT_REG, "
                                    "PT_TCS or PT_SREG)",
                                    what, static_cast<int>(type), machine::PageTypeName(type)));
    added_.insert(offset);
    last_eadd_ = offset;
    ++pages_;
    measurement_.Update(ByteSpan(rec, kMeasurementRecordSize));
    touched_chunks_ = 0;
    last_chunk_ = -1;
    if (!keep_pages_) return OkStatus();
    SgxsPage page;
    page.offset = offset;
    page.secinfo = secinfo;
    image_.pages.push_back(page);
    return OkStatus();
  }

  // EEXTEND / UNMEASRD record: tag | OFFSET u64 @8 | zeros @16, then 256 bytes.
  Status Extend(const uint8_t* rec, bool measured) {
    const uint64_t offset = LoadLe<uint64_t>(rec + 8);
    const std::string what =
        fmt::format("{} at enclave offset {:#x}", measured ? "EEXTEND" : "UNMEASRD", offset);
    const size_t data_left = stream_.size() - pos_ - kMeasurementRecordSize;
    if (data_left < kEextendChunkSize)
      return Fail(pos_,
                  fmt::format("{} is truncated: needs 256 data bytes, {} left", what, data_left));
    if (!AllZero(rec + 16, kMeasurementRecordSize - 16))
      return Fail(pos_, what + ": reserved bytes [16,64) of the record must be zero");
    if (offset % kEextendChunkSize != 0) return Fail(pos_, what + " is not 256-byte aligned");
    const uint64_t page_offset = offset & ~uint64_t{kPageSize - 1};
    if (!added_.count(page_offset)) return Fail(pos_, what + " is not inside a page added by EADD");
    if (page_offset != last_eadd_)
      return Fail(pos_, fmt::format("{} is not in the page of the preceding EADD ({:#x})", what,
                                    last_eadd_));
    const int chunk = static_cast<int>((offset % kPageSize) / kEextendChunkSize);
    const uint16_t bit = static_cast<uint16_t>(1u << chunk);
    if (touched_chunks_ & bit) return Fail(pos_, what + ": chunk already extended");
    if (chunk < last_chunk_)
      return Fail(pos_, fmt::format("{}: chunks of a page must be in ascending order (follows "
                                    "chunk at {:#x})",
                                    what, last_eadd_ + last_chunk_ * kEextendChunkSize));
    touched_chunks_ |= bit;
    last_chunk_ = chunk;
    const uint8_t* data = rec + kMeasurementRecordSize;
    if (measured) measurement_.Update(ByteSpan(rec, kMeasurementRecordSize + kEextendChunkSize));
    if (!keep_pages_) return OkStatus();
    SgxsPage& page = image_.pages.back();
    if (measured) page.measured_chunks |= bit;
    std::copy_n(data, kEextendChunkSize, page.data.begin() + chunk * kEextendChunkSize);
    return OkStatus();
  }

  ByteSpan stream_;
  SgxsLimits limits_;
  size_t pos_ = 0;
  SgxsImage image_;
  const bool keep_pages_;  // false: validate and measure only
  crypto::Sha256 measurement_;
  std::unordered_set<uint64_t> added_;  // offsets of EADDed pages
  uint64_t last_eadd_ = 0;              // offset of the preceding EADD
  uint64_t pages_ = 0;
  uint16_t touched_chunks_ = 0;  // of the last page: EEXTEND or UNMEASRD
  int last_chunk_ = -1;
};

machine::MeasurementRecord UnmeasuredRecord(uint64_t offset) {
  machine::MeasurementRecord r = machine::EextendRecord(offset);
  StoreLe<uint64_t>(r.data(), machine::kTagUnmeasured);
  return r;
}

}  // namespace

StatusOr<SgxsImage> ParseSgxs(ByteSpan stream, const SgxsLimits& limits) {
  return Parser(stream, limits, /*keep_pages=*/true).Run();
}

StatusOr<crypto::Sha256Digest> MeasureSgxsStream(ByteSpan stream, const SgxsLimits& limits) {
  Parser parser(stream, limits, /*keep_pages=*/false);
  CONFIDE_RETURN_IF_ERROR(parser.Run());
  return parser.Measurement();
}

crypto::Sha256Digest MeasureSgxs(const SgxsImage& image) {
  // The machine's own stream (MeasurementBuilder), so image and EINIT agree.
  machine::MeasurementBuilder b;
  b.Ecreate(image.ssa_frame_size, image.size);
  for (const SgxsPage& page : image.pages) {
    b.Eadd(page.offset, page.secinfo);
    for (int i = 0; i < kChunksPerPage; ++i) {
      if (!(page.measured_chunks & (1u << i))) continue;
      b.Eextend(page.offset + i * kEextendChunkSize,
                ByteSpan(page.data.data() + i * kEextendChunkSize, kEextendChunkSize));
    }
  }
  return b.Finish();
}

Bytes WriteSgxs(const SgxsImage& image) {
  Bytes out;
  auto append = [&out](ByteSpan b) { out.insert(out.end(), b.begin(), b.end()); };
  append(machine::EcreateRecord(image.ssa_frame_size, image.size));
  for (const SgxsPage& page : image.pages) {
    append(machine::EaddRecord(page.offset, page.secinfo));
    for (int i = 0; i < kChunksPerPage; ++i) {
      const uint64_t offset = page.offset + i * kEextendChunkSize;
      const uint8_t* data = page.data.data() + i * kEextendChunkSize;
      if (page.measured_chunks & (1u << i)) {
        append(machine::EextendRecord(offset));
      } else if (!AllZero(data, kEextendChunkSize)) {
        append(UnmeasuredRecord(offset));
      } else {
        continue;
      }
      append(ByteSpan(data, kEextendChunkSize));
    }
  }
  return out;
}

}  // namespace confide::image
