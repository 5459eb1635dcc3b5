#include "relay/relay_server.h"

#include <spdlog/spdlog.h>

#include <sodium.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <variant>

#include "base/file_util.h"
#include "crypto/hash.h"
#include "crypto/sign.h"
#include "relay/signing_key.h"
#include "relay/limits.h"
#include "roster/policy.h"
#include "wire/broadcast.h"
#include "wire/frame.h"
#include "wire/limits.h"
#include "wire/messages.h"

// Debian's libzmq is a non-draft build whose zmq.h hides this option; libzmq handles it anyway.
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

namespace liaison::relay {

using wire::FrameType;
using wire::WireStatus;

struct RelayServer::Session {
  RoutingId routing_id;
  bool subscribed = false;
  uint64_t pushed_up_to = 0;  // highest seq pushed on this connection
  uint32_t in_flight = 0;     // pushed, not yet acknowledged
  bool push_stalled = false;  // the last push met a full send queue: no provisional pushes until one succeeds
};

struct RelayServer::Request {
  RoutingId routing_id;
  std::string user;  // ZAP User-Id: the authenticated device address
  zmq::message_t frame;  // emptied once a write's body is decoded
  uint64_t request_id = 0;  // from the header, even if the rest of it is unreadable
  bool extra_parts = false;
  int fd = -1;  // the TCP connection it came in on (ZMQ_SRCFD), to close it on revocation
  std::chrono::steady_clock::time_point received;  // when the network thread took it off the socket
};

// A decoded write waiting for the group commit. The commit thread touches only `body` (reading)
// and the outcome fields.
struct RelayServer::Pending {
  Request request;
  wire::FrameHeader header;
  std::variant<wire::SendRequest, wire::AckRequest, wire::PublishKeysRequest, wire::PublishPrekeysRequest,
               wire::ClaimPrekeysRequest, wire::SendBroadcastRequest, wire::SendManyRequest>
      body;
  // Broadcasts and SEND_MANY: per copy or item, the refusal found before the store was asked
  // (0: none), and the outcome after the commit (a wire status).
  std::vector<uint16_t> refused_early;
  std::vector<uint16_t> copy_status;
  Status status;               // outcome after the commit
  store::PutResult put;        // for sends
  uint32_t removed = 0;        // for acks
  uint32_t prekeys_held = 0;   // for prekey publications
  store::ClaimedPrekeys claimed;  // for prekey claims
};

// One group commit: its writes and `committed` (the commit thread's while it runs) and the reads
// that wait for them (the network thread's alone).
struct RelayServer::Job {
  uint64_t generation = 0;
  std::vector<Pending> writes;
  std::chrono::steady_clock::time_point committed;  // when ApplyWrites returned
  size_t stores = 0;  // against kMaxRequestsPerBatch: a SEND_MANY or SEND_BROADCAST counts its items
  size_t bytes = 0;   // request bytes held, against kMaxBatchBytes
  std::vector<Request> reads_after;
};

// Replies waiting for room in one connection's send queue, oldest first.
struct RelayServer::Outbox {
  std::deque<Bytes> frames;
  size_t bytes = 0;
};

namespace {

uint8_t ReplyType(FrameType type) { return static_cast<uint8_t>(type) | wire::kReplyBit; }

template <class T>
Bytes EncodeOrDie(const T& value) {
  auto encoded = wire::Encode(value);
  // Every value the relay encodes is built within its limits; failure is a bug.
  if (!encoded.ok()) {
    spdlog::critical("encoding a reply failed: {}", encoded.status().ToString());
    std::abort();
  }
  return std::move(encoded).value();
}

// The body of every reply that carries nothing (SEND, PUBLISH_KEYS, ...), encoded once.
const Bytes& EmptyBody() {
  static const Bytes body = EncodeOrDie(wire::Empty{});
  return body;
}

std::string Short(std::string_view address) { return std::string(address.substr(0, 64)); }

// A FETCH reply or push frame, encoded into one buffer of about its final size: a page of
// deliveries is up to kMaxDeliveryBytesPerFrame, too large to grow by doubling or copy again.
Bytes DeliveriesFrame(const wire::FrameHeader& header, const wire::Deliveries& deliveries) {
  size_t size = wire::kFrameHeaderBytes + 16;
  for (const auto& d : deliveries.items) size += wire::kMinDeliveryBytes + d.envelope.size();
  auto frame = wire::EncodeFrameOf(header, deliveries, size);
  if (!frame.ok()) {
    spdlog::critical("encoding deliveries failed: {}", frame.status().ToString());
    std::abort();
  }
  return std::move(frame).value();
}

// What a recipient receives for a stored message: a broadcast copy travels with its body.
wire::Delivery ToDelivery(store::StoredMessage&& m) {
  Bytes envelope = m.shared_body ? wire::ComposeBroadcastDelivery(m.envelope, *m.shared_body) : std::move(m.envelope);
  return wire::Delivery{m.seq, m.message_id, static_cast<uint64_t>(m.stored_at), static_cast<uint64_t>(m.expires_at),
                        std::move(envelope)};
}

}  // namespace

RelayServer::RelayServer(const RelayConfig& config, Clock& clock)
    : config_(config), clock_(clock), context_(1), registry_(config.DevicesPath()) {}

RelayServer::~RelayServer() {
  // A job still running (Run left early) writes into in_flight_: it must end before anything goes.
  if (committer_) committer_->WaitFinished();
  router_.close();
  if (zap_) zap_->Stop();
  context_.close();
}

Result<std::unique_ptr<RelayServer>> RelayServer::Open(const RelayConfig& config, Clock& clock) {
  std::unique_ptr<RelayServer> server(new RelayServer(config, clock));
  LIAISON_RETURN_IF_ERROR(server->Setup());
  return server;
}

Status RelayServer::Setup() {
  store::MailboxStoreOptions options;
  options.path = config_.StorePath();
  options.map_size_bytes = config_.map_size_mib << 20;
  options.max_mailbox_messages = config_.max_mailbox_messages;
  options.max_mailbox_bytes = config_.max_mailbox_mib << 20;
  options.default_ttl_micros = static_cast<int64_t>(config_.default_ttl_days) * 86400 * kMicrosPerSecond;
  options.max_ttl_micros = static_cast<int64_t>(config_.max_ttl_days) * 86400 * kMicrosPerSecond;
  options.write_ahead_log.enabled = config_.write_ahead_log;
  options.write_ahead_log.file_bytes = config_.log_file_mib << 20;
  options.write_ahead_log.checkpoint_after_bytes = config_.checkpoint_after_mib << 20;
  options.write_ahead_log.checkpoint_interval_micros = static_cast<int64_t>(config_.checkpoint_interval_ms) * 1000;
  LIAISON_ASSIGN_OR_RETURN(store_, store::MailboxStore::Open(options, clock_));
  if (const store::CommitLogRecovery& recovered = store_->env().log_recovery(); recovered.checkpoint_found) {
    spdlog::info("recovered the store from its checkpoint: {} log records replayed from {} log files",
                 recovered.records_replayed, recovered.log_files_replayed);
  }

  if (const size_t moved = store_->dedup_records_migrated_at_open(); moved > 0) {
    spdlog::info("moved {} dedup records to the store's id-first keys", moved);
  }
  if (const size_t damaged = store_->dedup_records_damaged_at_open(); damaged > 0) {
    spdlog::warn("{} old dedup records were damaged: kept in the store's table dedup_damaged (a message whose expiry "
                 "record is held gets its dedup record back from it)",
                 damaged);
  }
  if (const size_t unswept = store_->messages_left_unswept_at_open(); unswept > 0) {
    spdlog::warn("{} messages of an older layout were stored again under the same id: the older copies are delivered "
                 "and acknowledged as usual, but if they expire unacknowledged the sweep will not remove them",
                 unswept);
  }
  if (const size_t restored = store_->dedup_records_restored_at_open(); restored > 0) {
    spdlog::info("gave {} messages of an older layout their dedup records back from their expiry records", restored);
  }
  for (const auto& [table, records] : store_->tables_dropped_at_open()) {
    spdlog::info("dropped the store's table {} of {} records, which repeated what the dedup records and the index hold",
                 table, records);
  }
  if (const int cleared = store_->env().readers_cleared_at_open(); cleared > 0) {
    spdlog::warn("cleared {} stale LMDB reader slots left by killed processes", cleared);
  }
  if (!config_.coordinator_key.empty()) {
    roster::PublicKey key{};
    (void)sodium_hex2bin(key.data(), key.size(), config_.coordinator_key.data(), config_.coordinator_key.size(), nullptr,
                         nullptr, nullptr);  // LoadConfig checked the form
    coordinator_key_ = key;
    LIAISON_ASSIGN_OR_RETURN(admin_transport_key_, ParseZ85Key(config_.coordinator_transport_key));
    LIAISON_ASSIGN_OR_RETURN(uint64_t newest, store_->NewestRosterEpoch());
    if (newest > 0) {
      LIAISON_ASSIGN_OR_RETURN(auto stored, store_->RosterEpoch(newest));
      if (!stored) return Status::Error(Code::kCorruption, "the store lost roster epoch " + std::to_string(newest));
      auto verified = roster::VerifyEpoch(*stored, *coordinator_key_);
      if (!verified.ok()) {
        return verified.status().WithContext("stored roster epoch " + std::to_string(newest) +
                                             " does not verify under roster.coordinator_key (was the key changed?)");
      }
      roster_ = std::move(verified).value();
    }
    ApplyRoster();
    spdlog::info("roster mode: epoch {} held, {} devices admitted", roster_ ? roster_->epoch.number : 0,
                 registry_.size() - 1);
  } else {
    Status reload = registry_.ReloadIfChanged();
    if (!reload.ok()) spdlog::warn("{}", reload.ToString());
  }

  LIAISON_ASSIGN_OR_RETURN(std::string secret_text, ReadFile(config_.SecretKeyPath(), 128));
  while (!secret_text.empty() && (secret_text.back() == '\n' || secret_text.back() == '\r')) secret_text.pop_back();
  auto secret = ParseZ85Key(secret_text);
  std::fill(secret_text.begin(), secret_text.end(), '\0');
  if (!secret.ok()) return secret.status().WithContext(config_.SecretKeyPath());

  auto signing_key = LoadOrCreateSigningKey(config_);
  if (!signing_key.ok()) return signing_key.status().WithContext("the relay's signing key");
  signing_key_ = std::make_unique<crypto::SigningKeyPair>(std::move(signing_key).value());

  committer_ = std::make_unique<CommitThread>();
  next_ = std::make_unique<Job>();
  next_->generation = next_generation_++;

  // The ZAP handler must be bound before any CURVE socket binds, or libzmq would admit anyone.
  zap_ = std::make_unique<ZapHandler>(context_, registry_);
  LIAISON_RETURN_IF_ERROR(zap_->Start());

  try {
    router_ = zmq::socket_t(context_, zmq::socket_type::router);
    router_.set(zmq::sockopt::curve_server, 1);
    router_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(secret->data(), secret->size()));
    secret->fill(0);
    router_.set(zmq::sockopt::zap_domain, kZapDomain);
    router_.set(zmq::sockopt::integral_option<ZMQ_ZAP_ENFORCE_DOMAIN, int, true>{}, 1);
    const int read_back = router_.get(zmq::sockopt::integral_option<ZMQ_ZAP_ENFORCE_DOMAIN, int, true>{});
    if (read_back != 1) {
      return Status::Error(Code::kInternal, "libzmq did not accept ZMQ_ZAP_ENFORCE_DOMAIN; refusing to run open");
    }
    router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
    router_.set(zmq::sockopt::router_mandatory, 1);
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::rcvhwm, kReceiveHighWaterMark);
    router_.set(zmq::sockopt::sndhwm, kSendHighWaterMark);
    router_.set(zmq::sockopt::handshake_ivl, config_.handshake_timeout_ms);
    router_.set(zmq::sockopt::heartbeat_ivl, config_.heartbeat_interval_ms);
    router_.set(zmq::sockopt::heartbeat_timeout, config_.heartbeat_timeout_ms);
    router_.set(zmq::sockopt::heartbeat_ttl, config_.heartbeat_timeout_ms);
    router_.bind(config_.listen);
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Error(Code::kUnavailable, "cannot listen on " + config_.listen + ": " + e.what());
  }
  LIAISON_RETURN_IF_ERROR(WriteFileAtomically(config_.EndpointPath(), endpoint_ + "\n", 0644));
  spdlog::info("listening on {} (CURVE, ZAP domain \"{}\"), {} devices registered, store at {}", endpoint_,
               kZapDomain, registry_.size(), config_.StorePath());
  return Status::Ok();
}

