#include "crypto/hkdf.h"

#include <sodium.h>

#include <algorithm>
#include <string>

#include "crypto/secret.h"

namespace liaison::crypto {
namespace {

static_assert(crypto_auth_hmacsha256_BYTES == kHmacSha256Bytes);

// HMAC-SHA256 over the concatenation of up to three parts, written to `out` (32 bytes). The
// hashing state holds key material and is wiped before returning.
void Hmac(ByteView key, ByteView part1, ByteView part2, ByteView part3, uint8_t* out) {
  // The key pointer is declared nonnull even when keylen is 0; an empty span may hold null.
  static const uint8_t kNoKey[1] = {0};
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.empty() ? kNoKey : key.data(), key.size());
  crypto_auth_hmacsha256_update(&state, part1.data(), part1.size());
  crypto_auth_hmacsha256_update(&state, part2.data(), part2.size());
  crypto_auth_hmacsha256_update(&state, part3.data(), part3.size());
  crypto_auth_hmacsha256_final(&state, out);
  sodium_memzero(&state, sizeof state);
}

}  // namespace

std::array<uint8_t, 32> HmacSha256(ByteView key, ByteView message) {
  std::array<uint8_t, 32> out;
  Hmac(key, message, {}, {}, out.data());
  return out;
}

Status HkdfSha256(ByteView ikm, ByteView salt, ByteView info, std::span<uint8_t> out) {
  if (out.empty() || out.size() > kHkdfSha256MaxOutputBytes) {
    return Status::Error(Code::kInvalidArgument,
                         "HKDF-SHA256 output must be 1.." +
                             std::to_string(kHkdfSha256MaxOutputBytes) + " bytes, asked for " +
                             std::to_string(out.size()));
  }
  // Extract: PRK = HMAC(salt, IKM). HMAC zero-pads its key, so an empty salt is the same as
  // HashLen zero bytes. PRK and the blocks are per-call temporaries: on the stack and wiped
  // before returning (sodium_malloc per call would cost far more than the hashing).
  uint8_t prk[kHmacSha256Bytes];
  Hmac(salt, ikm, {}, {}, prk);
  // Expand: T(i) = HMAC(PRK, T(i-1) | info | i), T(0) empty; OKM = first L bytes of T(1)|T(2)|...
  uint8_t block[kHmacSha256Bytes];
  size_t written = 0;
  for (uint8_t counter = 1; written < out.size(); ++counter) {
    const ByteView previous = counter == 1 ? ByteView() : ByteView(block, kHmacSha256Bytes);
    const uint8_t counter_byte[1] = {counter};
    Hmac(ByteView(prk, sizeof prk), previous, info, counter_byte, block);
    const size_t n = std::min(kHmacSha256Bytes, out.size() - written);
    std::copy_n(block, n, out.data() + written);
    written += n;
  }
  sodium_memzero(prk, sizeof prk);
  sodium_memzero(block, sizeof block);
  return Status::Ok();
}

}  // namespace liaison::crypto
