// End-to-end sessions through a real relay: prekeys published, claimed once and replenished;
// sessions that survive restarts of both clients; envelopes that do not name their sender;
// member addresses fanned out to every device; a bad signed prekey refused.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "base/clock.h"
#include "client/src/key_bundle.h"
#include "crypto/sealed_envelope.h"
#include "crypto/x3dh.h"
#include "relay_process_util.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;
using namespace std::chrono_literals;

namespace {

// Claims `address`'s one-time prekeys through `connection` until the relay has none left;
// returns how many it handed out. Each one is checked to be a well-formed v1 record.
size_t ClaimAllOneTimePrekeys(client::RelayConnection& connection, const std::string& address) {
  size_t claimed = 0;
  while (true) {
    auto reply = connection.Call(wire::FrameType::kClaimPrekeys, wire::ClaimPrekeysRequest{address});
    REQUIRE(reply.ok());
    REQUIRE(client::ReplyStatus(*reply).ok());
    auto claim = wire::Decode<wire::ClaimPrekeysReply>(reply->body);
    REQUIRE(claim.ok());
    REQUIRE(client::DecodeSignedPrekeyRecord(claim->signed_prekey).ok());
    if (claim->one_time_prekey.empty()) return claimed;
    REQUIRE(client::DecodeOneTimePrekeyRecord(claim->one_time_prekey).ok());
    ++claimed;
    REQUIRE(claimed <= 200);
  }
}

std::vector<std::string> Texts(Client& client) {
  auto inbox = client.Inbox();
  REQUIRE(inbox.ok());
  std::vector<std::string> out;
  for (auto& m : *inbox) out.push_back(m.text);
  return out;
}

}  // namespace

TEST_CASE("sessions survive a restart of both clients and are not started again", "[integration][sessions]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  {
    auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
    auto association = MakeClient(relay, dir.Sub("association"), "association/1");
    REQUIRE(association->Sync().ok());  // publishes its prekeys
    REQUIRE(officer->Sync().ok());
    REQUIRE(officer->Send("association/1", "before restart 1").ok());
    REQUIRE(association->Sync()->received == 1);
    REQUIRE(association->Send("officer/1", "reply before restart").ok());
    REQUIRE(officer->Sync()->received == 1);
  }
  relay.Stop();
  relay.Start();
  auto officer = Client::Open(OptionsFor(relay, dir.Sub("officer")));
  auto association = Client::Open(OptionsFor(relay, dir.Sub("association")));
  REQUIRE(officer.ok());
  REQUIRE(association.ok());
  for (int i = 0; i < 5; ++i) {
    REQUIRE((*officer)->Send("association/1", "after restart " + std::to_string(i)).ok());
    REQUIRE((*association)->Send("officer/1", "answer " + std::to_string(i)).ok());
  }
  auto to_association = (*association)->Sync();
  auto to_officer = (*officer)->Sync();
  REQUIRE(to_association.ok());
  REQUIRE(to_officer.ok());
  CHECK(to_association->received == 5);
  CHECK(to_association->rejected == 0);
  CHECK(to_officer->received == 5);
  CHECK(to_officer->rejected == 0);
  CHECK(Texts(**association).back() == "after restart 4");
  CHECK(Texts(**officer).back() == "answer 4");

  // One session in all: the association's one-time prekeys lost exactly one (the officer's
  // start), the officer's none (the association only ever answered in that session).
  RawDevice auditor{"auditor/1"};
  relay.Register(auditor.address, auditor.TransportZ85());
  zmq::context_t context;
  auto connection = auditor.Connect(context, relay);
  CHECK(ClaimAllOneTimePrekeys(*connection, "association/1") == 99);
  CHECK(ClaimAllOneTimePrekeys(*connection, "officer/1") == 100);
}