Status RelayServer::Run(const std::atomic<bool>& stop, std::atomic<bool>* log_counters) {
  while (!stop.load()) {
    // Take requests only while the next job has room: beyond that, ZeroMQ's receive queue and
    // TCP hold them back.
    const bool room = HasRoom();
    zmq::pollitem_t items[2] = {{router_.handle(), 0, static_cast<short>(room ? ZMQ_POLLIN : 0), 0},
                                {nullptr, committer_->ready_fd(), ZMQ_POLLIN, 0}};
    // Queued replies are retried soon; otherwise wake at least every 200 ms for Periodic().
    const auto timeout = std::chrono::milliseconds(outboxes_.empty() ? 200 : 1);
    try {
      zmq::poll(items, 2, timeout);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return Status::Error(Code::kInternal, std::string("poll: ") + e.what());
    }
    if (log_counters != nullptr && log_counters->exchange(false)) LogCounters();
    if (!OnCommitFinished() && !committer_->busy()) Periodic();
    if (room) Receive();
    StartCommitIfIdle();
    FlushOutboxes();
  }
  // Whatever is committing now is answered; the next job was never acknowledged, and its
  // senders retry.
  committer_->WaitFinished();
  if (in_flight_) FinishJob(*in_flight_);
  in_flight_.reset();
  FlushOutboxes();
  LogCounters();
  spdlog::info("stopping");
  return Status::Ok();
}

