// Tests for client/src/sessions.h: session start, the pending initial header, simultaneous
// starts converging, sender identity checks, one-time prekey use, and the stored form.
#include "client/src/sessions.h"

#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "client/src/app_message.h"
#include "crypto/random.h"
#include "crypto/sign.h"

namespace liaison::client {
namespace {

constexpr int64_t kNow = 1'800'000'000'000'000;

// One device: identity keys, a signed prekey and some one-time prekeys, and its sessions.
struct Device {
  std::string address;
  crypto::SigningKeyPair signing = crypto::SigningKeyPair::Generate();
  crypto::DhKeyPair identity = crypto::DhKeyPair::Generate();
  crypto::DhKeyPair signed_prekey = crypto::DhKeyPair::Generate();
  std::map<uint32_t, crypto::DhKeyPair> one_time;
  std::map<std::string, PeerSessions> sessions;

  explicit Device(std::string a) : address(std::move(a)) {
    for (uint32_t id = 1; id <= 3; ++id) one_time.emplace(id, crypto::DhKeyPair::Generate());
  }
  crypto::PrekeyBundle Bundle(bool with_one_time) {
    crypto::PrekeyBundle b;
    b.identity_dh_public = identity.public_key;
    b.identity_signing_public = signing.public_key;
    b.signed_prekey_id = 7;
    b.signed_prekey_public = signed_prekey.public_key;
    b.signed_prekey_signature = crypto::SignSignedPrekey(signing.secret_key, 7, signed_prekey.public_key);
    if (with_one_time && !one_time.empty()) {
      b.one_time_prekey = crypto::OneTimePrekeyPublic{one_time.begin()->first, one_time.begin()->second.public_key};
    }
    return b;
  }
  ResponderKeys Keys() {
    return ResponderKeys{&identity,
                         [this](uint32_t id) -> Result<crypto::DhKeyPair> {
                           if (id != 7) return Status::Error(Code::kNotFound, "no such signed prekey");
                           return crypto::DhKeyPair::FromSecret(signed_prekey.secret_key.Clone());
                         },
                         [this](uint32_t id) -> Result<crypto::DhKeyPair> {
                           auto it = one_time.find(id);
                           if (it == one_time.end()) return Status::Error(Code::kNotFound, "no such one-time prekey");
                           return crypto::DhKeyPair::FromSecret(it->second.secret_key.Clone());
                         }};
  }
  void Start(Device& peer, bool with_one_time = true) {
    auto session = StartSession(identity, peer.Bundle(with_one_time));
    REQUIRE(session.ok());
    MakeCurrent(sessions[peer.address], std::move(session).value());
  }
  crypto::SealedContent Send(const Device& peer, const std::string& text) {
    auto out = EncryptInCurrent(sessions[peer.address], AsBytes(text));
    REQUIRE(out.ok());
    return crypto::SealedContent{address, {}, out->initial, std::move(out->ratchet_message)};
  }
  Result<std::string> Receive(const Device& sender, const crypto::SealedContent& content) {
    auto decrypted = DecryptFromPeer(sessions[sender.address], content, sender.identity.public_key, Keys(), kNow);
    if (!decrypted.ok()) return decrypted.status();
    if (decrypted->used_one_time_prekey) one_time.erase(*decrypted->used_one_time_prekey);
    return std::string(AsChars(decrypted->plaintext.view()));
  }
};

}  // namespace

TEST_CASE("the initiator repeats its initial header until the responder's first reply decrypts",
          "[client][sessions]") {
  Device alice("alice/1"), bob("bob/1");
  alice.Start(bob);
  const auto first = alice.Send(bob, "one");
  const auto second = alice.Send(bob, "two");
  REQUIRE(first.initial);
  REQUIRE(second.initial);
  CHECK(first.initial == second.initial);
  CHECK(first.initial->one_time_prekey_id == std::optional<uint32_t>(1));
  CHECK(*bob.Receive(alice, second) == "two");  // out of order: the session starts from either
  CHECK(bob.one_time.count(1) == 0);            // the one-time prekey is gone once it was used
  CHECK(*bob.Receive(alice, first) == "one");
  CHECK(bob.Receive(alice, first).status().code() == Code::kDuplicate);
  const auto reply = bob.Send(alice, "three");
  CHECK_FALSE(reply.initial);
  CHECK(*alice.Receive(bob, reply) == "three");
  CHECK_FALSE(alice.Send(bob, "four").initial);
  CHECK(alice.sessions[bob.address].size() == 1);
  CHECK(bob.sessions[alice.address].size() == 1);
}

TEST_CASE("two devices that start sessions with each other at once converge on one", "[client][sessions]") {
  Device alice("alice/1"), bob("bob/1");
  alice.Start(bob);
  bob.Start(alice);
  const auto from_alice = alice.Send(bob, "hello bob");
  const auto from_bob = bob.Send(alice, "hello alice");
  CHECK(*bob.Receive(alice, from_alice) == "hello bob");
  CHECK(*alice.Receive(bob, from_bob) == "hello alice");
  CHECK(alice.sessions[bob.address].size() == 2);
  CHECK(bob.sessions[alice.address].size() == 2);
  // Each now sends in the session the other started; both sides decrypt whatever arrives.
  for (int i = 0; i < 6; ++i) {
    const auto a = alice.Send(bob, "a" + std::to_string(i));
    CHECK(*bob.Receive(alice, a) == "a" + std::to_string(i));
    const auto b = bob.Send(alice, "b" + std::to_string(i));
    CHECK(*alice.Receive(bob, b) == "b" + std::to_string(i));
  }
  // After a round trip both current sessions are the same one (same base key).
  CHECK(alice.sessions[bob.address].front().base_key == bob.sessions[alice.address].front().base_key);
}

TEST_CASE("an initial message naming another identity key than its sender's is refused", "[client][sessions]") {
  Device alice("alice/1"), bob("bob/1"), mallory("mallory/1");
  mallory.Start(bob);
  const auto forged = mallory.Send(bob, "I am alice");
  // Claimed sender alice: her certified identity key is not the one in the X3DH header.
  auto result = DecryptFromPeer(bob.sessions[alice.address], forged, alice.identity.public_key, bob.Keys(), kNow);
  CHECK(result.status().code() == Code::kUnauthenticated);
  CHECK(bob.sessions[alice.address].empty());
  CHECK(bob.one_time.size() == 3);
}

TEST_CASE("a message no held session can decrypt is refused and changes nothing", "[client][sessions]") {
  Device alice("alice/1"), bob("bob/1");
  alice.Start(bob);
  CHECK(*bob.Receive(alice, alice.Send(bob, "start")) == "start");
  const crypto::WipedBytes before = EncodePeerSessions(bob.sessions[alice.address]);
  auto message = alice.Send(bob, "next");
  message.initial.reset();
  message.ratchet_message[50] ^= 1;
  CHECK(bob.Receive(alice, message).status().code() == Code::kUnauthenticated);
  const crypto::WipedBytes after = EncodePeerSessions(bob.sessions[alice.address]);
  CHECK(Bytes(before.view().begin(), before.view().end()) == Bytes(after.view().begin(), after.view().end()));
}

TEST_CASE("a session starts without a one-time prekey when none is left, and a used one cannot start another",
          "[client][sessions]") {
  Device alice("alice/1"), bob("bob/1"), carol("carol/1");
  alice.Start(bob, false);
  const auto first = alice.Send(bob, "no one-time prekey");
  REQUIRE(first.initial);
  CHECK_FALSE(first.initial->one_time_prekey_id);
  CHECK(*bob.Receive(alice, first) == "no one-time prekey");
  CHECK(bob.one_time.size() == 3);

  carol.Start(bob);  // takes one-time prekey 1
  CHECK(*bob.Receive(carol, carol.Send(bob, "hi")) == "hi");
  CHECK(bob.one_time.count(1) == 0);
  // A second initiator given the same (already used) one-time prekey cannot start a session.
  Device dave("dave/1");
  crypto::PrekeyBundle stale = bob.Bundle(false);
  stale.one_time_prekey = crypto::OneTimePrekeyPublic{1, crypto::DhKeyPair::Generate().public_key};
  auto session = StartSession(dave.identity, stale);
  REQUIRE(session.ok());
  MakeCurrent(dave.sessions[bob.address], std::move(session).value());
  CHECK(bob.Receive(dave, dave.Send(bob, "replay")).status().code() == Code::kNotFound);
}

TEST_CASE("a bad signed prekey signature aborts the session start", "[client][sessions]") {
  Device alice("alice/1"), bob("bob/1");
  crypto::PrekeyBundle bundle = bob.Bundle(true);
  bundle.signed_prekey_signature[10] ^= 1;
  CHECK(StartSession(alice.identity, bundle).status().code() == Code::kUnauthenticated);
}

TEST_CASE("stored sessions round-trip, keep at most four per peer, and refuse damage", "[client][sessions]") {
  Device alice("alice/1"), bob("bob/1");
  for (int i = 0; i < 6; ++i) alice.Start(bob);
  PeerSessions& sessions = alice.sessions[bob.address];
  CHECK(sessions.size() == kMaxSessionsPerPeer);
  const crypto::WipedBytes encoded = EncodePeerSessions(sessions);
  auto decoded = DecodePeerSessions(encoded.view());
  REQUIRE(decoded.ok());
  const crypto::WipedBytes again = EncodePeerSessions(*decoded);
  const Bytes a(encoded.view().begin(), encoded.view().end());
  CHECK(a == Bytes(again.view().begin(), again.view().end()));
  CHECK((*decoded)[0].pending_initial == sessions[0].pending_initial);

  Bytes damaged = a;
  damaged[0] = 2;
  CHECK(DecodePeerSessions(damaged).status().code() == Code::kUnsupportedVersion);
  damaged = a;
  damaged[1] = 5;
  CHECK(DecodePeerSessions(damaged).status().code() == Code::kCorruption);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{5}, a.size() / 2, a.size() - 1}) {
    CHECK(DecodePeerSessions(ByteView(a).first(cut)).status().code() == Code::kCorruption);
  }
  damaged = a;
  damaged.push_back(0);
  CHECK(DecodePeerSessions(damaged).status().code() == Code::kCorruption);
}