TEST_CASE("one-time prekeys are handed out once, replenished when few remain, and sessions start without them",
          "[integration][sessions]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  auto association = MakeClient(relay, dir.Sub("association"), "association/1");
  REQUIRE(association->Sync().ok());
  RawDevice auditor{"auditor/1"};
  relay.Register(auditor.address, auditor.TransportZ85());
  zmq::context_t context;
  auto connection = auditor.Connect(context, relay);
  CHECK(ClaimAllOneTimePrekeys(*connection, "association/1") == 100);

  // None left: a session still starts (X3DH without DH4) and the message arrives.
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  auto receipt = officer->Send("association/1", "without a one-time prekey");
  REQUIRE(receipt.ok());
  CHECK(receipt->stored);
  auto report = association->Sync();  // also tops the one-time prekeys up
  REQUIRE(report.ok());
  CHECK(report->received == 1);
  CHECK(Texts(*association) == std::vector<std::string>{"without a one-time prekey"});
  CHECK(ClaimAllOneTimePrekeys(*connection, "association/1") == 100);
}

TEST_CASE("what the relay stores names no sender and has a bucket's size", "[integration][sessions]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  RawDevice association{"association/1"};
  relay.Register(association.address, association.TransportZ85());
  zmq::context_t context;
  auto connection = association.Connect(context, relay);
  PublishRawKeys(*connection, association);
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer-dresden/1");
  REQUIRE(officer->Send("association/1", "short").ok());
  REQUIRE(officer->Send("association/1", std::string(3000, 'x')).ok());
  auto reply = connection->Call(wire::FrameType::kFetch, wire::FetchRequest{});
  REQUIRE(client::ReplyStatus(*reply).ok());
  auto deliveries = wire::Decode<wire::Deliveries>(reply->body);
  REQUIRE(deliveries.ok());
  REQUIRE(deliveries->items.size() == 2);
  const std::string sender = "officer-dresden";
  for (const auto& d : deliveries->items) {
    CHECK(d.envelope[0] == crypto::kEnvelopeVersion2);
    CHECK(std::find(crypto::kEnvelopeBuckets.begin(), crypto::kEnvelopeBuckets.end(), d.envelope.size()) !=
          crypto::kEnvelopeBuckets.end());
    CHECK(std::search(d.envelope.begin(), d.envelope.end(), sender.begin(), sender.end()) == d.envelope.end());
    // The recipient finds the sender inside.
    auto opened = crypto::OpenEnvelopeV2(d.envelope, association.address, association.dh, d.message_id);
    REQUIRE(opened.ok());
    CHECK(opened->sender_address == "officer-dresden/1");
  }
  CHECK(deliveries->items[0].envelope.size() == 512);
  CHECK(deliveries->items[1].envelope.size() == 4096);
}

TEST_CASE("a message to a member reaches each of its devices through its own session", "[integration][sessions]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  auto desk1 = MakeClient(relay, dir.Sub("desk1"), "desk-dresden/1");
  auto desk2 = MakeClient(relay, dir.Sub("desk2"), "desk-dresden/2");
  auto association = MakeClient(relay, dir.Sub("association"), "association/1");
  REQUIRE(desk1->Sync().ok());
  REQUIRE(desk2->Sync().ok());
  auto receipt = association->Send("desk-dresden", "Drohbrief im Briefkasten");
  REQUIRE(receipt.ok());
  CHECK(receipt->stored);
  auto at1 = desk1->Sync();
  auto at2 = desk2->Sync();
  REQUIRE(at1.ok());
  REQUIRE(at2.ok());
  CHECK(at1->received == 1);
  CHECK(at2->received == 1);
  REQUIRE(desk1->Inbox()->size() == 1);
  REQUIRE(desk2->Inbox()->size() == 1);
  CHECK((*desk1->Inbox())[0].id == receipt->id);
  CHECK((*desk2->Inbox())[0].id == receipt->id);
  CHECK((*desk1->Inbox())[0].sender == "association/1");
  // Each desk device answers in its own session; one desk device writing to the member reaches
  // the other device too, but not itself.
  REQUIRE(desk1->Send("association/1", "Wir kommen vorbei").ok());
  REQUIRE(desk1->Send("desk-dresden", "ich übernehme").ok());
  CHECK(association->Sync()->received == 1);
  CHECK(desk2->Sync()->received == 1);
  CHECK(desk1->Sync()->received == 0);
  CHECK(association->Send("nobody", "x").status().code() == Code::kNotFound);
}

