// A CurveZMQ DEALER connection to one relay, speaking liaison frames (internal to client/).
//
// Call() sends one request and waits for the reply with the same request id; DELIVER pushes that
// arrive meanwhile are queued for NextPush(). After a timeout the connection is torn down (its
// queued requests are dropped, which is safe: every request is idempotent or retried with the
// same message id) and rebuilt on the next call.
// Thread-safety: one thread at a time.
#ifndef LIAISON_CLIENT_SRC_CONNECTION_H_
#define LIAISON_CLIENT_SRC_CONNECTION_H_

#include <array>
#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "base/bytes.h"
#include "crypto/secret.h"
#include "liaison/status.h"
#include "wire/frame.h"
#include "wire/messages.h"

namespace liaison::client {

struct TransportKeys {
  std::array<uint8_t, 32> server_public{};
  std::array<uint8_t, 32> client_public{};
  crypto::SecretBytes<32> client_secret;
};

struct Reply {
  uint16_t status = 0;
  Bytes body;
};

class RelayConnection {
 public:
  // Does not connect yet. `context` must outlive the connection.
  RelayConnection(zmq::context_t& context, std::string endpoint, TransportKeys keys, std::chrono::milliseconds timeout);
  ~RelayConnection();

  // One request, one reply. kUnavailable when the relay does not answer within the timeout;
  // kMalformed if the reply cannot be parsed. A reply with an error status is returned as a
  // Reply (see ReplyStatus).
  Result<Reply> Call(wire::FrameType type, ByteView body);

  template <class Request>
  Result<Reply> Call(wire::FrameType type, const Request& request) {
    LIAISON_ASSIGN_OR_RETURN(Bytes body, wire::Encode(request));
    return Call(type, ByteView(body));
  }

  // The next DELIVER push, waiting up to `timeout`; nullopt if none arrived.
  Result<std::optional<wire::Deliveries>> NextPush(std::chrono::milliseconds timeout);

  // TEST_ONLY: raw frames, for tests that send what a well-behaved client never would.
  Status TEST_SendRaw(ByteView frame);
  Result<std::optional<Bytes>> TEST_ReceiveRaw(std::chrono::milliseconds timeout);

  void Disconnect();

 private:
  Status EnsureConnected();
  // Receives one frame, or nullopt on timeout.
  Result<std::optional<Bytes>> Receive(std::chrono::milliseconds timeout);
  // The error for a call that got no answer: kPermissionDenied if the relay refused this
  // device's transport key in the CURVE handshake (ZAP: not admitted, or revoked), else
  // kUnavailable with `unavailable_reason`.
  Status NoAnswer(const std::string& unavailable_reason);

  zmq::context_t& context_;
  std::string endpoint_;
  TransportKeys keys_;
  std::chrono::milliseconds timeout_;
  std::optional<zmq::socket_t> socket_;
  std::optional<zmq::socket_t> monitor_;  // handshake-failure events of socket_
  uint64_t next_request_id_ = 1;
  std::deque<wire::Deliveries> pushes_;
};

// OK for a 2xx reply; otherwise the relay's status and reason as a Status.
Status ReplyStatus(const Reply& reply);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_CONNECTION_H_
