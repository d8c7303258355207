// seal.h — sealing the data that moves between the enclaves of a transfer
// chain (Clemmys: A encrypts its output, the host moves ciphertext, B
// decrypts; image/enclave_abi.h, CONFIDE_WINDOW_SEALED_*).
//
// Format: nonce (CONFIDE_SEAL_NONCE_BYTES) | ciphertext | tag
// (CONFIDE_SEAL_TAG_BYTES), AES-256-GCM (libsodium). The key comes from
// EGETKEY(SEAL, MRSIGNER policy, KEYID = the chain's key_id), widened to 256
// bits with BLAKE2b: every enclave of the same signer on the same machine
// derives it, and nothing else can, so the host carries bytes it can neither
// read nor change unnoticed. A different key_id per chain keeps one chain's
// hand-off out of another's.
//
// Thread-safety: libsodium's (sodium_init is idempotent).
#ifndef CONFIDE_RUNTIME_SEAL_H_
#define CONFIDE_RUNTIME_SEAL_H_

#include <stddef.h>
#include <stdint.h>

#include "image/enclave_abi.h"

// Both return NULL and set *out to a malloc()ed buffer of *out_len bytes, or
// return a message naming what failed (no output then).
const char* confide_seal(const uint8_t key_id[32], const uint8_t* in, size_t in_len, uint8_t** out,
                         size_t* out_len);
const char* confide_unseal(const uint8_t key_id[32], const uint8_t* in, size_t in_len,
                           uint8_t** out, size_t* out_len);

#endif  // CONFIDE_RUNTIME_SEAL_H_
