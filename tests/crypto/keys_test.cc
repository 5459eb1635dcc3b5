// Tests for crypto/keys.h: key generation and rebuilding pairs from their secret halves, with
// RFC 8032 (Ed25519) and RFC 7748 (X25519) known answers.
#include "crypto/keys.h"

#include <catch2/catch.hpp>

#include <algorithm>

#include "wycheproof_util.h"

namespace liaison::crypto {
namespace {

using testing::Hex;

// RFC 8032 section 7.1, TEST 1.
constexpr const char* kRfc8032Seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr const char* kRfc8032Public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

TEST_CASE("a generated signing pair holds its public key in the secret's second half",
          "[crypto][keys]") {
  const SigningKeyPair pair = SigningKeyPair::Generate();
  CHECK(std::equal(pair.public_key.begin(), pair.public_key.end(), pair.secret_key.data() + 32));
  const SigningKeyPair other = SigningKeyPair::Generate();
  CHECK(pair.public_key != other.public_key);
}

TEST_CASE("SigningKeyPair::FromSecret rebuilds the pair (RFC 8032 test 1)", "[crypto][keys]") {
  Bytes secret = Hex(kRfc8032Seed);
  const Bytes pub = Hex(kRfc8032Public);
  secret.insert(secret.end(), pub.begin(), pub.end());
  auto pair = SigningKeyPair::FromSecret(SecretBytes<64>::FromBytes(secret).value());
  REQUIRE(pair.ok());
  CHECK(ToHex(pair->public_key) == kRfc8032Public);
  CHECK(ToHex(pair->secret_key.view()) == ToHex(secret));

  const SigningKeyPair generated = SigningKeyPair::Generate();
  auto rebuilt = SigningKeyPair::FromSecret(generated.secret_key.Clone());
  REQUIRE(rebuilt.ok());
  CHECK(rebuilt->public_key == generated.public_key);
  CHECK(rebuilt->secret_key.Equals(generated.secret_key));
}

TEST_CASE("SigningKeyPair::FromSecret refuses a public half that does not match the seed",
          "[crypto][keys]") {
  const SigningKeyPair a = SigningKeyPair::Generate();
  const SigningKeyPair b = SigningKeyPair::Generate();
  SecretBytes<64> mixed = a.secret_key.Clone();
  std::copy(b.public_key.begin(), b.public_key.end(), mixed.data() + 32);
  auto pair = SigningKeyPair::FromSecret(std::move(mixed));
  REQUIRE_FALSE(pair.ok());
  CHECK(pair.status().code() == Code::kInvalidArgument);

  SecretBytes<64> flipped = a.secret_key.Clone();
  flipped.data()[63] ^= 0x01;
  CHECK(SigningKeyPair::FromSecret(std::move(flipped)).status().code() == Code::kInvalidArgument);
}

TEST_CASE("DhKeyPair::FromSecret computes the public key (RFC 7748 section 6.1)",
          "[crypto][keys]") {
  auto alice = DhKeyPair::FromSecret(
      SecretBytes<32>::FromBytes(
          Hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
          .value());
  CHECK(ToHex(alice.public_key) ==
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  auto bob = DhKeyPair::FromSecret(
      SecretBytes<32>::FromBytes(
          Hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
          .value());
  CHECK(ToHex(bob.public_key) ==
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
}

TEST_CASE("generated DH pairs are consistent and distinct", "[crypto][keys]") {
  const DhKeyPair pair = DhKeyPair::Generate();
  const DhKeyPair rebuilt = DhKeyPair::FromSecret(pair.secret_key.Clone());
  CHECK(rebuilt.public_key == pair.public_key);
  CHECK(DhKeyPair::Generate().public_key != pair.public_key);
}

}  // namespace
}  // namespace liaison::crypto
