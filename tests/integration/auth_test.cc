// Who may connect, and what a connected device may touch.
#include <catch2/catch.hpp>
#include <zmq.h>

#include "integration/relay_process_util.h"
#include "wire/frame.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;
using namespace std::chrono_literals;

namespace {

// A DEALER that speaks to the relay with the NULL or PLAIN mechanism instead of CURVE.
bool GetsAnyAnswer(zmq::context_t& context, const std::string& endpoint, bool plain) {
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  if (plain) {
    socket.set(zmq::sockopt::plain_username, "officer/1");
    socket.set(zmq::sockopt::plain_password, "guess");
  }
  socket.connect(endpoint);
  wire::FrameHeader header;
  header.type = static_cast<uint8_t>(wire::FrameType::kPing);
  header.request_id = 1;
  const Bytes frame = wire::EncodeFrame(header, Bytes{0x01, 0x00});
  (void)socket.send(zmq::buffer(frame), zmq::send_flags::dontwait);
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  return zmq::poll(&item, 1, 1500ms) > 0;
}

}  // namespace

TEST_CASE("clients using the NULL or PLAIN mechanism get no answer", "[integration][auth]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  zmq::context_t context;
  CHECK_FALSE(GetsAnyAnswer(context, relay.endpoint(), false));
  CHECK_FALSE(GetsAnyAnswer(context, relay.endpoint(), true));
}

TEST_CASE("a client that pins the wrong relay key gets no answer", "[integration][auth]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  RelayProcess impostor(dir.Sub("impostor"));  // only for its key
  relay.Start();
  RawDevice member{"member/1"};
  relay.Register(member.address, member.TransportZ85());
  zmq::context_t context;
  client::TransportKeys keys;
  std::string wrong = impostor.public_key();
  REQUIRE(zmq_z85_decode(keys.server_public.data(), wrong.c_str()) != nullptr);
  keys.client_public = member.transport.public_key;
  keys.client_secret = member.transport.secret_key.Clone();
  client::RelayConnection connection(context, relay.endpoint(), std::move(keys), 1500ms);
  CHECK(connection.Call(wire::FrameType::kPing, wire::Empty{}).status().code() == Code::kUnavailable);
}

TEST_CASE("a device can neither read nor acknowledge another device's mailbox", "[integration][auth]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  auto officer = MakeClient(relay, dir.Sub("officer"), "officer/1");
  auto victim = MakeClient(relay, dir.Sub("victim"), "victim/1");
  REQUIRE(victim->Sync().ok());
  REQUIRE(officer->Send("victim/1", "for the victim only").ok());

  RawDevice attacker{"attacker/1"};
  relay.Register(attacker.address, attacker.TransportZ85());
  zmq::context_t context;
  auto connection = attacker.Connect(context, relay);
  // FETCH answers from the authenticated device's own mailbox only: there is no field to name another.
  auto fetched = connection->Call(wire::FrameType::kFetch, wire::FetchRequest{});
  REQUIRE(fetched.ok());
  auto deliveries = wire::Decode<wire::Deliveries>(fetched->body);
  REQUIRE(deliveries.ok());
  CHECK(deliveries->items.empty());
  // Acknowledging sequence numbers 1..100 removes nothing of the victim's.
  wire::AckRequest ack;
  for (uint64_t seq = 1; seq <= 100; ++seq) ack.seqs.push_back(seq);
  auto acked = connection->Call(wire::FrameType::kAck, ack);
  REQUIRE(acked.ok());
  auto removed = wire::Decode<wire::AckReply>(acked->body);
  REQUIRE(removed.ok());
  CHECK(removed->removed == 0);

  auto report = victim->Sync();
  REQUIRE(report.ok());
  CHECK(report->received == 1);
}

TEST_CASE("a second connection reusing another's routing id cannot take over its pushes", "[integration][auth]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  zmq::context_t context;
  RawDevice victim{"victim/1"}, attacker{"attacker/1"};
  relay.Register(victim.address, victim.TransportZ85());
  relay.Register(attacker.address, attacker.TransportZ85());
  auto make = [&](const RawDevice& device) {
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    std::string server = relay.public_key();
    std::array<uint8_t, 32> server_key{};
    REQUIRE(zmq_z85_decode(server_key.data(), server.c_str()) != nullptr);
    socket.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_key.data(), 32));
    socket.set(zmq::sockopt::curve_publickey, zmq::const_buffer(device.transport.public_key.data(), 32));
    socket.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(device.transport.secret_key.data(), 32));
    socket.set(zmq::sockopt::routing_id, "shared-id");
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(relay.endpoint());
    return socket;
  };
  auto ping = [](zmq::socket_t& socket) {
    wire::FrameHeader header;
    header.type = static_cast<uint8_t>(wire::FrameType::kPing);
    header.request_id = 5;
    const Bytes frame = wire::EncodeFrame(header, Bytes{0x01, 0x00});
    (void)socket.send(zmq::buffer(frame), zmq::send_flags::none);
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 1500ms) == 0) return false;
    zmq::message_t reply;
    return socket.recv(reply, zmq::recv_flags::dontwait).has_value();
  };
  zmq::socket_t first = make(victim);
  REQUIRE(ping(first));
  zmq::socket_t second = make(attacker);
  CHECK_FALSE(ping(second));  // the ROUTER refuses a routing id already in use
  CHECK(ping(first));         // and the first connection keeps working
}
