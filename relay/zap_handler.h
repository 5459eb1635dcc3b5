// The ZAP handler (ZeroMQ RFC 27) that decides which CURVE clients may talk to the relay.
//
// It binds inproc://zeromq.zap.01 in the relay's context and must be started before the ROUTER
// binds. It accepts only mechanism CURVE, only the ZAP domain "liaison", and only client keys in
// the DeviceRegistry; it answers 200 with the device's address as User-Id, 400 otherwise, and
// 500 to a request that does not follow RFC 27. Runs on its own thread until Stop().
#ifndef LIAISON_RELAY_ZAP_HANDLER_H_
#define LIAISON_RELAY_ZAP_HANDLER_H_

#include <atomic>
#include <thread>
#include <zmq.hpp>

#include "liaison/status.h"
#include "relay/device_registry.h"

namespace liaison::relay {

inline constexpr char kZapDomain[] = "liaison";

class ZapHandler {
 public:
  // `context` and `registry` must outlive the handler.
  ZapHandler(zmq::context_t& context, DeviceRegistry& registry) : context_(context), registry_(registry) {}
  ~ZapHandler() { Stop(); }

  // Binds the ZAP endpoint (synchronously, so that the caller may bind CURVE sockets right after)
  // and starts the thread. kUnavailable if the endpoint cannot be bound.
  Status Start();
  void Stop();

  uint64_t accepted() const { return accepted_.load(); }
  uint64_t refused() const { return refused_.load(); }

 private:
  void Run(zmq::socket_t socket);
  zmq::context_t& context_;
  DeviceRegistry& registry_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> accepted_{0}, refused_{0};
};

}  // namespace liaison::relay

#endif  // LIAISON_RELAY_ZAP_HANDLER_H_
