// A relay whose store or a recipient's mailbox is full refuses explicitly and keeps serving.
#include <catch2/catch.hpp>

#include "crypto/random.h"
#include "integration/relay_process_util.h"
#include "wire/codec.h"
#include "wire/frame.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;

namespace {

wire::SendRequest Opaque(const std::string& to, size_t size) {
  wire::SendRequest send;
  send.recipient = to;
  send.message_id = crypto::RandomArray<16>();
  send.envelope = Bytes(size, 0x33);
  return send;
}

// A relay with a 1 MiB store and two raw devices connected.
struct SmallStore {
  TempDir dir;
  RelayProcess relay{dir.Sub("relay")};
  zmq::context_t context;
  RawDevice sender{"sender/1"}, recipient{"recipient/1"};
  std::unique_ptr<client::RelayConnection> out, in;
  SmallStore() {
    relay.EditConfig("map_size_mib = 1024", "map_size_mib = 1");
    relay.Start();
    relay.Register(sender.address, sender.TransportZ85());
    relay.Register(recipient.address, recipient.TransportZ85());
    out = sender.Connect(context, relay);
    in = recipient.Connect(context, relay);
  }
};

}  // namespace

TEST_CASE("a full store refuses each further send with 302 store full, acknowledges none, and recovers",
          "[integration][relay][full]") {
  SmallStore store;
  auto& out = store.out;
  auto& in = store.in;
  auto& recipient = store.recipient;

  size_t stored = 0, refused = 0;
  for (int i = 0; i < 60; ++i) {
    auto reply = out->Call(wire::FrameType::kSend, Opaque(recipient.address, 60 * 1024));
    REQUIRE(reply.ok());
    if (reply->status == static_cast<uint16_t>(wire::WireStatus::kOk)) {
      ++stored;
    } else {
      CHECK(reply->status == static_cast<uint16_t>(wire::WireStatus::kStoreFull));
      ++refused;
    }
  }
  INFO("stored " << stored << ", refused " << refused);
  CHECK(stored > 0);
  CHECK(refused > 0);
  CHECK(stored + refused == 60);
  // Exactly what was acknowledged is in the mailbox.
  CHECK(DrainMailbox(*in) == stored);
  auto after = out->Call(wire::FrameType::kSend, Opaque(recipient.address, 60 * 1024));
  REQUIRE(after.ok());
  CHECK(after->status == static_cast<uint16_t>(wire::WireStatus::kOk));
}

TEST_CASE("one message over the recipient's quota gets 301 mailbox full; the sender's client keeps it queued",
          "[integration][relay][full]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.EditConfig("max_mailbox_messages = 100000", "max_mailbox_messages = 3");
  relay.Start();
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  auto association = MakeClient(relay, dir.Sub("association"), "association/1");
  REQUIRE(association->Sync().ok());
  for (int i = 0; i < 4; ++i) REQUIRE(officer->Send("association/1", "n" + std::to_string(i)).ok());
  CHECK(*officer->OutboxSize() == 1);  // the fourth waits: mailbox full is temporary
  auto first = association->Sync();
  REQUIRE(first.ok());
  CHECK(first->received == 3);
  auto resent = officer->Sync();
  REQUIRE(resent.ok());
  CHECK(resent->sent == 1);
  CHECK(association->Sync()->received == 1);
}

TEST_CASE("a SEND_MANY that does not fit a full store is refused whole with 302, stores none of its items, and the "
          "store recovers", "[integration][relay][full][send-many]") {
  SmallStore store;
  auto& out = store.out;
  auto& in = store.in;
  auto& recipient = store.recipient;

  auto four = [&] {
    wire::SendManyRequest many;
    for (int i = 0; i < 4; ++i) many.items.push_back(Opaque(recipient.address, 60 * 1024));
    return many;
  };
  size_t stored = 0, refused = 0;
  for (int i = 0; i < 10; ++i) {
    auto reply = out->Call(wire::FrameType::kSendMany, four());
    REQUIRE(reply.ok());
    if (reply->status == static_cast<uint16_t>(wire::WireStatus::kOk)) {
      auto statuses = wire::Decode<wire::SendManyReply>(reply->body);
      REQUIRE(statuses.ok());
      CHECK(statuses->statuses == std::vector<uint16_t>(4, 200));
      stored += 4;
    } else {
      CHECK(reply->status == static_cast<uint16_t>(wire::WireStatus::kStoreFull));
      ++refused;
    }
  }
  INFO("stored " << stored << " items, refused " << refused << " requests");
  CHECK(stored > 0);
  CHECK(refused > 0);
  // Exactly the items acknowledged are in the mailbox: a refused request left none behind.
  CHECK(DrainMailbox(*in) == stored);
  auto after = out->Call(wire::FrameType::kSendMany, four());
  REQUIRE(after.ok());
  CHECK(after->status == static_cast<uint16_t>(wire::WireStatus::kOk));
}
