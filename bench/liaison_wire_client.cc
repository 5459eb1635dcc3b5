#include "liaison_wire_client.h"

#include <zmq.h>

#include "bench_util.h"
#include "wire/limits.h"

namespace liaison::bench {

CurveKeys CurveKeys::Generate() {
  char pub[41] = {}, sec[41] = {};
  Check(zmq_curve_keypair(pub, sec) == 0, "zmq_curve_keypair");
  return CurveKeys{pub, sec};
}

Bytes RequestFrame(wire::FrameType type, uint64_t request_id, ByteView body) {
  wire::FrameHeader header;
  header.type = static_cast<uint8_t>(type);
  header.request_id = request_id;
  return wire::EncodeFrame(header, body);
}

WireClient::WireClient(zmq::context_t& context, const std::string& endpoint, const std::string& server_public_z85,
                       const CurveKeys& keys)
    : socket_(context, zmq::socket_type::dealer) {
  socket_.set(zmq::sockopt::curve_serverkey, server_public_z85);
  socket_.set(zmq::sockopt::curve_publickey, keys.public_z85);
  socket_.set(zmq::sockopt::curve_secretkey, keys.secret_z85);
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
  socket_.connect(endpoint);
}

void WireClient::Send(ByteView frame) {
  Check(static_cast<bool>(socket_.send(zmq::const_buffer(frame.data(), frame.size()), zmq::send_flags::none)),
        "send to the relay");
}

namespace {
std::optional<ReceivedFrame> Parse(const zmq::message_t& message) {
  auto frame = wire::DecodeFrame(ByteView(message.data<uint8_t>(), message.size()));
  Check(frame.ok(), "undecodable frame from the relay");
  return ReceivedFrame{frame->header, Bytes(frame->body.begin(), frame->body.end())};
}
}  // namespace

std::optional<ReceivedFrame> WireClient::TryReceive() {
  zmq::message_t message;
  if (!socket_.recv(message, zmq::recv_flags::dontwait)) return std::nullopt;
  return Parse(message);
}

std::optional<ReceivedFrame> WireClient::Receive(std::chrono::milliseconds timeout) {
  if (auto frame = TryReceive()) return frame;
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) <= 0) return std::nullopt;
  return TryReceive();
}

ReceivedFrame WireClient::Call(wire::FrameType type, ByteView body, std::chrono::milliseconds timeout) {
  const uint64_t id = call_id_++;
  Send(type, id, body);
  const int64_t deadline = NowNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  while (NowNs() < deadline) {
    auto frame = Receive(std::chrono::milliseconds(100));
    if (frame && frame->header.request_id == id) return std::move(*frame);
  }
  Die("no reply from the relay within the timeout");
}

int WireClient::fd() { return socket_.get(zmq::sockopt::fd); }

bool WireClient::Readable() { return (socket_.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0; }

}  // namespace liaison::bench
