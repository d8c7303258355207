// file.h — whole-file reads and crash-safe writes.
//
// WriteFileAtomically writes to a temporary file beside the target and renames
// it into place, so a reader never sees a half-written file and a failed write
// leaves the old file untouched.
//
// Thread-safety: pure functions over the file system.
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/status.h"

namespace confide {

// Reads all of `path`; "-" reads standard input.
StatusOr<Bytes> ReadFile(const std::string& path);
// Writes `data` to `path` atomically (temp + fsync + rename); `mode` as for open(2).
Status WriteFileAtomically(const std::string& path, ByteSpan data, unsigned mode = 0644);

}  // namespace confide
