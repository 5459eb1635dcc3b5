// SEND_MANY (docs/protocol.md section 4): the relay's per-item answers, and the client's outbox
// flush, against the real relay and against a stand-in for a relay that predates SEND_MANY.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <thread>
#include <zmq.hpp>

#include "base/clock.h"
#include "base/file_util.h"
#include "crypto/random.h"
#include "integration/relay_process_util.h"
#include "wire/codec.h"
#include "wire/frame.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;
using namespace std::chrono_literals;

namespace {

wire::SendManyReply SendMany(client::RelayConnection& connection, const wire::SendManyRequest& request) {
  auto reply = connection.Call(wire::FrameType::kSendMany, request);
  REQUIRE(reply.ok());
  REQUIRE(reply->status == 200);
  auto body = wire::Decode<wire::SendManyReply>(reply->body);
  REQUIRE(body.ok());
  return std::move(body).value();
}

std::vector<wire::Delivery> FetchAll(client::RelayConnection& connection) {
  auto fetched = connection.Call(wire::FrameType::kFetch, wire::FetchRequest{});
  REQUIRE(fetched.ok());
  auto deliveries = wire::Decode<wire::Deliveries>(fetched->body);
  REQUIRE(deliveries.ok());
  return deliveries->items;
}

std::vector<std::string> Texts(Client& client) {
  auto inbox = client.Inbox();
  REQUIRE(inbox.ok());
  std::vector<std::string> out;
  for (const auto& m : *inbox) out.push_back(m.text);
  return out;
}

// How the stand-in answers SEND_MANY: it stores every item; as a relay older than SEND_MANY
// (400 to the unknown frame type); or refuses the whole request as full (302) or too large (413).
enum class SendManyAnswer { kStores, kUnknownType, kStoreFull, kTooLarge };

// Answers a client's Sync as a relay would, SEND_MANY as `answer` says and every SEND with 200,
// with the real relay's CURVE secret key so that the client accepts it. Counts the request types
// and the messages it accepted.
class StandInRelay {
 public:
  StandInRelay(const std::string& relay_dir, SendManyAnswer answer) : answer_(answer) {
    auto secret = ReadFile(relay_dir + "/relay.key", 128);
    REQUIRE(secret.ok());
    std::string z85 = *secret;
    while (!z85.empty() && (z85.back() == '\n' || z85.back() == '\r')) z85.pop_back();
    router_.set(zmq::sockopt::curve_server, 1);
    router_.set(zmq::sockopt::curve_secretkey, z85);
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { Serve(); });
  }
  ~StandInRelay() {
    stop_ = true;
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }
  // Valid after the client's calls returned (the serving thread answered them all).
  std::map<wire::FrameType, int> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  size_t messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  void Serve() {
    while (!stop_) {
      zmq::message_t routing, frame;
      router_.set(zmq::sockopt::rcvtimeo, 50);
      if (!router_.recv(routing)) continue;
      (void)router_.recv(frame);
      auto decoded = wire::DecodeFrame(ByteView(frame.data<uint8_t>(), frame.size()));
      wire::FrameHeader header;
      header.request_id = frame.size() >= 12 ? GetBigEndian64(frame.data<uint8_t>() + 4) : 0;
      Bytes body;
      const bool send_many = decoded.ok() && decoded->header.type == static_cast<uint8_t>(wire::FrameType::kSendMany);
      if (send_many) {
        std::lock_guard lock(mutex_);
        ++requests_[wire::FrameType::kSendMany];
      }
      if (!decoded.ok() || (send_many && answer_ == SendManyAnswer::kUnknownType)) {
        // What the relay answers to a frame it cannot read, such as a type newer than it.
        header.type = wire::kReplyBit;
        header.status = 400;
        body = wire::Encode(wire::ErrorBody{"unknown frame type"}).value();
      } else if (send_many && answer_ != SendManyAnswer::kStores) {
        header.type = decoded->header.type | wire::kReplyBit;
        header.status = answer_ == SendManyAnswer::kStoreFull ? 302 : 413;
        body = wire::Encode(wire::ErrorBody{"refused as a whole"}).value();
      } else {
        const auto type = static_cast<wire::FrameType>(decoded->header.type);
        header.type = decoded->header.type | wire::kReplyBit;
        header.status = 200;
        std::lock_guard lock(mutex_);
        if (!send_many) ++requests_[type];
        if (type == wire::FrameType::kSend) {
          ++messages_;
          body = wire::Encode(wire::Empty{}).value();
        } else if (type == wire::FrameType::kSendMany) {
          auto many = wire::Decode<wire::SendManyRequest>(decoded->body);
          wire::SendManyReply reply;
          if (many.ok()) {
            messages_ += many->items.size();
            reply.statuses.assign(many->items.size(), 200);
          }
          body = wire::Encode(reply).value();
        } else if (type == wire::FrameType::kPublishPrekeys) {
          body = wire::Encode(wire::PrekeyCount{100}).value();
        } else if (type == wire::FrameType::kFetch) {
          body = wire::Encode(wire::Deliveries{}).value();
        } else {
          body = wire::Encode(wire::Empty{}).value();
        }
      }
      (void)router_.send(routing, zmq::send_flags::sndmore);
      (void)router_.send(zmq::buffer(wire::EncodeFrame(header, body)), zmq::send_flags::none);
    }
  }

