// Tests for crypto/sign.h: Wycheproof Ed25519 vectors, RFC 8032 known answers, and every-bit
// negatives for signatures and messages.
#include "crypto/sign.h"

#include <catch2/catch.hpp>

#include "wycheproof_util.h"

namespace liaison::crypto {
namespace {

using testing::Hex;

TEST_CASE("wycheproof ed25519 through VerifyDetached", "[crypto][sign][wycheproof]") {
  const nlohmann::json file = testing::LoadTestData("wycheproof/ed25519_test.json");
  testing::WycheproofTally tally("ed25519");
  for (const auto& group : file.at("testGroups")) {
    const Bytes pk_bytes = Hex(group.at("publicKey").at("pk").get<std::string>());
    REQUIRE(pk_bytes.size() == kSignPublicKeyBytes);
    SignPublicKey pk;
    std::copy(pk_bytes.begin(), pk_bytes.end(), pk.begin());
    for (const auto& tc : group.at("tests")) {
      const Bytes msg = Hex(tc.at("msg").get<std::string>());
      const Bytes sig = Hex(tc.at("sig").get<std::string>());
      const Status st = VerifyDetached(pk, msg, sig);
      if (!st.ok()) CHECK(st.code() == Code::kUnauthenticated);
      tally.Record(tc, st.ok(), true);
    }
  }
  tally.Finish(file);
}

SigningKeyPair Rfc8032Test1() {
  Bytes secret = Hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
                     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  return SigningKeyPair::FromSecret(SecretBytes<64>::FromBytes(secret).value()).value();
}

TEST_CASE("SignDetached known answer (RFC 8032 test 1)", "[crypto][sign]") {
  const SigningKeyPair pair = Rfc8032Test1();
  const Signature sig = SignDetached(pair.secret_key, {});
  CHECK(ToHex(sig) ==
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
        "1cf9b46bd25bf5f0595bbe24655141438e7a100b");
  CHECK(VerifyDetached(pair.public_key, {}, sig).ok());
}

TEST_CASE("a signature verifies only with the signer's key", "[crypto][sign]") {
  const SigningKeyPair alice = SigningKeyPair::Generate();
  const SigningKeyPair mallory = SigningKeyPair::Generate();
  const Bytes msg(100, 0x42);
  const Signature sig = SignDetached(alice.secret_key, msg);
  CHECK(VerifyDetached(alice.public_key, msg, sig).ok());
  CHECK(VerifyDetached(mallory.public_key, msg, sig).code() == Code::kUnauthenticated);
}

TEST_CASE("flipping any bit of a signature or message is kUnauthenticated", "[crypto][sign]") {
  const SigningKeyPair pair = SigningKeyPair::Generate();
  const Bytes msg = testing::ToBytes("liaison: flip every bit");
  const Signature sig = SignDetached(pair.secret_key, msg);
  REQUIRE(VerifyDetached(pair.public_key, msg, sig).ok());

  for (size_t bit = 0; bit < sig.size() * 8; ++bit) {
    Signature bad = sig;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    INFO("signature bit " << bit);
    CHECK(VerifyDetached(pair.public_key, msg, bad).code() == Code::kUnauthenticated);
  }
  for (size_t bit = 0; bit < msg.size() * 8; ++bit) {
    Bytes bad = msg;
    bad[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    INFO("message bit " << bit);
    CHECK(VerifyDetached(pair.public_key, bad, sig).code() == Code::kUnauthenticated);
  }
}

TEST_CASE("a signature of the wrong length is kUnauthenticated", "[crypto][sign]") {
  const SigningKeyPair pair = SigningKeyPair::Generate();
  const Bytes msg(10, 1);
  const Signature sig = SignDetached(pair.secret_key, msg);
  Bytes longer(sig.begin(), sig.end());
  longer.push_back(0);
  CHECK(VerifyDetached(pair.public_key, msg, longer).code() == Code::kUnauthenticated);
  CHECK(VerifyDetached(pair.public_key, msg, ByteView(sig).first(63)).code() ==
        Code::kUnauthenticated);
  CHECK(VerifyDetached(pair.public_key, msg, {}).code() == Code::kUnauthenticated);
}

}  // namespace
}  // namespace liaison::crypto