bool RelayServer::OnCommitFinished() {
  if (!committer_->TakeFinished()) return false;
  std::unique_ptr<Job> done = std::move(in_flight_);
  Periodic();  // its sweep writes: only between commits
  // The next commit (what arrived during this one) starts before this one's replies and pushes
  // are sent, so that the commit thread does not wait for them. Not while reads wait on this
  // job: each must see this commit and none that came after its request (and a PUBLISH_ROSTER
  // among them writes, between the two commits).
  if (done->reads_after.empty()) {
    StartCommitIfIdle();
    FinishJob(*done);
  } else {
    FinishJob(*done);
    StartCommitIfIdle();
  }
  return true;
}

bool RelayServer::HasRoom() const {
  const size_t deferred = (in_flight_ ? in_flight_->reads_after.size() : 0) + next_->reads_after.size();
  return next_->stores + deferred < kMaxRequestsPerBatch && next_->bytes + deferred_bytes_ < kMaxBatchBytes;
}

void RelayServer::Receive() {
  for (size_t taken = 0; taken < kMaxRequestsPerBatch; ++taken) {
    if (!HasRoom()) return;
    zmq::message_t routing;
    if (!router_.recv(routing, zmq::recv_flags::dontwait)) return;
    Request request;
    request.received = std::chrono::steady_clock::now();
    request.routing_id.assign(routing.data<char>(), routing.size());
    if (routing.more()) {
      (void)router_.recv(request.frame, zmq::recv_flags::none);
      try {
        request.user = request.frame.gets("User-Id");  // set by the ZAP handler on every message
      } catch (const zmq::error_t&) {
        request.user.clear();  // no ZAP identity: the request is dropped below
      }
      try {
        request.fd = request.frame.get(ZMQ_SRCFD);
      } catch (const zmq::error_t&) {
        request.fd = -1;
      }
      if (request.frame.size() >= 12) request.request_id = GetBigEndian64(request.frame.data<uint8_t>() + 4);
      while (request.frame.more()) {  // one frame per message: drain and refuse the rest
        zmq::message_t extra;
        (void)router_.recv(extra, zmq::recv_flags::none);
        request.extra_parts = true;
        if (!extra.more()) break;
      }
    }
    HandleRequest(std::move(request));
  }
}

namespace {

// Reads that must see the same device's earlier writes: they wait for those writes' commit.
// FETCH does not (it returns what follows after_seq in the last commit, which a pending ACK of
// earlier seqs does not change), nor PING.
bool WaitsForOwnWrites(FrameType type) {
  return type != FrameType::kFetch && type != FrameType::kPing;
}

}  // namespace

void RelayServer::HandleRequest(Request&& request) {
  if (request.user.empty()) return;  // not from an authenticated peer: cannot happen with ZAP
  const ByteView bytes(request.frame.data<uint8_t>(), request.frame.size());
  auto frame = wire::DecodeFrame(bytes);
  const uint8_t error_type = wire::kReplyBit | static_cast<uint8_t>(FrameType::kError);
  if (!frame.ok()) {
    spdlog::info("refused a frame from {}: {}", Short(request.user), frame.status().ToString());
    ReplyError(request, error_type, frame.status());
    return;
  }
  const auto type = static_cast<FrameType>(frame->header.type);
  if (request.extra_parts) {
    ReplyError(request, ReplyType(type), Status::Error(Code::kMalformed, "one frame per message"));
    return;
  }
  if (frame->header.type & wire::kReplyBit || type == FrameType::kDeliver) {
    ReplyError(request, error_type, Status::Error(Code::kMalformed, "clients send requests only"));
    return;
  }

  if (request.fd >= 0) connection_owner_[request.fd] = request.user;
  if (RefusedByRoster(request, type)) return;

  // Track the newest connection of each device; a new one starts a fresh push cursor.
  Session& session = sessions_[request.user];
  if (session.routing_id != request.routing_id) session = Session{request.routing_id, false, 0, 0, false};

  Pending pending{Request{}, frame->header, {}, {}, {}, Status::Ok(), {}, 0, 0, {}};
  Status body_status;
  bool is_write = true;
  switch (type) {
    case FrameType::kSend: {
      auto body = wire::Decode<wire::SendRequest>(frame->body);
      if (!body.ok()) { body_status = body.status(); break; }
      body_status = MayDeliver(request.user, body->recipient);
      if (!body_status.ok()) break;
      pending.body = std::move(body).value();
      break;
    }
    case FrameType::kSendBroadcast: {
      auto body = wire::Decode<wire::SendBroadcastRequest>(frame->body);
      if (!body.ok()) { body_status = body.status(); break; }
      if (body->body.empty() || body->copies.empty()) {
        body_status = Status::Error(Code::kMalformed, "a broadcast needs a body and at least one copy");
        break;
      }
      pending.refused_early = RefusedEarly(request.user, body->copies);
      pending.body = std::move(body).value();
      break;
    }
    case FrameType::kSendMany: {
      auto body = wire::Decode<wire::SendManyRequest>(frame->body);
      if (!body.ok()) { body_status = body.status(); break; }
      if (body->items.empty()) {
        body_status = Status::Error(Code::kMalformed, "SEND_MANY needs at least one item");
        break;
      }
      pending.refused_early = RefusedEarly(request.user, body->items);
      pending.body = std::move(body).value();
      break;
    }
    case FrameType::kAck: {
      auto body = wire::Decode<wire::AckRequest>(frame->body);
      if (!body.ok()) { body_status = body.status(); break; }
      // The window opens as soon as the recipient says it has the messages; their removal
      // commits with the job, and pushes continue after the acknowledged seqs meanwhile.
      const auto acked = static_cast<uint32_t>(body->seqs.size());
      session.in_flight = session.in_flight > acked ? session.in_flight - acked : 0;
      pending.body = std::move(body).value();
      break;
    }
    case FrameType::kPublishKeys: {
      auto body = wire::Decode<wire::PublishKeysRequest>(frame->body);
      if (!body.ok()) { body_status = body.status(); break; }
      pending.body = std::move(body).value();
      break;
    }
    case FrameType::kPublishPrekeys: {
      auto body = wire::Decode<wire::PublishPrekeysRequest>(frame->body);
      if (!body.ok()) { body_status = body.status(); break; }
      pending.body = std::move(body).value();
      break;
    }
    case FrameType::kClaimPrekeys: {
      // A claim deletes the one-time prekey it hands out: a write, committed before the reply
      // so that a crash cannot hand the same key out twice.
      auto body = wire::Decode<wire::ClaimPrekeysRequest>(frame->body);
      if (!body.ok()) { body_status = body.status(); break; }
      if (!registry_.HasAddress(body->address)) {
        body_status = Status::Error(Code::kNotFound, "no registered device has that address");
        break;
      }
      pending.body = std::move(body).value();
      break;
    }
    default:
      is_write = false;
  }

  if (!is_write) {
    // PUBLISH_ROSTER writes on this thread: only between commits. Others wait behind their own
    // device's pending writes when they depend on them.
    Job* behind = nullptr;
    if (type == FrameType::kPublishRoster) {
      if (coordinator_key_) behind = in_flight_.get();  // in list mode it is refused at once
    } else if (WaitsForOwnWrites(type)) {
      auto it = pending_writes_.find(request.user);
      if (it != pending_writes_.end()) behind = it->second == next_->generation ? next_.get() : in_flight_.get();
    }
    if (behind != nullptr) {
      // Counted against the room for reading, like writes: deferred reads cannot pile up.
      deferred_bytes_ += request.frame.size();
      behind->reads_after.push_back(std::move(request));
    } else {
      if (AnswerRead(request)) PushPending(request.user);
    }
    return;
  }
  if (!body_status.ok()) {
    ++counters_.refused;
    spdlog::info("refused a {} request from {}: {}", static_cast<int>(type), Short(request.user), body_status.ToString());
    ReplyError(request, ReplyType(type), body_status);
    return;
  }
  if (type == FrameType::kAck) PushPending(request.user);
  if (type == FrameType::kSend) PushProvisional(std::get<wire::SendRequest>(pending.body));
  if (type == FrameType::kSendMany) {
    const auto& many = std::get<wire::SendManyRequest>(pending.body);
    for (size_t i = 0; i < many.items.size(); ++i) {
      if (pending.refused_early[i] == 0) PushProvisional(many.items[i]);
    }
  }
  next_->bytes += request.frame.size();
  // Counted against kMaxRequestsPerBatch by the messages it stores.
  if (const auto* many = std::get_if<wire::SendManyRequest>(&pending.body)) {
    next_->stores += many->items.size();
  } else if (const auto* broadcast = std::get_if<wire::SendBroadcastRequest>(&pending.body)) {
    next_->stores += broadcast->copies.size();
  } else {
    next_->stores += 1;
  }
  request.frame.rebuild();  // decoded: the frame's bytes are no longer needed
  pending_writes_[request.user] = next_->generation;
  pending.request = std::move(request);
  next_->writes.push_back(std::move(pending));
}

