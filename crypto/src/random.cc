#include "crypto/random.h"

#include <sodium.h>

namespace liaison::crypto {

void RandomBytes(std::span<uint8_t> out) {
  if (out.empty()) return;
  randombytes_buf(out.data(), out.size());
}

std::array<uint8_t, 16> NewMessageId(int64_t now_micros) {
  std::array<uint8_t, 16> id;
  const uint64_t millis = now_micros > 0 ? static_cast<uint64_t>(now_micros) / 1000 : 0;
  for (int i = 0; i < 6; ++i) id[static_cast<size_t>(i)] = static_cast<uint8_t>(millis >> (8 * (5 - i)));
  RandomBytes(std::span<uint8_t>(id).subspan(6));
  return id;
}

}  // namespace liaison::crypto
