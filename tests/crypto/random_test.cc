// Tests for crypto/random.h.
#include "crypto/random.h"

#include <catch2/catch.hpp>

#include <array>
#include <vector>

namespace liaison::crypto {
namespace {

TEST_CASE("RandomBytes fills the whole span", "[crypto][random]") {
  // 64 random bytes are all non-zero with probability (255/256)^64 ~ 78%; requiring only that
  // both halves are not all zero makes a false failure a 2^-256 event.
  std::array<uint8_t, 64> buf{};
  RandomBytes(buf);
  bool first_half_zero = true, second_half_zero = true;
  for (size_t i = 0; i < 32; ++i) first_half_zero &= buf[i] == 0;
  for (size_t i = 32; i < 64; ++i) second_half_zero &= buf[i] == 0;
  CHECK_FALSE(first_half_zero);
  CHECK_FALSE(second_half_zero);
}

TEST_CASE("RandomBytes accepts an empty span", "[crypto][random]") {
  std::vector<uint8_t> empty;
  RandomBytes(empty);
  CHECK(empty.empty());
}

TEST_CASE("RandomArray gives different values on each call", "[crypto][random]") {
  CHECK(RandomArray<16>() != RandomArray<16>());
  CHECK(RandomArray<24>().size() == 24);
}

}  // namespace
}  // namespace liaison::crypto