void RelayServer::PushProvisional(const wire::SendRequest& send) {
  auto it = sessions_.find(send.recipient);
  if (it == sessions_.end() || !it->second.subscribed || it->second.in_flight >= kPushWindow ||
      it->second.push_stalled) {
    return;  // stored copies wait for room first: provisional pushes must not crowd them out
  }
  const int64_t now = clock_.NowMicros();
  // The expiry the store will give it (ApplyWrites clamps the wire's u64 the same way).
  const int64_t expires_at = store_->ExpiresAt(static_cast<int64_t>(std::min<uint64_t>(send.expires_at, INT64_MAX)), now);
  if (expires_at <= now) return;  // the store refuses it (410)
  wire::Deliveries push;
  push.items.push_back(wire::Delivery{wire::kProvisionalSeq, send.message_id, static_cast<uint64_t>(now),
                                      static_cast<uint64_t>(expires_at), send.envelope});
  wire::FrameHeader header;
  header.type = static_cast<uint8_t>(FrameType::kDeliver);
  Bytes frame = DeliveriesFrame(header, push);
  // A hint: if the recipient's queue is full it is skipped; the stored copy follows anyway.
  const SendOutcome sent = SendTo(it->second.routing_id, frame);
  if (sent == SendOutcome::kGone) sessions_.erase(it);
  if (sent == SendOutcome::kSent) ++counters_.provisional;
}

void RelayServer::StartCommitIfIdle() {
  if (committer_->busy() || next_->writes.empty()) return;
  in_flight_ = std::move(next_);
  next_ = std::make_unique<Job>();
  next_->generation = next_generation_++;
  // Sized by load: the next job likely holds about as many writes as this one, so that adding
  // them does not move the Pending objects again and again.
  next_->writes.reserve(in_flight_->writes.size());
  Job* job = in_flight_.get();
  committer_->Start([this, job] {
    std::vector<Pending*> writes;
    writes.reserve(job->writes.size());
    for (Pending& p : job->writes) writes.push_back(&p);
    ApplyWrites(writes);
    job->committed = std::chrono::steady_clock::now();
  });
}

