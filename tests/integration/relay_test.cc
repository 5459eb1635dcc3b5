// End-to-end behaviour of the real liaison-relay process with real clients over CurveZMQ.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <thread>

#include "base/clock.h"
#include "base/file_util.h"

#include "client/src/key_bundle.h"
#include "crypto/envelope.h"
#include "crypto/random.h"
#include "integration/relay_process_util.h"
#include "store/mailbox_store.h"
#include "wire/codec.h"
#include "wire/frame.h"
#include "wire/limits.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> Texts(Client& client) {
  auto inbox = client.Inbox();
  REQUIRE(inbox.ok());
  std::vector<std::string> out;
  for (const auto& m : *inbox) out.push_back(m.sender + ": " + m.text);
  return out;
}

// Publishes a raw device's key bundle so that clients can authenticate its envelopes.
wire::SendRequest SealedFrom(const RawDevice& sender, const std::string& recipient, const Client& recipient_client,
                             const std::string& text) {
  wire::SendRequest send;
  send.recipient = recipient;
  send.message_id = crypto::RandomArray<16>();
  auto dh = FromHex(recipient_client.Card().dh_key);
  REQUIRE(dh.ok());
  crypto::DhPublicKey dh_key{};
  std::copy(dh->begin(), dh->end(), dh_key.begin());
  crypto::SealInput input{sender.address, &sender.signing.secret_key, recipient, dh_key, send.message_id, AsBytes(text)};
  auto envelope = crypto::SealEnvelope(input);
  REQUIRE(envelope.ok());
  send.envelope = std::move(envelope).value();
  return send;
}

// A relay with an association contact's client (keys published) and an officer's raw device
// (keys published), for tests that must send envelopes a Client never would.
struct RawOfficerSetup {
  TempDir dir;
  RelayProcess relay{dir.Sub("relay")};
  std::unique_ptr<Client> association;
  RawDevice officer{"officer/1"};
  zmq::context_t context;
  std::unique_ptr<client::RelayConnection> connection;
  RawOfficerSetup() {
    relay.Start();
    association = MakeClient(relay, dir.Sub("association"), "association/1");
    REQUIRE(association->Sync().ok());
    relay.Register(officer.address, officer.TransportZ85());
    connection = officer.Connect(context, relay);
    PublishRawKeys(*connection, officer);
  }
};

// A running relay whose log goes to a file, for tests of what it logs.
struct LoggingRelay {
  TempDir dir;
  RelayProcess relay{dir.Sub("relay")};
  std::string log_path = dir.Sub("relay.log");
  LoggingRelay() {
    relay.set_log_path(log_path);
    relay.Start();
  }
  // The log's lines that contain `needle`, in order.
  std::vector<std::string> LinesWith(const std::string& needle) const {
    std::vector<std::string> lines;
    std::ifstream in(log_path);
    for (std::string line; std::getline(in, line);) {
      if (line.find(needle) != std::string::npos) lines.push_back(line);
    }
    return lines;
  }
  // Sends SIGUSR1 and waits up to 5 s until the log holds `count` counters lines; returns them.
  std::vector<std::string> ReportCounters(size_t count) {
    relay.Signal(SIGUSR1);
    std::vector<std::string> lines;
    for (int i = 0; i < 250 && lines.size() < count; ++i) {
      std::this_thread::sleep_for(20ms);
      lines = LinesWith("since start:");
    }
    return lines;
  }
};

}  // namespace

TEST_CASE("a message to an offline recipient is delivered when it comes online, and a reply goes back",
          "[integration][relay]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  auto association = MakeClient(relay, dir.Sub("association"), "association/1");
  REQUIRE(association->Sync().ok());  // publishes its keys, then goes offline

  auto receipt = officer->Send("association/1", "Bitte melden Sie sich.");
  REQUIRE(receipt.ok());
  CHECK(receipt->stored);
  REQUIRE(*officer->OutboxSize() == 0);  // the relay acknowledged it as stored

  auto report = association->Sync();
  REQUIRE(report.ok());
  CHECK(report->received == 1);
  CHECK(Texts(*association) == std::vector<std::string>{"officer/1: Bitte melden Sie sich."});

  REQUIRE(association->Send("officer/1", "Wir rufen an.").ok());
  REQUIRE(officer->Sync().ok());
  CHECK(Texts(*officer) == std::vector<std::string>{"association/1: Wir rufen an."});
  CHECK(association->Sync()->received == 0);  // acknowledged messages are gone from the relay
}