  SendManyAnswer answer_;
  zmq::context_t context_;
  zmq::socket_t router_{context_, zmq::socket_type::router};
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<wire::FrameType, int> requests_;
  size_t messages_ = 0;
  std::thread thread_;
};

// An officer's client that wrote `count` messages to association/1 while the relay was down
// (with a short timeout: each Send tries the relay once).
struct QueuedBacklog {
  TempDir dir;
  RelayProcess relay{dir.Sub("relay")};
  std::unique_ptr<Client> association;
  explicit QueuedBacklog(int count) {
    relay.Start();
    auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
    association = MakeClient(relay, dir.Sub("association"), "association/1");
    REQUIRE(association->Sync().ok());
    REQUIRE(officer->Send("association/1", "keys pinned").ok());
    officer.reset();
    relay.Kill(SIGTERM);
    officer = OfficerAt(relay.endpoint(), 10ms);
    for (int i = 0; i < count; ++i) {
      auto receipt = officer->Send("association/1", "queued " + std::to_string(i));
      REQUIRE(receipt.ok());
      REQUIRE_FALSE(receipt->stored);
    }
    REQUIRE(*officer->OutboxSize() == static_cast<size_t>(count));
  }
  // What one Sync of the officer's client did against a stand-in relay answering `answer`.
  struct FlushSeen {
    SyncReport report;
    size_t outbox = 0;         // left in the outbox afterwards
    int send_many = 0, sends = 0;  // requests the stand-in received
    size_t messages = 0;           // messages it accepted
  };
  FlushSeen SyncAgainst(SendManyAnswer answer) {
    StandInRelay stand_in(relay.data_dir(), answer);
    auto officer = OfficerAt(stand_in.endpoint());
    auto report = officer->Sync();
    REQUIRE(report.ok());
    auto requests = stand_in.requests();
    return FlushSeen{*report, *officer->OutboxSize(), requests[wire::FrameType::kSendMany],
                     requests[wire::FrameType::kSend], stand_in.messages()};
  }
  // The officer's client, talking to `endpoint`.
  std::unique_ptr<Client> OfficerAt(const std::string& endpoint, std::chrono::milliseconds timeout = 3000ms) {
    ClientOptions options = OptionsFor(relay, dir.Sub("officer"));
    options.relay_endpoint = endpoint;
    options.timeout = timeout;
    auto opened = Client::Open(options);
    REQUIRE(opened.ok());
    return std::move(opened).value();
  }
};

}  // namespace

