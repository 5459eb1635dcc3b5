// Unkeyed and keyed hashing: SHA-256 (crypto_hash_sha256) where interoperability needs it, and
// BLAKE2b (crypto_generichash) for everything liaison defines itself (fingerprints, ids).
//
// Neither function is a password hash or a MAC for secret keys of arbitrary length; use
// HmacSha256 (crypto/hkdf.h) for that.
//
// Thread-safety: every function here is pure and may be called from any thread.
#ifndef LIAISON_CRYPTO_HASH_H_
#define LIAISON_CRYPTO_HASH_H_

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/bytes.h"

namespace liaison::crypto {

// SHA-256 of `data`. Never fails.
std::array<uint8_t, 32> Sha256(ByteView data);

namespace internal {
// Writes BLAKE2b(data, key) with output length out.size() into `out`. REQUIRES: out.size() in
// [16, 64] and key.size() either 0 or in [16, 64]; a violation aborts the process.
void GenericHashInto(std::span<uint8_t> out, ByteView data, ByteView key);
}  // namespace internal

// BLAKE2b of `data` with an N-byte output (crypto_generichash), optionally keyed.
// REQUIRES: key is empty or 16..64 bytes (crypto_generichash_KEYBYTES_MIN/MAX); any other key
// length is a programming error and aborts the process rather than return a non-hash.
// Note that BLAKE2b's output length is a parameter of the hash: GenericHash<16>(x) is not a
// prefix of GenericHash<32>(x).
template <size_t N>
std::array<uint8_t, N> GenericHash(ByteView data, ByteView key = {}) {
  static_assert(N >= crypto_generichash_BYTES_MIN && N <= crypto_generichash_BYTES_MAX,
                "BLAKE2b output length must be in [16, 64]");
  std::array<uint8_t, N> out;
  internal::GenericHashInto(out, data, key);
  return out;
}

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_HASH_H_
