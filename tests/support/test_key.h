// test_key.h — fixed RSA-3072 (e = 3) signing keys for tests, fuzzers and
// benchmarks, so that they do not spend a second generating one per process.
//
// TEST ONLY: the private keys are in this repository and sign nothing real.
//
// Thread-safety: safe from any thread (function-local statics, parsed once).
#pragma once

#include "crypto/rsa.h"

namespace confide::testing {

// The key tests sign with.
const crypto::Rsa3072PrivateKey& TestSigningKey();
// A second, different key, for tests that need another signer.
const crypto::Rsa3072PrivateKey& OtherTestSigningKey();

}  // namespace confide::testing
