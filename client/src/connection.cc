#include "client/src/connection.h"

#include <atomic>
#include <cstring>

#include "wire/limits.h"

namespace liaison::client {

RelayConnection::RelayConnection(zmq::context_t& context, std::string endpoint, TransportKeys keys,
                                 std::chrono::milliseconds timeout)
    : context_(context), endpoint_(std::move(endpoint)), keys_(std::move(keys)), timeout_(timeout) {}

RelayConnection::~RelayConnection() { Disconnect(); }

void RelayConnection::Disconnect() {
  if (monitor_) {
    monitor_->close();
    monitor_.reset();
  }
  if (socket_) {
    socket_->close();
    socket_.reset();
  }
}

Status RelayConnection::EnsureConnected() {
  if (socket_) return Status::Ok();
  try {
    zmq::socket_t socket(context_, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(keys_.server_public.data(), 32));
    socket.set(zmq::sockopt::curve_publickey, zmq::const_buffer(keys_.client_public.data(), 32));
    socket.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys_.client_secret.data(), 32));
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::immediate, 1);  // queue only on a finished handshake
    socket.set(zmq::sockopt::sndtimeo, static_cast<int>(timeout_.count()));
    socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
    socket.set(zmq::sockopt::heartbeat_ivl, 5000);
    socket.set(zmq::sockopt::heartbeat_timeout, 15000);
    // Authentication failures of the handshake are reported on an inproc monitor, so that a
    // device the relay does not admit learns why its calls go unanswered.
    static std::atomic<uint64_t> monitors{0};
    const std::string monitor_address = "inproc://liaison-connection-monitor-" + std::to_string(monitors.fetch_add(1));
    if (zmq_socket_monitor(socket.handle(), monitor_address.c_str(), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
      zmq::socket_t monitor(context_, zmq::socket_type::pair);
      monitor.set(zmq::sockopt::linger, 0);
      monitor.connect(monitor_address);
      monitor_.emplace(std::move(monitor));
    }
    socket.connect(endpoint_);
    socket_.emplace(std::move(socket));
  } catch (const zmq::error_t& e) {
    return Status::Error(Code::kInvalidArgument, "cannot connect to " + endpoint_ + ": " + e.what());
  }
  return Status::Ok();
}

Result<std::optional<Bytes>> RelayConnection::Receive(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
  try {
    if (zmq::poll(&item, 1, timeout) == 0) return std::optional<Bytes>();
    zmq::message_t message;
    if (!socket_->recv(message, zmq::recv_flags::dontwait)) return std::optional<Bytes>();
    while (message.more()) {  // the relay sends one frame per message; ignore anything extra
      zmq::message_t extra;
      (void)socket_->recv(extra, zmq::recv_flags::none);
      if (!extra.more()) break;
    }
    return std::optional<Bytes>(Bytes(message.data<uint8_t>(), message.data<uint8_t>() + message.size()));
  } catch (const zmq::error_t& e) {
    return Status::Error(Code::kUnavailable, std::string("receive: ") + e.what());
  }
}

Result<Reply> RelayConnection::Call(wire::FrameType type, ByteView body) {
  LIAISON_RETURN_IF_ERROR(EnsureConnected());
  wire::FrameHeader header;
  header.type = static_cast<uint8_t>(type);
  header.request_id = next_request_id_++;
  const Bytes frame = wire::EncodeFrame(header, body);
  try {
    if (!socket_->send(zmq::buffer(frame), zmq::send_flags::none)) {
      return NoAnswer("relay at " + endpoint_ + " not reachable (no connection within the timeout)");
    }
  } catch (const zmq::error_t& e) {
    Disconnect();
    return Status::Error(Code::kUnavailable, std::string("send: ") + e.what());
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    LIAISON_ASSIGN_OR_RETURN(auto received, Receive(left));
    if (!received) break;
    auto decoded = wire::DecodeFrame(*received);
    if (!decoded.ok()) return decoded.status().WithContext("reply from the relay");
    if (decoded->header.type == static_cast<uint8_t>(wire::FrameType::kDeliver)) {
      auto push = wire::Decode<wire::Deliveries>(decoded->body);
      if (!push.ok()) return push.status().WithContext("push from the relay");
      pushes_.push_back(std::move(push).value());
      continue;
    }
    if (decoded->header.request_id != header.request_id) continue;  // a late reply to a timed-out call
    return Reply{decoded->header.status, Bytes(decoded->body.begin(), decoded->body.end())};
  }
  return NoAnswer("relay at " + endpoint_ + " did not answer within " + std::to_string(timeout_.count()) + " ms");
}

Status RelayConnection::NoAnswer(const std::string& unavailable_reason) {
  bool refused = false;
  if (monitor_) {
    try {
      zmq::message_t event;
      while (monitor_->recv(event, zmq::recv_flags::dontwait)) {
        uint16_t id = 0;
        if (event.size() >= 2 && !event.more()) continue;
        if (event.size() >= 2) std::memcpy(&id, event.data(), 2);
        if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) refused = true;
        while (event.more()) (void)monitor_->recv(event, zmq::recv_flags::none);  // the endpoint frame
      }
    } catch (const zmq::error_t&) {
      // A broken monitor changes nothing about the call: report it unanswered.
    }
  }
  Disconnect();
  if (refused) {
    return Status::Error(Code::kPermissionDenied,
                         "the relay refused this device's key in the handshake: it is not in the relay's roster "
                         "(not approved yet, or revoked)");
  }
  return Status::Error(Code::kUnavailable, unavailable_reason);
}

Result<std::optional<wire::Deliveries>> RelayConnection::NextPush(std::chrono::milliseconds timeout) {
  if (!pushes_.empty()) {
    auto push = std::move(pushes_.front());
    pushes_.pop_front();
    return std::optional<wire::Deliveries>(std::move(push));
  }
  LIAISON_RETURN_IF_ERROR(EnsureConnected());
  LIAISON_ASSIGN_OR_RETURN(auto received, Receive(timeout));
  if (!received) return std::optional<wire::Deliveries>();
  auto decoded = wire::DecodeFrame(*received);
  if (!decoded.ok()) return decoded.status().WithContext("frame from the relay");
  if (decoded->header.type != static_cast<uint8_t>(wire::FrameType::kDeliver)) return std::optional<wire::Deliveries>();
  auto push = wire::Decode<wire::Deliveries>(decoded->body);
  if (!push.ok()) return push.status().WithContext("push from the relay");
  return std::optional<wire::Deliveries>(std::move(push).value());
}

Status RelayConnection::TEST_SendRaw(ByteView frame) {
  LIAISON_RETURN_IF_ERROR(EnsureConnected());
  try {
    if (!socket_->send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::none)) {
      return Status::Error(Code::kUnavailable, "send timed out");
    }
  } catch (const zmq::error_t& e) {
    return Status::Error(Code::kUnavailable, e.what());
  }
  return Status::Ok();
}

Result<std::optional<Bytes>> RelayConnection::TEST_ReceiveRaw(std::chrono::milliseconds timeout) {
  LIAISON_RETURN_IF_ERROR(EnsureConnected());
  return Receive(timeout);
}

Status ReplyStatus(const Reply& reply) {
  if (wire::IsSuccess(reply.status)) return Status::Ok();
  auto error = wire::Decode<wire::ErrorBody>(reply.body);
  std::string reason = error.ok() ? error->reason : "(no reason given)";
  return Status::Error(wire::CodeFromWireStatus(reply.status),
                       "relay answered " + std::to_string(reply.status) + ": " + reason);
}

}  // namespace liaison::client
