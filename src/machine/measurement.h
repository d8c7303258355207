// measurement.h — the SGX measurement stream (MRENCLAVE), bit for bit, and
// EnTurbo's split measurement; MeasurementBuilder is the one implementation of
// "the stream" that the machine (EnclaveState) and software (signers, start
// policies) share, so the value a signer signs is the value EINIT computes.
//
// ECREATE, EADD and EEXTEND each feed a 64-byte record into SHA-256 (Intel SDM
// Vol. 3D §39.1 and the instruction pages: "TMP_UPDATE_FIELD"); EEXTEND's record
// is followed by the 256 measured bytes. EINIT finalizes the hash. The same
// stream, written to a file, is the SGXS format of Fortanix's SGX tools, so
// MRENCLAVE = SHA-256(SGXS file).
//
//   ECREATE  "ECREATE\0" | SSAFRAMESIZE u32 | SIZE u64     | 44 zero bytes
//   EADD     "EADD\0\0\0\0" | OFFSET u64 | SECINFO[0..48)
//   EEXTEND  "EEXTEND\0" | OFFSET u64  | 48 zero bytes  || 256 data bytes
//
// OFFSET is the page's (or chunk's) linear address minus BASEADDR.
//
// Cost-only mode (page_contents.h): the same records, but EEXTEND's record is
// NOT followed by the 256 data bytes (the machine has none). The value is
// therefore a different one from the full-mode MRENCLAVE of the same layout.
//
// Usage (a signer):
//   MeasurementBuilder b(PageContents::kFull, secs.measure_range_pages);
//   b.Ecreate(secs.ssa_frame_size, secs.size);
//   for (page : image) { b.Eadd(page.offset, page.secinfo);
//                        for (chunk : measured chunks) b.Eextend(offset, chunk); }
//   sigstruct.enclave_hash = b.Finish();
//
// Thread-safety: pure functions; a builder or shadow belongs to one thread at
// a time.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include <span>
#include <vector>

#include "base/bytes.h"
#include "crypto/sha256.h"
#include "machine/page_contents.h"
#include "machine/secs.h"

namespace confide::machine {

inline constexpr size_t kMeasurementRecordSize = 64;
inline constexpr size_t kEextendChunkSize = 256;
using MeasurementRecord = std::array<uint8_t, kMeasurementRecordSize>;

// Record tags as little-endian u64 (the first 8 bytes of a record).
inline constexpr uint64_t kTagEcreate = 0x0045544145524345ull;  // "ECREATE\0"
inline constexpr uint64_t kTagEadd = 0x0000000044444145ull;     // "EADD\0\0\0\0"
inline constexpr uint64_t kTagEextend = 0x00444E4554584545ull;  // "EEXTEND\0"
// Fortanix ESGXS extension: data loaded but not measured (not part of MRENCLAVE).
inline constexpr uint64_t kTagUnmeasured = 0x44525341454D4E55ull;  // "UNMEASRD"

MeasurementRecord EcreateRecord(uint32_t ssa_frame_size, uint64_t size);
MeasurementRecord EaddRecord(uint64_t offset, const SecInfo& secinfo);
MeasurementRecord EextendRecord(uint64_t offset);

// ---- Split measurement (EnTurbo, DAC'24) ---------------------------------
//
// SGX's MRENCLAVE is one SHA-256 chain, so it cannot be computed by several
// threads. EnTurbo measures in parallel: the record stream after ECREATE is
// cut into consecutive ranges, worker i hashes range i into its own shadow
// measurement (a "Shadow Measurement Cache" entry) whose first block names
// its range index (EnTurbo's HASH_DOM), and the merge hashes the ECREATE
// record and the shadow digests in range order. The result depends only on
// the stream and where it is cut, never on which worker finished first. It is
// a different value from MRENCLAVE: a signer signs whichever the enclave's
// start policy uses.
//
// The machine cuts by page offset (SECS.MEASURE_RANGE_PAGES, secs.h): range
// r holds the pages with (offset / 4096) / measure_range_pages == r.

// Most ranges an enclave may have: the Shadow Measurement Cache is one 4 KiB
// page (EnTurbo §4), 128 bytes per in-progress SHA-256 state. ECREATE refuses
// a SECS whose SIZE / (4096 * MEASURE_RANGE_PAGES) exceeds it.
inline constexpr uint64_t kMaxMeasureRanges = 32;

// The range of the page or chunk at `offset`. REQUIRES: range_pages != 0.
inline uint64_t MeasureRangeOf(uint64_t offset, uint32_t range_pages) {
  return offset / kPageSize / range_pages;
}

// One range's shadow measurement. In cost-only mode EEXTEND hashes only its
// record, as MeasurementBuilder does.
class ShadowMeasurement {
 public:
  explicit ShadowMeasurement(uint64_t range_index, PageContents contents = PageContents::kFull);
  void Eadd(uint64_t offset, const SecInfo& secinfo);
  // REQUIRES: chunk.size() == 256 in full mode; ignored in cost-only mode.
  void Eextend(uint64_t offset, ByteSpan chunk);
  // The shadow digest. The object is then spent (copy it to keep going).
  crypto::Sha256Digest Finish();

