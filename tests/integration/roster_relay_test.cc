// The relay in roster mode, as a real process: it admits exactly the devices of the newest
// coordinator-signed epoch, refuses epochs that are forged or do not follow the one it holds,
// cuts off a revoked device's open connection, and enforces the role policy on SEND.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "base/clock.h"
#include "base/file_util.h"
#include "client/src/connection.h"
#include "crypto/random.h"
#include "relay_process_util.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;
using namespace std::chrono_literals;

namespace {

Status Ping(client::RelayConnection& connection) {
  LIAISON_ASSIGN_OR_RETURN(client::Reply reply, connection.Call(wire::FrameType::kPing, wire::Empty{}));
  return client::ReplyStatus(reply);
}

Status SendTo(client::RelayConnection& connection, const std::string& recipient) {
  wire::SendRequest send;
  send.recipient = recipient;
  send.message_id = crypto::RandomArray<16>();
  send.envelope = Bytes(512, 0x42);
  LIAISON_ASSIGN_OR_RETURN(client::Reply reply, connection.Call(wire::FrameType::kSend, send));
  return client::ReplyStatus(reply);
}

wire::GetRosterReply GetRoster(client::RelayConnection& connection, uint64_t number) {
  auto reply = connection.Call(wire::FrameType::kGetRoster, wire::GetRosterRequest{number});
  REQUIRE(reply.ok());
  REQUIRE(client::ReplyStatus(*reply).ok());
  auto decoded = wire::Decode<wire::GetRosterReply>(reply->body);
  REQUIRE(decoded.ok());
  return std::move(decoded).value();
}

}  // namespace

TEST_CASE("in roster mode the relay admits exactly the devices of the newest signed epoch", "[integration][roster]") {
  RosterRelay r;
  RawDevice officer{"officer-dresden/1"};
  RawDevice association{"association-a/1"};
  RawDevice stranger{"stranger/1"};
  zmq::context_t context;

  // No epoch yet: nobody but the admin tool gets in.
  CHECK(Ping(*officer.Connect(context, r.relay, 700ms)).code() == Code::kPermissionDenied);

  r.coordinator.Add(officer, roster::Role::kOfficer, {"city:dresden"});
  r.coordinator.Add(association, roster::Role::kAssociationContact, {"city:dresden"});
  r.coordinator.PublishNext(r.relay);
  CHECK(Ping(*officer.Connect(context, r.relay)).ok());
  CHECK(Ping(*association.Connect(context, r.relay)).ok());
  CHECK(Ping(*stranger.Connect(context, r.relay, 700ms)).code() == Code::kPermissionDenied);

  // devices.list no longer counts: `register` refuses, and a line written there admits nobody.
  const std::string card = r.dir.Sub("stranger.card");
  REQUIRE(WriteFileAtomically(card, "address = \"stranger/1\"\ntransport_key = \"" + stranger.TransportZ85() + "\"\n", 0644).ok());
  CHECK(RunProgram({LIAISON_RELAY_BIN, "register", r.relay.data_dir(), card}) == 2);
  REQUIRE(WriteFileAtomically(r.relay.data_dir() + "/devices.list", "stranger/1 " + stranger.TransportZ85() + "\n", 0644).ok());
  std::this_thread::sleep_for(1200ms);  // the list-mode reload interval, to show it is not used
  CHECK(Ping(*stranger.Connect(context, r.relay, 700ms)).code() == Code::kPermissionDenied);

  // Every member reads the same chain from the relay.
  auto connection = association.Connect(context, r.relay);
  const auto newest = GetRoster(*connection, 0);
  CHECK(newest.newest == 1);
  auto verified = roster::VerifyEpoch(newest.signed_epoch, r.coordinator.key.public_key);
  REQUIRE(verified.ok());
  CHECK(verified->hash == r.coordinator.held->hash);

  // The roster and the admissions survive a restart.
  r.relay.Stop();
  r.relay.Start();
  CHECK(Ping(*officer.Connect(context, r.relay)).ok());
  CHECK(GetRoster(*officer.Connect(context, r.relay), 1).newest == 1);
  CHECK(Ping(*stranger.Connect(context, r.relay, 700ms)).code() == Code::kPermissionDenied);
}

