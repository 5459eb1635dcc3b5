// liaison-bench-mosquitto: workloads A, B, D and E of bench/liaison_bench.cc against Debian's
// Mosquitto, started here on 127.0.0.1 with its data in a temporary directory, through
// libmosquitto: MQTT 3.1.1, QoS 1, the recipient a persistent session (clean_session = false)
// subscribed to its own topic. Broker configuration (written to the temporary directory):
// persistence true with Mosquitto's default autosave_interval (1800 s) -- its default way of
// persisting --, max_queued_messages 0 (no limit; the default 1000 would drop most of A's
// backlog) and max_inflight_messages = the window (default 20), so that A's drain may have as
// many messages in flight as liaison's pages.
//
// "Acknowledged as stored" is the PUBACK; the payloads are 1 KiB random bytes (the same size as
// liaison's sealed envelopes; Mosquitto does not encrypt anything here: no TLS).
//
// Usage: liaison-bench-mosquitto [--broker /usr/sbin/mosquitto] [--messages N] [--window W]
//          [--latency-messages M] [--rate R] [--durability K] [--idle C] [--only ABDE]
#include <mosquitto.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_map>

#include "bench_util.h"

using namespace liaison::bench;
using std::chrono::milliseconds;

namespace {

constexpr const char* kSystem = "mosquitto";

using Options = WorkloadOptions;  // `server`: the mosquitto binary (--broker)

class Broker {
 public:
  Broker(const std::string& bin, const std::string& dir, size_t window) : bin_(bin), dir_(dir) {
    port_ = FreeLoopbackPort();
    std::string conf = "listener " + std::to_string(port_) + " 127.0.0.1\n"
                       "allow_anonymous true\n"
                       "persistence true\n"
                       "persistence_location " + dir_ + "/\n"
                       "max_queued_messages 0\n"
                       "max_inflight_messages " + std::to_string(window) + "\n"
                       "log_dest stderr\n";
    if (getuid() == 0) conf += "user root\n";  // else it drops to user mosquitto and cannot write here
    WriteWholeFile(dir_ + "/mosquitto.conf", conf);
  }
  ~Broker() {
    if (pid_ > 0) KillAndWait(pid_, SIGKILL);
  }
  void Start() {
    pid_ = Spawn({bin_, "-c", dir_ + "/mosquitto.conf"}, dir_ + "/mosquitto.log");
    Check(WaitForPort(port_, milliseconds(20000)), "mosquitto did not listen; see " + dir_ + "/mosquitto.log");
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

// One libmosquitto client, driven by its owner's thread (no library thread).
class Client {
 public:
  std::function<void(int mid)> on_publish;
  std::function<void(const mosquitto_message*)> on_message;

  Client(const std::string& id, bool clean_session) {
    m_ = mosquitto_new(id.c_str(), clean_session, this);
    Check(m_ != nullptr, "mosquitto_new");
    mosquitto_int_option(m_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(m_, 0);  // the bench keeps its own window
    mosquitto_connect_callback_set(m_, [](mosquitto*, void* self, int rc) {
      static_cast<Client*>(self)->connack_ = rc == 0 ? 1 : -1;
    });
    mosquitto_disconnect_callback_set(m_, [](mosquitto*, void* self, int) { static_cast<Client*>(self)->connack_ = 0; });
    mosquitto_subscribe_callback_set(m_, [](mosquitto*, void* self, int, int, const int*) {
      static_cast<Client*>(self)->subscribed_ = true;
    });
    mosquitto_publish_callback_set(m_, [](mosquitto*, void* self, int mid) {
      auto* c = static_cast<Client*>(self);
      if (c->on_publish) c->on_publish(mid);
    });
    mosquitto_message_callback_set(m_, [](mosquitto*, void* self, const mosquitto_message* msg) {
      auto* c = static_cast<Client*>(self);
      if (c->on_message) c->on_message(msg);
    });
  }
  ~Client() { mosquitto_destroy(m_); }
  // Starts connecting; Connected() turns true on the CONNACK (after Loop calls).
  void BeginConnect(int port) { Check(mosquitto_connect(m_, "127.0.0.1", port, 60) == MOSQ_ERR_SUCCESS, "mosquitto_connect"); }
  bool Connected() const { return connack_ == 1; }
  void Connect(int port) {
    BeginConnect(port);
    const int64_t deadline = NowNs() + 10'000'000'000;
    while (!Connected()) {
      Check(connack_ >= 0 && NowNs() < deadline, "MQTT CONNACK");
      Loop(100);
    }
  }
  void Subscribe(const std::string& topic) {
    Check(mosquitto_subscribe(m_, nullptr, topic.c_str(), 1) == MOSQ_ERR_SUCCESS, "subscribe");
    const int64_t deadline = NowNs() + 10'000'000'000;
    while (!subscribed_) {
      Check(NowNs() < deadline, "SUBACK");
      Loop(100);
    }
  }
  void Disconnect() {
    mosquitto_disconnect(m_);
    for (int i = 0; i < 20 && connack_ != 0; ++i) Loop(50);
  }
  int Publish(const std::string& topic, const std::string& payload) {
    int mid = 0;
    Check(mosquitto_publish(m_, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false) ==
              MOSQ_ERR_SUCCESS,
          "mosquitto_publish");
    return mid;
  }
  // One turn of the network loop with poll(2): mosquitto_loop() uses select(), which fails for
  // descriptors above FD_SETSIZE (1024), i.e. with E's 1,000 clients in one process.
  void Loop(int timeout_ms) {
    const int fd = mosquitto_socket(m_);
    if (fd < 0) {
      std::this_thread::sleep_for(milliseconds(timeout_ms));
      return;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (mosquitto_want_write(m_) ? POLLOUT : 0)), 0};
    int rc = MOSQ_ERR_SUCCESS;
    if (poll(&p, 1, timeout_ms) > 0) {
      if (p.revents & (POLLIN | POLLERR | POLLHUP)) rc = mosquitto_loop_read(m_, 1);
      if (rc == MOSQ_ERR_SUCCESS && (p.revents & POLLOUT)) rc = mosquitto_loop_write(m_, 1);
    }
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(m_);
    Check(rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST,
          std::string("mosquitto loop: ") + mosquitto_strerror(rc));
  }
  mosquitto* get() { return m_; }

 private:
  mosquitto* m_;
  int connack_ = 0;
  bool subscribed_ = false;
};

struct SendOutcome {
  double seconds = 0;
  size_t acked = 0;
  std::vector<uint8_t> acked_index;
};

SendOutcome PipelinedPublish(Client& c, const std::string& topic, const std::vector<std::string>& payloads,
                             size_t window, size_t stop_after) {
  SendOutcome out;
  out.acked_index.assign(payloads.size(), 0);
  std::unordered_map<int, size_t> index_of;
  size_t sent = 0;
  c.on_publish = [&](int mid) {
    auto it = index_of.find(mid);
    if (it == index_of.end()) return;
    out.acked_index[it->second] = 1;
    index_of.erase(it);
    ++out.acked;
  };
  const int64_t start = NowNs();
  int64_t last_progress = start;
  size_t last_acked = 0;
  while (out.acked < payloads.size() && out.acked < stop_after) {
    while (sent < payloads.size() && sent - out.acked < window) index_of[c.Publish(topic, payloads[sent])] = sent, ++sent;
    c.Loop(100);
    if (out.acked != last_acked) last_acked = out.acked, last_progress = NowNs();
    Check(NowNs() - last_progress < 20'000'000'000, "no PUBACK within 20 s");
  }
  out.seconds = SecondsBetween(start, NowNs());
  c.on_publish = nullptr;
  return out;
}

struct DrainOutcome {
  double seconds = 0;
  size_t received = 0, duplicates = 0, mismatched = 0;
  std::vector<uint32_t> counts;
};

// Connects the persistent session and receives until `expected` distinct messages arrived or
// nothing came for `quiet`.
DrainOutcome Receive(Client& c, int port, const std::vector<std::string>& payloads, size_t expected,
                     milliseconds quiet) {
  DrainOutcome out;
  out.counts.assign(payloads.size(), 0);
  size_t distinct = 0;
  int64_t last = NowNs();
  c.on_message = [&](const mosquitto_message* msg) {
    last = NowNs();
    if (msg->payloadlen < 8) return;
    const uint64_t index = PayloadIndex(msg->payload);
    if (index >= payloads.size()) return;
    ++out.received;
    if (out.counts[index]++ > 0) ++out.duplicates; else ++distinct;
    if (static_cast<size_t>(msg->payloadlen) != payloads[index].size() ||
        std::memcmp(msg->payload, payloads[index].data(), payloads[index].size()) != 0) {
      ++out.mismatched;
    }
  };
  const int64_t start = NowNs();
  c.Connect(port);
  int64_t end = NowNs();
  while (distinct < expected && NowNs() - last < std::chrono::nanoseconds(quiet).count()) {
    c.Loop(50);
    end = last;
  }
  out.seconds = SecondsBetween(start, distinct >= expected ? NowNs() : end);
  // Let the PUBACKs of the last messages go out before the caller disconnects (untimed).
  const int64_t flush_until = NowNs() + 300'000'000;
  while (NowNs() < flush_until) c.Loop(20);
  c.on_message = nullptr;
  return out;
}

void WorkloadA(const Options& o, Broker& broker) {
  const std::vector<std::string> payloads = IndexedPayloads(o.messages, 1024);
  const std::string topic = "inbox/a-recipient";
  {
    Client recipient("a-recipient", false);
    recipient.Connect(broker.port());
    recipient.Subscribe(topic);
    recipient.Disconnect();
  }
  const pid_t pid = broker.pid();
  ResetPeakRss(pid);
  RssSampler rss(pid, "VmRSS", milliseconds(20));
  Client sender("a-sender", true);
  sender.Connect(broker.port());
  Note("A: publishing %zu messages, window %zu ...", o.messages, o.window);
  const long long written_before = IoField(pid, "write_bytes");
  const SendOutcome sent = PipelinedPublish(sender, topic, payloads, o.window, SIZE_MAX);
  Report(kSystem, "A.disk_bytes_per_msg",
         static_cast<double>(IoField(pid, "write_bytes") - written_before) / static_cast<double>(o.messages), "bytes");
  Report(kSystem, "A.send_msgs_per_s", static_cast<double>(o.messages) / sent.seconds, "msg/s");
  const long anon_after_send = StatusKiB(pid, "RssAnon");
  Client recipient("a-recipient", false);
  const DrainOutcome drained = Receive(recipient, broker.port(), payloads, o.messages, milliseconds(5000));
  recipient.Disconnect();
  // Anything still queued for the session would come on the next connection.
  Client again("a-recipient", false);
  const DrainOutcome left = Receive(again, broker.port(), payloads, 1, milliseconds(1000));
  again.Disconnect();
  size_t missing = 0;
  for (uint32_t c : drained.counts) missing += c == 0;
  const bool exactly_once = missing == 0 && drained.duplicates == 0 && drained.mismatched == 0 && left.received == 0;
  Report(kSystem, "A.drain_msgs_per_s", static_cast<double>(drained.received) / drained.seconds, "msg/s");
  Report(kSystem, "A.exactly_once", exactly_once ? 1 : 0, "bool");
  Report(kSystem, "A.peak_rss_kib", static_cast<double>(std::max(rss.StopAndMaxKiB(), StatusKiB(pid, "VmHWM"))), "KiB");
  Report(kSystem, "A.rss_anon_after_send_kib", static_cast<double>(anon_after_send), "KiB");
  Note("A: published in %.2f s; drained %zu in %.2f s; missing %zu, duplicates %zu, mismatched %zu, %zu more on "
       "reconnect; broker RssAnon with the backlog %ld KiB",
       sent.seconds, drained.received, drained.seconds, missing, drained.duplicates, drained.mismatched, left.received,
       anon_after_send);

}

// E on a fresh broker (after A its heap holds the freed backlog, which idle clients would reuse).
void WorkloadE(const Options& o, const std::string& dir) {
  Broker broker(o.server, dir, o.window);
  broker.Start();
  const pid_t pid = broker.pid();
  std::this_thread::sleep_for(milliseconds(500));
    const long before = StatusKiB(pid, "VmRSS");
  std::vector<std::unique_ptr<Client>> idle;
  for (size_t i = 0; i < o.idle; ++i) {
    idle.push_back(std::make_unique<Client>("idle-" + std::to_string(i), true));
    idle.back()->BeginConnect(broker.port());
  }
  const int64_t deadline = NowNs() + 30'000'000'000;
  for (auto& c : idle) {
    while (!c->Connected()) {
      Check(NowNs() < deadline, "E: CONNACKs");
      c->Loop(10);
    }
  }
  std::this_thread::sleep_for(milliseconds(2000));
  Report(kSystem, "E.rss_no_clients_kib", static_cast<double>(before), "KiB");
  Report(kSystem, "E.rss_idle_clients_kib", static_cast<double>(StatusKiB(pid, "VmRSS")), "KiB");
  Note("E: broker RSS %ld KiB before, %ld KiB with %zu idle MQTT clients (plain TCP)", before,
       StatusKiB(pid, "VmRSS"), o.idle);
  broker.Stop();
}

void WorkloadB(const Options& o, Broker& broker) {
  const size_t m = o.latency_messages;
  const std::vector<std::string> payloads = IndexedPayloads(m, 1024);
  const std::string topic = "inbox/b-recipient";
  std::vector<int64_t> send_ns(m, 0), ack_ns(m, 0), recv_ns(m, 0);
  std::atomic<bool> ready{false}, stop{false};
  std::atomic<size_t> received{0};
  std::thread listener([&] {
    Client c("b-recipient", false);
    c.on_message = [&](const mosquitto_message* msg) {
      const int64_t now = NowNs();
      const uint64_t index = PayloadIndex(msg->payload);
      if (index < m && recv_ns[index] == 0) recv_ns[index] = now, ++received;
    };
    c.Connect(broker.port());
    c.Subscribe(topic);
    ready.store(true);
    while (!stop.load() && received.load() < m) c.Loop(100);
    c.Disconnect();
  });
  while (!ready.load()) std::this_thread::sleep_for(milliseconds(1));
  Client sender("b-sender", true);
  sender.Connect(broker.port());
  std::unordered_map<int, size_t> index_of;
  size_t sent = 0, acked = 0;
  sender.on_publish = [&](int mid) {
    auto it = index_of.find(mid);
    if (it == index_of.end()) return;
    ack_ns[it->second] = NowNs();
    index_of.erase(it);
    ++acked;
  };
  const int64_t interval = static_cast<int64_t>(1e9 / o.rate);
  const int64_t t0 = NowNs() + 10'000'000;
  const int64_t deadline = t0 + static_cast<int64_t>(m) * interval + 30'000'000'000;
  mosquitto* mq = sender.get();
  while (acked < m) {
    Check(NowNs() < deadline, "B: PUBACKs missing");
    const int64_t now = NowNs();
    if (sent < m && now >= t0 + static_cast<int64_t>(sent) * interval) {
      send_ns[sent] = NowNs();
      index_of[sender.Publish(topic, payloads[sent])] = sent;
      ++sent;
      continue;
    }
    const int64_t wait = sent < m ? t0 + static_cast<int64_t>(sent) * interval - now : 100'000'000;
    timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    pollfd p{mosquitto_socket(mq), static_cast<short>(POLLIN | (mosquitto_want_write(mq) ? POLLOUT : 0)), 0};
    if (ppoll(&p, 1, &ts, nullptr) > 0) {
      if (p.revents & POLLIN) mosquitto_loop_read(mq, 1);
      if (p.revents & POLLOUT) mosquitto_loop_write(mq, 1);
    }
    mosquitto_loop_misc(mq);
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
  Broker broker(o.server, dir, o.window);
  broker.Start();
  const std::string topic = "inbox/d-recipient";
  {
    Client recipient("d-recipient", false);
    recipient.Connect(broker.port());
    recipient.Subscribe(topic);
    recipient.Disconnect();
  }
  // A clean restart first, so that the session and its subscription are on disk (Mosquitto
  // writes its database at shutdown and every autosave_interval).
  broker.Stop();
  broker.Start();
  const std::vector<std::string> payloads = IndexedPayloads(o.durability + 2 * o.window, 1024);
  SendOutcome sent;
  {
    Client sender("d-sender", true);
    sender.Connect(broker.port());
    sent = PipelinedPublish(sender, topic, payloads, o.window, o.durability);
    broker.Kill9();
  }
  broker.Start();
  Client recipient("d-recipient", false);
  const DrainOutcome drained = Receive(recipient, broker.port(), payloads, payloads.size(), milliseconds(3000));
  recipient.Disconnect();
  broker.Stop();
  size_t lost = 0;
  for (size_t i = 0; i < payloads.size(); ++i) lost += sent.acked_index[i] && drained.counts[i] == 0;
  Report(kSystem, "D.acknowledged", static_cast<double>(sent.acked), "msgs");
  Report(kSystem, "D.lost", static_cast<double>(lost), "msgs");
  Note("D: %zu acknowledged (PUBACK) before kill -9, %zu of them lost, %zu received after the restart", sent.acked, lost,
       drained.received);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.server = "/usr/sbin/mosquitto";
  o.only = "ABDE";
  ParseWorkloadOptions(argc, argv, "--broker", o);
  RaiseFileLimit();
  mosquitto_lib_init();
  TempDir tmp("mosquitto");
  if (o.Runs('A') || o.Runs('B')) {
    Broker broker(o.server, tmp.path(), o.window);
    broker.Start();
    if (o.Runs('A')) WorkloadA(o, broker);
    if (o.Runs('B')) WorkloadB(o, broker);
    broker.Stop();
  }
  if (o.Runs('E')) {
    TempDir e("mosquitto-e");
    WorkloadE(o, e.path());
  }
  if (o.Runs('D')) {
    TempDir d("mosquitto-d");
    WorkloadD(o, d.path());
  }
  mosquitto_lib_cleanup();
  Note("liaison-bench-mosquitto: done");
  return 0;
}
