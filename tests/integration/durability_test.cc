// Power loss: killing a process keeps what the kernel holds, so kill -9 tests alone cannot show
// that an acknowledged message is on the disk. This test watches the relay's system calls and
// checks that every acknowledgement left the relay only after a completed fdatasync (LMDB's data
// sync) and the write of the meta page (on LMDB's O_DSYNC descriptor) of the commit holding it.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>

#include "crypto/random.h"
#include "integration/relay_process_util.h"
#include "wire/frame.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;

TEST_CASE("every send is acknowledged only after its commit's fdatasync and meta write returned",
          "[integration][durability]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  RawDevice sender{"sender/1"}, recipient{"recipient/1"};
  relay.Register(sender.address, sender.TransportZ85());
  relay.Register(recipient.address, recipient.TransportZ85());
  const std::string trace = dir.Sub("trace.txt");
  relay.StartWrapped({"/usr/bin/strace", "-f", "-q", "-e", "trace=fdatasync,fsync,pwrite64,pwritev,sendto",
                      "-o", trace});
  zmq::context_t context;
  auto connection = sender.Connect(context, relay, std::chrono::milliseconds(10000));
  REQUIRE(connection->Call(wire::FrameType::kPing, wire::Empty{}).ok());
  constexpr int kSends = 20;
  for (int i = 0; i < kSends; ++i) {
    wire::SendRequest send;
    send.recipient = recipient.address;
    send.message_id = crypto::RandomArray<16>();
    send.envelope = Bytes(1000, static_cast<uint8_t>(i));
    auto reply = connection->Call(wire::FrameType::kSend, send);
    REQUIRE(reply.ok());
    REQUIRE(reply->status == static_cast<uint16_t>(wire::WireStatus::kOk));
  }
  connection.reset();
  relay.Stop();

  // strace prints a call when it completes ("= N"), or "<unfinished ...>" then "<... resumed>".
  std::ifstream in(trace);
  REQUIRE(in.good());
  const std::regex completed(R"(^\d+ +(?:<\.\.\. )?(fdatasync|fsync|pwrite64|pwritev|sendto)(?: resumed>)?.*= (-?\d+))");
  struct Event {
    std::string call;
    long result;
  };
  std::vector<Event> events;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("<unfinished") != std::string::npos) continue;
    std::smatch m;
    if (std::regex_search(line, m, completed)) events.push_back({m[1], std::stol(m[2])});
  }
  std::vector<size_t> replies;  // indices of completed sends on the network
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].call == "sendto" && events[i].result > 0) replies.push_back(i);
  }
  REQUIRE(replies.size() >= kSends + 1);
  // The last kSends network sends answer the kSends SEND requests; each must follow, after the
  // previous reply, a successful fdatasync and then a successful meta-page pwrite.
  int checked = 0;
  for (size_t r = replies.size() - kSends; r < replies.size(); ++r) {
    bool synced = false, meta_written = false;
    for (size_t i = replies[r - 1] + 1; i < replies[r]; ++i) {
      if ((events[i].call == "fdatasync" || events[i].call == "fsync") && events[i].result == 0) synced = true;
      if (synced && events[i].call == "pwrite64" && events[i].result > 0) meta_written = true;
    }
    INFO("acknowledgement " << (r - (replies.size() - kSends)));
    CHECK(synced);
    CHECK(meta_written);
    ++checked;
  }
  CHECK(checked == kSends);
  // Had a reply gone out before its commit, that commit's sync would trail the last reply.
  for (size_t i = replies.back() + 1; i < events.size(); ++i) {
    CHECK_FALSE((events[i].call == "fdatasync" || events[i].call == "fsync"));
  }
}