TEST_CASE("SIGUSR1 makes the running relay log its counters, commits and writes included, and it keeps serving",
          "[integration][relay][operations]") {
  LoggingRelay logging;
  RelayProcess& relay = logging.relay;
  auto officer = MakeClient(relay, logging.dir.Sub("officer"), "officer/1");
  auto association = MakeClient(relay, logging.dir.Sub("association"), "association/1");
  REQUIRE(association->Sync().ok());  // publishes its keys: one write
  for (const char* text : {"eins", "zwei", "drei"}) REQUIRE(officer->Send("association/1", text).ok());

  REQUIRE(logging.LinesWith("since start:").empty());
  const std::vector<std::string> lines = logging.ReportCounters(1);
  REQUIRE(lines.size() == 1);
  INFO(lines[0]);
  CHECK(lines[0].find("since start: 3 messages stored") != std::string::npos);
  std::smatch commits;
  REQUIRE(std::regex_search(lines[0], commits, std::regex(R"((\d+) commits of (\d+) writes)")));
  const int commit_count = std::stoi(commits[1].str());
  const int write_count = std::stoi(commits[2].str());
  CHECK(write_count >= 4);  // the three sends and at least one key publication
  CHECK(commit_count >= 1);
  CHECK(commit_count <= write_count);

  REQUIRE(association->Sync()->received == 3);  // still serving
  relay.Stop();
}

TEST_CASE("SIGUSR1's report gives the slowest SEND_BROADCAST since the last report, receipt to durable",
          "[integration][relay][operations]") {
  LoggingRelay logging;
  RelayProcess& relay = logging.relay;
  RawDevice officer{"officer/1"}, association{"association/1"};
  relay.Register(officer.address, officer.TransportZ85());
  relay.Register(association.address, association.TransportZ85());
  zmq::context_t context;
  auto connection = officer.Connect(context, relay);

  // Asks for the `count`th report and returns its figure.
  const std::regex slowest(R"(slowest SEND_BROADCAST since the last report: (\d+) us from receipt to durable)");
  auto report_now = [&](size_t count) {
    const std::vector<std::string> lines = logging.ReportCounters(count);
    REQUIRE(lines.size() == count);
    std::smatch m;
    REQUIRE(std::regex_search(lines.back(), m, slowest));
    return std::stol(m[1].str());
  };

  // A broadcast of `copies` copies of `copy_bytes` each to the association, stored.
  auto broadcast = [&](size_t copies, size_t copy_bytes) {
    wire::SendBroadcastRequest request;
    request.broadcast_id = crypto::RandomArray<16>();
    request.body = Bytes(2048, 0x42);
    for (size_t i = 0; i < copies; ++i) {
      request.copies.push_back(wire::BroadcastCopy{association.address, crypto::RandomArray<16>(), Bytes(copy_bytes, 0x17)});
    }
    auto reply = connection->Call(wire::FrameType::kSendBroadcast, request);
    REQUIRE(reply.ok());
    REQUIRE(reply->status == 200);
  };

  // The broadcast waited for a durable commit: more than nothing, less than the test's patience.
  broadcast(1, 512);
  const long small = report_now(1);
  CHECK(small > 0);
  CHECK(small < 10'000'000);
  // The window starts again at each report: none since.
  CHECK(report_now(2) == 0);
  // The slowest, not the last: a broadcast of 1,000 copies of 900 bytes (about 0.9 MB to decode,
  // store and commit), then one of a single copy.
  broadcast(1000, 900);
  broadcast(1, 512);
  const long of_both = report_now(3);
  INFO("one copy: " << small << " us; 1,000 copies, then one: " << of_both << " us");
  CHECK(of_both > 2 * small);
  relay.Stop();
}

