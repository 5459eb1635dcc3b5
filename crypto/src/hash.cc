#include "crypto/hash.h"

#include <cstdio>
#include <cstdlib>

namespace liaison::crypto {

std::array<uint8_t, 32> Sha256(ByteView data) {
  static_assert(crypto_hash_sha256_BYTES == 32);
  std::array<uint8_t, 32> out;
  crypto_hash_sha256(out.data(), data.data(), data.size());
  return out;
}

namespace internal {

void GenericHashInto(std::span<uint8_t> out, ByteView data, ByteView key) {
  const bool key_ok = key.empty() || (key.size() >= crypto_generichash_KEYBYTES_MIN &&
                                      key.size() <= crypto_generichash_KEYBYTES_MAX);
  const bool out_ok =
      out.size() >= crypto_generichash_BYTES_MIN && out.size() <= crypto_generichash_BYTES_MAX;
  if (!key_ok || !out_ok ||
      crypto_generichash(out.data(), out.size(), data.data(), data.size(),
                         key.empty() ? nullptr : key.data(), key.size()) != 0) {
    std::fprintf(stderr, "liaison: GenericHash called with a key of %zu bytes (need 0 or 16..64)\n",
                 key.size());
    std::abort();
  }
}

}  // namespace internal
}  // namespace liaison::crypto
