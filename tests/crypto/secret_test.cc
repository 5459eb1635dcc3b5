// Tests for crypto/secret.h: SecretBytes<N> lifecycle, comparison and copying.
#include "crypto/secret.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <type_traits>

namespace liaison::crypto {
namespace {

static_assert(!std::is_copy_constructible_v<SecretBytes<32>>);
static_assert(!std::is_copy_assignable_v<SecretBytes<32>>);
static_assert(std::is_nothrow_move_constructible_v<SecretBytes<32>>);
static_assert(std::is_nothrow_move_assignable_v<SecretBytes<32>>);
static_assert(SecretBytes<32>::size() == 32 && SecretBytes<64>::size() == 64);

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

TEST_CASE("a new secret is zero-filled", "[crypto][secret]") {
  SecretBytes<32> s;
  CHECK(AllZero(s.data(), s.size()));
  CHECK(s.view().size() == 32);
}

TEST_CASE("random secrets differ from each other and from zero", "[crypto][secret]") {
  const auto a = SecretBytes<32>::Random();
  const auto b = SecretBytes<32>::Random();
  CHECK_FALSE(a.Equals(b));
  CHECK_FALSE(a.Equals(SecretBytes<32>()));
}

TEST_CASE("FromBytes copies exactly N bytes and refuses any other size", "[crypto][secret]") {
  std::array<uint8_t, 33> raw{};
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i + 1);

  auto ok = SecretBytes<32>::FromBytes(ByteView(raw).first(32));
  REQUIRE(ok.ok());
  CHECK(std::equal(raw.begin(), raw.begin() + 32, ok->data()));

  for (size_t n : {size_t{0}, size_t{31}, size_t{33}}) {
    auto bad = SecretBytes<32>::FromBytes(ByteView(raw).first(n));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("Equals compares contents, including a difference in the last byte", "[crypto][secret]") {
  std::array<uint8_t, 16> raw{};
  raw.fill(7);
  auto a = SecretBytes<16>::FromBytes(raw).value();
  auto b = SecretBytes<16>::FromBytes(raw).value();
  CHECK(a.Equals(b));
  b.data()[15] ^= 1;
  CHECK_FALSE(a.Equals(b));
  CHECK_FALSE(b.Equals(a));
}

TEST_CASE("Clone is an independent copy", "[crypto][secret]") {
  auto original = SecretBytes<32>::Random();
  auto copy = original.Clone();
  CHECK(copy.Equals(original));
  CHECK(copy.data() != original.data());
  copy.data()[0] ^= 0xff;
  CHECK_FALSE(copy.Equals(original));
}

TEST_CASE("moving transfers the secret and leaves the target usable", "[crypto][secret]") {
  auto source = SecretBytes<32>::Random();
  const auto reference = source.Clone();
  const uint8_t* memory = source.data();

  SecretBytes<32> moved(std::move(source));
  CHECK(moved.data() == memory);  // the same protected memory, not a copy
  CHECK(moved.Equals(reference));

  SecretBytes<32> assigned;  // holds its own (zero) memory, which the assignment frees
  assigned = std::move(moved);
  CHECK(assigned.Equals(reference));
  assigned.data()[0] ^= 1;  // still writable
  CHECK_FALSE(assigned.Equals(reference));

  // A moved-from object may be assigned to again and then used.
  source = SecretBytes<32>::Random();
  CHECK_FALSE(source.Equals(reference));
}

}  // namespace
}  // namespace liaison::crypto