TEST_CASE("nothing acknowledged is lost when the relay is stopped or killed and restarted",
          "[integration][relay][durability]") {
  const int signal = GENERATE(SIGTERM, SIGKILL);
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  auto association = MakeClient(relay, dir.Sub("association"), "association/1");
  REQUIRE(association->Sync().ok());
  constexpr int kMessages = 40;
  for (int i = 0; i < kMessages; ++i) {
    REQUIRE(officer->Send("association/1", "message " + std::to_string(i)).ok());
  }
  REQUIRE(*officer->OutboxSize() == 0);  // all 40 acknowledged by the relay

  relay.Kill(signal);
  relay.Start();

  auto report = association->Sync();
  REQUIRE(report.ok());
  CHECK(report->received == kMessages);
  auto texts = Texts(*association);
  REQUIRE(texts.size() == kMessages);
  for (int i = 0; i < kMessages; ++i) CHECK(texts[i] == "officer/1: message " + std::to_string(i));
}

TEST_CASE("a send retried with the same message id is stored once and delivered once", "[integration][relay]") {
  RawOfficerSetup setup;
  auto& association = setup.association;
  auto& officer = setup.officer;
  auto& connection = setup.connection;

  const wire::SendRequest send = SealedFrom(officer, "association/1", *association, "only once");
  auto first = connection->Call(wire::FrameType::kSend, send);
  auto second = connection->Call(wire::FrameType::kSend, send);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->status == static_cast<uint16_t>(wire::WireStatus::kOk));
  CHECK(second->status == static_cast<uint16_t>(wire::WireStatus::kStoredBefore));

  auto report = association->Sync();
  REQUIRE(report.ok());
  CHECK(report->received == 1);
  CHECK(report->duplicates == 0);
  // A retry after the acknowledgement is still recognised, not delivered again.
  auto third = connection->Call(wire::FrameType::kSend, send);
  REQUIRE(third.ok());
  CHECK(third->status == static_cast<uint16_t>(wire::WireStatus::kStoredBefore));
  CHECK(association->Sync()->received == 0);
  CHECK(Texts(*association).size() == 1);
}

TEST_CASE("a client whose transport key is not registered is refused at the handshake, a registered one is served",
          "[integration][relay][auth]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  zmq::context_t context;
  RawDevice stranger{"stranger/1"};
  auto refused = stranger.Connect(context, relay, 1500ms);
  auto reply = refused->Call(wire::FrameType::kPing, wire::Empty{});
  // No frame reaches the relay's loop; the client learns the refusal from the handshake.
  CHECK(reply.status().code() == Code::kPermissionDenied);
  CHECK_THAT(reply.status().message(), Catch::Contains("refused this device's key"));

  RawDevice member{"member/1"};
  relay.Register(member.address, member.TransportZ85());
  auto admitted = member.Connect(context, relay);
  auto pong = admitted->Call(wire::FrameType::kPing, wire::Empty{});
  REQUIRE(pong.ok());
  CHECK(pong->status == static_cast<uint16_t>(wire::WireStatus::kOk));
}

TEST_CASE("a frame over the size limit and a length prefix claiming 2^40 bytes are refused; others are served",
          "[integration][relay][hostile]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  zmq::context_t context;
  RawDevice attacker{"attacker/1"};
  RawDevice member{"member/1"};
  relay.Register(attacker.address, attacker.TransportZ85());
  relay.Register(member.address, member.TransportZ85());
  auto good = member.Connect(context, relay);
  REQUIRE(good->Call(wire::FrameType::kPing, wire::Empty{}).ok());

  SECTION("oversized frame: ZeroMQ drops it (ZMQ_MAXMSGSIZE) and the connection with it") {
    auto bad = attacker.Connect(context, relay, 1500ms);
    REQUIRE(bad->Call(wire::FrameType::kPing, wire::Empty{}).ok());
    Bytes huge(wire::kMaxFrameBytes + 1, 0x41);
    REQUIRE(bad->TEST_SendRaw(huge).ok());
    auto answer = bad->TEST_ReceiveRaw(1500ms);
    REQUIRE(answer.ok());
    CHECK_FALSE(answer->has_value());
  }
  SECTION("a body whose length prefix claims 2^40 bytes: refused with 413 before allocating") {
    auto bad = attacker.Connect(context, relay);
    // SEND body: endianness marker, then the recipient's length tag claiming 2^40 bytes.
    Bytes body{0x01};
    const uint64_t claimed = 1ull << 40;
    for (int i = 0; i < 8; ++i) body.push_back(static_cast<uint8_t>(claimed >> (8 * i)));
    body.push_back('x');
    auto reply = bad->Call(wire::FrameType::kSend, ByteView(body));
    REQUIRE(reply.ok());
    CHECK(reply->status == static_cast<uint16_t>(wire::WireStatus::kTooLarge));
    CHECK(client::ReplyStatus(*reply).message().find("claims 1099511627776") != std::string::npos);
    // And a header whose length field disagrees with the bytes present.
    wire::FrameHeader header;
    header.type = static_cast<uint8_t>(wire::FrameType::kPing);
    header.request_id = 77;
    Bytes frame = wire::EncodeFrame(header, Bytes{0x01, 0x00});
    frame[14] = 0x7f;  // body_length now claims ~2 GiB
    REQUIRE(bad->TEST_SendRaw(frame).ok());
    auto raw = bad->TEST_ReceiveRaw(3000ms);
    REQUIRE(raw.ok());
    REQUIRE(raw->has_value());
    auto parsed = wire::DecodeFrame(**raw);
    REQUIRE(parsed.ok());
    CHECK(parsed->header.status == static_cast<uint16_t>(wire::WireStatus::kTooLarge));
  }
  for (int i = 0; i < 20; ++i) {
    auto pong = good->Call(wire::FrameType::kPing, wire::Empty{});
    REQUIRE(pong.ok());
    CHECK(pong->status == static_cast<uint16_t>(wire::WireStatus::kOk));
  }
}

