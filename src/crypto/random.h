// random.h — cryptographically secure random bytes (OpenSSL's DRBG).
//
// Thread-safety: safe from any thread.
#pragma once

#include "base/bytes.h"
#include "base/status.h"

namespace confide::crypto {

// Fills `out`; UnavailableError if the DRBG fails (never returns weak bytes).
Status RandomBytes(MutableByteSpan out);

}  // namespace confide::crypto