TEST_CASE("the relay refuses roster epochs that are forged or do not directly follow the one it holds",
          "[integration][roster]") {
  RosterRelay r;
  RawDevice officer{"officer-dresden/1"};
  RawDevice intruder{"intruder/1"};
  r.coordinator.Add(officer, roster::Role::kOfficer);
  r.coordinator.PublishNext(r.relay);
  r.coordinator.PublishNext(r.relay);  // epoch 2, same members
  const roster::VerifiedEpoch second = *r.coordinator.held;
  zmq::context_t context;

  // A forged epoch 3 (another key) that would admit the intruder.
  r.coordinator.Add(intruder, roster::Role::kOfficer);
  const auto forger = crypto::SigningKeyPair::Generate();
  CHECK(r.coordinator.Publish(r.relay, r.coordinator.SignNext(forger)).code() == Code::kUnauthenticated);
  {  // one bit of a genuine signature flipped
    Bytes flipped = r.coordinator.SignNext();
    flipped.back() ^= 0x01;
    CHECK(r.coordinator.Publish(r.relay, flipped).code() == Code::kUnauthenticated);
  }
  auto sign_as = [&](uint64_t number, const roster::EpochHash& previous) {
    roster::Epoch epoch;
    epoch.number = number;
    epoch.previous_hash = previous;
    epoch.members = r.coordinator.members;
    auto signed_epoch = roster::SignEpoch(epoch, r.coordinator.key);
    REQUIRE(signed_epoch.ok());
    return std::move(signed_epoch).value();
  };
  roster::EpochHash zero{};
  // Correctly signed, but: a repeated number, an older number, a skipped number, a wrong
  // previous hash.
  CHECK(r.coordinator.Publish(r.relay, sign_as(2, r.coordinator.held->epoch.previous_hash)).code() == Code::kConflict);
  CHECK(r.coordinator.Publish(r.relay, sign_as(1, zero)).code() == Code::kConflict);
  CHECK(r.coordinator.Publish(r.relay, sign_as(4, second.hash)).code() == Code::kConflict);
  roster::EpochHash wrong = second.hash;
  wrong[0] ^= 1;
  CHECK(r.coordinator.Publish(r.relay, sign_as(3, wrong)).code() == Code::kConflict);
  // Garbage.
  CHECK(r.coordinator.Publish(r.relay, Bytes{1, 2, 3}).code() == Code::kMalformed);

  // Nothing changed: the relay still holds epoch 2 and the intruder is not admitted.
  auto connection = officer.Connect(context, r.relay);
  const auto newest = GetRoster(*connection, 0);
  CHECK(newest.newest == 2);
  CHECK(newest.signed_epoch == second.signed_bytes);
  CHECK(Ping(*intruder.Connect(context, r.relay, 700ms)).code() == Code::kPermissionDenied);

  // The genuine successor is accepted.
  r.coordinator.PublishNext(r.relay);
  CHECK(GetRoster(*connection, 0).newest == 3);
  CHECK(Ping(*intruder.Connect(context, r.relay)).ok());
}

TEST_CASE("a revoked member's open connection is refused at once and its sends with it", "[integration][roster]") {
  RosterRelay r;
  RawDevice officer{"officer-dresden/1"};
  RawDevice association{"association-a/1"};
  r.coordinator.Add(officer, roster::Role::kOfficer);
  r.coordinator.Add(association, roster::Role::kAssociationContact);
  r.coordinator.PublishNext(r.relay);
  zmq::context_t context;
  auto connection = association.Connect(context, r.relay);
  REQUIRE(SendTo(*connection, "officer-dresden/1").ok());

  r.coordinator.Remove("association-a");
  const auto revoked_at = std::chrono::steady_clock::now();
  r.coordinator.PublishNext(r.relay);
  Status send = Status::Ok();
  while (std::chrono::steady_clock::now() - revoked_at < 2s) {
    send = SendTo(*connection, "officer-dresden/1");
    if (!send.ok()) break;
    std::this_thread::sleep_for(50ms);
  }
  const auto refused_after = std::chrono::steady_clock::now() - revoked_at;
  CHECK(send.code() == Code::kPermissionDenied);
  CHECK_THAT(send.message(), Catch::Contains("no longer admitted"));
  CHECK(refused_after < 2s);
  CHECK(Ping(*connection).code() == Code::kPermissionDenied);
  // A new connection with the revoked key does not get through the handshake.
  CHECK(Ping(*association.Connect(context, r.relay, 700ms)).code() == Code::kPermissionDenied);
  // The officer is unaffected and can no longer write to the revoked device.
  auto officer_connection = officer.Connect(context, r.relay);
  CHECK(DrainMailbox(*officer_connection) == 1);
  CHECK(SendTo(*officer_connection, "association-a/1").code() == Code::kNotFound);
}

