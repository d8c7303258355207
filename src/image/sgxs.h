// sgxs.h — the SGXS enclave format (Fortanix's "SGX stream"): the measurement
// stream itself, so SHA-256 of an SGXS file is the enclave's MRENCLAVE.
//
// A stream is a sequence of 64-byte records (machine/measurement.h):
//
//   ECREATE  once, first         SSAFRAMESIZE, SIZE
//   EADD     per page            page offset, SECINFO
//   EEXTEND  per measured chunk  chunk offset, then 256 data bytes
//   UNMEASRD (ESGXS extension)   as EEXTEND, data loaded but not measured
//
// ParseSgxs accepts exactly the streams whose replay is bit-exact, so that
// MeasureSgxs(ParseSgxs(f)) == SHA-256(f) for every file without UNMEASRD
// records, and WriteSgxs(ParseSgxs(f)) == f for every canonical f. This is
// Fortanix's canonical form (doc/SGXS.md "Canonicality") except that EADDs may
// come in any order and the EEXTENDs of a page must be in ascending order:
//
//   * the stream is non-empty, its first record is ECREATE, and no other is;
//   * ECREATE: SIZE a power of two >= 0x2000 (SDM ECREATE), SSAFRAMESIZE >= 1,
//     reserved bytes zero;
//   * EADD: offset page aligned and < SIZE, not added before, SECINFO reserved
//     bits and bytes zero, page type PT_REG, PT_TCS or PIE's PT_SREG;
//   * EEXTEND / UNMEASRD: offset 256-byte aligned, inside the page of the
//     preceding EADD, each chunk at most once, chunks in ascending order, and
//     followed by its 256 data bytes;
//   * every other record is exactly 64 bytes; an unknown tag is an error;
//   * at most SgxsLimits::max_pages EADD records.
//
// Every error is InvalidArgumentError("SGXS offset 0x..: <rule>") naming the
// byte offset of the offending record in the stream.
//
// Usage:
//   CONFIDE_ASSIGN_OR_RETURN(Bytes file, ReadFile("enclave.sgxs"));
//   CONFIDE_ASSIGN_OR_RETURN(SgxsImage image, ParseSgxs(file));
//   crypto::Sha256Digest mrenclave = MeasureSgxs(image);
//
// Thread-safety: values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"
#include "machine/measurement.h"
#include "machine/secs.h"

namespace confide::image {

inline constexpr int kChunksPerPage = kPageSize / machine::kEextendChunkSize;  // 16
inline constexpr uint16_t kAllChunks = 0xffff;

// One EADDed page.
struct SgxsPage {
  uint64_t offset = 0;  // from BASEADDR; page aligned
  machine::SecInfo secinfo;
  std::array<uint8_t, kPageSize> data{};  // zero where the stream gives nothing
  uint16_t measured_chunks = 0;           // bit i: 256-byte chunk i was EEXTENDed

  bool operator==(const SgxsPage& o) const {
    return offset == o.offset && secinfo.flags == o.secinfo.flags && data == o.data &&
           measured_chunks == o.measured_chunks;
  }
};

struct SgxsImage {
  uint32_t ssa_frame_size = 1;  // in pages
  uint64_t size = 0;            // SECS.SIZE, a power of two
  std::vector<SgxsPage> pages;  // in stream (EADD) order

  bool operator==(const SgxsImage&) const = default;
};

// Parses and validates an SGXS / ESGXS stream (rules above). Does not keep a
// reference to `stream`.
// The parsed image holds 4 KiB per EADD record, 64 times the record's size,
// so a hostile stream could ask for far more memory than it occupies. The
// default cap, 2^20 pages (a 4 GiB enclave), is above anything confide lays
// out; past it ParseSgxs fails before allocating more.
struct SgxsLimits {
  uint64_t max_pages = uint64_t{1} << 20;
};
StatusOr<SgxsImage> ParseSgxs(ByteSpan stream, const SgxsLimits& limits = {});

// Validates `stream` by the same rules as ParseSgxs and returns its MRENCLAVE
// without keeping page contents: memory does not grow with the image.
// Equals MeasureSgxs(*ParseSgxs(stream)).
StatusOr<crypto::Sha256Digest> MeasureSgxsStream(ByteSpan stream, const SgxsLimits& limits = {});

// MRENCLAVE of `image`: replays ECREATE, then per page EADD and the EEXTENDs
// of its measured chunks in ascending order, through SHA-256.
crypto::Sha256Digest MeasureSgxs(const SgxsImage& image);

// The canonical stream of `image`: ECREATE, then per page in order its EADD
// and, chunk by chunk in ascending order, EEXTEND + data for a measured chunk
// or UNMEASRD + data for an unmeasured chunk that is not all zero.
// REQUIRES: `image` is valid (as ParseSgxs or the layout would produce it).
Bytes WriteSgxs(const SgxsImage& image);

}  // namespace confide::image
