// SecretBytes<N>: a fixed-size secret (private key, shared secret, derived key) that lives in
// memory from sodium_malloc, never in an ordinary heap block or std::string.
//
// Secrets of up to 64 bytes (keys, DH outputs, chain keys: nearly all of them) take a 64-byte
// slot of a shared arena that was itself sodium_malloc'd: placed between guard pages and
// mlock'd (failure to lock is ignored, as libsodium does). Larger secrets get their own
// sodium_malloc mapping. Either way the memory is zero-filled on creation and wiped on
// destruction (sodium_memzero, or sodium_free's own wipe). Slots are recycled, never returned
// to the system: arenas grow to the peak number of live small secrets. The arena trades the
// per-secret guard pages for cost: a sodium_malloc is an mmap, mprotect and mlock (about 20 µs
// here), a slot a mutex and a list pop (crypto suite and per-message costs in
// docs/reliability.md and bench/). The type is move-only; copies are made only through the explicit Clone(). It is
// compared only in constant time (Equals), and has no operator<<, no operator== and no conversion
// to a string, so that a secret cannot reach a log line or a Status message by accident.
//
// Cost: a large (> 64 bytes) instance holds its own mapping of about four pages of address space.
//
// Thread-safety: distinct instances may be used from different threads freely. Const methods of
// one instance may be called concurrently; anything that writes (data(), assignment, moving from
// it) needs external synchronization, as for any value type.
#ifndef LIAISON_CRYPTO_SECRET_H_
#define LIAISON_CRYPTO_SECRET_H_

#include <sodium.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <utility>

#include "base/bytes.h"
#include "liaison/status.h"

namespace liaison::crypto {

namespace internal {
// Calls sodium_init() once per process (thread-safe, idempotent). sodium_malloc needs it; the
// rest of libsodium is also faster after it. Aborts the process if libsodium cannot initialise,
// because no cryptography can be trusted after that.
void EnsureSodiumInitialized();

// Secret memory of n bytes (zero-filled), from an arena slot if n <= kSecretSlotBytes, else from
// sodium_malloc; nullptr when out of memory. Thread-safe.
inline constexpr size_t kSecretSlotBytes = 64;
void* AllocateSecret(size_t n);
// Wipes and releases memory from AllocateSecret(n) with the same n. Thread-safe.
void FreeSecret(void* p, size_t n) noexcept;
}  // namespace internal

template <size_t N>
class SecretBytes {
  static_assert(N > 0, "a secret has at least one byte");

 public:
  // A secret of N zero bytes. Throws std::bad_alloc if sodium_malloc fails (out of memory or out
  // of address-space mappings); this is the only exception the crypto module lets through.
  SecretBytes() {
    data_ = static_cast<uint8_t*>(internal::AllocateSecret(N));
    if (data_ == nullptr) throw std::bad_alloc();
  }

  // N bytes from the operating system's CSPRNG (randombytes_buf). Thread-safe.
  [[nodiscard]] static SecretBytes Random() {
    SecretBytes s;
    randombytes_buf(s.data_, N);
    return s;
  }

  // Copies `bytes` into a new secret. kInvalidArgument if bytes.size() != N. The caller still
  // owns `bytes` and is responsible for wiping it.
  [[nodiscard]] static Result<SecretBytes> FromBytes(ByteView bytes) {
    if (bytes.size() != N) {
      return Status::Error(Code::kInvalidArgument, "secret must be " + std::to_string(N) +
                                                       " bytes, got " +
                                                       std::to_string(bytes.size()));
    }
    SecretBytes s;
    std::memcpy(s.data_, bytes.data(), N);
    return s;
  }

  // Moving transfers the memory; the moved-from object holds nothing and may only be destroyed
  // or assigned to. Calling data(), view(), Equals() or Clone() on it is a bug (asserted).
  SecretBytes(SecretBytes&& other) noexcept : data_(std::exchange(other.data_, nullptr)) {}
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      Release();
      data_ = std::exchange(other.data_, nullptr);
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  // Wipes and frees the memory.
  ~SecretBytes() { Release(); }

  // The N bytes. The pointer stays valid until this object is destroyed, moved from or assigned
  // to. REQUIRES: not moved-from.
  uint8_t* data() {
    assert(data_ != nullptr && "use of a moved-from SecretBytes");
    return data_;
  }
  const uint8_t* data() const {
    assert(data_ != nullptr && "use of a moved-from SecretBytes");
    return data_;
  }
  static constexpr size_t size() { return N; }

  // A read-only view of the N bytes, with the same lifetime as data().
  std::span<const uint8_t, N> view() const { return std::span<const uint8_t, N>(data(), N); }

  // Constant-time comparison (sodium_memcmp). REQUIRES: neither side moved-from.
  bool Equals(const SecretBytes& other) const {
    return sodium_memcmp(data(), other.data(), N) == 0;
  }

  // An independent copy in its own sodium_malloc'd memory. Throws std::bad_alloc like the
  // constructor. REQUIRES: not moved-from.
  [[nodiscard]] SecretBytes Clone() const {
    SecretBytes copy;
    std::memcpy(copy.data_, data(), N);
    return copy;
  }

 private:
  void Release() noexcept {
    if (data_ != nullptr) {
      internal::FreeSecret(data_, N);
      data_ = nullptr;
    }
  }

  uint8_t* data_ = nullptr;
};

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_SECRET_H_
