// measurement.h — the SGX measurement stream (MRENCLAVE), bit for bit.
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
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include <span>

#include "base/bytes.h"
#include "crypto/sha256.h"
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
// Thread-safety: a ShadowMeasurement belongs to one worker at a time.
class ShadowMeasurement {
 public:
  explicit ShadowMeasurement(uint32_t range_index);
  void Eadd(uint64_t offset, const SecInfo& secinfo);
  void Eextend(uint64_t offset, ByteSpan chunk);  // REQUIRES: chunk.size() == 256
  crypto::Sha256Digest Finish();

 private:
  crypto::Sha256 hash_;
};

// The split measurement: SHA-256 of a tag, the ECREATE record and the shadow
// digests in range order.
crypto::Sha256Digest MergeShadowMeasurements(const MeasurementRecord& ecreate,
                                             std::span<const crypto::Sha256Digest> ranges);

}  // namespace confide::machine
