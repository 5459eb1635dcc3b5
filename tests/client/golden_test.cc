// Golden files of this version (tests/data/kat/client/sessions_v1.json): a sealed v2 envelope,
// the client's key bundle and prekey records, and stored session records. Later versions must
// still read them: the envelope must open with the frozen identity key and its ratchet message
// decrypt in the frozen session to the frozen text.
//
// The file was written once by this test with LIAISON_WRITE_GOLDEN=<path> set; never regenerate
// it (a build that cannot read it has broken stored sessions or mailboxes).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client/src/app_message.h"
#include "client/src/client_state.h"
#include "client/src/key_bundle.h"
#include "client/src/sessions.h"
#include "crypto/random.h"
#include "crypto/sign.h"

namespace liaison::client {
namespace {

constexpr int64_t kNow = 1'800'000'000'000'000;

Bytes Hex(const nlohmann::json& j) {
  auto bytes = FromHex(j.get<std::string>());
  REQUIRE(bytes.ok());
  return std::move(bytes).value();
}
std::string HexOf(ByteView b) { return ToHex(b); }

template <size_t N>
crypto::SecretBytes<N> Secret(const nlohmann::json& j) {
  const Bytes bytes = Hex(j);
  auto secret = crypto::SecretBytes<N>::FromBytes(bytes);
  REQUIRE(secret.ok());
  return std::move(secret).value();
}

// Writes the golden file: Alice starts a session with Bob, Bob answers, Alice sends once more.
void WriteGolden(const char* path) {
  const auto alice_signing = crypto::SigningKeyPair::Generate();
  const auto alice_identity = crypto::DhKeyPair::Generate();
  const auto bob_signing = crypto::SigningKeyPair::Generate();
  const auto bob_identity = crypto::DhKeyPair::Generate();
  const auto bob_spk = crypto::DhKeyPair::Generate();
  const auto bob_otk = crypto::DhKeyPair::Generate();
  crypto::PrekeyBundle bundle;
  bundle.identity_dh_public = bob_identity.public_key;
  bundle.identity_signing_public = bob_signing.public_key;
  bundle.signed_prekey_id = 3;
  bundle.signed_prekey_public = bob_spk.public_key;
  bundle.signed_prekey_signature = crypto::SignSignedPrekey(bob_signing.secret_key, 3, bob_spk.public_key);
  bundle.one_time_prekey = crypto::OneTimePrekeyPublic{41, bob_otk.public_key};

  PeerSessions alice, bob;
  MakeCurrent(alice, StartSession(alice_identity, bundle).value());
  const crypto::WipedBytes alice_pending = EncodePeerSessions(alice);
  ResponderKeys keys{&bob_identity, [&](uint32_t) { return Result<crypto::DhKeyPair>(crypto::DhKeyPair::FromSecret(bob_spk.secret_key.Clone())); },
                     [&](uint32_t) { return Result<crypto::DhKeyPair>(crypto::DhKeyPair::FromSecret(bob_otk.secret_key.Clone())); }};
  auto send = [&](PeerSessions& from, const std::string& sender, const std::string& text, const MessageId& id) {
    AppMessage app;
    app.message_id = id;
    app.text = text;
    auto out = EncryptInCurrent(from, EncodeAppMessage(app).value().view()).value();
    return crypto::SealedContent{sender, crypto::RandomArray<32>(), out.initial, out.ratchet_message};
  };
  const MessageId id1 = crypto::RandomArray<16>(), id2 = crypto::RandomArray<16>(), id3 = crypto::RandomArray<16>();
  REQUIRE(DecryptFromPeer(bob, send(alice, "alice/phone", "first", id1), alice_identity.public_key, keys, kNow).ok());
  REQUIRE(DecryptFromPeer(alice, send(bob, "bob/laptop", "answer", id2), bob_identity.public_key, keys, kNow).ok());
  const crypto::WipedBytes bob_before = EncodePeerSessions(bob);
  const crypto::SealedContent third = send(alice, "alice/phone", "Bitte um Rückruf", id3);
  const Bytes envelope = crypto::SealEnvelopeV2(third, "bob/laptop", bob_identity.public_key, id3).value();

  nlohmann::json j;
  j["comment"] = "Frozen when sessions v1 were written (client/src/sessions.h, crypto/sealed_envelope.h, "
                 "client/src/key_bundle.h, client/src/app_message.h); never regenerate.";
  j["alice_address"] = "alice/phone";
  j["alice_signing_secret"] = HexOf(ByteView(alice_signing.secret_key.data(), 64));
  j["alice_identity_bundle_v1"] = HexOf(EncodeKeyBundle("alice/phone", alice_signing, alice_identity.public_key));
  j["alice_identity_dh_public"] = HexOf(alice_identity.public_key);
  j["alice_peer_sessions_pending_v1"] = HexOf(alice_pending.view());
  j["bob_address"] = "bob/laptop";
  j["bob_identity_dh_secret"] = HexOf(ByteView(bob_identity.secret_key.data(), 32));
  j["bob_signed_prekey_record_v1"] =
      HexOf(EncodeSignedPrekeyRecord({3, bob_spk.public_key, bundle.signed_prekey_signature}));
  j["bob_signing_public"] = HexOf(bob_signing.public_key);
  j["bob_one_time_prekey_record_v1"] = HexOf(EncodeOneTimePrekeyRecord({41, bob_otk.public_key}));
  j["bob_peer_sessions_v1"] = HexOf(bob_before.view());
  j["message_id"] = HexOf(id3);
  j["envelope_v2"] = HexOf(envelope);
  j["roster_hash"] = HexOf(third.roster_hash);
  j["text"] = "Bitte um Rückruf";
  std::ofstream(path) << j.dump(2) << "\n";
}

nlohmann::json Golden() {
  std::ifstream in(std::string(LIAISON_TEST_DATA_DIR) + "/kat/client/sessions_v1.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("golden: a frozen v2 envelope opens and decrypts in a frozen session record", "[client][golden]") {
  if (const char* path = std::getenv("LIAISON_WRITE_GOLDEN")) WriteGolden(path);
  const nlohmann::json g = Golden();
  const crypto::DhKeyPair bob = crypto::DhKeyPair::FromSecret(Secret<32>(g["bob_identity_dh_secret"]));
  const Bytes id_bytes = Hex(g["message_id"]);
  MessageId id{};
  std::copy(id_bytes.begin(), id_bytes.end(), id.begin());
  const Bytes envelope = Hex(g["envelope_v2"]);
  auto content = crypto::OpenEnvelopeV2(envelope, g["bob_address"].get<std::string>(), bob, id);
  REQUIRE(content.ok());
  CHECK(content->sender_address == g["alice_address"].get<std::string>());
  CHECK(HexOf(content->roster_hash) == g["roster_hash"].get<std::string>());
  CHECK_FALSE(content->initial);

  const Bytes stored = Hex(g["bob_peer_sessions_v1"]);
  auto sessions = DecodePeerSessions(stored);
  REQUIRE(sessions.ok());
  crypto::DhPublicKey alice_dh{};
  const Bytes alice_dh_bytes = Hex(g["alice_identity_dh_public"]);
  std::copy(alice_dh_bytes.begin(), alice_dh_bytes.end(), alice_dh.begin());
  ResponderKeys no_prekeys{&bob, nullptr, nullptr};
  auto decrypted = DecryptFromPeer(*sessions, *content, alice_dh, no_prekeys, kNow);
  REQUIRE(decrypted.ok());
  auto app = DecodeAppMessage(decrypted->plaintext.view());
  REQUIRE(app.ok());
  CHECK(app->message_id == id);
  CHECK(app->text == g["text"].get<std::string>());
  // The frozen record re-encodes to itself.
  auto again = DecodePeerSessions(stored);
  REQUIRE(again.ok());
  const crypto::WipedBytes reencoded = EncodePeerSessions(*again);
  CHECK(Bytes(reencoded.view().begin(), reencoded.view().end()) == stored);
}

TEST_CASE("golden: frozen key bundle, prekey records and a pending session record still decode",
          "[client][golden]") {
  const nlohmann::json g = Golden();
  auto bundle = DecodeKeyBundle(g["alice_address"].get<std::string>(), Hex(g["alice_identity_bundle_v1"]));
  REQUIRE(bundle.ok());
  CHECK(HexOf(bundle->dh_key) == g["alice_identity_dh_public"].get<std::string>());
  auto signing = crypto::SigningKeyPair::FromSecret(Secret<64>(g["alice_signing_secret"]));
  REQUIRE(signing.ok());
  CHECK(bundle->signing_key == signing->public_key);

  auto spk = DecodeSignedPrekeyRecord(Hex(g["bob_signed_prekey_record_v1"]));
  REQUIRE(spk.ok());
  CHECK(spk->id == 3);
  crypto::SignPublicKey bob_signing{};
  const Bytes bob_signing_bytes = Hex(g["bob_signing_public"]);
  std::copy(bob_signing_bytes.begin(), bob_signing_bytes.end(), bob_signing.begin());
  CHECK(crypto::VerifySignedPrekey(bob_signing, spk->id, spk->public_key, spk->signature).ok());
  auto otk = DecodeOneTimePrekeyRecord(Hex(g["bob_one_time_prekey_record_v1"]));
  REQUIRE(otk.ok());
  CHECK(otk->id == 41);

  const Bytes pending = Hex(g["alice_peer_sessions_pending_v1"]);
  auto sessions = DecodePeerSessions(pending);
  REQUIRE(sessions.ok());
  REQUIRE(sessions->size() == 1);
  REQUIRE((*sessions)[0].pending_initial);
  CHECK((*sessions)[0].pending_initial->signed_prekey_id == 3);
  CHECK((*sessions)[0].pending_initial->one_time_prekey_id == std::optional<uint32_t>(41));
  const crypto::WipedBytes reencoded = EncodePeerSessions(*sessions);
  CHECK(Bytes(reencoded.view().begin(), reencoded.view().end()) == pending);
}

}  // namespace liaison::client
