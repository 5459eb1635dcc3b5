// WipedBytes: a heap byte buffer for plaintext and other sensitive transient data, wiped with
// sodium_memzero before its memory is released. Callers reserve the final size before appending
// so that the vector never reallocates and leaves an unwiped copy behind.
// Thread-safety: a value; no internal synchronization.
#ifndef LIAISON_CRYPTO_WIPED_BYTES_H_
#define LIAISON_CRYPTO_WIPED_BYTES_H_

#include <sodium.h>

#include <string_view>
#include <utility>

#include "base/bytes.h"

namespace liaison::crypto {

class WipedBytes {
 public:
  WipedBytes() = default;
  explicit WipedBytes(Bytes bytes) : bytes_(std::move(bytes)) {}
  WipedBytes(const WipedBytes&) = delete;
  WipedBytes& operator=(const WipedBytes&) = delete;
  WipedBytes(WipedBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.bytes_.clear(); }
  WipedBytes& operator=(WipedBytes&&) = delete;
  ~WipedBytes() {
    if (!bytes_.empty()) sodium_memzero(bytes_.data(), bytes_.size());
  }
  Bytes& bytes() { return bytes_; }
  ByteView view() const { return bytes_; }

  void Append(ByteView b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  void Append(std::string_view s) { Append(AsBytes(s)); }
  void AppendU8(uint8_t v) { bytes_.push_back(v); }
  void AppendU32Be(uint32_t v) {
    const uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    Append(ByteView(b, 4));
  }

 private:
  Bytes bytes_;
};

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_WIPED_BYTES_H_
