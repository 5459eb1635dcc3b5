// liaison-bench: the load generator of issue 7. Drives real `liaison-relay` processes over
// loopback with real CURVE (list mode) and real sealed v2 envelopes of 1 KiB, prepared before
// every timed phase, speaking the wire protocol directly through pipelined DEALER sockets
// (bench/liaison_wire_client.h). Workloads (docs/performance.md):
//   A  offline drain: N messages to one offline recipient, up to W unanswered; then the recipient
//      FETCHes and ACKs everything (pipelined); send and drain rates, exactly-once check, the
//      relay's memory during both phases. Then the same backlog as SEND_MANY requests of 25 (as
//      the client library flushes its outbox), drained again.
//   B  online latency: recipient subscribed with HELLO, M messages at R msgs/s; send-to-recipient
//      and send-to-ack percentiles.
//   C  SEND_BROADCAST with 1,000 copies (to 1,000 subscribed devices), one after another (11, or
//      --broadcasts B; the first warms up): round trip, the relay's receipt-to-durable time (its
//      counters) and the time until every recipient has read its copy.
//   D  durability: kill -9 right after the 10,000th acknowledgement; restart; count survivors.
//   E  relay RSS idle, and with 1,000 connected idle CURVE clients.
// Figures go to stdout as RESULT lines (bench/bench_util.h), progress to stderr.
//
// Usage: liaison-bench --relay PATH [--messages N] [--window W] [--latency-messages M]
//                      [--rate R] [--durability K] [--idle C] [--fanout F] [--broadcasts B]
//                      [--only ABCDE] [--label NAME] [--write-ahead-log]
// --write-ahead-log runs the relay with store.write_ahead_log = true (store/commit_log.h), for a
// comparison with the default (LMDB syncs each commit itself).
// Environment: LIAISON_BENCH_PERF_DIR=DIR records `perf record -g` of the relay per phase into
// DIR; LIAISON_BENCH_SYSCALLS=1 counts the relay's syscalls during A's send phase (perf stat);
// LIAISON_BENCH_RELAY_PRELOAD=LIB starts the relay with LD_PRELOAD=LIB (bench/run.sh: the
// fsync no-op diagnostic, with --only A).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <thread>
#include <zmq.hpp>

#include "base/clock.h"
#include "bench_util.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/sealed_envelope.h"
#include "liaison_wire_client.h"
#include "wire/codec.h"
#include "wire/messages.h"

using namespace liaison;
using namespace liaison::bench;
using wire::FrameType;
using std::chrono::milliseconds;

