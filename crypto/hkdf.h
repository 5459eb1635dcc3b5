// HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869). libsodium 1.0.18 has no HKDF, so both are
// built on crypto_auth_hmacsha256_init/update/final, which accept a key of any length (keys
// longer than 64 bytes are hashed first, exactly as RFC 2104 says).
//
// Thread-safety: both functions are pure and may be called from any thread.
#ifndef LIAISON_CRYPTO_HKDF_H_
#define LIAISON_CRYPTO_HKDF_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/bytes.h"
#include "liaison/status.h"

namespace liaison::crypto {

inline constexpr size_t kHmacSha256Bytes = 32;
// RFC 5869: L <= 255 * HashLen.
inline constexpr size_t kHkdfSha256MaxOutputBytes = 255 * kHmacSha256Bytes;

// HMAC-SHA256(key, message); `key` may have any length, including 0. Never fails. To check a
// received tag, compare with sodium_memcmp (constant time), never with == or memcmp.
std::array<uint8_t, 32> HmacSha256(ByteView key, ByteView message);

// RFC 5869 HKDF-SHA256 (extract then expand) into out. kInvalidArgument if out.size() > 255*32
// or out is empty, in which case `out` is left untouched. An empty salt means HashLen zero bytes,
// as the RFC says. Intermediate PRK is wiped. `out` may be secret memory (e.g. an AeadKey's
// data()); it must not overlap the inputs.
Status HkdfSha256(ByteView ikm, ByteView salt, ByteView info, std::span<uint8_t> out);

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_HKDF_H_