TEST_CASE("a signed prekey with a bad signature aborts the session and queues nothing", "[integration][sessions]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  RawDevice association{"association/1"};
  relay.Register(association.address, association.TransportZ85());
  zmq::context_t context;
  auto connection = association.Connect(context, relay);
  PublishRawKeys(*connection, association, /*break_signature=*/true);

  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  auto sent = officer->Send("association/1", "never sent");
  CHECK(sent.status().code() == Code::kUnauthenticated);
  CHECK(*officer->OutboxSize() == 0);
  CHECK(DrainMailbox(*connection) == 0);
}

TEST_CASE("a replaced signed prekey opens initial messages for 90 days after its replacement, then no more",
          "[integration][sessions]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  // One message per mailbox: the senders' later messages wait in their outboxes, already
  // encrypted to the officer's first signed prekey, until the test lets them through.
  relay.EditConfig("max_mailbox_messages = 100000", "max_mailbox_messages = 1");
  relay.Start();
  FakeClock officer_clock(SystemClock().NowMicros());
  constexpr int64_t kDay = 86400 * kMicrosPerSecond;
  ClientOptions options = OptionsFor(relay, dir.Sub("officer"));
  options.clock = &officer_clock;
  auto created = Client::Create(options, "officer/1");
  REQUIRE(created.ok());
  auto officer = std::move(created).value();
  relay.Register("officer/1", officer->Card().transport_key);
  REQUIRE(officer->Sync().ok());  // publishes signed prekey 1

  RawDevice auditor{"auditor/1"};
  relay.Register(auditor.address, auditor.TransportZ85());
  zmq::context_t context;
  auto connection = auditor.Connect(context, relay);
  auto served_signed_prekey = [&] {
    auto reply = connection->Call(wire::FrameType::kClaimPrekeys, wire::ClaimPrekeysRequest{"officer/1"});
    REQUIRE(reply.ok());
    REQUIRE(client::ReplyStatus(*reply).ok());
    auto claim = wire::Decode<wire::ClaimPrekeysReply>(reply->body);
    REQUIRE(claim.ok());
    auto record = client::DecodeSignedPrekeyRecord(claim->signed_prekey);
    REQUIRE(record.ok());
    return record->id;
  };
  CHECK(served_signed_prekey() == 1);

  auto first = MakeClient(relay, dir.Sub("first"), "association-a/1");
  auto second = MakeClient(relay, dir.Sub("second"), "association-b/1");
  auto third = MakeClient(relay, dir.Sub("third"), "association-c/1");
  auto stored = first->Send("officer/1", "written to prekey 1, read after 8 days");
  REQUIRE(stored.ok());
  CHECK(stored->stored);
  for (auto* sender : {second.get(), third.get()}) {
    auto waiting = sender->Send("officer/1", "written to prekey 1 by " + sender->address());
    REQUIRE(waiting.ok());
    CHECK_FALSE(waiting->stored);  // mailbox full: kept in the outbox, sealed to prekey 1
  }

  // Day 8: the officer replaces prekey 1 (a week old) before fetching, and still reads the
  // message written to it.
  officer_clock.Advance(8 * kDay);
  auto report = officer->Sync();
  REQUIRE(report.ok());
  CHECK(report->received == 1);
  CHECK(report->rejected == 0);
  CHECK(served_signed_prekey() == 2);

  // One minute before the grace period after the replacement ends: still readable.
  REQUIRE(second->Sync()->sent == 1);
  officer_clock.Advance(90 * kDay - 60 * kMicrosPerSecond);
  report = officer->Sync();
  REQUIRE(report.ok());
  CHECK(report->received == 1);
  CHECK(report->rejected == 0);

  // One minute after it: the secret is gone, the initial message cannot be opened.
  REQUIRE(third->Sync()->sent == 1);
  officer_clock.Advance(2 * 60 * kMicrosPerSecond);
  report = officer->Sync();
  REQUIRE(report.ok());
  CHECK(report->received == 0);
  CHECK(report->rejected == 1);
  REQUIRE(report->errors.size() == 1);
  CHECK_THAT(report->errors[0], Catch::Contains("signed prekey"));
  CHECK(Texts(*officer) == std::vector<std::string>{"written to prekey 1, read after 8 days",
                                                    "written to prekey 1 by association-b/1"});
}