namespace {

std::string kSystem = "liaison";  // --label changes it (e.g. a second run of A with another window)
bool kWriteAheadLog = false;      // --write-ahead-log sets it

// `server` is the liaison-relay binary (--relay).
struct Options : WorkloadOptions {
  size_t fanout = 1000;
  size_t broadcasts = 11;
};

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// One relay data directory and the process serving it.
class Relay {
 public:
  Relay(const std::string& bin, const std::string& dir) : bin_(bin), dir_(dir), log_(dir + ".log") {
    Check(RunToCompletion({bin_, "init", dir_, "--listen", "tcp://127.0.0.1:*"}, log_) == 0, "liaison-relay init");
    public_key_ = Trim(ReadWholeFile(dir_ + "/relay.pub"));
    Check(public_key_.size() == 40, "relay.pub");
    if (kWriteAheadLog) {
      std::string config = ReadWholeFile(dir_ + "/relay.toml");
      const std::string off = "write_ahead_log = false";
      const size_t at = config.find(off);
      Check(at != std::string::npos, "relay.toml has write_ahead_log = false");
      config.replace(at, off.size(), "write_ahead_log = true");
      WriteWholeFile(dir_ + "/relay.toml", config);
    }
  }
  ~Relay() {
    if (pid_ > 0) KillAndWait(pid_, SIGKILL);
  }
  // Admits one device through `liaison-relay register` (a device card file).
  void Register(const std::string& address, const std::string& key_z85) {
    const std::string card = dir_ + "/card-" + std::to_string(cards_++) + ".toml";
    WriteWholeFile(card, "address = \"" + address + "\"\ntransport_key = \"" + key_z85 + "\"\n");
    Check(RunToCompletion({bin_, "register", dir_, card}, log_) == 0, "liaison-relay register");
  }
  // Admits many devices at once by appending to devices.list in its documented format
  // (`address SP z85-key` per line, docs/protocol.md section 1), before Start().
  void AdmitMany(const std::vector<std::pair<std::string, std::string>>& devices) {
    Check(pid_ <= 0, "AdmitMany while running");
    std::string text = ReadWholeFile(dir_ + "/devices.list");
    for (const auto& [address, key] : devices) text += address + " " + key + "\n";
    WriteWholeFile(dir_ + "/devices.list", text);
  }
  void Start() {
    const std::string endpoint_file = dir_ + "/endpoint";
    std::filesystem::remove(endpoint_file);
    std::vector<std::string> argv{bin_, "run", dir_};
    const char* preload = std::getenv("LIAISON_BENCH_RELAY_PRELOAD");
    if (preload != nullptr && *preload != '\0') {
      argv.insert(argv.begin(), {"env", std::string("LD_PRELOAD=") + preload});  // env execs: same pid
    }
    if (!endpoint_.empty()) argv.insert(argv.end(), {"--listen", endpoint_});
    pid_ = Spawn(argv, log_);
    const int64_t deadline = NowNs() + 20'000'000'000;
    while (NowNs() < deadline) {
      const std::string text = ReadWholeFile(endpoint_file);
      if (!text.empty() && text.back() == '\n') {
        endpoint_ = Trim(text);
        return;
      }
      if (Exited(pid_)) {
        pid_ = -1;
        Die("liaison-relay exited during start-up; see " + log_);
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    Die("liaison-relay did not bind within 20 s");
  }
  void Stop() {
    KillAndWait(pid_, SIGTERM);
    pid_ = -1;
  }
  void Kill9() {
    KillAndWait(pid_, SIGKILL);
    pid_ = -1;
  }
  // The relay's commit counters since it started: SIGUSR1 makes it log them ("... N commits of
  // W writes ..."), read from its log within 5 s; nullopt if none came (a relay that ignores
  // SIGUSR1, as one older than the signal does when run under `trap '' USR1`).
  struct CommitCounters {
    uint64_t commits = 0, writes = 0;
    // The slowest SEND_BROADCAST since the previous read, from the relay taking its request off
    // the socket to its commit returning: the largest figure of the counters lines logged since
    // (the relay's once-a-minute line also ends a window); nullopt if none reports one above 0.
    std::optional<uint64_t> slowest_broadcast_us;
  };
  std::optional<CommitCounters> Counters() {
    const size_t before = CounterLines().size();
    Check(::kill(pid_, SIGUSR1) == 0, "SIGUSR1 to liaison-relay");
    const int64_t deadline = NowNs() + 5'000'000'000;
    while (NowNs() < deadline) {
      const std::vector<std::string> lines = CounterLines();
      if (lines.size() > before) {
        std::smatch m;
        Check(std::regex_search(lines.back(), m, std::regex(R"((\d+) commits of (\d+) writes)")),
              "the relay's counters line");
        CommitCounters counters{std::stoull(m[1].str()), std::stoull(m[2].str()), std::nullopt};
        const std::regex slowest(R"(slowest SEND_BROADCAST since the last report: (\d+) us)");
        for (size_t i = counter_lines_read_; i < lines.size(); ++i) {
          if (!std::regex_search(lines[i], m, slowest)) continue;
          const uint64_t us = std::stoull(m[1].str());
          if (us > 0 && us > counters.slowest_broadcast_us.value_or(0)) counters.slowest_broadcast_us = us;
        }
        counter_lines_read_ = lines.size();
        return counters;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    Note("liaison-relay logged no counters within 5 s of SIGUSR1: A's writes per commit are not reported");
    return std::nullopt;
  }
  pid_t pid() const { return pid_; }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& public_key() const { return public_key_; }

 private:
  std::vector<std::string> CounterLines() const {
    std::vector<std::string> lines;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) {
      if (line.find("since start:") != std::string::npos) lines.push_back(line);
    }
    return lines;
  }

  std::string bin_, dir_, log_, public_key_, endpoint_;
  pid_t pid_ = -1;
  int cards_ = 0;
  size_t counter_lines_read_ = 0;  // the log's counters lines that Counters() has looked at
};

// `perf record -g` (or `perf stat`) of the relay for one phase, when the environment asks.
class PerfPhase {
 public:
  PerfPhase(pid_t target, const std::string& name) {
    const char* dir = std::getenv("LIAISON_BENCH_PERF_DIR");
    if (dir != nullptr && *dir != '\0') {
      pid_ = Spawn({"perf", "record", "-F", "4999", "-g", "-p", std::to_string(target), "-o",
                    std::string(dir) + "/" + name + ".data"},
                   std::string(dir) + "/" + name + ".perf.log");
    }
    const char* sys = std::getenv("LIAISON_BENCH_SYSCALLS");
    if (sys != nullptr && std::string(sys) == "1" && name == "A-send") {
      stat_file_ = (dir ? std::string(dir) : std::string("/tmp")) + "/" + name + ".syscalls.txt";
      stat_pid_ = Spawn({"perf", "stat", "-x", ",", "-e",
                         "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync,syscalls:sys_enter_pwrite64,"
                         "syscalls:sys_enter_pwritev,syscalls:sys_enter_write,syscalls:sys_enter_sendto,"
                         "syscalls:sys_enter_recvfrom,syscalls:sys_enter_poll,syscalls:sys_enter_mmap,"
                         "syscalls:sys_enter_munmap",
                         "-p", std::to_string(target), "-o", stat_file_});
    }
    if (pid_ > 0 || stat_pid_ > 0) std::this_thread::sleep_for(milliseconds(500));  // let perf attach
  }
  // Stops the recorders; returns the syscall counts by name (empty unless counted).
  std::map<std::string, double> Stop() {
    std::map<std::string, double> counts;
    if (pid_ > 0) KillAndWait(pid_, SIGINT);
    pid_ = -1;
    if (stat_pid_ > 0) {
      KillAndWait(stat_pid_, SIGINT);
      stat_pid_ = -1;
      const std::string text = ReadWholeFile(stat_file_);
      size_t at = 0;
      while (at < text.size()) {
        const size_t end = text.find('\n', at);
        const std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
        at = end == std::string::npos ? text.size() : end + 1;
        const size_t c1 = line.find(',');
        const size_t name_at = line.find("syscalls:sys_enter_");
        if (c1 == std::string::npos || name_at == std::string::npos) continue;
        const std::string name = line.substr(name_at + 19, line.find(',', name_at) - name_at - 19);
        counts[name] = std::atof(line.substr(0, c1).c_str());
      }
    }
    return counts;
  }
  ~PerfPhase() { Stop(); }

 private:
  pid_t pid_ = -1;
  pid_t stat_pid_ = -1;
  std::string stat_file_;
};

// A device as the bench sees it: an address, its CURVE transport keys and (for recipients) its
// X25519 identity key, which sealed envelopes are sealed to.
struct Device {
  std::string address;
  CurveKeys transport = CurveKeys::Generate();
  crypto::DhKeyPair identity = crypto::DhKeyPair::Generate();
  explicit Device(std::string a) : address(std::move(a)) {}
};

// SEND requests prepared before a timed phase: frames with request ids 1..n.
struct PreparedSends {
  std::vector<Bytes> frames;
  std::vector<Bytes> envelopes;
  double seal_micros_per_message = 0;
};

// Ids as the client makes them (crypto::NewMessageId: creation time first, so they increase),
// with the message's index and the run's tag in the random part for the exactly-once check.
constexpr size_t kIdTagByte = 14;
wire::MessageId IndexedId(uint64_t index, uint8_t tag) {
  wire::MessageId id = crypto::NewMessageId(SystemClock().NowMicros());
  PutBigEndian64(index, id.data() + 6);
  id[kIdTagByte] = tag;
  return id;
}
Bytes RandomBlob(size_t n) {
  Bytes out(n);
  crypto::RandomBytes(out);
  return out;
}

uint64_t IdIndex(const wire::MessageId& id) {
  return GetBigEndian64(id.data() + 6);
}

// Sealed v2 envelopes (bucket 1024) from `sender` to `recipient`; the ratchet message inside is
// 900 random bytes standing in for the Double Ratchet ciphertext (the relay cannot tell).
PreparedSends PrepareSends(const Device& sender, const Device& recipient, size_t n, uint8_t tag) {
  PreparedSends out;
  out.frames.reserve(n);
  out.envelopes.reserve(n);
  const int64_t start = NowNs();
  for (size_t i = 0; i < n; ++i) {
    const wire::MessageId id = IndexedId(i, tag);
    crypto::SealedContent content;
    content.sender_address = sender.address;
    content.ratchet_message = RandomBlob(900);
    auto envelope = crypto::SealEnvelopeV2(content, recipient.address, recipient.identity.public_key, id);
    Check(envelope.ok() && envelope->size() == 1024, "seal a 1 KiB v2 envelope");
    wire::SendRequest send{recipient.address, id, 0, *envelope};
    auto body = wire::Encode(send);
    Check(body.ok(), "encode SEND");
    out.frames.push_back(RequestFrame(FrameType::kSend, i + 1, *body));
    out.envelopes.push_back(std::move(*envelope));
  }
  out.seal_micros_per_message = SecondsBetween(start, NowNs()) * 1e6 / static_cast<double>(n);
  return out;
}

Bytes EmptyBody() { return wire::Encode(wire::Empty{}).value(); }

void Ping(WireClient& client) {
  const Bytes empty = EmptyBody();
  const auto reply = client.Call(FrameType::kPing, empty, milliseconds(10000));
  Check(reply.header.status == 200, "PING");
}

bool IsReply(const ReceivedFrame& f, FrameType type) {
  return f.header.type == (static_cast<uint8_t>(type) | wire::kReplyBit);
}

struct SendOutcome {
  int64_t start_ns = 0, end_ns = 0;
  size_t acked = 0, stored_before = 0;
  size_t resent = 0;            // requests sent again after `retry` without a reply
  size_t late_replies = 0;      // replies to requests answered already (after a resend)
  std::vector<uint8_t> acked_index;  // 1 if frames[i] was answered 2xx
};

// Sends `frames` (request ids 1..n) with at most `window` unanswered, until all are answered or
// `stop_after_acks` were answered 2xx. As liaison's client does, a request without a reply
// within `retry` is sent again unchanged (same message id: the relay answers 208 if it stored
// it). The relay drops a reply that meets a full send queue (ZMQ_SNDHWM 64, relay/limits.h),
// so a window above 64 loses replies. `on_progress(acked)` runs after each new acknowledgement.
template <class Progress>
SendOutcome PipelinedSend(WireClient& client, const std::vector<Bytes>& frames, size_t window, size_t stop_after_acks,
                          Progress on_progress, milliseconds retry = milliseconds(500)) {
  SendOutcome out;
  out.acked_index.assign(frames.size(), 0);
  size_t sent = 0, answered = 0, oldest = 0;
  out.start_ns = NowNs();
  int64_t last_progress = out.start_ns;
  while (answered < frames.size() && out.acked < stop_after_acks) {
    while (sent < frames.size() && sent - answered < window) client.Send(frames[sent++]);
    auto reply = client.Receive(milliseconds(50));
    if (!reply) {
      Check(NowNs() - last_progress < 60'000'000'000, "no SEND reply within 60 s");
      if (NowNs() - last_progress >= std::chrono::nanoseconds(retry).count()) {
        for (size_t i = oldest; i < sent; ++i) {
          if (!out.acked_index[i]) {
            client.Send(frames[i]);
            ++out.resent;
          }
        }
        last_progress = NowNs();
      }
      continue;
    }
    Check(IsReply(*reply, FrameType::kSend), "unexpected reply type to SEND");
    const uint64_t index = reply->header.request_id - 1;
    Check(index < sent, "reply to an unknown request id");
    if (out.acked_index[index]) {
      ++out.late_replies;
      continue;
    }
    Check(reply->header.status == 200 || reply->header.status == 208,
          "SEND refused with status " + std::to_string(reply->header.status));
    ++answered;
    out.acked_index[index] = 1;
    ++out.acked;
    if (reply->header.status == 208) ++out.stored_before;
    while (oldest < sent && out.acked_index[oldest]) ++oldest;
    last_progress = NowNs();
    on_progress(out.acked);
  }
  out.end_ns = NowNs();
  return out;
}

// SEND_MANY requests (request ids 1..) of `per_request` SENDs each, from `prepared`'s envelopes,
// as a client flushing its outbox sends them.
std::vector<Bytes> SendManyFrames(const Device& recipient, const PreparedSends& prepared, uint8_t tag,
                                  size_t per_request) {
  std::vector<Bytes> frames;
  for (size_t first = 0; first < prepared.envelopes.size(); first += per_request) {
    wire::SendManyRequest many;
    for (size_t i = first; i < std::min(first + per_request, prepared.envelopes.size()); ++i) {
      many.items.push_back({recipient.address, IndexedId(i, tag), 0, prepared.envelopes[i]});
    }
    frames.push_back(RequestFrame(FrameType::kSendMany, frames.size() + 1, wire::Encode(many).value()));
  }
  return frames;
}

// Sends SEND_MANY `frames` with at most `window` requests unanswered; every item must be
// answered 200 or 208. Returns the seconds from the first send to the last reply.
double PipelinedSendMany(WireClient& client, const std::vector<Bytes>& frames, size_t window) {
  size_t sent = 0, answered = 0;
  const int64_t start = NowNs();
  int64_t last_progress = start;
  while (answered < frames.size()) {
    while (sent < frames.size() && sent - answered < window) client.Send(frames[sent++]);
    auto reply = client.Receive(milliseconds(50));
    if (!reply) {
      Check(NowNs() - last_progress < 60'000'000'000, "no SEND_MANY reply within 60 s");
      continue;
    }
    Check(IsReply(*reply, FrameType::kSendMany) && reply->header.status == 200,
          "SEND_MANY refused with status " + std::to_string(reply->header.status));
    auto statuses = wire::Decode<wire::SendManyReply>(reply->body);
    Check(statuses.ok(), "decode SendManyReply");
    for (uint16_t status : statuses->statuses) Check(status == 200 || status == 208, "a SEND_MANY item refused");
    ++answered;
    last_progress = NowNs();
  }
  return SecondsBetween(start, NowNs());
}

struct DrainOutcome {
  double seconds = 0;
  size_t received = 0, duplicates = 0, unknown = 0, mismatched = 0, removed = 0;
  std::vector<uint32_t> counts;
};

// FETCH pages of 256 and ACK each page while the next FETCH is on its way, until FETCH returns
// nothing; then waits for every ACK's reply. Each delivery's envelope is compared with what
// was sent (index from the message id).
DrainOutcome Drain(WireClient& client, const std::vector<Bytes>& envelopes, uint8_t tag) {
  DrainOutcome out;
  out.counts.assign(envelopes.size(), 0);
  uint64_t next_id = 1, after_seq = 0;
  size_t acks_outstanding = 0;
  bool fetching = true;
  auto fetch = [&] {
    client.Send(FrameType::kFetch, next_id++, wire::Encode(wire::FetchRequest{after_seq, wire::kMaxFetchBatch}).value());
  };
  const int64_t start = NowNs();
  fetch();
  while (fetching || acks_outstanding > 0) {
    auto reply = client.Receive(milliseconds(20000));
    Check(reply.has_value(), "no FETCH/ACK reply within 20 s");
    Check(reply->header.status == 200, "FETCH/ACK refused: " + std::to_string(reply->header.status));
    if (IsReply(*reply, FrameType::kAck)) {
      auto ack = wire::Decode<wire::AckReply>(reply->body);
      Check(ack.ok(), "decode AckReply");
      out.removed += ack->removed;
      --acks_outstanding;
      continue;
    }
    if (!IsReply(*reply, FrameType::kFetch)) continue;  // e.g. a DELIVER: not subscribed, none expected
    auto page = wire::Decode<wire::Deliveries>(reply->body);
    Check(page.ok(), "decode Deliveries");
    if (page->items.empty()) {
      fetching = false;
      continue;
    }
    wire::AckRequest ack;
    for (const auto& d : page->items) {
      ack.seqs.push_back(d.seq);
      const uint64_t index = IdIndex(d.message_id);
      if (d.message_id[kIdTagByte] != tag || index >= envelopes.size()) {
        ++out.unknown;
        continue;
      }
      if (out.counts[index]++ > 0) ++out.duplicates;
      if (d.envelope != envelopes[index]) ++out.mismatched;
      ++out.received;
    }
    after_seq = page->items.back().seq;
    client.Send(FrameType::kAck, next_id++, wire::Encode(ack).value());
    ++acks_outstanding;
    fetch();
  }
  out.seconds = SecondsBetween(start, NowNs());
  return out;
}

size_t PendingCount(WireClient& client) {
  const auto reply =
      client.Call(FrameType::kFetch, wire::Encode(wire::FetchRequest{0, wire::kMaxFetchBatch}).value(), milliseconds(10000));
  auto page = wire::Decode<wire::Deliveries>(reply.body);
  Check(page.ok(), "decode Deliveries");
  return page->items.size();
}

// ---------------------------------------------------------------------------------------------
void WorkloadA(const Options& o, Relay& relay, zmq::context_t& context, const Device& sender, const Device& recipient) {
  Note("A: sealing %zu envelopes of 1 KiB ...", o.messages);
  PreparedSends prepared = PrepareSends(sender, recipient, o.messages, 0xA1);
  Report(kSystem, "client.seal_us_per_msg", prepared.seal_micros_per_message, "us");

  WireClient send_client(context, relay.endpoint(), relay.public_key(), sender.transport);
  Ping(send_client);
  const pid_t pid = relay.pid();
  const long rss_start = StatusKiB(pid, "VmRSS");
  ResetPeakRss(pid);
  std::map<size_t, long> anon_at;
  RssSampler rss(pid, "VmRSS", milliseconds(20));
  RssSampler anon(pid, "RssAnon", milliseconds(20));
  Note("A: sending %zu messages, window %zu ...", o.messages, o.window);
  const long long written_before = IoField(pid, "write_bytes");
  const auto counters_before = relay.Counters();
  const double relay_cpu_before = CpuSeconds(pid), own_cpu_before = CpuSeconds(getpid());
  SendOutcome sent;
  {
    PerfPhase perf(pid, "A-send");
    sent = PipelinedSend(send_client, prepared.frames, o.window, SIZE_MAX, [&](size_t acked) {
      if (acked % (o.messages / 10) == 0) anon_at[acked] = StatusKiB(pid, "RssAnon");
    });
    const auto syscalls = perf.Stop();
    for (const auto& [name, count] : syscalls) {
      Report(kSystem, "A.syscalls_per_msg." + name, count / static_cast<double>(o.messages), "calls");
    }
  }
  const double send_seconds = SecondsBetween(sent.start_ns, sent.end_ns);
  // CPU per message, relay and this sender, over the whole send phase (in clock ticks: USER_HZ,
  // 10 ms on x86).
  const double relay_cpu_after = CpuSeconds(pid), own_cpu_after = CpuSeconds(getpid());
  if (relay_cpu_before >= 0 && relay_cpu_after >= 0) {
    Report(kSystem, "A.relay_cpu_us_per_msg", (relay_cpu_after - relay_cpu_before) * 1e6 / static_cast<double>(o.messages),
           "us");
  }
  if (own_cpu_before >= 0 && own_cpu_after >= 0) {
    Report(kSystem, "A.sender_cpu_us_per_msg", (own_cpu_after - own_cpu_before) * 1e6 / static_cast<double>(o.messages),
           "us");
  }
  const auto counters_after = counters_before ? relay.Counters() : std::nullopt;
  if (counters_before && counters_after) {
    const uint64_t commits = counters_after->commits - counters_before->commits;
    Report(kSystem, "A.commits", static_cast<double>(commits), "commits");
    Report(kSystem, "A.writes_per_commit",
           commits == 0 ? 0.0
                        : static_cast<double>(counters_after->writes - counters_before->writes) / static_cast<double>(commits),
           "writes");
  }
  Report(kSystem, "A.disk_bytes_per_msg",
         static_cast<double>(IoField(pid, "write_bytes") - written_before) / static_cast<double>(o.messages), "bytes");
  const long send_hwm = StatusKiB(pid, "VmHWM");
  const long send_anon_max = anon.StopAndMaxKiB();
  const long send_rss_max = rss.StopAndMaxKiB();
  Report(kSystem, "A.send_msgs_per_s", static_cast<double>(o.messages) / send_seconds, "msg/s");
  Report(kSystem, "A.resent", static_cast<double>(sent.resent), "msgs");
  Note("A: %zu requests sent again after 500 ms without a reply (%zu answered 208), %zu late replies", sent.resent,
       sent.stored_before, sent.late_replies);
  Note("A: sent in %.2f s; relay RSS %ld KiB at start, peak %ld KiB (VmHWM %ld), anonymous peak %ld KiB", send_seconds,
       rss_start, send_rss_max, send_hwm, send_anon_max);
  for (const auto& [acked, kib] : anon_at) Note("A: relay RssAnon after %zu acknowledged: %ld KiB", acked, kib);
  if (!anon_at.empty()) {
    Report(kSystem, "A.rss_anon_first_tenth_kib", static_cast<double>(anon_at.begin()->second), "KiB");
    Report(kSystem, "A.rss_anon_last_kib", static_cast<double>(anon_at.rbegin()->second), "KiB");
  }

  Note("A: draining ...");
  WireClient drain_client(context, relay.endpoint(), relay.public_key(), recipient.transport);
  Ping(drain_client);
  RssSampler rss2(pid, "VmRSS", milliseconds(20));
  RssSampler anon2(pid, "RssAnon", milliseconds(20));
  DrainOutcome drained;
  {
    PerfPhase perf(pid, "A-drain");
    drained = Drain(drain_client, prepared.envelopes, 0xA1);
  }
  const long drain_anon_max = anon2.StopAndMaxKiB();
  const long drain_rss_max = rss2.StopAndMaxKiB();
  const size_t left = PendingCount(drain_client);
  size_t missing = 0;
  for (uint32_t c : drained.counts) missing += c == 0;
  const bool exactly_once = missing == 0 && drained.duplicates == 0 && drained.mismatched == 0 &&
                            drained.unknown == 0 && left == 0 && drained.removed == o.messages;
  Report(kSystem, "A.drain_msgs_per_s", static_cast<double>(drained.received) / drained.seconds, "msg/s");
  Report(kSystem, "A.exactly_once", exactly_once ? 1 : 0, "bool");
  Report(kSystem, "A.peak_rss_kib", static_cast<double>(std::max({send_hwm, send_rss_max, drain_rss_max})), "KiB");
  Report(kSystem, "A.peak_rss_anon_kib", static_cast<double>(std::max(send_anon_max, drain_anon_max)), "KiB");
  Note("A: drained %zu in %.2f s; missing %zu, duplicates %zu, envelope mismatches %zu, unknown %zu, removed %zu, "
       "left %zu; relay peak RSS during drain %ld KiB (anonymous %ld)",
       drained.received, drained.seconds, missing, drained.duplicates, drained.mismatched, drained.unknown,
       drained.removed, left, drain_rss_max, drain_anon_max);

  // The same backlog again, as the client library flushes an outbox: SEND_MANY requests of
  // kSendManyBatch messages, the same 100 messages in flight (liaison only; not in the ratios).
  constexpr size_t kSendManyBatch = 25;
  const std::vector<Bytes> many = SendManyFrames(recipient, prepared, 0xA2, kSendManyBatch);
  Note("A: sending %zu messages again as %zu SEND_MANY requests of %zu ...", o.messages, many.size(), kSendManyBatch);
  const double many_seconds = PipelinedSendMany(send_client, many, std::max<size_t>(1, o.window / kSendManyBatch));
  Report(kSystem, "A.send_many_msgs_per_s", static_cast<double>(o.messages) / many_seconds, "msg/s");
  const DrainOutcome again = Drain(drain_client, prepared.envelopes, 0xA2);
  size_t missing_again = 0;
  for (uint32_t c : again.counts) missing_again += c == 0;
  Report(kSystem, "A.send_many_exactly_once",
         missing_again == 0 && again.duplicates == 0 && again.mismatched == 0 && again.unknown == 0 &&
                 again.removed == o.messages && PendingCount(drain_client) == 0
             ? 1
             : 0,
         "bool");
}

// ---------------------------------------------------------------------------------------------
void WorkloadB(const Options& o, Relay& relay, zmq::context_t& context, const Device& sender, const Device& recipient) {
  const size_t m = o.latency_messages;
  PreparedSends prepared = PrepareSends(sender, recipient, m, 0xB1);
  // recv_ns: the first arrival (the provisional push, pushed before the commit, if the relay
  // sent one); stored_ns: the arrival of the stored copy (seq >= 1), the one acknowledged.
  std::vector<int64_t> send_ns(m, 0), ack_ns(m, 0), recv_ns(m, 0), stored_ns(m, 0);
  std::atomic<bool> ready{false};
  std::atomic<bool> give_up{false};
  size_t duplicates = 0, received = 0, stored_received = 0, provisional = 0;

  std::thread listener([&] {
    WireClient client(context, relay.endpoint(), relay.public_key(), recipient.transport);
    const auto hello = client.Call(FrameType::kHello, EmptyBody(), milliseconds(10000));
    Check(hello.header.status == 200, "HELLO");
    ready.store(true);
    uint64_t ack_id = 1;
    while (stored_received < m && !give_up.load()) {
      auto frame = client.Receive(milliseconds(100));
      if (!frame || frame->header.type != static_cast<uint8_t>(FrameType::kDeliver)) continue;
      const int64_t now = NowNs();
      auto pushed = wire::Decode<wire::Deliveries>(frame->body);
      Check(pushed.ok(), "decode DELIVER");
      wire::AckRequest ack;
      for (const auto& d : pushed->items) {
        const bool is_provisional = d.seq == wire::kProvisionalSeq;
        if (!is_provisional) ack.seqs.push_back(d.seq);
        const uint64_t index = IdIndex(d.message_id);
        if (index >= m || d.message_id[kIdTagByte] != 0xB1) continue;
        if (is_provisional) ++provisional;
        if (!is_provisional) {
          if (stored_ns[index] != 0) ++duplicates;
          if (stored_ns[index] == 0) ++stored_received;
          if (stored_ns[index] == 0) stored_ns[index] = now;
        }
        if (recv_ns[index] != 0) continue;
        recv_ns[index] = now;
        ++received;
      }
      if (!ack.seqs.empty()) client.Send(FrameType::kAck, ack_id++, wire::Encode(ack).value());
    }
    // Collect the last ACK replies briefly so the relay is not left with a full queue.
    while (client.Receive(milliseconds(200))) {
    }
  });
  while (!ready.load()) std::this_thread::sleep_for(milliseconds(1));

  WireClient client(context, relay.endpoint(), relay.public_key(), sender.transport);
  Ping(client);
  PerfPhase perf(relay.pid(), "B");
  const int64_t interval = static_cast<int64_t>(1e9 / o.rate);
  const int64_t t0 = NowNs() + 10'000'000;
  const int64_t deadline = t0 + static_cast<int64_t>(m) * interval + 30'000'000'000;
  size_t sent = 0, acked = 0, late = 0, resent = 0, late_replies = 0, oldest = 0;
  std::vector<int64_t> last_tx(m, 0);
  const int64_t retry_ns = 500'000'000;  // as PipelinedSend: a dropped reply is recovered by a resend
  const int fd = client.fd();
  while (acked < m) {
    Check(NowNs() < deadline, "B: replies missing 30 s after the last send");
    while (auto reply = client.TryReceive()) {
      const int64_t now = NowNs();
      const uint64_t index = reply->header.request_id - 1;
      Check(IsReply(*reply, FrameType::kSend) && index < sent, "B: unexpected reply");
      if (ack_ns[index] != 0) {
        ++late_replies;
        continue;
      }
      Check(reply->header.status == 200 || reply->header.status == 208, "B: SEND refused");
      ack_ns[index] = now;
      ++acked;
    }
    while (oldest < sent && ack_ns[oldest] != 0) ++oldest;
    const int64_t now = NowNs();
    if (oldest < sent && now - last_tx[oldest] > retry_ns) {
      for (size_t i = oldest; i < sent; ++i) {
        if (ack_ns[i] == 0 && now - last_tx[i] > retry_ns) {
          client.Send(prepared.frames[i]);
          last_tx[i] = now;
          ++resent;
        }
      }
    }
    if (sent < m && now >= t0 + static_cast<int64_t>(sent) * interval) {
      if (now - (t0 + static_cast<int64_t>(sent) * interval) > 1'000'000) ++late;
      send_ns[sent] = last_tx[sent] = NowNs();
      client.Send(prepared.frames[sent]);
      ++sent;
      continue;
    }
    if (client.Readable()) continue;
    int64_t wait = sent < m ? t0 + static_cast<int64_t>(sent) * interval - now : 100'000'000;
    if (oldest < sent) wait = std::min(wait, std::max<int64_t>(0, last_tx[oldest] + retry_ns - now));
    timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    pollfd p{fd, POLLIN, 0};
    (void)ppoll(&p, 1, &ts, nullptr);
  }
  const double seconds = SecondsBetween(t0, NowNs());
  perf.Stop();
  // Pushes may trail the acknowledgements slightly.
  for (int i = 0; i < 100 && stored_received < m; ++i) std::this_thread::sleep_for(milliseconds(50));
  give_up.store(true);
  listener.join();

  Report(kSystem, "B.rate_msgs_per_s", static_cast<double>(m) / seconds, "msg/s");
  ReportLatencies(kSystem, "B.recipient_", send_ns, recv_ns);
  ReportLatencies(kSystem, "B.ack_", send_ns, ack_ns);
  ReportLatencies(kSystem, "B.stored_copy_", send_ns, stored_ns);
  Report(kSystem, "B.received", static_cast<double>(received), "msgs");
  Report(kSystem, "B.provisional", static_cast<double>(provisional), "msgs");
  Report(kSystem, "B.resent", static_cast<double>(resent), "msgs");
  Note("B: %zu sent in %.2f s (%zu more than 1 ms late), %zu acknowledged, %zu reached the recipient (%zu first as a "
       "provisional push), %zu stored copies received, %zu duplicate stored copies, %zu resent after 500 ms without a "
       "reply, %zu late replies",
       m, seconds, late, acked, received, provisional, stored_received, duplicates, resent, late_replies);
}

// ---------------------------------------------------------------------------------------------
void WorkloadD(const Options& o, const std::string& tmp, zmq::context_t& context) {
  Relay relay(o.server, tmp + "/relay-d");
  Device sender("d-sender/1"), recipient("d-recipient/1");
  relay.Register(sender.address, sender.transport.public_z85);
  relay.Register(recipient.address, recipient.transport.public_z85);
  relay.Start();
  // More prepared than needed, so that requests are in flight when the relay dies.
  PreparedSends prepared = PrepareSends(sender, recipient, o.durability + 2 * o.window, 0xD1);
  SendOutcome sent;
  {
    WireClient client(context, relay.endpoint(), relay.public_key(), sender.transport);
    Ping(client);
    sent = PipelinedSend(client, prepared.frames, o.window, o.durability, [](size_t) {});
    relay.Kill9();  // right after the acknowledgement numbered o.durability arrived
  }
  relay.Start();
  WireClient client(context, relay.endpoint(), relay.public_key(), recipient.transport);
  Ping(client);
  DrainOutcome drained = Drain(client, prepared.envelopes, 0xD1);
  size_t lost = 0, extra = 0;
  for (size_t i = 0; i < prepared.frames.size(); ++i) {
    if (sent.acked_index[i] && drained.counts[i] == 0) ++lost;
    if (!sent.acked_index[i] && drained.counts[i] > 0) ++extra;
  }
  relay.Stop();
  Report(kSystem, "D.acknowledged", static_cast<double>(sent.acked), "msgs");
  Report(kSystem, "D.lost", static_cast<double>(lost), "msgs");
  Note("D: %zu requests resent for lack of a reply", sent.resent);
  Note("D: %zu acknowledged before kill -9, %zu of them lost, %zu unacknowledged ones also stored, %zu duplicates, "
       "%zu mismatched",
       sent.acked, lost, extra, drained.duplicates, drained.mismatched);
}

// ---------------------------------------------------------------------------------------------
void WorkloadsCE(const Options& o, const std::string& tmp) {
  Relay relay(o.server, tmp + "/relay-ce");
  const size_t devices = std::max(o.idle, o.fanout);
  std::vector<std::unique_ptr<Device>> idle;
  std::vector<std::pair<std::string, std::string>> admitted;
  for (size_t i = 0; i < devices; ++i) {
    idle.push_back(std::make_unique<Device>("verein-" + std::to_string(i) + "/1"));
    admitted.emplace_back(idle.back()->address, idle.back()->transport.public_z85);
  }
  Device officer("officer-c/1");
  admitted.emplace_back(officer.address, officer.transport.public_z85);
  relay.AdmitMany(admitted);
  relay.Start();
  std::this_thread::sleep_for(milliseconds(500));
  const long rss_idle = StatusKiB(relay.pid(), "VmRSS");

  zmq::context_t context(1);
  context.set(zmq::ctxopt::max_sockets, 8192);
  std::vector<std::unique_ptr<WireClient>> clients;
  if (o.Runs('E')) {
    Note("E: connecting %zu idle CURVE clients ...", o.idle);
    const int64_t start = NowNs();
    for (size_t i = 0; i < o.idle; ++i) {
      clients.push_back(std::make_unique<WireClient>(context, relay.endpoint(), relay.public_key(), idle[i]->transport));
    }
    // Every client pings once (all in flight together), so every handshake has finished.
    const Bytes ping = RequestFrame(FrameType::kPing, 7, EmptyBody());
    for (auto& c : clients) c->Send(ping);
    for (auto& c : clients) Check(c->Receive(milliseconds(30000)).has_value(), "E: PING reply");
    Note("E: %zu clients connected and answered in %.2f s", o.idle, SecondsBetween(start, NowNs()));
    std::this_thread::sleep_for(milliseconds(2000));
    const long rss_clients = StatusKiB(relay.pid(), "VmRSS");
    Report(kSystem, "E.rss_no_clients_kib", static_cast<double>(rss_idle), "KiB");
    Report(kSystem, "E.rss_idle_clients_kib", static_cast<double>(rss_clients), "KiB");
    Report(kSystem, "E.rss_anon_idle_clients_kib", static_cast<double>(StatusKiB(relay.pid(), "RssAnon")), "KiB");
    Note("E: relay RSS %ld KiB without clients, %ld KiB with %zu idle CURVE clients", rss_idle, rss_clients, o.idle);
  }

  if (o.Runs('C')) {
    const size_t runs = o.broadcasts;
    // The recipients online: each of the first `fanout` devices connected (E's idle clients, or
    // new ones) and subscribed with HELLO, so that the relay pushes each its copy after the commit.
    for (size_t i = clients.size(); i < o.fanout; ++i) {
      clients.push_back(std::make_unique<WireClient>(context, relay.endpoint(), relay.public_key(), idle[i]->transport));
    }
    for (size_t i = 0; i < o.fanout; ++i) clients[i]->Send(FrameType::kHello, 1, EmptyBody());
    for (size_t i = 0; i < o.fanout; ++i) {
      auto hello = clients[i]->Receive(milliseconds(30000));
      Check(hello && IsReply(*hello, FrameType::kHello) && hello->header.status == 200, "C: HELLO");
    }
    std::vector<std::vector<wire::MessageId>> copy_ids(runs);
    std::vector<Bytes> frames;
    for (size_t r = 0; r < runs; ++r) {
      wire::SendBroadcastRequest request;
      request.broadcast_id = crypto::RandomArray<16>();
      request.body = RandomBlob(2048);  // the sealed alert body, once
      for (size_t i = 0; i < o.fanout; ++i) {
        // Per device: a 512-byte copy (the smallest v2 bucket) carrying the body's key, under an
        // id made as the client makes it (creation time first).
        request.copies.push_back(
            wire::BroadcastCopy{idle[i]->address, crypto::NewMessageId(SystemClock().NowMicros()), RandomBlob(512)});
        copy_ids[r].push_back(request.copies.back().message_id);
      }
      frames.push_back(RequestFrame(FrameType::kSendBroadcast, 1000 + r, wire::Encode(request).value()));
    }
    WireClient client(context, relay.endpoint(), relay.public_key(), officer.transport);
    Ping(client);
    std::vector<double> round_trips;
    std::vector<double> relay_queued;  // per broadcast: receipt to durable, as the relay saw it
    std::vector<double> all_have_it;   // per broadcast: send until the last recipient read its copy
    for (size_t r = 0; r < runs; ++r) {
      const int64_t start = NowNs();
      client.Send(frames[r]);
      auto reply = client.Receive(milliseconds(20000));
      const double ms = static_cast<double>(NowNs() - start) / 1e6;
      // Each recipient's push, read in turn: the time after the last is at least when the last
      // one arrived (an upper bound by the reading). Then every copy is acknowledged, and the
      // next broadcast waits for the ACKs' replies, so that it commits alone.
      std::vector<wire::AckRequest> acks(o.fanout);
      for (size_t i = 0; i < o.fanout; ++i) {
        bool found = false;
        while (!found) {
          auto frame = clients[i]->Receive(milliseconds(20000));
          Check(frame.has_value(), "C: a recipient's push");
          if (frame->header.type != static_cast<uint8_t>(FrameType::kDeliver)) continue;
          auto pushed = wire::Decode<wire::Deliveries>(frame->body);
          Check(pushed.ok(), "C: decode DELIVER");
          for (const auto& d : pushed->items) {
            acks[i].seqs.push_back(d.seq);
            if (d.message_id == copy_ids[r][i]) found = true;
          }
        }
      }
      const double delivered_ms = static_cast<double>(NowNs() - start) / 1e6;
      for (size_t i = 0; i < o.fanout; ++i) clients[i]->Send(FrameType::kAck, 2 + r, wire::Encode(acks[i]).value());
      for (size_t i = 0; i < o.fanout; ++i) {
        auto ack = clients[i]->Receive(milliseconds(20000));
        Check(ack && IsReply(*ack, FrameType::kAck) && ack->header.status == 200, "C: ACK reply");
      }
      Check(reply && IsReply(*reply, FrameType::kSendBroadcast) && reply->header.status == 200, "C: broadcast reply");
      auto body = wire::Decode<wire::SendBroadcastReply>(reply->body);
      Check(body.ok() && body->statuses.size() == o.fanout, "C: decode SendBroadcastReply");
      for (uint16_t s : body->statuses) Check(s == 200, "C: a copy was refused");
      // The relay's reports since the previous broadcast hold this broadcast alone.
      const auto counters = relay.Counters();
      const bool relay_figure = counters && counters->slowest_broadcast_us;
      if (r > 0) {  // the first one warms the store up
        round_trips.push_back(ms);
        all_have_it.push_back(delivered_ms);
        if (relay_figure) relay_queued.push_back(static_cast<double>(*counters->slowest_broadcast_us) / 1e3);
      }
      Note("C: broadcast %zu to %zu devices (%zu bytes): %.2f ms round trip, %.2f ms in the relay from receipt to "
           "durable, %.2f ms until every recipient had it",
           r, o.fanout, frames[r].size(), ms,
           relay_figure ? static_cast<double>(*counters->slowest_broadcast_us) / 1e3 : -1.0, delivered_ms);
    }
    if (relay_queued.size() == round_trips.size()) {
      Report(kSystem, "C.relay_queued_p50_ms", Percentile(relay_queued, 50), "ms");
      Report(kSystem, "C.relay_queued_max_ms", Percentile(relay_queued, 100), "ms");
    } else {
      Note("C: the relay did not report each broadcast's time from receipt to durable");
    }
    Report(kSystem, "C.broadcast_rtt_p50_ms", Percentile(round_trips, 50), "ms");
    Report(kSystem, "C.broadcast_rtt_max_ms", Percentile(round_trips, 100), "ms");
    Report(kSystem, "C.all_recipients_have_it_p50_ms", Percentile(all_have_it, 50), "ms");
    Report(kSystem, "C.all_recipients_have_it_max_ms", Percentile(all_have_it, 100), "ms");
    Report(kSystem, "C.request_bytes", static_cast<double>(frames[0].size()), "bytes");
  }
  clients.clear();
  relay.Stop();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.only = "ABCDE";
  ParseWorkloadOptions(argc, argv, "--relay", o, [&](const std::string& flag, const NextValue& next) {
    if (flag == "--fanout") o.fanout = std::stoul(next());
    else if (flag == "--broadcasts") o.broadcasts = std::max<size_t>(2, std::stoul(next()));
    else if (flag == "--label") kSystem = next();
    else if (flag == "--write-ahead-log") kWriteAheadLog = true;
    else return false;
    return true;
  });
  Check(!o.server.empty(), "--relay PATH is required");
  Check(o.messages >= 10 && o.window >= 1 && o.fanout >= 1 && o.fanout <= wire::kMaxBroadcastCopies, "bad sizes");
  RaiseFileLimit();
  TempDir tmp("liaison");
  zmq::context_t context(1);
  if (o.Runs('A') || o.Runs('B')) {
    Relay relay(o.server, tmp.Sub("relay-ab"));
    Device a_sender("a-sender/1"), a_recipient("a-recipient/1"), b_sender("b-sender/1"), b_recipient("b-recipient/1");
    for (const Device* d : {&a_sender, &a_recipient, &b_sender, &b_recipient}) {
      relay.Register(d->address, d->transport.public_z85);
    }
    relay.Start();
    if (o.Runs('A')) WorkloadA(o, relay, context, a_sender, a_recipient);
    if (o.Runs('B')) WorkloadB(o, relay, context, b_sender, b_recipient);
    relay.Stop();
  }
  if (o.Runs('D')) WorkloadD(o, tmp.path(), context);
  if (o.Runs('C') || o.Runs('E')) WorkloadsCE(o, tmp.path());
  Note("liaison-bench: done");
  return 0;
}
