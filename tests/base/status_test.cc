#include <catch2/catch.hpp>

#include "base/bytes.h"
#include "liaison/status.h"

using namespace liaison;

TEST_CASE("Status carries its code and message, and context prefixes the message", "[base][status]") {
  Status ok;
  CHECK(ok.ok());
  CHECK(ok.ToString() == "ok");
  Status full = Status::Error(Code::kMailboxFull, "recipient has 10 messages");
  CHECK_FALSE(full.ok());
  CHECK(full.ToString() == "mailbox full: recipient has 10 messages");
  CHECK(full.WithContext("send").message() == "send: recipient has 10 messages");
  CHECK(full.WithContext("send").code() == Code::kMailboxFull);
}

TEST_CASE("hex round-trips and refuses bad input", "[base][bytes]") {
  const Bytes data{0x00, 0xab, 0xff};
  CHECK(ToHex(data) == "00abff");
  auto parsed = FromHex("00ABff");
  REQUIRE(parsed.ok());
  CHECK(*parsed == data);
  CHECK(FromHex("abc").status().code() == Code::kInvalidArgument);
  CHECK(FromHex("zz").status().code() == Code::kInvalidArgument);
}

TEST_CASE("FromHexArray takes exactly 2N hex characters and names what was wrong", "[base][bytes]") {
  auto id = FromHexArray<3>("00ABff", "the id");
  REQUIRE(id.ok());
  CHECK(*id == std::array<uint8_t, 3>{0x00, 0xab, 0xff});
  for (const char* bad : {"00ab", "00abff00", "00abfz", ""}) {
    auto refused = FromHexArray<3>(bad, "the id");
    CHECK(refused.status().code() == Code::kInvalidArgument);
    CHECK(refused.status().message() == "the id must be 6 hex characters");
  }
}

TEST_CASE("big-endian integers sort like numbers", "[base][bytes]") {
  uint8_t a[8], b[8];
  PutBigEndian64(255, a);
  PutBigEndian64(256, b);
  CHECK(std::lexicographical_compare(a, a + 8, b, b + 8));
  CHECK(GetBigEndian64(b) == 256);
}

TEST_CASE("32-bit big-endian integers are written most significant byte first and read back", "[base][bytes]") {
  uint8_t out[4];
  PutBigEndian32(0x01020304u, out);
  CHECK(out[0] == 1);
  CHECK(out[1] == 2);
  CHECK(out[2] == 3);
  CHECK(out[3] == 4);
  CHECK(GetBigEndian32(out) == 0x01020304u);
  PutBigEndian32(UINT32_MAX, out);
  CHECK(GetBigEndian32(out) == UINT32_MAX);
}
