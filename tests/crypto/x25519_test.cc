// Tests for crypto/x25519.h: Wycheproof X25519 vectors, the RFC 7748 known answer and the
// low-order public keys that must be refused.
#include "crypto/x25519.h"

#include <catch2/catch.hpp>

#include <algorithm>

#include "wycheproof_util.h"

namespace liaison::crypto {
namespace {

using testing::Hex;

SecretBytes<32> Secret(const std::string& hex) { return SecretBytes<32>::FromBytes(Hex(hex)).value(); }

TEST_CASE("wycheproof x25519 through X25519", "[crypto][x25519][wycheproof]") {
  const nlohmann::json file = testing::LoadTestData("wycheproof/x25519_test.json");
  testing::WycheproofTally tally("x25519");
  size_t zero_shared = 0;
  for (const auto& group : file.at("testGroups")) {
    REQUIRE(group.at("curve") == "curve25519");
    for (const auto& tc : group.at("tests")) {
      const SecretBytes<32> secret = Secret(tc.at("private").get<std::string>());
      const Bytes peer = Hex(tc.at("public").get<std::string>());
      const Bytes expected = Hex(tc.at("shared").get<std::string>());
      auto shared = X25519(secret, peer);
      const bool matches =
          shared.ok() && std::equal(expected.begin(), expected.end(), shared->data(),
                                    shared->data() + shared->size()) &&
          expected.size() == 32;
      // Our contract, stricter than Wycheproof's "acceptable": an all-zero result is refused.
      if (std::all_of(expected.begin(), expected.end(), [](uint8_t b) { return b == 0; })) {
        ++zero_shared;
        INFO("tcId " << tc.at("tcId").get<int>());
        CHECK(shared.status().code() == Code::kUnauthenticated);
      }
      if (!shared.ok()) CHECK(shared.status().code() == Code::kUnauthenticated);
      tally.Record(tc, shared.ok(), matches);
    }
  }
  tally.Finish(file);
  CHECK(zero_shared > 0);
}

TEST_CASE("X25519 known answer (RFC 7748 section 6.1)", "[crypto][x25519]") {
  const auto alice = Secret("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const auto bob = Secret("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const Bytes alice_pub = Hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  const Bytes bob_pub = Hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const char* kShared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  auto ab = X25519(alice, bob_pub);
  auto ba = X25519(bob, alice_pub);
  REQUIRE(ab.ok());
  REQUIRE(ba.ok());
  CHECK(ToHex(ab->view()) == kShared);
  CHECK(ab->Equals(*ba));
}

TEST_CASE("X25519 refuses low-order public keys with kUnauthenticated", "[crypto][x25519]") {
  const auto secret = SecretBytes<32>::Random();
  const char* low_order[] = {
      // 0 (all zero), 1, and the order-8 points from libsodium's blacklist.
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
      // p - 1, p, p + 1 (non-canonical encodings of low-order points).
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  for (const char* hex : low_order) {
    INFO("public key " << hex);
    auto shared = X25519(secret, Hex(hex));
    REQUIRE_FALSE(shared.ok());
    CHECK(shared.status().code() == Code::kUnauthenticated);
  }
}

TEST_CASE("X25519 refuses a public key of the wrong size with kInvalidArgument",
          "[crypto][x25519]") {
  const auto secret = SecretBytes<32>::Random();
  for (size_t n : {size_t{0}, size_t{31}, size_t{33}}) {
    const Bytes peer(n, 9);
    CHECK(X25519(secret, peer).status().code() == Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace liaison::crypto
