// What CURVE over loopback allows: one-way messages of 1 KiB from a PUSH to a PULL socket over
// tcp://127.0.0.1, with CURVE (as the relay's transport) and, for comparison, without (NULL
// mechanism). Two threads in one process; the figure is messages received per second.
//
// Usage: liaison-bench-curve-probe [messages]   (default 200000)
#include <zmq.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "bench_util.h"

using namespace liaison::bench;

namespace {

double Run(size_t messages, bool curve) {
  zmq::context_t context(1);
  zmq::socket_t pull(context, zmq::socket_type::pull);
  zmq::socket_t push(context, zmq::socket_type::push);
  if (curve) {
    char server_pub[41], server_sec[41], client_pub[41], client_sec[41];
    Check(zmq_curve_keypair(server_pub, server_sec) == 0 && zmq_curve_keypair(client_pub, client_sec) == 0, "keys");
    pull.set(zmq::sockopt::curve_server, 1);
    pull.set(zmq::sockopt::curve_secretkey, std::string(server_sec));
    push.set(zmq::sockopt::curve_serverkey, std::string(server_pub));
    push.set(zmq::sockopt::curve_publickey, std::string(client_pub));
    push.set(zmq::sockopt::curve_secretkey, std::string(client_sec));
  }
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

}  // namespace

int main(int argc, char** argv) {
  const size_t messages = argc > 1 ? std::stoul(argv[1]) : 200000;
  const double curve = Run(messages, true);
  const double plain = Run(messages, false);
  Report("curve", "oneway_msgs_per_s", curve, "msg/s");
  Report("curve", "oneway_null_msgs_per_s", plain, "msg/s");
  Note("curve probe: %zu one-way messages of 1 KiB over loopback: CURVE %.0f msg/s, NULL %.0f msg/s", messages, curve,
       plain);
  return 0;
}
