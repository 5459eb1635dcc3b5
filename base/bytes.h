// Byte strings and their hex form. Internal to liaison (not installed).
#ifndef LIAISON_BASE_BYTES_H_
#define LIAISON_BASE_BYTES_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "liaison/status.h"

namespace liaison {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Lower-case hex of `bytes`.
std::string ToHex(ByteView bytes);
// Parses hex (either case). kInvalidArgument on odd length or a non-hex character.
Result<Bytes> FromHex(std::string_view hex);
// Exactly N bytes from 2N hex characters; kInvalidArgument "<what> must be 2N hex characters"
// otherwise.
template <size_t N>
Result<std::array<uint8_t, N>> FromHexArray(std::string_view hex, std::string_view what) {
  auto bytes = FromHex(hex);
  if (!bytes.ok() || bytes->size() != N) {
    return Status::Error(Code::kInvalidArgument, std::string(what) + " must be " + std::to_string(2 * N) + " hex characters");
  }
  std::array<uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

// Big-endian fixed-width integers, for LMDB keys that must sort numerically.
void PutBigEndian64(uint64_t v, uint8_t* out);
uint64_t GetBigEndian64(const uint8_t* in);
void PutBigEndian32(uint32_t v, uint8_t* out);
uint32_t GetBigEndian32(const uint8_t* in);

}  // namespace liaison

#endif  // LIAISON_BASE_BYTES_H_
