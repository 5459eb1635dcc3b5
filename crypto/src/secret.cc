#include "crypto/secret.h"

#include <cstdio>
#include <cstdlib>

namespace liaison::crypto::internal {

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

}  // namespace liaison::crypto::internal
