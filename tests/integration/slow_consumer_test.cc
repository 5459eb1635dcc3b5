// A recipient that reads its pushes slowly: the backlog waits in LMDB, not in the relay's memory.
#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "crypto/random.h"
#include "integration/relay_process_util.h"
#include "wire/frame.h"
#include "wire/limits.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::testing;
using namespace std::chrono_literals;

TEST_CASE("a slow consumer fed 10,000 messages loses none while the relay's memory stays bounded",
          "[integration][relay][memory]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  RawDevice sender{"sender/1"}, consumer{"consumer/1"};
  relay.Register(sender.address, sender.TransportZ85());
  relay.Register(consumer.address, consumer.TransportZ85());
  zmq::context_t context;
  auto out = sender.Connect(context, relay);
  REQUIRE(out->Call(wire::FrameType::kPing, wire::Empty{}).ok());
  const long rss_start = relay.StatusKiB("RssAnon");

  constexpr int kMessages = 10'000;
  std::atomic<bool> sending_done{false};
  std::atomic<int> sent{0};
  std::atomic<size_t> received_count{0};
  std::set<uint64_t> received;
  int pushes = 0;
  std::thread slow([&] {
    auto in = consumer.Connect(context, relay, 5000ms);
    REQUIRE(client::ReplyStatus(*in->Call(wire::FrameType::kHello, wire::Empty{})).ok());
    // Acknowledge nothing until 3,000 messages are stored, however slowly a loaded machine
    // sends: the relay then holds a backlog far beyond its push window in any build.
    while (sent.load() < 3000 && !sending_done.load()) std::this_thread::sleep_for(10ms);
    auto last_hello = std::chrono::steady_clock::now();
    while (received.size() < kMessages) {
      // Slow: take what was pushed during 100 ms, stall for a second, then acknowledge it all.
      // The relay pushes at most its window ahead; the rest of the backlog waits in LMDB.
      wire::AckRequest ack;
      const auto until = std::chrono::steady_clock::now() + 100ms;
      while (std::chrono::steady_clock::now() < until) {
        auto push = in->NextPush(20ms);
        REQUIRE(push.ok());
        if (!push->has_value()) continue;
        ++pushes;
        for (const auto& d : (*push)->items) {
          if (d.seq == wire::kProvisionalSeq) continue;  // pushed before storing; the stored copy counts
          if (received.insert(d.seq).second) ack.seqs.push_back(d.seq);
          received_count = received.size();
        }
      }
      std::this_thread::sleep_for(1000ms);
      for (size_t i = 0; i < ack.seqs.size(); i += wire::kMaxAckBatch) {
        wire::AckRequest part;
        part.seqs.assign(ack.seqs.begin() + static_cast<long>(i),
                         ack.seqs.begin() + static_cast<long>(std::min(ack.seqs.size(), i + wire::kMaxAckBatch)));
        REQUIRE(client::ReplyStatus(*in->Call(wire::FrameType::kAck, part)).ok());
      }
      if (ack.seqs.empty() && sending_done && std::chrono::steady_clock::now() - last_hello > 1s) {
        // Nothing came for a while: subscribe again (the relay re-pushes what is pending).
        REQUIRE(client::ReplyStatus(*in->Call(wire::FrameType::kHello, wire::Empty{})).ok());
        last_hello = std::chrono::steady_clock::now();
      }
    }
  });

  long rss_peak = rss_start;
  size_t max_backlog = 0;
  for (int i = 0; i < kMessages; ++i) {
    wire::SendRequest send;
    send.recipient = consumer.address;
    send.message_id = crypto::RandomArray<16>();
    send.envelope = Bytes(1024, static_cast<uint8_t>(i));
    auto reply = out->Call(wire::FrameType::kSend, send);
    REQUIRE(reply.ok());
    REQUIRE(reply->status == static_cast<uint16_t>(wire::WireStatus::kOk));
    sent = i + 1;
    max_backlog = std::max(max_backlog, static_cast<size_t>(i + 1) - std::min<size_t>(received_count.load(), i + 1));
    if (i % 500 == 0) rss_peak = std::max(rss_peak, relay.StatusKiB("RssAnon"));
  }
  sending_done = true;
  const size_t received_when_sent = received_count.load();
  slow.join();
  rss_peak = std::max(rss_peak, relay.StatusKiB("RssAnon"));
  INFO("relay RssAnon " << rss_start << " KiB at start, peak sampled " << rss_peak << " KiB (VmRSS now "
                        << relay.StatusKiB("VmRSS") << " KiB); " << pushes << " pushes");
  CHECK(received.size() == kMessages);
  // The consumer really was slow: at some point more than twice the relay's push window (512,
  // relay/limits.h) of stored messages had not reached it.
  INFO(received_when_sent << " received when the sender finished; largest backlog " << max_backlog);
  CHECK(max_backlog > 2 * 512);
  // The backlog (about 10 MiB of envelopes) lives in LMDB's map, whose pages count toward VmRSS
  // as they are touched (more of them with the write-ahead log on, whose checkpoints pin freed
  // pages for up to two intervals), but not toward RssAnon: the relay's own heap must not grow. 10,000 x 1 KiB held in
  // memory would add more than 10 MiB on top of the map pages.
  if (kMemoryFiguresMeaningful) {
    CHECK(rss_peak - rss_start < 32 * 1024);
  } else {
    WARN("sanitizer build: the 32 MiB bound is asserted in the plain build only");
  }
}
