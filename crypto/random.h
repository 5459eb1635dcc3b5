// Random bytes from the operating system's CSPRNG (libsodium's randombytes_buf: getrandom(2) on
// Linux). Use these for nonces, ids and anything else that must be unpredictable; secrets that
// must stay in protected memory are made with SecretBytes<N>::Random() instead.
//
// Thread-safety: every function here may be called from any thread at any time.
#ifndef LIAISON_CRYPTO_RANDOM_H_
#define LIAISON_CRYPTO_RANDOM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace liaison::crypto {

// Fills all of `out` with random bytes. Never fails (libsodium aborts the process if the kernel
// CSPRNG is unusable). An empty span is allowed and does nothing.
void RandomBytes(std::span<uint8_t> out);

// N random bytes by value, e.g. a nonce or a message id.
template <size_t N>
std::array<uint8_t, N> RandomArray() {
  std::array<uint8_t, N> out;
  RandomBytes(out);
  return out;
}

// A message id that sorts by creation time: the milliseconds since the Unix epoch of
// `now_micros` in the first 6 bytes (big-endian, as in UUIDv7), then 10 random bytes. The relay
// keys its dedup table by (message id, recipient), so ids that increase append to that table
// instead of landing on a random page in every commit (docs/performance.md). Two ids made in
// the same millisecond collide with probability 2^-80. Whoever sees the id (the relay, the
// recipient) learns when it was made (docs/threat-model.md).
std::array<uint8_t, 16> NewMessageId(int64_t now_micros);

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_RANDOM_H_