 private:
  crypto::Sha256 hash_;
  PageContents contents_;
};

// The split measurement: SHA-256 of a head (tag, number of ranges,
// `range_pages`), the ECREATE record and the shadow digests in range order.
// `range_pages` is the SECS's MEASURE_RANGE_PAGES, so the value binds where
// the stream was cut; 0 means ranges cut anywhere (no fixed size).
crypto::Sha256Digest MergeShadowMeasurements(const MeasurementRecord& ecreate,
                                             std::span<const crypto::Sha256Digest> ranges,
                                             uint32_t range_pages = 0);

// ---- The measurement stream ---------------------------------------------------
//
// MeasurementBuilder(contents, 0) computes MRENCLAVE (SGX);
// MeasurementBuilder(contents, R) computes EnTurbo's split measurement with
// ranges of R pages: EADD/EEXTEND go to the shadow of their page's range, and
// Finish merges every range up to the highest one touched (ranges in between
// that were never touched contribute their empty shadow). The split value
// depends on the order of the records within each range (as MRENCLAVE does
// on the order of the whole stream) but not on how ranges interleave, so a
// loader must issue each range's EADDs and EEXTENDs in the signer's order —
// e.g. page by page, EADD then its EEXTENDs — while ranges go to any core in
// any order.
//
// REQUIRES: Ecreate once, before any Eadd/Eextend.
class MeasurementBuilder {
 public:
  explicit MeasurementBuilder(PageContents contents = PageContents::kFull,
                              uint32_t measure_range_pages = 0);

  void Ecreate(uint32_t ssa_frame_size, uint64_t size);
  void Eadd(uint64_t offset, const SecInfo& secinfo);
  // REQUIRES: chunk.size() == 256 in full mode; in cost-only mode the chunk
  // is ignored (an empty span is fine).
  void Eextend(uint64_t offset, ByteSpan chunk);
  // The value EINIT compares with SIGSTRUCT.ENCLAVEHASH. Does not change the
  // builder: more records may follow.
  crypto::Sha256Digest Finish() const;

  PageContents contents() const { return contents_; }
  uint32_t measure_range_pages() const { return range_pages_; }
  bool split() const { return range_pages_ != 0; }

 private:
  ShadowMeasurement& RangeFor(uint64_t offset);

  PageContents contents_;
  uint32_t range_pages_;
  crypto::Sha256 hash_;                    // SGX: the one chain
  MeasurementRecord ecreate_{};            // EnTurbo: goes to the merge
  std::vector<ShadowMeasurement> ranges_;  // EnTurbo: by index, up to the highest touched
};

}  // namespace confide::machine
