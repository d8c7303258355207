// page_contents.h — whether the machine models the bytes of EPC pages.
//
// In cost-only mode the machine runs the same instruction handlers with the
// same checks, error codes, cycle charges, counters and page events as in
// full mode, but never reads or writes the bytes of EPC pages other than VA
// pages (whose version slots are the anti-replay state EWB/ELDU depend on).
// A discrete-event simulator that starts thousands of enclaves of hundreds of
// MiB each uses it: page instructions then cost well under a microsecond of
// real time and the EPC mapping stays untouched, so it costs no memory.
//
// The measurement follows the same rule (measurement.h): in cost-only mode
// EEXTEND hashes its 64-byte record but not the 256 data bytes, so a signer
// computes the value to sign from the image layout alone.
//
// Thread-safety: a value.
#pragma once

#include <cstdint>

namespace confide::machine {

enum class PageContents : uint8_t {
  kFull,      // page bytes are copied, zeroed, encrypted and measured
  kCostOnly,  // only VA pages hold bytes; everything else is accounting
};

}  // namespace confide::machine
