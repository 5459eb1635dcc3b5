// X25519 Diffie-Hellman (crypto_scalarmult, RFC 7748).
//
// The raw shared secret is a curve point, not a uniformly random key: always pass it through a
// KDF (HkdfSha256 in crypto/hkdf.h) together with both public keys before using it as a key.
//
// Thread-safety: the function is pure and may be called from any thread.
#ifndef LIAISON_CRYPTO_X25519_H_
#define LIAISON_CRYPTO_X25519_H_

#include "base/bytes.h"
#include "crypto/keys.h"
#include "crypto/secret.h"
#include "liaison/status.h"

namespace liaison::crypto {

// Shared secret X25519(secret, peer). kInvalidArgument if peer.size()!=32; kUnauthenticated if
// the result is all zeros (low-order peer key, libsodium returns -1). libsodium 1.0.18 also
// rejects the known small-order encodings up front, with the same kUnauthenticated. The result
// is owned by the caller and wiped when it is destroyed.
Result<SecretBytes<32>> X25519(const SecretBytes<kDhSecretKeyBytes>& secret, ByteView peer_public);

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_X25519_H_