TEST_CASE("a message whose ciphertext was altered on the way is rejected by the recipient", "[integration][crypto]") {
  RawOfficerSetup setup;
  auto& association = setup.association;
  auto& officer = setup.officer;
  auto& connection = setup.connection;

  wire::SendRequest intact = SealedFrom(officer, "association/1", *association, "intact");
  wire::SendRequest altered = SealedFrom(officer, "association/1", *association, "altered");
  altered.envelope[altered.envelope.size() / 2] ^= 0x01;
  for (const auto& send : {altered, intact}) {
    auto reply = connection->Call(wire::FrameType::kSend, send);
    REQUIRE(reply.ok());
    REQUIRE(client::ReplyStatus(*reply).ok());
  }
  auto report = association->Sync();
  REQUIRE(report.ok());
  CHECK(report->rejected == 1);
  CHECK(report->received == 1);
  CHECK(Texts(*association) == std::vector<std::string>{"officer/1: intact"});
}

TEST_CASE("a listening recipient gets new messages pushed without asking", "[integration][relay][push]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  auto association = MakeClient(relay, dir.Sub("association"), "association/1");
  REQUIRE(association->Sync().ok());
  std::vector<std::string> pushed;
  std::thread listener([&] {
    auto report = association->Listen(4000ms, [&](const InboxMessage& m) { pushed.push_back(m.text); });
    CHECK(report.ok());
  });
  std::this_thread::sleep_for(500ms);  // let the listener subscribe
  REQUIRE(officer->Send("association/1", "pushed at once").ok());
  listener.join();
  CHECK(pushed == std::vector<std::string>{"pushed at once"});
}

TEST_CASE("a SEND to a subscribed recipient is pushed provisionally at once, then stored, pushed with its seq and "
          "acknowledged", "[integration][relay][push]") {
  RelayWithTwoRawDevices setup("sender/1", "recipient/1");
  auto& recipient = setup.second;
  auto& out = setup.first_connection;
  auto& in = setup.second_connection;
  REQUIRE(client::ReplyStatus(*in->Call(wire::FrameType::kHello, wire::Empty{})).ok());

  wire::SendRequest send{recipient.address, crypto::NewMessageId(SystemClock().NowMicros()), 0, Bytes(700, 0x5a)};
  REQUIRE(client::ReplyStatus(*out->Call(wire::FrameType::kSend, send)).ok());
  std::vector<wire::Delivery> pushed;
  for (int i = 0; i < 2; ++i) {
    auto push = in->NextPush(3000ms);
    REQUIRE(push.ok());
    REQUIRE(push->has_value());
    for (auto& d : (*push)->items) pushed.push_back(d);
  }
  REQUIRE(pushed.size() == 2);
  // First the provisional copy (it was pushed before the SEND was answered), then the stored one.
  CHECK(pushed[0].seq == wire::kProvisionalSeq);
  CHECK(pushed[1].seq >= 1);
  for (const auto& d : pushed) {
    CHECK(d.message_id == send.message_id);
    CHECK(d.envelope == send.envelope);
  }
  // Acknowledging seq 0 removes nothing; the stored seq removes the message.
  auto ack_zero = in->Call(wire::FrameType::kAck, wire::AckRequest{{wire::kProvisionalSeq}});
  REQUIRE(ack_zero.ok());
  CHECK(wire::Decode<wire::AckReply>(ack_zero->body)->removed == 0);
  auto ack = in->Call(wire::FrameType::kAck, wire::AckRequest{{pushed[1].seq}});
  REQUIRE(ack.ok());
  CHECK(wire::Decode<wire::AckReply>(ack->body)->removed == 1);
  CHECK(DrainMailbox(*in) == 0);
}

