// Tests for crypto/x3dh.h: agreement with and without a one-time prekey, the signed-prekey
// signature (every bit flipped), wrong and low-order keys, versions, the lookups, the bounded
// decoders, and frozen encodings and a frozen shared secret from tests/data/kat/session/.
#include "crypto/x3dh.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "crypto/ratchet.h"
#include "crypto/sign.h"
#include "wycheproof_util.h"

namespace liaison::crypto {
namespace {

using testing::Hex;
using testing::LoadTestData;

template <size_t N>
std::array<uint8_t, N> HexArray(const std::string& hex) {
  const Bytes b = Hex(hex);
  REQUIRE(b.size() == N);
  std::array<uint8_t, N> a;
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

DhKeyPair ClonePair(const DhKeyPair& p) { return DhKeyPair{p.public_key, p.secret_key.Clone()}; }

// A responder device: identity keys, signed prekeys and one-time prekeys by id.
struct Responder {
  SigningKeyPair signing = SigningKeyPair::Generate();
  DhKeyPair identity = DhKeyPair::Generate();
  std::map<uint32_t, DhKeyPair> signed_prekeys;
  std::map<uint32_t, DhKeyPair> one_time_prekeys;

  Responder() {
    signed_prekeys.emplace(7, DhKeyPair::Generate());
    one_time_prekeys.emplace(100, DhKeyPair::Generate());
    one_time_prekeys.emplace(101, DhKeyPair::Generate());
  }

  PrekeyBundle Bundle(bool with_one_time_prekey) const {
    PrekeyBundle b;
    b.identity_dh_public = identity.public_key;
    b.identity_signing_public = signing.public_key;
    b.signed_prekey_id = 7;
    b.signed_prekey_public = signed_prekeys.at(7).public_key;
    b.signed_prekey_signature = SignSignedPrekey(signing.secret_key, 7, b.signed_prekey_public);
    if (with_one_time_prekey) {
      b.one_time_prekey = OneTimePrekeyPublic{101, one_time_prekeys.at(101).public_key};
    }
    return b;
  }

  static PrekeyLookup LookupIn(const std::map<uint32_t, DhKeyPair>& keys) {
    return [&keys](uint32_t id) -> Result<DhKeyPair> {
      const auto it = keys.find(id);
      if (it == keys.end())
        return Status::Error(Code::kNotFound, "no prekey " + std::to_string(id));
      return ClonePair(it->second);
    };
  }
  Result<X3dhResponderOutput> Respond(const InitialMessageHeader& header) const {
    return X3dhRespond(identity, header, LookupIn(signed_prekeys), LookupIn(one_time_prekeys));
  }
};

X3dhAssociatedData ExpectedAd(const DhPublicKey& initiator, const DhPublicKey& responder) {
  X3dhAssociatedData ad;
  std::copy(initiator.begin(), initiator.end(), ad.begin());
  std::copy(responder.begin(), responder.end(), ad.begin() + 32);
  return ad;
}

// The low-order X25519 public keys that libsodium refuses (as in x25519_test.cc).
const char* const kLowOrder[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

TEST_CASE("X3DH: both sides derive the same SK and AD, with and without a one-time prekey",
          "[crypto][x3dh]") {
  const Responder bob;
  const DhKeyPair alice = DhKeyPair::Generate();
  for (const bool with_opk : {true, false}) {
    INFO("with one-time prekey: " << with_opk);
    auto initiated = X3dhInitiate(alice, bob.Bundle(with_opk));
    REQUIRE(initiated.ok());
    const InitialMessageHeader& header = initiated->header;
    CHECK(header.version == kX3dhVersion1);
    CHECK(header.initiator_identity_dh_public == alice.public_key);
    CHECK(header.signed_prekey_id == 7);
    CHECK(header.one_time_prekey_id == (with_opk ? std::optional<uint32_t>(101) : std::nullopt));
    CHECK(header.ephemeral_public != alice.public_key);

    auto responded = bob.Respond(header);
    REQUIRE(responded.ok());
    CHECK(responded->shared_secret.Equals(initiated->shared_secret));
    CHECK(responded->associated_data == initiated->associated_data);
    CHECK(initiated->associated_data == ExpectedAd(alice.public_key, bob.identity.public_key));
    CHECK(responded->signed_prekey.public_key == bob.signed_prekeys.at(7).public_key);
    CHECK(responded->signed_prekey.secret_key.Equals(bob.signed_prekeys.at(7).secret_key));
    CHECK(responded->one_time_prekey_id == header.one_time_prekey_id);

    // A fresh ephemeral key each time: the same inputs never give the same SK twice.
    auto again = X3dhInitiate(alice, bob.Bundle(with_opk));
    REQUIRE(again.ok());
    CHECK(again->header.ephemeral_public != header.ephemeral_public);
    CHECK_FALSE(again->shared_secret.Equals(initiated->shared_secret));
  }
}

TEST_CASE("X3DH: the one-time prekey changes SK (DH4 is part of the KDF input)", "[crypto][x3dh]") {
  const Responder bob;
  const DhKeyPair alice = DhKeyPair::Generate();
  auto initiated = X3dhInitiate(alice, bob.Bundle(true));
  REQUIRE(initiated.ok());
  // The responder ignoring the one-time prekey derives another SK.
  InitialMessageHeader without = initiated->header;
  without.one_time_prekey_id.reset();
  auto responded = bob.Respond(without);
  REQUIRE(responded.ok());
  CHECK_FALSE(responded->shared_secret.Equals(initiated->shared_secret));
  // ... and so does using another one-time prekey.
  InitialMessageHeader other = initiated->header;
  other.one_time_prekey_id = 100;
  auto responded_other = bob.Respond(other);
  REQUIRE(responded_other.ok());
  CHECK_FALSE(responded_other->shared_secret.Equals(initiated->shared_secret));
}

TEST_CASE("X3DH aborts with kUnauthenticated on every bit flip of the signed prekey signature",
          "[crypto][x3dh]") {
  const Responder bob;
  const DhKeyPair alice = DhKeyPair::Generate();
  for (const bool with_opk : {true, false}) {
    const PrekeyBundle good = bob.Bundle(with_opk);
    REQUIRE(X3dhInitiate(alice, good).ok());
    for (size_t bit = 0; bit < good.signed_prekey_signature.size() * 8; ++bit) {
      PrekeyBundle bad = good;
      bad.signed_prekey_signature[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      auto result = X3dhInitiate(alice, bad);
      INFO("bit " << bit);
      REQUIRE_FALSE(result.ok());
      REQUIRE(result.status().code() == Code::kUnauthenticated);
    }
  }
}

TEST_CASE("X3DH aborts when the signature covers another prekey, id or signer", "[crypto][x3dh]") {
  const Responder bob;
  const DhKeyPair alice = DhKeyPair::Generate();
  const PrekeyBundle good = bob.Bundle(true);

  PrekeyBundle other_key = good;
  other_key.signed_prekey_public = DhKeyPair::Generate().public_key;
  PrekeyBundle other_id = good;
  other_id.signed_prekey_id = 8;
  PrekeyBundle other_signer = good;
  other_signer.identity_signing_public = SigningKeyPair::Generate().public_key;
  PrekeyBundle unsigned_bundle = good;
  unsigned_bundle.signed_prekey_signature = {};
  // A plain Ed25519 signature of the key, without the domain-separated encoding.
  PrekeyBundle undomained = good;
  undomained.signed_prekey_signature =
      SignDetached(bob.signing.secret_key, good.signed_prekey_public);

  for (const PrekeyBundle* b :
       {&other_key, &other_id, &other_signer, &unsigned_bundle, &undomained}) {
    auto result = X3dhInitiate(alice, *b);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == Code::kUnauthenticated);
  }
  CHECK(VerifySignedPrekey(good.identity_signing_public, good.signed_prekey_id,
                           good.signed_prekey_public, good.signed_prekey_signature)
            .ok());
}

TEST_CASE("X3DH with a wrong key on either side derives a different SK", "[crypto][x3dh]") {
  const Responder bob;
  const DhKeyPair alice = DhKeyPair::Generate();
  auto initiated = X3dhInitiate(alice, bob.Bundle(true));
  REQUIRE(initiated.ok());
  const InitialMessageHeader& header = initiated->header;

  SECTION("the responder uses another identity key") {
    const DhKeyPair other = DhKeyPair::Generate();
    auto r = X3dhRespond(other, header, Responder::LookupIn(bob.signed_prekeys),
                         Responder::LookupIn(bob.one_time_prekeys));
    REQUIRE(r.ok());
    CHECK_FALSE(r->shared_secret.Equals(initiated->shared_secret));
    CHECK(r->associated_data != initiated->associated_data);
  }
  SECTION("the header claims another initiator identity") {
    InitialMessageHeader forged = header;
    forged.initiator_identity_dh_public = DhKeyPair::Generate().public_key;
    auto r = bob.Respond(forged);
    REQUIRE(r.ok());
    CHECK_FALSE(r->shared_secret.Equals(initiated->shared_secret));
  }
  SECTION("the header carries another ephemeral key") {
    InitialMessageHeader forged = header;
    forged.ephemeral_public = DhKeyPair::Generate().public_key;
    auto r = bob.Respond(forged);
    REQUIRE(r.ok());
    CHECK_FALSE(r->shared_secret.Equals(initiated->shared_secret));
  }
  SECTION("the responder's lookup returns another signed prekey") {
    std::map<uint32_t, DhKeyPair> wrong;
    wrong.emplace(7, DhKeyPair::Generate());
    auto r = X3dhRespond(bob.identity, header, Responder::LookupIn(wrong),
                         Responder::LookupIn(bob.one_time_prekeys));
    REQUIRE(r.ok());
    CHECK_FALSE(r->shared_secret.Equals(initiated->shared_secret));
  }
  SECTION("the initiator uses another identity than the header names") {
    const DhKeyPair mallory = DhKeyPair::Generate();
    auto m = X3dhInitiate(mallory, bob.Bundle(true));
    REQUIRE(m.ok());
    InitialMessageHeader claimed = m->header;
    claimed.initiator_identity_dh_public = alice.public_key;  // claims to be Alice
    auto r = bob.Respond(claimed);
    REQUIRE(r.ok());
    CHECK_FALSE(r->shared_secret.Equals(m->shared_secret));
  }
}

TEST_CASE("X3DH refuses low-order public keys with kUnauthenticated", "[crypto][x3dh]") {
  const Responder bob;
  const DhKeyPair alice = DhKeyPair::Generate();
  for (const char* hex : kLowOrder) {
    INFO("low-order key " << hex);
    const DhPublicKey bad = HexArray<32>(hex);

    PrekeyBundle bad_identity = bob.Bundle(true);
    bad_identity.identity_dh_public = bad;
    PrekeyBundle bad_opk = bob.Bundle(true);
    bad_opk.one_time_prekey->public_key = bad;
    // Properly signed, so that the DH (not the signature) is what refuses it.
    PrekeyBundle bad_spk = bob.Bundle(true);
    bad_spk.signed_prekey_public = bad;
    bad_spk.signed_prekey_signature = SignSignedPrekey(bob.signing.secret_key, 7, bad);
    for (const PrekeyBundle* b : {&bad_identity, &bad_opk, &bad_spk}) {
      auto result = X3dhInitiate(alice, *b);
      REQUIRE_FALSE(result.ok());
      CHECK(result.status().code() == Code::kUnauthenticated);
    }

    auto initiated = X3dhInitiate(alice, bob.Bundle(true));
    REQUIRE(initiated.ok());
    InitialMessageHeader bad_ik = initiated->header;
    bad_ik.initiator_identity_dh_public = bad;
    InitialMessageHeader bad_ek = initiated->header;
    bad_ek.ephemeral_public = bad;
    for (const InitialMessageHeader* h : {&bad_ik, &bad_ek}) {
      auto result = bob.Respond(*h);
      REQUIRE_FALSE(result.ok());
      CHECK(result.status().code() == Code::kUnauthenticated);
    }
  }
}

TEST_CASE("X3DH refuses versions other than 1 with kUnsupportedVersion", "[crypto][x3dh]") {
  const Responder bob;
  const DhKeyPair alice = DhKeyPair::Generate();
  PrekeyBundle bundle = bob.Bundle(true);
  bundle.version = 2;
  CHECK(X3dhInitiate(alice, bundle).status().code() == Code::kUnsupportedVersion);

  auto initiated = X3dhInitiate(alice, bob.Bundle(true));
  REQUIRE(initiated.ok());
  InitialMessageHeader header = initiated->header;
  header.version = 0;
  CHECK(bob.Respond(header).status().code() == Code::kUnsupportedVersion);
}

TEST_CASE("X3dhRespond passes lookup failures through and needs its lookups", "[crypto][x3dh]") {
  const Responder bob;
  const DhKeyPair alice = DhKeyPair::Generate();
  auto initiated = X3dhInitiate(alice, bob.Bundle(true));
  REQUIRE(initiated.ok());

  InitialMessageHeader unknown_spk = initiated->header;
  unknown_spk.signed_prekey_id = 8;
  CHECK(bob.Respond(unknown_spk).status().code() == Code::kNotFound);

  // A one-time prekey that was already used and deleted: the replayed initial message fails.
  std::map<uint32_t, DhKeyPair> used_up;
  auto r = X3dhRespond(bob.identity, initiated->header, Responder::LookupIn(bob.signed_prekeys),
                       Responder::LookupIn(used_up));
  CHECK(r.status().code() == Code::kNotFound);

  CHECK(X3dhRespond(bob.identity, initiated->header, PrekeyLookup(),
                    Responder::LookupIn(bob.one_time_prekeys))
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(X3dhRespond(bob.identity, initiated->header, Responder::LookupIn(bob.signed_prekeys),
                    PrekeyLookup())
            .status()
            .code() == Code::kInvalidArgument);
  // Without a one-time prekey in the header, the one-time lookup is not needed.
  auto no_opk = X3dhInitiate(alice, bob.Bundle(false));
  REQUIRE(no_opk.ok());
  CHECK(X3dhRespond(bob.identity, no_opk->header, Responder::LookupIn(bob.signed_prekeys),
                    PrekeyLookup())
            .ok());
}

TEST_CASE("X3DH then the ratchet: the first message decrypts only with the agreed SK and AD",
          "[crypto][x3dh]") {
  const Responder bob;
  const DhKeyPair alice = DhKeyPair::Generate();
  auto initiated = X3dhInitiate(alice, bob.Bundle(true));
  REQUIRE(initiated.ok());
  auto alice_state =
      RatchetInitAlice(initiated->shared_secret, bob.Bundle(true).signed_prekey_public);
  REQUIRE(alice_state.ok());
  const Bytes hello = testing::ToBytes("hello bob");
  auto message = RatchetEncrypt(*alice_state, hello, initiated->associated_data);
  REQUIRE(message.ok());

  // The wire: initial header encoded and decoded on the way.
  const auto wire_header = EncodeInitialMessageHeader(initiated->header);
  auto header = DecodeInitialMessageHeader(wire_header);
  REQUIRE(header.ok());
  auto responded = bob.Respond(*header);
  REQUIRE(responded.ok());

  {
    RatchetState wrong_ad_state =
        RatchetInitBob(responded->shared_secret, ClonePair(responded->signed_prekey));
    X3dhAssociatedData wrong_ad = responded->associated_data;
    wrong_ad[0] ^= 1;
    CHECK(RatchetDecrypt(wrong_ad_state, *message, wrong_ad, 0).status().code() ==
          Code::kUnauthenticated);
  }
  {
    RatchetState wrong_sk_state =
        RatchetInitBob(SecretBytes<32>::Random(), ClonePair(responded->signed_prekey));
    CHECK(RatchetDecrypt(wrong_sk_state, *message, responded->associated_data, 0).status().code() ==
          Code::kUnauthenticated);
  }
  RatchetState bob_state =
      RatchetInitBob(responded->shared_secret, std::move(responded->signed_prekey));
  auto plaintext = RatchetDecrypt(bob_state, *message, responded->associated_data, 0);
  REQUIRE(plaintext.ok());
  CHECK(*plaintext == hello);
}

// ---- Encodings -----------------------------------------------------------------------------

TEST_CASE("PrekeyBundle encoding round-trips; the decoder is exact and bounded", "[crypto][x3dh]") {
  const Responder bob;
  for (const bool with_opk : {true, false}) {
    const PrekeyBundle bundle = bob.Bundle(with_opk);
    const auto encoded = EncodePrekeyBundle(bundle);
    auto decoded = DecodePrekeyBundle(encoded);
    REQUIRE(decoded.ok());
    CHECK(*decoded == bundle);

    const Bytes good(encoded.begin(), encoded.end());
    for (size_t len = 0; len < good.size(); ++len) {
      INFO("truncated to " << len);
      CHECK(DecodePrekeyBundle(ByteView(good).first(len)).status().code() == Code::kMalformed);
    }
    Bytes longer = good;
    longer.push_back(0);
    CHECK(DecodePrekeyBundle(longer).status().code() == Code::kMalformed);

    Bytes versioned = good;
    versioned[0] = 2;
    CHECK(DecodePrekeyBundle(versioned).status().code() == Code::kUnsupportedVersion);
    for (const uint8_t flags : {0x02, 0x80, 0xff}) {
      Bytes flagged = good;
      flagged[1] = static_cast<uint8_t>(flags | (with_opk ? 1 : 0));
      CHECK(DecodePrekeyBundle(flagged).status().code() == Code::kMalformed);
    }
  }
  // Without a one-time prekey its 36 bytes must be zero: any non-zero byte there is refused.
  const auto encoded = EncodePrekeyBundle(bob.Bundle(false));
  for (size_t i = kPrekeyBundleV1Bytes - 36; i < kPrekeyBundleV1Bytes; ++i) {
    Bytes stray(encoded.begin(), encoded.end());
    stray[i] = 1;
    CHECK(DecodePrekeyBundle(stray).status().code() == Code::kMalformed);
  }
}

TEST_CASE("InitialMessageHeader encoding round-trips; the decoder is exact and bounded",
          "[crypto][x3dh]") {
  InitialMessageHeader header;
  header.initiator_identity_dh_public = DhKeyPair::Generate().public_key;
  header.ephemeral_public = DhKeyPair::Generate().public_key;
  header.signed_prekey_id = 0x01020304;
  for (const bool with_opk : {true, false}) {
    header.one_time_prekey_id =
        with_opk ? std::optional<uint32_t>(0xfffffffe) : std::optional<uint32_t>();
    const auto encoded = EncodeInitialMessageHeader(header);
    auto decoded = DecodeInitialMessageHeader(encoded);
    REQUIRE(decoded.ok());
    CHECK(*decoded == header);

    const Bytes good(encoded.begin(), encoded.end());
    for (size_t len = 0; len < good.size(); ++len) {
      CHECK(DecodeInitialMessageHeader(ByteView(good).first(len)).status().code() ==
            Code::kMalformed);
    }
    Bytes longer = good;
    longer.push_back(0);
    CHECK(DecodeInitialMessageHeader(longer).status().code() == Code::kMalformed);
    Bytes versioned = good;
    versioned[0] = 0;
    CHECK(DecodeInitialMessageHeader(versioned).status().code() == Code::kUnsupportedVersion);
    Bytes flagged = good;
    flagged[1] |= 0x40;
    CHECK(DecodeInitialMessageHeader(flagged).status().code() == Code::kMalformed);
    if (!with_opk) {
      Bytes stray = good;
      stray.back() = 1;
      CHECK(DecodeInitialMessageHeader(stray).status().code() == Code::kMalformed);
    }
  }
}

// ---- Frozen data (tests/data/kat/session/, see its README) ---------------------------------

PrekeyBundle BundleFromJson(const nlohmann::json& j) {
  PrekeyBundle b;
  b.version = j.at("version").get<uint8_t>();
  b.identity_dh_public = HexArray<32>(j.at("identity_dh_public"));
  b.identity_signing_public = HexArray<32>(j.at("identity_signing_public"));
  b.signed_prekey_id = j.at("signed_prekey_id").get<uint32_t>();
  b.signed_prekey_public = HexArray<32>(j.at("signed_prekey_public"));
  b.signed_prekey_signature = HexArray<64>(j.at("signed_prekey_signature"));
  if (j.contains("one_time_prekey_id")) {
    b.one_time_prekey = OneTimePrekeyPublic{j.at("one_time_prekey_id").get<uint32_t>(),
                                            HexArray<32>(j.at("one_time_prekey_public"))};
  }
  return b;
}

TEST_CASE("golden: PrekeyBundle v1 encodings decode to their fields and encode back",
          "[crypto][x3dh]") {
  const nlohmann::json file = LoadTestData("kat/session/prekey_bundle_v1.json");
  REQUIRE(file.at("cases").size() == 2);
  for (const nlohmann::json& c : file.at("cases")) {
    INFO(c.at("name").get<std::string>());
    const PrekeyBundle fields = BundleFromJson(c.at("fields"));
    const Bytes encoding = Hex(c.at("encoding"));
    const auto encoded = EncodePrekeyBundle(fields);
    CHECK(ToHex(encoded) == ToHex(encoding));
    auto decoded = DecodePrekeyBundle(encoding);
    REQUIRE(decoded.ok());
    CHECK(*decoded == fields);
    // The frozen signatures are real: Ed25519 is deterministic, and the signer's seed is given.
    CHECK(VerifySignedPrekey(fields.identity_signing_public, fields.signed_prekey_id,
                             fields.signed_prekey_public, fields.signed_prekey_signature)
              .ok());
    auto signer = SigningKeyPair::FromSecret(
        SecretBytes<64>::FromBytes(Hex(file.at("identity_signing_secret"))).value());
    REQUIRE(signer.ok());
    CHECK(SignSignedPrekey(signer->secret_key, fields.signed_prekey_id,
                           fields.signed_prekey_public) == fields.signed_prekey_signature);
  }
}

TEST_CASE("golden: InitialMessageHeader v1 encodings decode to their fields and encode back",
          "[crypto][x3dh]") {
  const nlohmann::json file = LoadTestData("kat/session/initial_message_header_v1.json");
  REQUIRE(file.at("cases").size() == 2);
  for (const nlohmann::json& c : file.at("cases")) {
    INFO(c.at("name").get<std::string>());
    const nlohmann::json& f = c.at("fields");
    InitialMessageHeader fields;
    fields.version = f.at("version").get<uint8_t>();
    fields.initiator_identity_dh_public = HexArray<32>(f.at("initiator_identity_dh_public"));
    fields.ephemeral_public = HexArray<32>(f.at("ephemeral_public"));
    fields.signed_prekey_id = f.at("signed_prekey_id").get<uint32_t>();
    if (f.contains("one_time_prekey_id")) {
      fields.one_time_prekey_id = f.at("one_time_prekey_id").get<uint32_t>();
    }
    const Bytes encoding = Hex(c.at("encoding"));
    CHECK(ToHex(EncodeInitialMessageHeader(fields)) == ToHex(encoding));
    auto decoded = DecodeInitialMessageHeader(encoding);
    REQUIRE(decoded.ok());
    CHECK(*decoded == fields);
  }
}

TEST_CASE("golden: the responder derives the frozen SK and AD from fixed keys", "[crypto][x3dh]") {
  // SK values were computed by an independent implementation of the derivation in x3dh.h (see
  // the README next to the file), so this checks the KDF input order, F, salt and info.
  const nlohmann::json file = LoadTestData("kat/session/x3dh_v1.json");
  auto pair = [&](const char* name) {
    return DhKeyPair::FromSecret(SecretBytes<32>::FromBytes(Hex(file.at(name))).value());
  };
  const DhKeyPair bob_identity = pair("responder_identity_secret");
  std::map<uint32_t, DhKeyPair> spks, opks;
  spks.emplace(file.at("signed_prekey_id").get<uint32_t>(), pair("signed_prekey_secret"));
  opks.emplace(file.at("one_time_prekey_id").get<uint32_t>(), pair("one_time_prekey_secret"));
  const DhKeyPair alice_identity = pair("initiator_identity_secret");
  const DhKeyPair alice_ephemeral = pair("initiator_ephemeral_secret");

  REQUIRE(file.at("cases").size() == 2);
  for (const nlohmann::json& c : file.at("cases")) {
    INFO(c.at("name").get<std::string>());
    InitialMessageHeader header;
    header.initiator_identity_dh_public = alice_identity.public_key;
    header.ephemeral_public = alice_ephemeral.public_key;
    header.signed_prekey_id = file.at("signed_prekey_id").get<uint32_t>();
    if (c.at("with_one_time_prekey").get<bool>()) {
      header.one_time_prekey_id = file.at("one_time_prekey_id").get<uint32_t>();
    }
    auto r =
        X3dhRespond(bob_identity, header, Responder::LookupIn(spks), Responder::LookupIn(opks));
    REQUIRE(r.ok());
    CHECK(ToHex(r->shared_secret.view()) == c.at("shared_secret").get<std::string>());
    CHECK(ToHex(r->associated_data) == file.at("associated_data").get<std::string>());
  }
}

}  // namespace
}  // namespace liaison::crypto