TEST_CASE("SEND_MANY stores each item as the same SEND alone would and answers one status per item, in order",
          "[integration][relay][send-many]") {
  RelayWithTwoRawDevices setup("sender/1", "recipient/1");
  const std::string recipient = setup.second.address;
  const int64_t now = SystemClock().NowMicros();
  const auto first = crypto::NewMessageId(now), second = crypto::NewMessageId(now);
  wire::SendManyRequest request;
  request.items = {
      {recipient, first, 0, Bytes(300, 0x11)},
      {recipient, first, 0, Bytes(300, 0x11)},      // the same message again: stored once
      {"nobody/1", second, 0, Bytes(300, 0x22)},    // no such device
      {recipient, second, 1, Bytes(300, 0x33)},     // expired in 1970
      {recipient, second, 0, Bytes(300, 0x44)},
  };
  CHECK(SendMany(*setup.first_connection, request).statuses == std::vector<uint16_t>{200, 208, 404, 410, 200});
  // A retry of the whole request finds what it stored.
  CHECK(SendMany(*setup.first_connection, request).statuses == std::vector<uint16_t>{208, 208, 404, 410, 208});

  const auto delivered = FetchAll(*setup.second_connection);
  REQUIRE(delivered.size() == 2);
  CHECK(delivered[0].message_id == first);
  CHECK(delivered[0].envelope == Bytes(300, 0x11));
  CHECK(delivered[1].message_id == second);
  CHECK(delivered[1].envelope == Bytes(300, 0x44));
  CHECK(delivered[0].seq < delivered[1].seq);

  SECTION("an empty SEND_MANY is malformed and stores nothing") {
    auto reply = setup.first_connection->Call(wire::FrameType::kSendMany, wire::SendManyRequest{});
    REQUIRE(reply.ok());
    CHECK(reply->status == 400);
    CHECK(FetchAll(*setup.second_connection).size() == 2);
  }
}

TEST_CASE("a backlog of 300 messages written while the relay was down goes out on the next sync, in order, each once",
          "[integration][client][send-many]") {
  QueuedBacklog backlog(300);
  backlog.relay.Start();
  auto officer = backlog.OfficerAt(backlog.relay.endpoint());
  auto report = officer->Sync();
  REQUIRE(report.ok());
  CHECK(report->sent == 300);
  CHECK(*officer->OutboxSize() == 0);
  REQUIRE(backlog.association->Sync().ok());
  std::vector<std::string> expected{"keys pinned"};
  for (int i = 0; i < 300; ++i) expected.push_back("queued " + std::to_string(i));
  CHECK(Texts(*backlog.association) == expected);
}

TEST_CASE("the client sends its outbox in SEND_MANY requests, one by one to a relay that cannot read them, and "
          "keeps it when the relay refuses one as full", "[integration][client][send-many]") {
  QueuedBacklog backlog(5);
  SECTION("a relay with SEND_MANY gets the five in one request") {
    const auto seen = backlog.SyncAgainst(SendManyAnswer::kStores);
    CHECK(seen.report.sent == 5);
    CHECK(seen.outbox == 0);
    CHECK(seen.send_many == 1);
    CHECK(seen.sends == 0);
    CHECK(seen.messages == 5);
  }
  SECTION("an older relay answers SEND_MANY as an unknown type; the five go as SENDs") {
    const auto seen = backlog.SyncAgainst(SendManyAnswer::kUnknownType);
    CHECK(seen.report.sent == 5);
    CHECK(seen.outbox == 0);
    CHECK(seen.send_many == 1);
    CHECK(seen.sends == 5);
    CHECK(seen.messages == 5);
  }
  SECTION("a SEND_MANY refused as too large as a whole fails no message: the five go as SENDs") {
    const auto seen = backlog.SyncAgainst(SendManyAnswer::kTooLarge);
    CHECK(seen.report.sent == 5);
    CHECK(seen.report.failed == 0);
    CHECK(seen.outbox == 0);
    CHECK(seen.sends == 5);
  }
  SECTION("a SEND_MANY refused as full keeps all five queued, and they go out once there is room") {
    const auto full = backlog.SyncAgainst(SendManyAnswer::kStoreFull);
    CHECK(full.report.sent == 0);
    CHECK(full.report.failed == 0);
    CHECK(full.report.still_queued == 5);
    CHECK(full.outbox == 5);
    CHECK(full.sends == 0);
    const auto later = backlog.SyncAgainst(SendManyAnswer::kStores);
    CHECK(later.report.sent == 5);
    CHECK(later.outbox == 0);
    CHECK(later.messages == 5);
  }
}
