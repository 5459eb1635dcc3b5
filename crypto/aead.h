// Authenticated encryption with associated data: ChaCha20-Poly1305 in its IETF form (RFC 8439,
// 12-byte nonce) and XChaCha20-Poly1305 (24-byte nonce), via libsodium's
// crypto_aead_{x,}chacha20poly1305_ietf_*.
//
// Prefer XChaCha: its 24-byte nonce may be chosen at random for every message. With the 12-byte
// IETF nonce, random nonces are only safe for a small number of messages per key; use it with a
// counter, or where a peer's protocol demands it.
//
// Ciphertexts are ciphertext || 16-byte tag. Open verifies the tag before it decrypts anything,
// and on any failure returns no plaintext at all.
//
// Thread-safety: every function is pure and may be called from any thread; a key may be shared
// between threads for reading.
#ifndef LIAISON_CRYPTO_AEAD_H_
#define LIAISON_CRYPTO_AEAD_H_

#include <sodium.h>

#include <cstddef>

#include "base/bytes.h"
#include "crypto/secret.h"
#include "liaison/status.h"

namespace liaison::crypto {

inline constexpr size_t kAeadKeyBytes = 32, kAeadTagBytes = 16, kXNonceBytes = 24,
                        kIetfNonceBytes = 12;
static_assert(kAeadKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kAeadKeyBytes == crypto_aead_chacha20poly1305_ietf_KEYBYTES);
static_assert(kAeadTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kAeadTagBytes == crypto_aead_chacha20poly1305_ietf_ABYTES);
static_assert(kXNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kIetfNonceBytes == crypto_aead_chacha20poly1305_ietf_NPUBBYTES);

using AeadKey = SecretBytes<kAeadKeyBytes>;

// XChaCha20-Poly1305 IETF. Output = ciphertext||tag (plaintext.size() + 16 bytes), owned by the
// caller. kInvalidArgument on wrong nonce size (REQUIRES nonce.size() == kXNonceBytes) or a
// plaintext above libsodium's limit. A (key, nonce) pair must never be used for two messages.
Result<Bytes> XChaChaSeal(const AeadKey& key, ByteView nonce, ByteView plaintext, ByteView ad);

// Inverse of XChaChaSeal: the plaintext, owned by the caller. kUnauthenticated on any tag/length
// failure (ciphertext shorter than the tag, wrong key, nonce, ad or any modified byte); never
// writes plaintext before the tag checks. kInvalidArgument on wrong nonce size, as for Seal.
Result<Bytes> XChaChaOpen(const AeadKey& key, ByteView nonce, ByteView ciphertext, ByteView ad);

// ChaCha20-Poly1305 IETF (12-byte nonce, REQUIRES nonce.size() == kIetfNonceBytes), same
// contracts as XChaChaSeal / XChaChaOpen.
Result<Bytes> ChaChaIetfSeal(const AeadKey& key, ByteView nonce, ByteView plaintext, ByteView ad);
Result<Bytes> ChaChaIetfOpen(const AeadKey& key, ByteView nonce, ByteView ciphertext, ByteView ad);

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_AEAD_H_