void RelayServer::FinishJob(Job& job) {
  ++counters_.commits;
  counters_.committed_writes += job.writes.size();
  for (auto it = pending_writes_.begin(); it != pending_writes_.end();) {
    it = it->second == job.generation ? pending_writes_.erase(it) : std::next(it);
  }
  std::vector<std::string> touched;  // mailboxes that may have something new to push
  for (Pending& p : job.writes) {
    const auto type = static_cast<FrameType>(p.header.type);
    if (!p.status.ok()) {
      ++counters_.refused;
      spdlog::info("{} from {} not done: {}", type == FrameType::kSend ? "send" : "write", Short(p.request.user),
                   p.status.ToString());
      ReplyError(p.request, ReplyType(type), p.status);
      continue;
    }
    if (type == FrameType::kSend) {
      const auto& send = std::get<wire::SendRequest>(p.body);
      if (!p.put.duplicate) touched.push_back(send.recipient);
      ++(p.put.duplicate ? counters_.stored_before : counters_.stored);
      Reply(p.request, static_cast<uint16_t>(p.put.duplicate ? WireStatus::kStoredBefore : WireStatus::kOk),
            ReplyType(type), EmptyBody());
    } else if (type == FrameType::kSendBroadcast) {
      const auto& broadcast = std::get<wire::SendBroadcastRequest>(p.body);
      const auto queued_us = std::chrono::duration_cast<std::chrono::microseconds>(job.committed - p.request.received);
      slowest_broadcast_us_ = std::max<uint64_t>(slowest_broadcast_us_, static_cast<uint64_t>(queued_us.count()));
      wire::SendBroadcastReply reply;
      reply.statuses = p.copy_status;
      const uint32_t copies = TallyItems(p.copy_status, broadcast.copies, touched);
      reply.stored_at = static_cast<uint64_t>(clock_.NowMicros());
      reply.relay_signing_key = signing_key_->public_key;
      const auto body_hash = crypto::GenericHash<32>(broadcast.body);
      reply.signature = crypto::SignDetached(
          signing_key_->secret_key, wire::SubmissionReceiptMessage(broadcast.broadcast_id, body_hash, reply.stored_at, copies));
      Reply(p.request, static_cast<uint16_t>(WireStatus::kOk), ReplyType(type), EncodeOrDie(reply));
    } else if (type == FrameType::kSendMany) {
      (void)TallyItems(p.copy_status, std::get<wire::SendManyRequest>(p.body).items, touched);
      Reply(p.request, static_cast<uint16_t>(WireStatus::kOk), ReplyType(type),
            EncodeOrDie(wire::SendManyReply{p.copy_status}));
    } else if (type == FrameType::kAck) {
      counters_.acknowledged += p.removed;
      touched.push_back(p.request.user);
      Reply(p.request, static_cast<uint16_t>(WireStatus::kOk), ReplyType(type), EncodeOrDie(wire::AckReply{p.removed}));
    } else if (type == FrameType::kPublishPrekeys) {
      Reply(p.request, static_cast<uint16_t>(WireStatus::kOk), ReplyType(type),
            EncodeOrDie(wire::PrekeyCount{p.prekeys_held}));
    } else if (type == FrameType::kClaimPrekeys) {
      const auto& claim = std::get<wire::ClaimPrekeysRequest>(p.body);
      if (!p.claimed.identity_bundle || !p.claimed.signed_prekey) {
        ReplyError(p.request, ReplyType(type),
                   Status::Error(Code::kNotFound, "that device has not published its prekeys yet"));
        continue;
      }
      wire::ClaimPrekeysReply reply{claim.address, std::move(*p.claimed.identity_bundle),
                                    std::move(*p.claimed.signed_prekey),
                                    p.claimed.one_time_prekey ? std::move(*p.claimed.one_time_prekey) : Bytes()};
      Reply(p.request, static_cast<uint16_t>(WireStatus::kOk), ReplyType(type), EncodeOrDie(reply));
    } else {
      Reply(p.request, static_cast<uint16_t>(WireStatus::kOk), ReplyType(type), EmptyBody());
    }
  }
  for (const Request& request : job.reads_after) {
    deferred_bytes_ -= request.frame.size();
    if (AnswerRead(request)) touched.push_back(request.user);
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (const std::string& address : touched) PushPending(address);
}

bool RelayServer::AnswerRead(const Request& request) {
  auto frame = wire::DecodeFrame(ByteView(request.frame.data<uint8_t>(), request.frame.size()));
  const auto type = static_cast<FrameType>(frame->header.type);
  const uint8_t reply_type = ReplyType(type);
  switch (type) {
    case FrameType::kHello: {
      auto body = wire::Decode<wire::Empty>(frame->body);
      if (!body.ok()) { ReplyError(request, reply_type, body.status()); break; }
      // The connection that said HELLO is subscribed (a deferred HELLO may find the session taken
      // over by another connection of the device meanwhile); everything unacknowledged is pushed
      // again on a new subscription.
      sessions_[request.user] = Session{request.routing_id, true, 0, 0, false};
      spdlog::debug("{} subscribed", Short(request.user));
      Reply(request, static_cast<uint16_t>(WireStatus::kOk), reply_type, EmptyBody());
      return true;
    }
    case FrameType::kFetch: {
      auto body = wire::Decode<wire::FetchRequest>(frame->body);
      if (!body.ok()) { ReplyError(request, reply_type, body.status()); break; }
      bool more = false;
      auto items = store_->Fetch(request.user, body->after_seq, std::clamp(body->max, 1u, wire::kMaxFetchBatch),
                                 kMaxDeliveryBytesPerFrame, &more);
      if (!items.ok()) {
        spdlog::error("fetch for {} failed: {}", Short(request.user), items.status().ToString());
        ReplyError(request, reply_type, items.status());
        break;
      }
      wire::Deliveries reply;
      reply.more = more ? 1 : 0;
      counters_.delivered += items->size();
      for (auto& m : *items) reply.items.push_back(ToDelivery(std::move(m)));
      wire::FrameHeader header;
      header.type = reply_type;
      header.status = static_cast<uint16_t>(WireStatus::kOk);
      header.request_id = request.request_id;
      SendReply(request.routing_id, DeliveriesFrame(header, reply));
      break;
    }
    case FrameType::kGetKeys: {
      auto body = wire::Decode<wire::GetKeysRequest>(frame->body);
      if (!body.ok()) { ReplyError(request, reply_type, body.status()); break; }
      auto bundle = store_->GetKeyBundle(body->address);
      if (!bundle.ok()) { ReplyError(request, reply_type, bundle.status()); break; }
      if (!*bundle) {
        ReplyError(request, reply_type, Status::Error(Code::kNotFound, "no keys published for that address"));
        break;
      }
      Reply(request, static_cast<uint16_t>(WireStatus::kOk), reply_type,
            EncodeOrDie(wire::GetKeysReply{body->address, std::move(**bundle)}));
      break;
    }
    case FrameType::kListDevices: {
      auto body = wire::Decode<wire::ListDevicesRequest>(frame->body);
      if (!body.ok()) { ReplyError(request, reply_type, body.status()); break; }
      wire::ListDevicesReply reply;
      for (auto& address : registry_.DevicesOf(body->member, wire::kMaxDevicesPerMember)) {
        reply.addresses.push_back({std::move(address)});
      }
      Reply(request, static_cast<uint16_t>(WireStatus::kOk), reply_type, EncodeOrDie(reply));
      break;
    }
    case FrameType::kPublishRoster: {
      auto body = wire::Decode<wire::PublishRosterRequest>(frame->body);
      if (!body.ok()) { ReplyError(request, reply_type, body.status()); break; }
      if (!coordinator_key_) {
        ReplyError(request, reply_type,
                   Status::Error(Code::kNotFound, "this relay has no coordinator key configured (list mode)"));
        break;
      }
      Status published = PublishRoster(body->signed_epoch);
      if (!published.ok()) {
        ++counters_.refused;
        spdlog::warn("refused a roster epoch from {}: {}", Short(request.user), published.ToString());
        ReplyError(request, reply_type, published);
        break;
      }
      Reply(request, static_cast<uint16_t>(WireStatus::kOk), reply_type,
            EncodeOrDie(wire::RosterNumber{roster_->epoch.number}));
      break;
    }
    case FrameType::kGetRoster: {
      auto body = wire::Decode<wire::GetRosterRequest>(frame->body);
      if (!body.ok()) { ReplyError(request, reply_type, body.status()); break; }
      wire::GetRosterReply reply;
      reply.newest = roster_ ? roster_->epoch.number : 0;
      const uint64_t wanted = body->number == 0 ? reply.newest : body->number;
      if (wanted != 0 && wanted <= reply.newest) {
        std::optional<Bytes> stored;
        if (wanted == reply.newest) {
          stored = roster_->signed_bytes;
        } else if (auto read = store_->RosterEpoch(wanted); read.ok()) {
          stored = std::move(read).value();
        }
        if (!stored) {
          ReplyError(request, reply_type, Status::Error(Code::kInternal, "roster epoch missing from the store"));
          break;
        }
        reply.signed_epoch = std::move(*stored);
      } else if (wanted > reply.newest) {
        ReplyError(request, reply_type, Status::Error(Code::kNotFound, "no such roster epoch yet"));
        break;
      }
      Reply(request, static_cast<uint16_t>(WireStatus::kOk), reply_type, EncodeOrDie(reply));
      break;
    }
    case FrameType::kPing: {
      auto body = wire::Decode<wire::Empty>(frame->body);
      if (!body.ok()) { ReplyError(request, reply_type, body.status()); break; }
      Reply(request, static_cast<uint16_t>(WireStatus::kOk), reply_type, EmptyBody());
      break;
    }
    default:
      ReplyError(request, reply_type, Status::Error(Code::kMalformed, "not a request type"));
  }
  return false;
}

namespace {
void FreeBytes(void* /*data*/, void* hint) { delete static_cast<Bytes*>(hint); }

// Frames up to this size are copied into the ZeroMQ message rather than handed over (SendTo).
constexpr size_t kCopiedFrameBytes = 1024;
}  // namespace

RelayServer::SendOutcome RelayServer::SendTo(const RoutingId& routing_id, Bytes& frame) {
  try {
    // With ROUTER_MANDATORY, an empty result means the peer's queue is at its high-water mark.
    if (!router_.send(zmq::buffer(routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return SendOutcome::kQueueFull;
    }
    // The routing frame was accepted, so the peer exists; the body frame joins the same message.
    // A small frame (every reply but FETCH pages and pushes) is copied: ZeroMQ keeps up to 33
    // bytes inside the message and a little more in one allocation, cheaper than handing over the
    // vector (two allocations, freed by ZeroMQ's I/O thread). A large one is handed over as it
    // is and freed when sent.
    if (frame.size() <= kCopiedFrameBytes) {
      (void)router_.send(zmq::buffer(frame), zmq::send_flags::dontwait);
      return SendOutcome::kSent;
    }
    auto* owned = new Bytes(std::move(frame));
    zmq::message_t body(owned->data(), owned->size(), FreeBytes, owned);
    (void)router_.send(body, zmq::send_flags::dontwait);
    return SendOutcome::kSent;
  } catch (const zmq::error_t&) {
    // EHOSTUNREACH: the peer is gone. Stored messages wait for its next connection.
    return SendOutcome::kGone;
  }
}

void RelayServer::SendReply(const RoutingId& routing_id, Bytes&& frame) {
  auto it = outboxes_.find(routing_id);
  if (it == outboxes_.end()) {
    if (SendTo(routing_id, frame) != SendOutcome::kQueueFull) return;  // sent, or the peer is gone
    it = outboxes_.emplace(routing_id, Outbox{}).first;
  }
  Outbox& outbox = it->second;
  if (outbox.bytes + frame.size() > kMaxQueuedReplyBytes) {
    // A peer that sends requests but does not read the replies: it loses them (and retries).
    ++counters_.replies_dropped;
    spdlog::debug("reply dropped: the connection's queue holds {} bytes of unread replies", outbox.bytes);
    return;
  }
  ++counters_.replies_queued;
  outbox.bytes += frame.size();
  outbox.frames.push_back(std::move(frame));
}

void RelayServer::FlushOutboxes() {
  for (auto it = outboxes_.begin(); it != outboxes_.end();) {
    Outbox& outbox = it->second;
    SendOutcome outcome = SendOutcome::kSent;
    while (!outbox.frames.empty()) {
      const size_t size = outbox.frames.front().size();
      outcome = SendTo(it->first, outbox.frames.front());
      if (outcome != SendOutcome::kSent) break;
      outbox.bytes -= size;
      outbox.frames.pop_front();
    }
    it = outbox.frames.empty() || outcome == SendOutcome::kGone ? outboxes_.erase(it) : std::next(it);
  }
}

void RelayServer::Reply(const Request& request, uint16_t status, uint8_t type, const Bytes& body) {
  wire::FrameHeader header;
  header.type = type;
  header.status = status;
  // Answer with the caller's request id even when the rest of its header was unreadable.
  header.request_id = request.request_id;
  SendReply(request.routing_id, wire::EncodeFrame(header, body));
}

void RelayServer::ReplyError(const Request& request, uint8_t type, const Status& status) {
  wire::ErrorBody body;
  body.reason = status.message().substr(0, wire::kMaxReasonBytes);
  Reply(request, static_cast<uint16_t>(wire::WireStatusFromCode(status.code())), type, EncodeOrDie(body));
}

void RelayServer::ApplyWrites(std::vector<Pending*>& writes) {
  // Errors a Put or PublishPrekeys reports before it writes anything: the batch stays usable.
  auto harmless = [](const Status& s) {
    return s.code() == Code::kInvalidArgument || s.code() == Code::kExpired || s.code() == Code::kMailboxFull ||
           s.code() == Code::kTooLarge;
  };
  // An expiry beyond what int64 holds is as far away as any other: the store clamps it to the
  // maximum TTL.
  auto put_request = [](const wire::SendRequest& send) {
    const auto expires_at = static_cast<int64_t>(std::min<uint64_t>(send.expires_at, INT64_MAX));
    return store::PutRequest{send.recipient, send.message_id, expires_at, send.envelope};
  };
  auto apply = [&](store::WriteBatch& batch, Pending& p) {
    if (auto* send = std::get_if<wire::SendRequest>(&p.body)) {
      auto result = batch.Put(put_request(*send));
      if (result.ok()) p.put = *result; else p.status = result.status();
    } else if (auto* many = std::get_if<wire::SendManyRequest>(&p.body)) {
      // An item's harmless refusal (it wrote nothing) is its status; any other failure fails the
      // request, and the batch is redone as for a SEND.
      p.copy_status = p.refused_early;
      for (size_t i = 0; i < many->items.size(); ++i) {
        if (p.refused_early[i] != 0) continue;
        auto result = batch.Put(put_request(many->items[i]));
        if (result.ok()) {
          p.copy_status[i] = static_cast<uint16_t>(result->duplicate ? WireStatus::kStoredBefore : WireStatus::kOk);
        } else if (harmless(result.status())) {
          p.copy_status[i] = static_cast<uint16_t>(wire::WireStatusFromCode(result.status().code()));
        } else {
          p.status = result.status();
          return;
        }
      }
    } else if (auto* broadcast = std::get_if<wire::SendBroadcastRequest>(&p.body)) {
      p.copy_status = p.refused_early;
      std::vector<store::BroadcastCopy> copies;
      std::vector<size_t> positions;
      for (size_t i = 0; i < broadcast->copies.size(); ++i) {
        if (p.refused_early[i] != 0) continue;
        const auto& c = broadcast->copies[i];
        copies.push_back({c.recipient, c.message_id, c.envelope});
        positions.push_back(i);
      }
      if (copies.empty()) return;  // every copy refused already: nothing to store
      const auto expires_at = static_cast<int64_t>(std::min<uint64_t>(broadcast->expires_at, INT64_MAX));
      auto result = batch.PutBroadcast({expires_at, broadcast->body, copies});
      if (!result.ok()) {
        p.status = result.status();
        return;
      }
      for (size_t k = 0; k < positions.size(); ++k) {
        const auto& outcome = (*result)[k];
        p.copy_status[positions[k]] = static_cast<uint16_t>(
            !outcome.ok() ? wire::WireStatusFromCode(outcome.status().code())
                          : (outcome->duplicate ? WireStatus::kStoredBefore : WireStatus::kOk));
      }
    } else if (auto* ack = std::get_if<wire::AckRequest>(&p.body)) {
      auto result = batch.Ack(p.request.user, ack->seqs);
      if (result.ok()) p.removed = *result; else p.status = result.status();
    } else if (auto* prekeys = std::get_if<wire::PublishPrekeysRequest>(&p.body)) {
      std::vector<ByteView> records;
      for (const auto& r : prekeys->one_time_prekeys) records.push_back(r.record);
      auto result = batch.PublishPrekeys(p.request.user, prekeys->signed_prekey, records);
      if (result.ok()) p.prekeys_held = *result; else p.status = result.status();
    } else if (auto* claim = std::get_if<wire::ClaimPrekeysRequest>(&p.body)) {
      auto result = batch.ClaimPrekeys(claim->address);
      if (result.ok()) p.claimed = std::move(result).value(); else p.status = result.status();
    } else {
      p.status = batch.PutKeyBundle(p.request.user, std::get<wire::PublishKeysRequest>(p.body).bundle);
    }
  };

  bool one_by_one = false;
  {
    auto batch = store_->BeginWrite();
    if (!batch.ok()) {
      for (Pending* p : writes) p->status = batch.status();
      return;
    }
    for (Pending* p : writes) {
      apply(*batch, *p);
      if (!p->status.ok() && !harmless(p->status)) {
        one_by_one = true;
        break;
      }
    }
    if (!one_by_one) {
      Status commit = batch->Commit();
      if (commit.ok()) return;
      spdlog::warn("group commit of {} writes failed ({}); retrying one by one", writes.size(), commit.ToString());
    }
  }
  // The shared transaction is gone (aborted or failed): give each write its own, so that one
  // that does not fit costs only itself.
  auto apply_alone = [&](Pending& p) {
    p.status = Status::Ok();
    auto batch = store_->BeginWrite();
    if (!batch.ok()) {
      p.status = batch.status();
      return;
    }
    apply(*batch, p);
    if (p.status.ok()) p.status = batch->Commit();
  };  // the transaction ends here, committed or aborted
  bool released_pages = false;
  for (Pending* p : writes) {
    apply_alone(*p);
    if (p->status.code() == Code::kStoreFull && !released_pages) {
      // Pages freed by recent acknowledgements become usable only after one more commit.
      released_pages = true;
      if (store_->ReleaseFreedPages().ok()) apply_alone(*p);
    }
  }
}

void RelayServer::PushPending(const std::string& address) {
  auto it = sessions_.find(address);
  if (it == sessions_.end() || !it->second.subscribed) return;
  Session& session = it->second;
  while (session.in_flight < kPushWindow) {
    bool more = false;
    const size_t room = std::min<size_t>(kPushWindow - session.in_flight, wire::kMaxFetchBatch);
    auto items = store_->Fetch(address, session.pushed_up_to, room, kMaxDeliveryBytesPerFrame, &more);
    if (!items.ok()) {
      spdlog::error("reading pending messages of {} failed: {}", Short(address), items.status().ToString());
      return;
    }
    if (items->empty()) return;
    wire::Deliveries push;
    push.more = more ? 1 : 0;
    const uint64_t last = items->back().seq;
    const auto count = static_cast<uint32_t>(items->size());
    for (auto& m : *items) push.items.push_back(ToDelivery(std::move(m)));
    wire::FrameHeader header;
    header.type = static_cast<uint8_t>(FrameType::kDeliver);
    Bytes frame = DeliveriesFrame(header, push);
    const SendOutcome sent = SendTo(session.routing_id, frame);
    if (sent == SendOutcome::kGone) {
      spdlog::debug("{} is gone; its messages stay stored for its next connection", Short(address));
      sessions_.erase(it);
      return;
    }
    session.push_stalled = sent == SendOutcome::kQueueFull;
    if (sent == SendOutcome::kQueueFull) return;  // pushed again after its next acknowledgement
    session.pushed_up_to = last;
    session.in_flight += count;
    counters_.delivered += count;
    if (!more) return;
  }
}

template <class Item>
uint32_t RelayServer::TallyItems(const std::vector<uint16_t>& statuses, const std::vector<Item>& items,
                                 std::vector<std::string>& touched) {
  uint32_t stored = 0;
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (statuses[i] == static_cast<uint16_t>(WireStatus::kOk)) {
      ++stored;
      ++counters_.stored;
      touched.push_back(items[i].recipient);
    } else if (statuses[i] == static_cast<uint16_t>(WireStatus::kStoredBefore)) {
      ++stored;
      ++counters_.stored_before;
    } else {
      ++counters_.refused;
    }
  }
  return stored;
}

template <class Item>
std::vector<uint16_t> RelayServer::RefusedEarly(std::string_view sender, const std::vector<Item>& items) const {
  std::vector<uint16_t> refused(items.size(), 0);
  for (size_t i = 0; i < items.size(); ++i) {
    const Status allowed = MayDeliver(sender, items[i].recipient);
    if (!allowed.ok()) refused[i] = static_cast<uint16_t>(wire::WireStatusFromCode(allowed.code()));
  }
  return refused;
}

Status RelayServer::MayDeliver(std::string_view sender, std::string_view recipient) const {
  if (!registry_.HasAddress(recipient) || recipient == kAdminUser) {
    return Status::Error(Code::kNotFound, "no registered device has that address");
  }
  if (!registry_.roster_mode()) return Status::Ok();
  const auto sender_role = registry_.RoleOf(sender);
  const auto recipient_role = registry_.RoleOf(recipient);
  if (!sender_role || !recipient_role || !roster::MayWrite(*sender_role, *recipient_role)) {
    return Status::Error(Code::kPermissionDenied,
                         std::string("a ") + std::string(roster::RoleName(sender_role.value_or(roster::Role{}))) +
                             " may not write to a " + std::string(roster::RoleName(recipient_role.value_or(roster::Role{}))) +
                             ": associations write to officers, desks and coordinators");
  }
  return Status::Ok();
}

bool RelayServer::RefusedByRoster(const Request& request, FrameType type) {
  if (!registry_.HasAddress(request.user)) {
    // Admitted at the handshake but revoked since (or removed from devices.list): refuse
    // everything on the open connection and push nothing more to it.
    sessions_.erase(request.user);
    ++counters_.refused;
    ReplyError(request, ReplyType(type),
               Status::Error(Code::kPermissionDenied, "this device is no longer admitted (revoked or expired)"));
    return true;
  }
  if (request.user == kAdminUser && type != FrameType::kPublishRoster && type != FrameType::kGetRoster &&
      type != FrameType::kPing) {
    ReplyError(request, ReplyType(type),
               Status::Error(Code::kPermissionDenied, "the coordinator's admin key may only publish and read the roster"));
    return true;
  }
  return false;
}

Status RelayServer::PublishRoster(ByteView signed_epoch) {
  LIAISON_ASSIGN_OR_RETURN(roster::VerifiedEpoch next, roster::VerifyEpoch(signed_epoch, *coordinator_key_));
  LIAISON_RETURN_IF_ERROR(roster::CheckSuccessor(roster_ ? &*roster_ : nullptr, next));
  LIAISON_ASSIGN_OR_RETURN(store::WriteBatch batch, store_->BeginWrite());
  LIAISON_RETURN_IF_ERROR(batch.AppendRosterEpoch(next.epoch.number, next.signed_bytes));
  LIAISON_RETURN_IF_ERROR(batch.Commit());
  roster_ = std::move(next);
  ApplyRoster();
  spdlog::info("roster epoch {} adopted: {} members, {} devices admitted", roster_->epoch.number,
               roster_->epoch.members.size(), registry_.size() - 1);
  return Status::Ok();
}

void RelayServer::ApplyRoster() {
  static const roster::Epoch kEmpty;
  next_roster_change_micros_ =
      registry_.UseRoster(roster_ ? roster_->epoch : kEmpty, clock_.NowMicros(), admin_transport_key_);
  ForgetUnadmitted();
}

void RelayServer::ForgetUnadmitted() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = registry_.HasAddress(it->first) ? std::next(it) : sessions_.erase(it);
  }
  size_t closed = 0;
  for (auto it = connection_owner_.begin(); it != connection_owner_.end();) {
    if (registry_.HasAddress(it->second)) {
      ++it;
      continue;
    }
    // The descriptor belongs to libzmq's I/O thread: shutdown() (never close()) makes it see the
    // peer gone and tear the connection down. A descriptor reused since by something else is
    // left alone unless it is a connected, non-listening socket; at worst that is another
    // peer's fresh connection, which reconnects.
    int listening = 1;
    socklen_t length = sizeof listening;
    if (getsockopt(it->first, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0 && listening == 0 &&
        ::shutdown(it->first, SHUT_RDWR) == 0) {
      ++closed;
    }
    it = connection_owner_.erase(it);
  }
  if (closed > 0) spdlog::info("closed {} connections of devices no longer admitted", closed);
}

void RelayServer::LogCounters() {
  last_logged_ = counters_;
  spdlog::info("since start: {} messages stored, {} retries recognised, {} refused, {} deliveries, {} acknowledged, "
               "{} expired unacknowledged; {} commits of {} writes, {} replies queued, {} dropped, {} provisional pushes; "
               "slowest SEND_BROADCAST since the last report: {} us from receipt to durable",
               counters_.stored, counters_.stored_before, counters_.refused, counters_.delivered,
               counters_.acknowledged, counters_.expired, counters_.commits, counters_.committed_writes,
               counters_.replies_queued, counters_.replies_dropped, counters_.provisional, slowest_broadcast_us_);
  slowest_broadcast_us_ = 0;
}

void RelayServer::Periodic() {
  const int64_t now = clock_.NowMicros();
  if (now >= next_sweep_micros_) {
    next_sweep_micros_ = now + kMicrosPerSecond;
    if (coordinator_key_) {
      if (now >= next_roster_change_micros_) ApplyRoster();
    } else {
      Status reload = registry_.ReloadIfChanged();
      if (!reload.ok()) spdlog::warn("{}", reload.ToString());
      ForgetUnadmitted();
    }
    auto swept = store_->SweepExpired(kMaxSweepPerCommit);
    if (!swept.ok()) {
      spdlog::error("expiry sweep failed: {}", swept.status().ToString());
    } else if (*swept > 0) {
      counters_.expired += *swept;
      spdlog::info("purged {} expired messages nobody acknowledged", *swept);
    }
    if (const size_t set_aside = store_->dedup_records_set_aside(); set_aside > dedup_set_aside_logged_) {
      spdlog::warn("the expiry sweep found {} damaged dedup records and kept them in the store's table dedup_damaged; "
                   "retries of their messages are no longer recognised",
                   set_aside - dedup_set_aside_logged_);
      dedup_set_aside_logged_ = set_aside;
    }
  }
  if (now >= next_counters_log_micros_) {
    next_counters_log_micros_ = now + 60 * kMicrosPerSecond;
    if (!(counters_ == last_logged_)) LogCounters();
  }
  if (now >= next_reader_check_micros_) {
    next_reader_check_micros_ = now + static_cast<int64_t>(config_.reader_check_seconds) * kMicrosPerSecond;
    auto cleared = store_->env().CheckReaders();
    if (cleared.ok() && *cleared > 0) spdlog::warn("cleared {} stale LMDB reader slots", *cleared);
  }
}

}  // namespace liaison::relay
