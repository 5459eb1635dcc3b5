// What CURVE over loopback allows, for the figures of A and B to be read against:
//  - one way: messages of 1 KiB from a PUSH to a PULL socket over tcp://127.0.0.1, with CURVE
//    (as the relay's transport) and, for comparison, without (NULL mechanism); one context, so
//    one I/O thread encrypts and decrypts; the figure is messages received per second;
//  - request/reply: workload A's traffic without the relay's work. A DEALER sends 1 KiB requests
//    with up to `window` unanswered to a ROUTER that answers each at once with 24 bytes, over
//    one CURVE connection; server and client have a context (and an I/O thread) each, as the
//    relay and a client in their own processes do. The figure is answered requests per second
//    of a bare ROUTER that does no work: what the transport alone allows A's traffic.
//
// Usage: liaison-bench-curve-probe [messages] [window]   (default 200000 100)
#include <zmq.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "bench_util.h"

using namespace liaison::bench;

namespace {

// Makes `server` a CURVE server and `client` its CURVE client, with fresh keys.
void UseCurve(zmq::socket_t& server, zmq::socket_t& client) {
  char server_pub[41], server_sec[41], client_pub[41], client_sec[41];
  Check(zmq_curve_keypair(server_pub, server_sec) == 0 && zmq_curve_keypair(client_pub, client_sec) == 0, "keys");
  server.set(zmq::sockopt::curve_server, 1);
  server.set(zmq::sockopt::curve_secretkey, std::string(server_sec));
  client.set(zmq::sockopt::curve_serverkey, std::string(server_pub));
  client.set(zmq::sockopt::curve_publickey, std::string(client_pub));
  client.set(zmq::sockopt::curve_secretkey, std::string(client_sec));
}

double Run(size_t messages, bool curve) {
  zmq::context_t context(1);
  zmq::socket_t pull(context, zmq::socket_type::pull);
  zmq::socket_t push(context, zmq::socket_type::push);
  if (curve) UseCurve(pull, push);
  pull.bind("tcp://127.0.0.1:*");
  const std::string endpoint = pull.get(zmq::sockopt::last_endpoint);
  push.set(zmq::sockopt::linger, 0);
  push.connect(endpoint);
  // Handshake first: one message through before the clock starts.
  const std::string payload(1024, 'p');
  push.send(zmq::buffer(payload), zmq::send_flags::none);
  zmq::message_t first;
  (void)pull.recv(first);
  std::thread sender([&] {
    for (size_t i = 0; i < messages; ++i) push.send(zmq::buffer(payload), zmq::send_flags::none);
  });
  const int64_t start = NowNs();
  for (size_t i = 0; i < messages; ++i) {
    zmq::message_t m;
    Check(static_cast<bool>(pull.recv(m)) && m.size() == 1024, "recv");
  }
  const double s = SecondsBetween(start, NowNs());
  sender.join();
  return static_cast<double>(messages) / s;
}

double RunRequestReply(size_t messages, size_t window) {
  zmq::context_t server_context(1), client_context(1);
  zmq::socket_t router(server_context, zmq::socket_type::router);
  zmq::socket_t dealer(client_context, zmq::socket_type::dealer);
  UseCurve(router, dealer);
  router.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::linger, 0);
  router.bind("tcp://127.0.0.1:*");
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  dealer.connect(endpoint);
  const size_t total = messages + 1;  // the first one completes the handshake before the clock
  std::thread server([&] {
    const std::string reply(24, 'r');
    for (size_t i = 0; i < total; ++i) {
      zmq::message_t routing, request;
      Check(static_cast<bool>(router.recv(routing)) && routing.more(), "recv routing id");
      Check(static_cast<bool>(router.recv(request)) && request.size() == 1024, "recv request");
      router.send(routing, zmq::send_flags::sndmore);
      router.send(zmq::buffer(reply), zmq::send_flags::none);
    }
  });
  const std::string payload(1024, 'q');
  dealer.send(zmq::buffer(payload), zmq::send_flags::none);
  zmq::message_t answer;
  Check(static_cast<bool>(dealer.recv(answer)), "first reply");
  const int64_t start = NowNs();
  size_t sent = 0, answered = 0;
  while (answered < messages) {
    while (sent < messages && sent - answered < window) {
      dealer.send(zmq::buffer(payload), zmq::send_flags::none);
      ++sent;
    }
    Check(static_cast<bool>(dealer.recv(answer)) && answer.size() == 24, "reply");
    ++answered;
  }
  const double s = SecondsBetween(start, NowNs());
  server.join();
  return static_cast<double>(messages) / s;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t messages = argc > 1 ? std::stoul(argv[1]) : 200000;
  const size_t window = argc > 2 ? std::stoul(argv[2]) : 100;
  const double curve = Run(messages, true);
  const double plain = Run(messages, false);
  const double request_reply = RunRequestReply(messages, window);
  Report("curve", "oneway_msgs_per_s", curve, "msg/s");
  Report("curve", "oneway_null_msgs_per_s", plain, "msg/s");
  Report("curve", "request_reply_msgs_per_s", request_reply, "msg/s");
  Note("curve probe: %zu one-way messages of 1 KiB over loopback: CURVE %.0f msg/s, NULL %.0f msg/s", messages, curve,
       plain);
  Note("curve probe: %zu CURVE requests of 1 KiB answered with 24 bytes, %zu in flight: %.0f msg/s", messages, window,
       request_reply);
  return 0;
}