TEST_CASE("a listening client takes a provisionally pushed message once, not as a duplicate, and acknowledges its "
          "stored copy", "[integration][client][push]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  auto association = MakeClient(relay, dir.Sub("association"), "association/1");
  REQUIRE(association->Sync().ok());
  REQUIRE(officer->Send("association/1", "warm-up").ok());  // the session exists before the timed part
  REQUIRE(association->Sync().ok());
  std::vector<std::string> pushed;
  Result<SyncReport> report = Status::Error(Code::kInternal, "not run");
  std::thread listener([&] {
    report = association->Listen(3000ms, [&](const InboxMessage& m) { pushed.push_back(m.text); });
  });
  std::this_thread::sleep_for(500ms);  // let the listener subscribe
  for (int i = 0; i < 5; ++i) REQUIRE(officer->Send("association/1", "alarm " + std::to_string(i)).ok());
  listener.join();
  REQUIRE(report.ok());
  CHECK(pushed == std::vector<std::string>{"alarm 0", "alarm 1", "alarm 2", "alarm 3", "alarm 4"});
  CHECK(report->received == 5);
  CHECK(report->duplicates == 0);
  CHECK(report->rejected == 0);
  // Every stored copy was acknowledged: nothing is left for the association in the relay's store.
  relay.Stop();
  store::MailboxStoreOptions options;
  options.path = relay.data_dir() + "/store";
  auto stored = store::MailboxStore::Open(options, SystemClock());
  REQUIRE(stored.ok());
  auto usage = (*stored)->Usage("association/1");
  REQUIRE(usage.ok());
  CHECK(usage->messages == 0);
}

TEST_CASE("pushes that were not acknowledged are pushed again after a reconnect", "[integration][relay][push]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  RawDevice association{"association/1"};
  relay.Register(association.address, association.TransportZ85());
  zmq::context_t context;
  {
    auto connection = association.Connect(context, relay);
    PublishRawKeys(*connection, association);
  }
  REQUIRE(officer->Send("association/1", "first").ok());
  REQUIRE(officer->Send("association/1", "second").ok());
  std::vector<uint64_t> first_seqs;
  {
    auto connection = association.Connect(context, relay);
    REQUIRE(client::ReplyStatus(*connection->Call(wire::FrameType::kHello, wire::Empty{})).ok());
    auto push = connection->NextPush(3000ms);
    REQUIRE(push.ok());
    REQUIRE(push->has_value());
    for (const auto& d : (*push)->items) first_seqs.push_back(d.seq);
    // disconnect without acknowledging
  }
  REQUIRE(first_seqs.size() == 2);
  auto connection = association.Connect(context, relay);
  REQUIRE(client::ReplyStatus(*connection->Call(wire::FrameType::kHello, wire::Empty{})).ok());
  auto push = connection->NextPush(3000ms);
  REQUIRE(push.ok());
  REQUIRE(push->has_value());
  std::vector<uint64_t> again;
  for (const auto& d : (*push)->items) again.push_back(d.seq);
  CHECK(again == first_seqs);
}

