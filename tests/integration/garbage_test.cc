// Hostile traffic on the relay's port while a good client keeps working.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <random>
#include <thread>

#include "integration/relay_process_util.h"
#include "wire/frame.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;
using namespace std::chrono_literals;

namespace {

int PortOf(const std::string& endpoint) { return std::stoi(endpoint.substr(endpoint.rfind(':') + 1)); }

int TcpConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

// True if the peer closed the connection within `timeout` (reads and discards whatever comes).
bool ClosedByPeer(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[512];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("random bytes, broken handshakes and half-open connections do not disturb a good client",
          "[integration][hostile]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.EditConfig("handshake_timeout_ms = 5000", "handshake_timeout_ms = 1000");
  relay.Start();
  const int port = PortOf(relay.endpoint());
  RawDevice member{"member/1"};
  relay.Register(member.address, member.TransportZ85());
  zmq::context_t context;
  auto good = member.Connect(context, relay);

  std::atomic<bool> stop{false};
  std::atomic<int> attacks{0};
  std::thread attacker([&] {
    std::mt19937 rng(20261122);
    std::vector<int> half_open;
    while (!stop.load()) {
      int fd = TcpConnect(port);
      const int kind = attacks.load() % 3;
      if (kind == 0) {  // random bytes
        std::vector<uint8_t> junk(1 + rng() % 4096);
        for (auto& b : junk) b = static_cast<uint8_t>(rng());
        (void)::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
        ::close(fd);
      } else if (kind == 1) {  // a ZMTP greeting asking for CURVE, then garbage instead of HELLO
        uint8_t greeting[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'C', 'U', 'R', 'V', 'E'};
        (void)::send(fd, greeting, sizeof greeting, MSG_NOSIGNAL);
        uint8_t hello[200];
        for (auto& b : hello) b = static_cast<uint8_t>(rng());
        hello[0] = 0x04;
        hello[1] = sizeof hello - 2;
        (void)::send(fd, hello, sizeof hello, MSG_NOSIGNAL);
        ::close(fd);
      } else {  // half-open: connect and say nothing
        half_open.push_back(fd);
        if (half_open.size() > 50) {
          ::close(half_open.front());
          half_open.erase(half_open.begin());
        }
      }
      ++attacks;
      std::this_thread::sleep_for(2ms);
    }
    for (int fd : half_open) ::close(fd);
  });

  int round_trips = 0, failures = 0;
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    auto pong = good->Call(wire::FrameType::kPing, wire::Empty{});
    if (pong.ok() && pong->status == static_cast<uint16_t>(wire::WireStatus::kOk)) {
      ++round_trips;
    } else {
      ++failures;
    }
  }
  stop = true;
  attacker.join();
  INFO(round_trips << " round trips, " << failures << " failures, " << attacks.load() << " hostile connections");
  CHECK(failures == 0);
  CHECK(round_trips > 50);
  CHECK(attacks.load() > 100);
  REQUIRE(relay.running());

  // A connection that never completes its handshake is dropped after the handshake interval.
  int lurker = TcpConnect(port);
  CHECK(ClosedByPeer(lurker, 4000ms));
  ::close(lurker);
  // And the relay still serves.
  auto pong = good->Call(wire::FrameType::kPing, wire::Empty{});
  REQUIRE(pong.ok());
  CHECK(pong->status == static_cast<uint16_t>(wire::WireStatus::kOk));
}
