// Catch2's main for every liaison test executable: libsodium must be initialised first.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <sodium.h>

#include <cstdio>

int main(int argc, char* argv[]) {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "sodium_init failed\n");
    return 2;
  }
  return Catch::Session().run(argc, argv);
}