TEST_CASE("a message written while the relay is down waits in the outbox and goes out on the next sync",
          "[integration][client]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  auto association = MakeClient(relay, dir.Sub("association"), "association/1");
  REQUIRE(association->Sync().ok());
  REQUIRE(officer->Send("association/1", "keys pinned").ok());  // pins the recipient's keys
  relay.Kill(SIGTERM);

  auto receipt = officer->Send("association/1", "written offline");
  REQUIRE(receipt.ok());
  CHECK_FALSE(receipt->stored);
  CHECK(*officer->OutboxSize() == 1);
  CHECK(officer->Sync().status().code() == Code::kUnavailable);
  CHECK(*officer->OutboxSize() == 1);

  relay.Start();
  auto report = officer->Sync();
  REQUIRE(report.ok());
  CHECK(report->sent == 1);
  CHECK(*officer->OutboxSize() == 0);
  REQUIRE(association->Sync().ok());
  CHECK(Texts(*association) == std::vector<std::string>{"officer/1: keys pinned", "officer/1: written offline"});
}

TEST_CASE("a send to an unknown address is refused with 404 and names the reason", "[integration][relay]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  RawDevice member{"member/1"};
  relay.Register(member.address, member.TransportZ85());
  zmq::context_t context;
  auto connection = member.Connect(context, relay);
  wire::SendRequest send;
  send.recipient = "nobody/1";
  send.envelope = Bytes(10, 1);
  auto reply = connection->Call(wire::FrameType::kSend, send);
  REQUIRE(reply.ok());
  CHECK(reply->status == static_cast<uint16_t>(wire::WireStatus::kNotFound));
}

TEST_CASE("an envelope of an unknown version is left on the relay, not destroyed", "[integration][client]") {
  RawOfficerSetup setup;
  auto& association = setup.association;
  auto& officer = setup.officer;
  auto& connection = setup.connection;
  wire::SendRequest future = SealedFrom(officer, "association/1", *association, "from a newer client");
  future.envelope[0] = 3;  // a version this build cannot read
  REQUIRE(client::ReplyStatus(*connection->Call(wire::FrameType::kSend, future)).ok());
  for (int round = 0; round < 2; ++round) {
    auto report = association->Sync();
    REQUIRE(report.ok());
    CHECK(report->deferred == 1);
    CHECK(report->rejected == 0);
    CHECK(report->received == 0);
  }
}

TEST_CASE("a send refused for good is reported by Send and leaves the outbox", "[integration][client]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  auto association = MakeClient(relay, dir.Sub("association"), "association/1");
  REQUIRE(association->Sync().ok());
  REQUIRE(officer->Send("association/1", "pins the keys").ok());
  // The coordinator removes the association's device: the relay now refuses sends to it (404).
  relay.Unregister("association/1");
  std::this_thread::sleep_for(1200ms);  // the relay re-reads the list within a second
  auto refused = officer->Send("association/1", "to a removed device");
  CHECK(refused.status().code() == Code::kNotFound);
  CHECK(*officer->OutboxSize() == 0);
}

TEST_CASE("the outbox goes out in the order written, and a refusal met during a later Send is reported by Sync",
          "[integration][client]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  auto association = MakeClient(relay, dir.Sub("association"), "association/1");
  auto desk = MakeClient(relay, dir.Sub("desk"), "desk/1");
  REQUIRE(association->Sync().ok());
  REQUIRE(desk->Sync().ok());
  REQUIRE(officer->Send("association/1", "pin").ok());
  REQUIRE(officer->Send("desk/1", "first").ok());
  relay.Stop();
  for (const char* text : {"second", "third", "fourth", "fifth"}) REQUIRE_FALSE(officer->Send("desk/1", text)->stored);
  REQUIRE_FALSE(officer->Send("association/1", "to a device about to be removed")->stored);
  // While the relay is down, the coordinator removes the association's device.
  relay.Unregister("association/1");
  relay.Start();

  auto receipt = officer->Send("desk/1", "sixth");  // flushes the older messages first
  REQUIRE(receipt.ok());
  CHECK(receipt->stored);
  auto report = officer->Sync();
  REQUIRE(report.ok());
  CHECK(report->failed == 1);
  REQUIRE(report->errors.size() == 1);
  CHECK(report->errors[0].find("association/1") != std::string::npos);
  CHECK(officer->Sync()->failed == 0);  // reported once

  REQUIRE(desk->Sync().ok());
  CHECK(Texts(*desk) == std::vector<std::string>{"officer/1: first", "officer/1: second", "officer/1: third",
                                                 "officer/1: fourth", "officer/1: fifth", "officer/1: sixth"});
}
