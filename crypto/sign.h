// Ed25519 detached signatures (crypto_sign_detached / crypto_sign_verify_detached).
//
// Verification is libsodium's strict one: it rejects non-canonical S, small-order R and
// small-order or non-canonical public keys, so a signature has one valid encoding.
//
// Thread-safety: both functions are pure and may be called from any thread.
#ifndef LIAISON_CRYPTO_SIGN_H_
#define LIAISON_CRYPTO_SIGN_H_

#include "base/bytes.h"
#include "crypto/keys.h"
#include "liaison/status.h"

namespace liaison::crypto {

// Signs `message` with a 64-byte libsodium Ed25519 secret key (seed || public key). Deterministic:
// the same key and message always give the same signature. Never fails.
Signature SignDetached(const SecretBytes<kSignSecretKeyBytes>& secret_key, ByteView message);

// OK if `signature` is a valid Ed25519 signature of `message` under `public_key`.
// kUnauthenticated for any failure, including a signature of the wrong length and an invalid
// public key; the failures are deliberately not distinguished.
Status VerifyDetached(const SignPublicKey& public_key, ByteView message, ByteView signature);

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_SIGN_H_