TEST_CASE("application messages carry their id and refuse unknown versions and kinds", "[client][sessions]") {
  AppMessage m;
  m.message_id = crypto::RandomArray<16>();
  m.text = "Drohbrief erhalten";
  auto encoded = EncodeAppMessage(m);
  REQUIRE(encoded.ok());
  auto decoded = DecodeAppMessage(encoded->view());
  REQUIRE(decoded.ok());
  CHECK(decoded->message_id == m.message_id);
  CHECK(decoded->text == m.text);
  Bytes bad(encoded->view().begin(), encoded->view().end());
  bad[0] = 2;
  CHECK(DecodeAppMessage(bad).status().code() == Code::kUnsupportedVersion);
  bad[0] = 1;
  bad[1] = 9;
  CHECK(DecodeAppMessage(bad).status().code() == Code::kUnsupportedVersion);
  CHECK(DecodeAppMessage(ByteView(bad).first(18)).status().code() == Code::kUnsupportedVersion);
  bad[1] = 1;
  CHECK(DecodeAppMessage(ByteView(bad).first(18)).status().code() == Code::kMalformed);
  m.text.clear();
  CHECK(EncodeAppMessage(m).status().code() == Code::kInvalidArgument);
  m.text.assign(kMaxTextBytes + 1, 'x');
  CHECK(EncodeAppMessage(m).status().code() == Code::kInvalidArgument);
}

}  // namespace liaison::client
