// Tests for crypto/random.h.
#include "crypto/random.h"

#include <catch2/catch.hpp>

#include <algorithm>
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

TEST_CASE("NewMessageId starts with the creation millisecond, big-endian, then random bytes", "[crypto][random]") {
  // 1,796,169,600.123456 s after the epoch is 1,796,169,600,123 ms.
  const int64_t micros = 1'796'169'600'123'456;
  const auto id = NewMessageId(micros);
  uint64_t millis = 0;
  for (int i = 0; i < 6; ++i) millis = millis << 8 | id[static_cast<size_t>(i)];
  CHECK(millis == 1'796'169'600'123ull);
  const auto other = NewMessageId(micros);
  CHECK(std::equal(id.begin(), id.begin() + 6, other.begin()));
  CHECK_FALSE(std::equal(id.begin() + 6, id.end(), other.begin() + 6));  // 2^-80 to fail falsely
}

TEST_CASE("NewMessageId sorts by time: ids of later milliseconds compare greater", "[crypto][random]") {
  std::array<uint8_t, 16> previous = NewMessageId(1'000'000'000'000'000);
  for (int64_t step = 1; step <= 1000; ++step) {
    const auto next = NewMessageId(1'000'000'000'000'000 + step * 1000);
    CHECK(previous < next);
    previous = next;
  }
  // Before the epoch (a broken clock) the time part is 0, not a wrapped-around huge value.
  const auto early = NewMessageId(-5);
  CHECK(std::all_of(early.begin(), early.begin() + 6, [](uint8_t b) { return b == 0; }));
}

}  // namespace
}  // namespace liaison::crypto
