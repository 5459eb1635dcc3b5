// Tests for crypto/hkdf.h: Wycheproof HMAC-SHA256 and HKDF-SHA256 vectors, RFC 5869 test cases
// 1-3 (SHA-256), RFC 4231 test case 1, and the output-size contract.
#include "crypto/hkdf.h"

#include <catch2/catch.hpp>

#include <sodium.h>

#include <algorithm>

#include "wycheproof_util.h"

namespace liaison::crypto {
namespace {

using testing::Hex;

TEST_CASE("wycheproof hmac_sha256 through HmacSha256", "[crypto][hkdf][hmac][wycheproof]") {
  const nlohmann::json file = testing::LoadTestData("wycheproof/hmac_sha256_test.json");
  testing::WycheproofTally tally("hmac_sha256");
  for (const auto& group : file.at("testGroups")) {
    const size_t tag_bytes = group.at("tagSize").get<size_t>() / 8;
    REQUIRE(tag_bytes <= 32);
    for (const auto& tc : group.at("tests")) {
      const Bytes key = Hex(tc.at("key").get<std::string>());
      const Bytes msg = Hex(tc.at("msg").get<std::string>());
      const Bytes tag = Hex(tc.at("tag").get<std::string>());
      const auto mac = HmacSha256(key, msg);
      // A MAC "verifies" if the received (possibly truncated) tag is the prefix of ours, compared
      // in constant time as real callers must.
      const bool verifies =
          tag.size() == tag_bytes && sodium_memcmp(mac.data(), tag.data(), tag.size()) == 0;
      tally.Record(tc, verifies, true);
    }
  }
  tally.Finish(file);
}

TEST_CASE("wycheproof hkdf_sha256 through HkdfSha256", "[crypto][hkdf][wycheproof]") {
  const nlohmann::json file = testing::LoadTestData("wycheproof/hkdf_sha256_test.json");
  testing::WycheproofTally tally("hkdf_sha256");
  for (const auto& group : file.at("testGroups")) {
    for (const auto& tc : group.at("tests")) {
      const Bytes ikm = Hex(tc.at("ikm").get<std::string>());
      const Bytes salt = Hex(tc.at("salt").get<std::string>());
      const Bytes info = Hex(tc.at("info").get<std::string>());
      const Bytes okm = Hex(tc.at("okm").get<std::string>());
      Bytes out(tc.at("size").get<size_t>());
      const Status st = HkdfSha256(ikm, salt, info, out);
      if (!st.ok()) CHECK(st.code() == Code::kInvalidArgument);
      tally.Record(tc, st.ok(), out == okm);
    }
  }
  tally.Finish(file);
}

struct Rfc5869Case {
  const char* ikm;
  const char* salt;
  const char* info;
  size_t length;
  const char* okm;
};

TEST_CASE("HkdfSha256 matches RFC 5869 test cases 1-3", "[crypto][hkdf]") {
  const Rfc5869Case cases[] = {
      {// Test Case 1: basic test case with SHA-256.
       "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
       "f0f1f2f3f4f5f6f7f8f9", 42,
       "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
      {// Test Case 2: longer inputs and outputs.
       "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
       "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
       "404142434445464748494a4b4c4d4e4f",
       "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
       "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
       "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
       "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
       "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
       "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
       82,
       "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
       "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
       "cc30c58179ec3e87c14c01d5c1f3434f1d87"},
      {// Test Case 3: zero-length salt and info.
       "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "", 42,
       "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
  };
  int number = 1;
  for (const Rfc5869Case& c : cases) {
    INFO("RFC 5869 test case " << number++);
    Bytes out(c.length);
    REQUIRE(HkdfSha256(Hex(c.ikm), Hex(c.salt), Hex(c.info), out).ok());
    CHECK(ToHex(out) == c.okm);
  }
}

TEST_CASE("HkdfSha256 output is the prefix of a longer output", "[crypto][hkdf]") {
  const Bytes ikm(32, 7);
  Bytes long_out(100), short_out(33);
  REQUIRE(HkdfSha256(ikm, {}, {}, long_out).ok());
  REQUIRE(HkdfSha256(ikm, {}, {}, short_out).ok());
  CHECK(std::equal(short_out.begin(), short_out.end(), long_out.begin()));
}

TEST_CASE("HkdfSha256 output size must be 1..8160 bytes", "[crypto][hkdf]") {
  const Bytes ikm(32, 7);
  Bytes empty;
  CHECK(HkdfSha256(ikm, {}, {}, empty).code() == Code::kInvalidArgument);
  Bytes too_long(255 * 32 + 1, 0xaa);
  CHECK(HkdfSha256(ikm, {}, {}, too_long).code() == Code::kInvalidArgument);
  CHECK(std::all_of(too_long.begin(), too_long.end(), [](uint8_t b) { return b == 0xaa; }));
  Bytes longest(255 * 32);
  CHECK(HkdfSha256(ikm, {}, {}, longest).ok());
  Bytes one(1);
  CHECK(HkdfSha256(ikm, {}, {}, one).ok());
  CHECK(one[0] == longest[0]);
}

TEST_CASE("HmacSha256 known answer (RFC 4231 test case 1) and long keys", "[crypto][hkdf][hmac]") {
  CHECK(ToHex(HmacSha256(Bytes(20, 0x0b), testing::ToBytes("Hi There"))) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // RFC 4231 test case 6: a 131-byte key, longer than the block, is hashed first.
  CHECK(ToHex(HmacSha256(Bytes(131, 0xaa),
                         testing::ToBytes("Test Using Larger Than Block-Size Key - Hash Key First"))) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

}  // namespace
}  // namespace liaison::crypto