TEST_CASE("the relay enforces the role policy on send", "[integration][roster]") {
  RosterRelay r;
  RawDevice desk{"desk-dresden/1"};
  RawDevice association_a{"association-a/1"};
  RawDevice deputy_b{"association-b/1"};
  r.coordinator.Add(desk, roster::Role::kDesk);
  r.coordinator.Add(association_a, roster::Role::kAssociationContact);
  r.coordinator.Add(deputy_b, roster::Role::kDeputy);
  r.coordinator.PublishNext(r.relay);
  zmq::context_t context;
  auto a = association_a.Connect(context, r.relay);
  auto b = deputy_b.Connect(context, r.relay);
  auto d = desk.Connect(context, r.relay);

  const Status refused = SendTo(*a, "association-b/1");
  CHECK(refused.code() == Code::kPermissionDenied);
  CHECK_THAT(refused.message(), Catch::Contains("association_contact may not write to a deputy"));
  CHECK(SendTo(*b, "association-a/1").code() == Code::kPermissionDenied);
  CHECK(SendTo(*a, "desk-dresden/1").ok());
  CHECK(SendTo(*b, "desk-dresden/1").ok());
  CHECK(SendTo(*d, "association-a/1").ok());
  CHECK(SendTo(*d, "association-b/1").ok());
  CHECK(DrainMailbox(*a) == 1);
  CHECK(DrainMailbox(*b) == 1);
  CHECK(DrainMailbox(*d) == 2);
}

TEST_CASE("the coordinator's admin key may only publish and read the roster", "[integration][roster]") {
  RosterRelay r;
  RawDevice officer{"officer-dresden/1"};
  r.coordinator.Add(officer, roster::Role::kOfficer);
  r.coordinator.PublishNext(r.relay);
  zmq::context_t context;
  auto admin = r.coordinator.admin.Connect(context, r.relay);
  CHECK(Ping(*admin).ok());
  CHECK(GetRoster(*admin, 0).newest == 1);
  CHECK(SendTo(*admin, "officer-dresden/1").code() == Code::kPermissionDenied);
  auto fetched = admin->Call(wire::FrameType::kFetch, wire::FetchRequest{});
  REQUIRE(fetched.ok());
  CHECK(client::ReplyStatus(*fetched).code() == Code::kPermissionDenied);
  // Nobody can address the admin tool.
  CHECK(SendTo(*officer.Connect(context, r.relay), "@coordinator").code() == Code::kNotFound);
}

TEST_CASE("a member past its validity is not admitted", "[integration][roster]") {
  RosterRelay r;
  RawDevice officer{"officer-dresden/1"};
  RawDevice expired{"association-old/1"};
  r.coordinator.Add(officer, roster::Role::kOfficer);
  r.coordinator.Add(expired, roster::Role::kAssociationContact);
  r.coordinator.members[0].valid_until = static_cast<uint64_t>(SystemClock().NowMicros() - kMicrosPerSecond);
  REQUIRE(r.coordinator.members[0].id == "association-old");
  r.coordinator.PublishNext(r.relay);
  zmq::context_t context;
  CHECK(Ping(*officer.Connect(context, r.relay)).ok());
  CHECK(Ping(*expired.Connect(context, r.relay, 700ms)).code() == Code::kPermissionDenied);
}
