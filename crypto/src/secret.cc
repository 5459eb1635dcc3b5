#include "crypto/secret.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace liaison::crypto::internal {
namespace {

// One arena: 1,024 slots of 64 bytes in one sodium_malloc'd block (64 KiB between guard pages).
constexpr size_t kSlotsPerArena = 1024;

class SlotPool {
 public:
  void* Take() {
    std::lock_guard lock(mu_);
    if (free_.empty() && !Grow()) return nullptr;
    void* slot = free_.back();
    free_.pop_back();
    return slot;
  }
  void Give(void* slot) noexcept {
    sodium_memzero(slot, kSecretSlotBytes);
    std::lock_guard lock(mu_);
    free_.push_back(slot);  // capacity reserved in Grow(): cannot throw
  }

 private:
  bool Grow() {
    auto* arena = static_cast<uint8_t*>(sodium_malloc(kSlotsPerArena * kSecretSlotBytes));
    if (arena == nullptr) return false;
    sodium_memzero(arena, kSlotsPerArena * kSecretSlotBytes);
    try {
      free_.reserve((arenas_ + 1) * kSlotsPerArena);
    } catch (const std::bad_alloc&) {
      sodium_free(arena);
      return false;
    }
    ++arenas_;
    for (size_t i = kSlotsPerArena; i-- > 0;) free_.push_back(arena + i * kSecretSlotBytes);
    return true;
  }

  std::mutex mu_;
  std::vector<void*> free_;  // GUARDED_BY(mu_); every slot is zero while listed here
  size_t arenas_ = 0;        // GUARDED_BY(mu_); arenas live until the process ends
};

SlotPool& Pool() {
  static SlotPool* pool = new SlotPool();  // never destroyed: secrets may outlive static destructors
  return *pool;
}

}  // namespace

void EnsureSodiumInitialized() {
  // A function-local static is initialised exactly once, even with concurrent callers.
  static const bool initialized = [] {
    if (sodium_init() < 0) {
      std::fprintf(stderr, "liaison: sodium_init failed; refusing to continue\n");
      std::abort();
    }
    return true;
  }();
  (void)initialized;
}

void* AllocateSecret(size_t n) {
  EnsureSodiumInitialized();
  if (n <= kSecretSlotBytes) return Pool().Take();
  void* p = sodium_malloc(n);
  if (p != nullptr) sodium_memzero(p, n);
  return p;
}

void FreeSecret(void* p, size_t n) noexcept {
  if (n <= kSecretSlotBytes) {
    Pool().Give(p);
  } else {
    sodium_free(p);
  }
}

}  // namespace liaison::crypto::internal
