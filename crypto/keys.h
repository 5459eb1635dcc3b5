// Long-term key pairs: Ed25519 for signing (crypto_sign_*) and X25519 for Diffie-Hellman
// (crypto_scalarmult_*). Public halves are plain arrays that may be copied, stored, logged as hex
// and sent; secret halves are SecretBytes and never leave protected memory by accident.
//
// The signing secret key uses libsodium's 64-byte layout: seed (32) || public key (32).
//
// Thread-safety: the static constructors may be called from any thread. A key pair is a value:
// const use from several threads is safe, anything else needs external synchronization.
#ifndef LIAISON_CRYPTO_KEYS_H_
#define LIAISON_CRYPTO_KEYS_H_

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "crypto/secret.h"
#include "liaison/status.h"

namespace liaison::crypto {

inline constexpr size_t kSignPublicKeyBytes = crypto_sign_PUBLICKEYBYTES;
inline constexpr size_t kSignSecretKeyBytes = crypto_sign_SECRETKEYBYTES;
inline constexpr size_t kSignatureBytes = crypto_sign_BYTES;
inline constexpr size_t kDhPublicKeyBytes = crypto_scalarmult_BYTES;
inline constexpr size_t kDhSecretKeyBytes = crypto_scalarmult_SCALARBYTES;

// The wire formats (crypto/envelope.h, docs/protocol.md) hard-code these sizes; a libsodium whose
// default primitives differ must not build.
static_assert(kSignPublicKeyBytes == 32, "crypto_sign must be Ed25519");
static_assert(kSignSecretKeyBytes == 64, "crypto_sign must be Ed25519");
static_assert(kSignatureBytes == 64, "crypto_sign must be Ed25519");
static_assert(kDhPublicKeyBytes == 32, "crypto_scalarmult must be X25519");
static_assert(kDhSecretKeyBytes == 32, "crypto_scalarmult must be X25519");

using SignPublicKey = std::array<uint8_t, kSignPublicKeyBytes>;
using DhPublicKey = std::array<uint8_t, kDhPublicKeyBytes>;
using Signature = std::array<uint8_t, kSignatureBytes>;

// An Ed25519 key pair. Move-only (the secret half is).
struct SigningKeyPair {
  SignPublicKey public_key;
  SecretBytes<kSignSecretKeyBytes> secret_key;

  // A fresh random key pair (crypto_sign_keypair). Throws std::bad_alloc only if sodium_malloc
  // fails.
  static SigningKeyPair Generate();

  // Rebuilds a pair from its 64-byte libsodium secret key (the public key is its second half).
  // Takes ownership of `secret`. kInvalidArgument if the second half is not the public key of the
  // seed in the first half (a corrupted or hand-assembled key); `secret` is wiped either way.
  static Result<SigningKeyPair> FromSecret(SecretBytes<kSignSecretKeyBytes> secret);
};

// An X25519 key pair. Move-only (the secret half is).
struct DhKeyPair {
  DhPublicKey public_key;
  SecretBytes<kDhSecretKeyBytes> secret_key;

  // A fresh random key pair. Throws std::bad_alloc only if sodium_malloc fails.
  static DhKeyPair Generate();

  // Takes ownership of `secret` and computes public = X25519(secret, basepoint)
  // (crypto_scalarmult_base, which clamps the scalar). Any 32 bytes are a usable secret.
  static DhKeyPair FromSecret(SecretBytes<kDhSecretKeyBytes> secret);
};

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_KEYS_H_
