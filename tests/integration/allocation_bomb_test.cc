// Frames of a few bytes whose length prefixes claim huge sizes must cost the relay nothing.
#include <catch2/catch.hpp>

#include "integration/relay_process_util.h"
#include "wire/frame.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;

TEST_CASE("length prefixes claiming 2^31, 2^32, 2^40 and 2^63 bytes grow the relay's memory by under 1 MiB",
          "[integration][hostile][memory]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  RawDevice attacker{"attacker/1"};
  relay.Register(attacker.address, attacker.TransportZ85());
  zmq::context_t context;
  auto connection = attacker.Connect(context, relay);
  REQUIRE(connection->Call(wire::FrameType::kPing, wire::Empty{}).ok());
  // Warm up the paths a normal request takes, so that first-use allocations are not counted.
  for (int i = 0; i < 50; ++i) REQUIRE(connection->Call(wire::FrameType::kFetch, wire::FetchRequest{}).ok());
  const long peak_before = relay.StatusKiB("VmHWM");

  int refused = 0;
  for (int round = 0; round < 100; ++round) {
    for (uint64_t claimed : {1ull << 31, 1ull << 32, 1ull << 40, 1ull << 63}) {
      for (auto type : {wire::FrameType::kSend, wire::FrameType::kAck, wire::FrameType::kPublishKeys}) {
        Bytes body{0x01};
        for (int i = 0; i < 8; ++i) body.push_back(static_cast<uint8_t>(claimed >> (8 * i)));
        body.push_back(0);
        auto reply = connection->Call(type, ByteView(body));
        REQUIRE(reply.ok());
        refused += reply->status == static_cast<uint16_t>(wire::WireStatus::kTooLarge) ? 1 : 0;
      }
    }
    // A body whose endianness byte asks for byte swapping.
    auto swapped = connection->Call(wire::FrameType::kSend, ByteView(Bytes{0x00, 0, 0, 0, 0, 0, 0, 0, 0x10}));
    REQUIRE(swapped.ok());
    refused += swapped->status == static_cast<uint16_t>(wire::WireStatus::kMalformed) ? 1 : 0;
  }
  const long peak_after = relay.StatusKiB("VmHWM");
  INFO("relay peak RSS " << peak_before << " KiB before, " << peak_after << " KiB after 1,300 bombs");
  CHECK(refused == 1300);
  if (kMemoryFiguresMeaningful) {
    CHECK(peak_after - peak_before < 1024);
  } else {
    WARN("sanitizer build: the 1 MiB bound is asserted in the plain build only");
  }
  auto pong = connection->Call(wire::FrameType::kPing, wire::Empty{});
  REQUIRE(pong.ok());
  CHECK(pong->status == static_cast<uint16_t>(wire::WireStatus::kOk));
}
