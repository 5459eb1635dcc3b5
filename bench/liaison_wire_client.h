// A raw CurveZMQ DEALER that speaks liaison frames without waiting for each reply, for the
// load generator (bench/liaison_bench.cc). client/src/connection.h's RelayConnection waits for
// the reply of every call; here requests are pipelined and replies matched by request id.
// One thread per socket.
#ifndef LIAISON_BENCH_LIAISON_WIRE_CLIENT_H_
#define LIAISON_BENCH_LIAISON_WIRE_CLIENT_H_

#include <chrono>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "base/bytes.h"
#include "wire/frame.h"

namespace liaison::bench {

// A CURVE key pair in Z85 (40 characters each), from zmq_curve_keypair.
struct CurveKeys {
  std::string public_z85;
  std::string secret_z85;
  static CurveKeys Generate();
};

struct ReceivedFrame {
  wire::FrameHeader header;
  Bytes body;
};

// Encodes one request frame.
Bytes RequestFrame(wire::FrameType type, uint64_t request_id, ByteView body);

class WireClient {
 public:
  WireClient(zmq::context_t& context, const std::string& endpoint, const std::string& server_public_z85,
             const CurveKeys& keys);
  void Send(ByteView frame);
  void Send(wire::FrameType type, uint64_t request_id, ByteView body) { Send(RequestFrame(type, request_id, body)); }
  // The next frame, waiting up to `timeout` (0: do not wait); nullopt on timeout.
  std::optional<ReceivedFrame> Receive(std::chrono::milliseconds timeout);
  // Non-blocking receive.
  std::optional<ReceivedFrame> TryReceive();
  // Sends `type` with `body` and waits for its reply (other frames are dropped); dies on timeout.
  ReceivedFrame Call(wire::FrameType type, ByteView body, std::chrono::milliseconds timeout);
  // The socket's ZMQ_FD, and whether ZMQ_EVENTS says a message is waiting (for ppoll loops).
  int fd();
  bool Readable();
  zmq::socket_t& socket() { return socket_; }

 private:
  zmq::socket_t socket_;
  uint64_t call_id_ = 1ull << 62;
};

}  // namespace liaison::bench

#endif  // LIAISON_BENCH_LIAISON_WIRE_CLIENT_H_
