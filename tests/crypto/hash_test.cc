// Tests for crypto/hash.h: known answers for SHA-256 (FIPS 180-2) and BLAKE2b (RFC 7693 and the
// reference blake2b-kat.txt).
#include "crypto/hash.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

namespace liaison::crypto {
namespace {

TEST_CASE("Sha256 known answers", "[crypto][hash]") {
  CHECK(ToHex(Sha256(AsBytes("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(ToHex(Sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("GenericHash (BLAKE2b) known answers", "[crypto][hash]") {
  CHECK(ToHex(GenericHash<64>(AsBytes("abc"))) ==
        "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
        "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
  CHECK(ToHex(GenericHash<32>({})) ==
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");

  std::vector<uint8_t> key(64);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  CHECK(ToHex(GenericHash<64>({}, key)) ==
        "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
        "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568");
  CHECK(ToHex(GenericHash<16>(AsBytes("abc"), ByteView(key).first(16))) ==
        "cc611a2673ca66e9f7fc64b995c5467c");
}

TEST_CASE("GenericHash output length is part of the hash, not a truncation", "[crypto][hash]") {
  const auto h16 = GenericHash<16>(AsBytes("liaison"));
  const auto h32 = GenericHash<32>(AsBytes("liaison"));
  CHECK_FALSE(std::equal(h16.begin(), h16.end(), h32.begin()));
}

}  // namespace
}  // namespace liaison::crypto
