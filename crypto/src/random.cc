#include "crypto/random.h"

#include <sodium.h>

namespace liaison::crypto {

void RandomBytes(std::span<uint8_t> out) {
  if (out.empty()) return;
  randombytes_buf(out.data(), out.size());
}

}  // namespace liaison::crypto
