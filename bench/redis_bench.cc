// liaison-bench-redis: workloads A, B, D and E of bench/liaison_bench.cc against Debian's
// redis-server, started here on 127.0.0.1 with its data in a temporary directory, through
// hiredis: one stream per recipient (XADD), the recipient a consumer group (XREADGROUP, XACK).
// Configuration: appendonly yes, appendfsync always (Redis fsyncs the AOF before it answers a
// write), save "" (no RDB snapshots: the AOF is the durability under test, and a snapshot fork
// would compete for the two cores), everything else Redis's default (including AOF rewrites).
// "Acknowledged as stored" is the XADD reply. Payloads: 1 KiB random bytes (the same size as
// liaison's sealed envelopes; no TLS). XACK removes an entry from the group's pending list; the
// stream keeps the entry until trimmed (Redis's model; liaison deletes on ACK).
//
// Usage: liaison-bench-redis [--server /usr/bin/redis-server] [--messages N] [--window W]
//          [--latency-messages M] [--rate R] [--durability K] [--idle C] [--only ABDE]
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>

#include "bench_util.h"

using namespace liaison::bench;
using std::chrono::milliseconds;

namespace {

constexpr const char* kSystem = "redis";

using Options = WorkloadOptions;  // `server`: the redis-server binary (--server)

class Server {
 public:
  Server(const std::string& bin, const std::string& dir) : bin_(bin), dir_(dir) {
    port_ = FreeLoopbackPort();
    WriteWholeFile(dir_ + "/redis.conf", "bind 127.0.0.1\nport " + std::to_string(port_) +
                                             "\ndir " + dir_ + "\nappendonly yes\nappendfsync always\nsave \"\"\n"
                                             "daemonize no\nmaxclients 4096\nlogfile " + dir_ + "/redis.log\n");
  }
  ~Server() {
    if (pid_ > 0) KillAndWait(pid_, SIGKILL);
  }
  void Start() {
    pid_ = Spawn({bin_, dir_ + "/redis.conf"}, dir_ + "/redis.stdout");
    Check(WaitForPort(port_, milliseconds(20000)), "redis-server did not listen; see " + dir_ + "/redis.log");
    // Listening precedes loading the AOF; wait until it answers PING.
    const int64_t deadline = NowNs() + 30'000'000'000;
    while (NowNs() < deadline) {
      redisContext* c = redisConnect("127.0.0.1", port_);
      if (c != nullptr && c->err == 0) {
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        const bool ok = r != nullptr && r->type == REDIS_REPLY_STATUS;
        if (r) freeReplyObject(r);
        redisFree(c);
        if (ok) return;
      } else if (c) {
        redisFree(c);
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    Die("redis-server did not answer PING");
  }
  void Stop() { KillAndWait(pid_, SIGTERM), pid_ = -1; }
  void Kill9() { KillAndWait(pid_, SIGKILL), pid_ = -1; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }

 private:
  std::string bin_, dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

struct Conn {
  redisContext* c;
  explicit Conn(int port) : c(redisConnect("127.0.0.1", port)) { Check(c != nullptr && c->err == 0, "redisConnect"); }
  ~Conn() { redisFree(c); }
  redisReply* Command(const std::vector<std::string>& args) {
    Append(args);
    return Get();
  }
  void Append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) argv.push_back(a.data()), lens.push_back(a.size());
    Check(redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()) == REDIS_OK, "append");
  }
  redisReply* Get() {
    void* reply = nullptr;
    Check(redisGetReply(c, &reply) == REDIS_OK && reply != nullptr, std::string("redis reply: ") + c->errstr);
    auto* r = static_cast<redisReply*>(reply);
    Check(r->type != REDIS_REPLY_ERROR, std::string("redis error: ") + (r->str ? r->str : ""));
    return r;
  }
};

struct Reply {
  redisReply* r;
  explicit Reply(redisReply* reply) : r(reply) {}
  ~Reply() { freeReplyObject(r); }
};

void CreateGroup(Conn& conn, const std::string& key) {
  Reply(conn.Command({"XGROUP", "CREATE", key, "g", "$", "MKSTREAM"}));
}

struct SendOutcome {
  double seconds = 0;
  size_t acked = 0;
};

// XADD with at most `window` unanswered (replies come in order), until all answered or
// `stop_after` answered.
SendOutcome PipelinedAdd(Conn& conn, const std::string& key, const std::vector<std::string>& payloads, size_t window,
                         size_t stop_after) {
  SendOutcome out;
  size_t sent = 0;
  const int64_t start = NowNs();
  while (out.acked < payloads.size() && out.acked < stop_after) {
    while (sent < payloads.size() && sent - out.acked < window) conn.Append({"XADD", key, "*", "m", payloads[sent++]});
    Reply r(conn.Get());
    Check(r.r->type == REDIS_REPLY_STRING, "XADD reply");
    ++out.acked;
  }
  out.seconds = SecondsBetween(start, NowNs());
  return out;
}

struct DrainOutcome {
  double seconds = 0;
  size_t received = 0, duplicates = 0, mismatched = 0;
  std::vector<uint32_t> counts;
};

// XREADGROUP pages of 256; each page's XACK is pipelined with the next XREADGROUP.
DrainOutcome Drain(Conn& conn, const std::string& key, const std::vector<std::string>& payloads) {
  DrainOutcome out;
  out.counts.assign(payloads.size(), 0);
  const std::vector<std::string> read{"XREADGROUP", "GROUP", "g", "c", "COUNT", "256", "STREAMS", key, ">"};
  const int64_t start = NowNs();
  conn.Append(read);
  bool ack_outstanding = false;
  while (true) {
    if (ack_outstanding) Reply(conn.Get()), ack_outstanding = false;
    Reply page(conn.Get());
    if (page.r->type == REDIS_REPLY_NIL || page.r->elements == 0) break;
    const redisReply* entries = page.r->element[0]->element[1];
    if (entries->elements == 0) break;
    std::vector<std::string> ack{"XACK", key, "g"};
    for (size_t i = 0; i < entries->elements; ++i) {
      const redisReply* entry = entries->element[i];
      ack.emplace_back(entry->element[0]->str, entry->element[0]->len);
      const redisReply* value = entry->element[1]->element[1];
      if (value->len < 8) continue;
      const uint64_t index = PayloadIndex(value->str);
      if (index >= payloads.size()) continue;
      ++out.received;
      if (out.counts[index]++ > 0) ++out.duplicates;
      if (value->len != payloads[index].size() || std::memcmp(value->str, payloads[index].data(), value->len) != 0) {
        ++out.mismatched;
      }
    }
    conn.Append(ack);
    ack_outstanding = true;
    conn.Append(read);
  }
  out.seconds = SecondsBetween(start, NowNs());
  return out;
}

long long PendingCount(Conn& conn, const std::string& key) {
  Reply r(conn.Command({"XPENDING", key, "g"}));
  return r.r->element[0]->integer;
}

void WorkloadA(const Options& o, Server& server) {
  const std::vector<std::string> payloads = IndexedPayloads(o.messages, 1024);
  const std::string key = "inbox:a-recipient";
  Conn conn(server.port());
  CreateGroup(conn, key);
  const pid_t pid = server.pid();
  ResetPeakRss(pid);
  RssSampler rss(pid, "VmRSS", milliseconds(20));
  Note("A: XADD %zu messages, window %zu ...", o.messages, o.window);
  const long long written_before = IoField(pid, "write_bytes");
  const SendOutcome sent = PipelinedAdd(conn, key, payloads, o.window, SIZE_MAX);
  Report(kSystem, "A.disk_bytes_per_msg",
         static_cast<double>(IoField(pid, "write_bytes") - written_before) / static_cast<double>(o.messages), "bytes");
  Report(kSystem, "A.send_msgs_per_s", static_cast<double>(o.messages) / sent.seconds, "msg/s");
  const long anon_after_send = StatusKiB(pid, "RssAnon");
  Conn recipient(server.port());
  const DrainOutcome drained = Drain(recipient, key, payloads);
  const long long pending = PendingCount(recipient, key);
  size_t missing = 0;
  for (uint32_t c : drained.counts) missing += c == 0;
  const bool exactly_once = missing == 0 && drained.duplicates == 0 && drained.mismatched == 0 && pending == 0;
  Report(kSystem, "A.drain_msgs_per_s", static_cast<double>(drained.received) / drained.seconds, "msg/s");
  Report(kSystem, "A.exactly_once", exactly_once ? 1 : 0, "bool");
  Report(kSystem, "A.peak_rss_kib", static_cast<double>(std::max(rss.StopAndMaxKiB(), StatusKiB(pid, "VmHWM"))), "KiB");
  Report(kSystem, "A.rss_anon_after_send_kib", static_cast<double>(anon_after_send), "KiB");
  Note("A: added in %.2f s; drained %zu in %.2f s; missing %zu, duplicates %zu, mismatched %zu, pending %lld; "
       "server RssAnon with the backlog %ld KiB",
       sent.seconds, drained.received, drained.seconds, missing, drained.duplicates, drained.mismatched, pending,
       anon_after_send);
}

// E on a fresh server (after A its heap holds the freed stream, which idle clients would reuse).
void WorkloadE(const Options& o, const std::string& dir) {
  Server server(o.server, dir);
  server.Start();
  const pid_t pid = server.pid();
  std::this_thread::sleep_for(milliseconds(500));
  const long before = StatusKiB(pid, "VmRSS");
  std::vector<std::unique_ptr<Conn>> idle;
  for (size_t i = 0; i < o.idle; ++i) {
    idle.push_back(std::make_unique<Conn>(server.port()));
    Reply(idle.back()->Command({"PING"}));
  }
  std::this_thread::sleep_for(milliseconds(2000));
  Report(kSystem, "E.rss_no_clients_kib", static_cast<double>(before), "KiB");
  Report(kSystem, "E.rss_idle_clients_kib", static_cast<double>(StatusKiB(pid, "VmRSS")), "KiB");
  Note("E: server RSS %ld KiB before, %ld KiB with %zu idle connections (plain TCP)", before, StatusKiB(pid, "VmRSS"),
       o.idle);
  server.Stop();
}

void WorkloadB(const Options& o, Server& server) {
  const size_t m = o.latency_messages;
  const std::vector<std::string> payloads = IndexedPayloads(m, 1024);
  const std::string key = "inbox:b-recipient";
  std::vector<int64_t> send_ns(m, 0), ack_ns(m, 0), recv_ns(m, 0);
  {
    Conn setup(server.port());
    CreateGroup(setup, key);
  }
  std::atomic<bool> ready{false}, stop{false};
  std::atomic<size_t> received{0};
  std::thread listener([&] {
    Conn c(server.port());
    const std::vector<std::string> read{"XREADGROUP", "GROUP", "g", "c", "COUNT", "100", "BLOCK", "200", "STREAMS", key, ">"};
    ready.store(true);
    c.Append(read);
    bool ack_outstanding = false;
    while (!stop.load() && received.load() < m) {
      if (ack_outstanding) Reply(c.Get()), ack_outstanding = false;
      Reply page(c.Get());
      const int64_t now = NowNs();
      if (page.r->type != REDIS_REPLY_NIL && page.r->elements > 0) {
        const redisReply* entries = page.r->element[0]->element[1];
        std::vector<std::string> ack{"XACK", key, "g"};
        for (size_t i = 0; i < entries->elements; ++i) {
          const redisReply* entry = entries->element[i];
          ack.emplace_back(entry->element[0]->str, entry->element[0]->len);
          const uint64_t index = PayloadIndex(entry->element[1]->element[1]->str);
          if (index < m && recv_ns[index] == 0) recv_ns[index] = now, ++received;
        }
        c.Append(ack);
        ack_outstanding = true;
      }
      if (received.load() < m && !stop.load()) c.Append(read);
      else break;
    }
    if (ack_outstanding) Reply(c.Get());
  });
  while (!ready.load()) std::this_thread::sleep_for(milliseconds(1));
  std::this_thread::sleep_for(milliseconds(50));
  Conn conn(server.port());
  redisContext* rc = conn.c;
  const int64_t interval = static_cast<int64_t>(1e9 / o.rate);
  const int64_t t0 = NowNs() + 10'000'000;
  const int64_t deadline = t0 + static_cast<int64_t>(m) * interval + 30'000'000'000;
  size_t sent = 0, acked = 0;
  while (acked < m) {
    Check(NowNs() < deadline, "B: XADD replies missing");
    // Replies already read are taken first (in order: they answer sends acked..).
    void* reply = nullptr;
    while (redisGetReplyFromReader(rc, &reply) == REDIS_OK && reply != nullptr) {
      ack_ns[acked++] = NowNs();
      freeReplyObject(reply);
      reply = nullptr;
    }
    const int64_t now = NowNs();
    if (sent < m && now >= t0 + static_cast<int64_t>(sent) * interval) {
      send_ns[sent] = NowNs();
      conn.Append({"XADD", key, "*", "m", payloads[sent]});
      int done = 0;
      while (!done) Check(redisBufferWrite(rc, &done) == REDIS_OK, "redisBufferWrite");
      ++sent;
      continue;
    }
    if (acked >= m) break;
    const int64_t wait = sent < m ? t0 + static_cast<int64_t>(sent) * interval - now : 100'000'000;
    timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    pollfd p{rc->fd, POLLIN, 0};
    if (ppoll(&p, 1, &ts, nullptr) > 0 && (p.revents & POLLIN)) {
      Check(redisBufferRead(rc) == REDIS_OK, "redisBufferRead");
    }
  }
  const double seconds = SecondsBetween(t0, NowNs());
  for (int i = 0; i < 100 && received.load() < m; ++i) std::this_thread::sleep_for(milliseconds(50));
  stop.store(true);
  listener.join();
  Report(kSystem, "B.rate_msgs_per_s", static_cast<double>(m) / seconds, "msg/s");
  ReportLatencies(kSystem, "B.recipient_", send_ns, recv_ns);
  ReportLatencies(kSystem, "B.ack_", send_ns, ack_ns);
  Report(kSystem, "B.received", static_cast<double>(received.load()), "msgs");
}

void WorkloadD(const Options& o, const std::string& dir) {
  Server server(o.server, dir);
  server.Start();
  const std::string key = "inbox:d-recipient";
  const std::vector<std::string> payloads = IndexedPayloads(o.durability + 2 * o.window, 1024);
  SendOutcome sent;
  {
    Conn conn(server.port());
    CreateGroup(conn, key);
    sent = PipelinedAdd(conn, key, payloads, o.window, o.durability);
    server.Kill9();
  }
  server.Start();
  Conn recipient(server.port());
  const DrainOutcome drained = Drain(recipient, key, payloads);
  server.Stop();
  // Replies arrive in order: the first `acked` payloads are the acknowledged ones.
  size_t lost = 0;
  for (size_t i = 0; i < sent.acked; ++i) lost += drained.counts[i] == 0;
  Report(kSystem, "D.acknowledged", static_cast<double>(sent.acked), "msgs");
  Report(kSystem, "D.lost", static_cast<double>(lost), "msgs");
  Note("D: %zu acknowledged (XADD replies) before kill -9, %zu of them lost, %zu received after the restart", sent.acked,
       lost, drained.received);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.server = "/usr/bin/redis-server";
  o.only = "ABDE";
  ParseWorkloadOptions(argc, argv, "--server", o);
  RaiseFileLimit();
  {
    TempDir tmp("redis");
    if (o.Runs('A') || o.Runs('B')) {
      Server server(o.server, tmp.path());
      server.Start();
      if (o.Runs('A')) WorkloadA(o, server);
      if (o.Runs('B')) WorkloadB(o, server);
      server.Stop();
    }
  }
  if (o.Runs('E')) {
    TempDir e("redis-e");
    WorkloadE(o, e.path());
  }
  if (o.Runs('D')) {
    TempDir d("redis-d");
    WorkloadD(o, d.path());
  }
  Note("liaison-bench-redis: done");
  return 0;
}
