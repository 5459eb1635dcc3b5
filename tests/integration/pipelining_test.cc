// A client that sends many requests before reading any reply (pipelining), against a real relay
// process: every request is answered exactly once, and a device's reads see its own earlier
// writes even while those writes wait for a commit.
#include <catch2/catch.hpp>
#include <map>

#include "base/clock.h"
#include "crypto/random.h"
#include "integration/relay_process_util.h"
#include "wire/codec.h"
#include "wire/frame.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;
using namespace std::chrono_literals;

namespace {

template <class Body>
Bytes RequestFrame(wire::FrameType type, uint64_t request_id, const Body& body) {
  wire::FrameHeader header;
  header.type = static_cast<uint8_t>(type);
  header.request_id = request_id;
  auto encoded = wire::Encode(body);
  REQUIRE(encoded.ok());
  return wire::EncodeFrame(header, *encoded);
}

// Replies by request id, read until `count` replies arrived or nothing came for 5 s.
std::map<uint64_t, wire::FrameHeader> ReadReplies(client::RelayConnection& connection, size_t count) {
  std::map<uint64_t, wire::FrameHeader> replies;
  size_t duplicates = 0;
  while (replies.size() < count) {
    auto raw = connection.TEST_ReceiveRaw(5000ms);
    REQUIRE(raw.ok());
    if (!raw->has_value()) break;
    auto frame = wire::DecodeFrame(**raw);
    REQUIRE(frame.ok());
    if (frame->header.type == static_cast<uint8_t>(wire::FrameType::kDeliver)) continue;  // a push
    const uint64_t id = frame->header.request_id;
    if (!replies.emplace(id, frame->header).second) ++duplicates;
  }
  CHECK(duplicates == 0);
  return replies;
}

}  // namespace

TEST_CASE("2,000 pipelined SENDs, far beyond the relay's send queue of 64, all get their reply",
          "[integration][relay][pipelining]") {
  RelayWithTwoRawDevices setup("sender/1", "recipient/1");
  auto& recipient = setup.second;
  auto& out = setup.first_connection;

  // All requests first, no reply read: the relay answers them in a few group commits, each one
  // more replies at once than ZeroMQ's send queue to this connection holds.
  constexpr uint64_t kSends = 2000;
  for (uint64_t id = 1; id <= kSends; ++id) {
    wire::SendRequest send;
    send.recipient = recipient.address;
    send.message_id = crypto::NewMessageId(SystemClock().NowMicros());
    send.envelope = Bytes(512, static_cast<uint8_t>(id));
    REQUIRE(out->TEST_SendRaw(RequestFrame(wire::FrameType::kSend, id, send)).ok());
  }
  const auto replies = ReadReplies(*out, kSends);
  CHECK(replies.size() == kSends);
  size_t stored = 0;
  for (const auto& [id, header] : replies) {
    CHECK(id >= 1);
    CHECK(id <= kSends);
    if (header.status == static_cast<uint16_t>(wire::WireStatus::kOk)) ++stored;
  }
  CHECK(stored == kSends);  // no reply lost means no resend, so never 208

  CHECK(DrainMailbox(*setup.second_connection) == kSends);
}

TEST_CASE("a device's pipelined GET_KEYS sees the keys its PUBLISH_KEYS just before it wrote",
          "[integration][relay][pipelining]") {
  RelayWithTwoRawDevices setup("device/1", "writer/1");
  auto& device = setup.first;
  auto& connection = setup.first_connection;
  auto& other = setup.second_connection;

  // Other writes keep the commit thread busy, so the PUBLISH_KEYS below waits for a commit while
  // its GET_KEYS has already arrived.
  for (uint64_t id = 1; id <= 200; ++id) {
    wire::SendRequest send{device.address, crypto::NewMessageId(SystemClock().NowMicros()), 0, Bytes(1024, 7)};
    REQUIRE(other->TEST_SendRaw(RequestFrame(wire::FrameType::kSend, id, send)).ok());
  }
  for (uint64_t round = 1; round <= 20; ++round) {
    Bytes bundle(96, static_cast<uint8_t>(round));
    REQUIRE(connection->TEST_SendRaw(RequestFrame(wire::FrameType::kPublishKeys, 2 * round, wire::PublishKeysRequest{bundle}))
                .ok());
    REQUIRE(connection->TEST_SendRaw(RequestFrame(wire::FrameType::kGetKeys, 2 * round + 1, wire::GetKeysRequest{device.address}))
                .ok());
    bool answered = false;
    for (int i = 0; i < 2; ++i) {
      auto raw = connection->TEST_ReceiveRaw(5000ms);
      REQUIRE(raw.ok());
      REQUIRE(raw->has_value());
      auto frame = wire::DecodeFrame(**raw);
      REQUIRE(frame.ok());
      CHECK(frame->header.status == static_cast<uint16_t>(wire::WireStatus::kOk));
      if (frame->header.request_id != 2 * round + 1) continue;
      auto keys = wire::Decode<wire::GetKeysReply>(frame->body);
      REQUIRE(keys.ok());
      CHECK(keys->bundle == bundle);  // the bundle of this round, not the previous one
      answered = true;
    }
    CHECK(answered);
  }
  CHECK(ReadReplies(*other, 200).size() == 200);
}
