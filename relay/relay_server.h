// liaison-relay's server: a ZeroMQ ROUTER with CURVE, admitted by the ZAP handler, storing
// envelopes in the MailboxStore and pushing them to subscribed recipients (docs/protocol.md).
//
// Two threads. The network thread receives and decodes requests, answers reads and pushes
// deliveries; the writes it collects form a job that the commit thread (relay/commit_thread.h)
// applies in one durable LMDB commit. While one job commits, the next one fills with whatever
// arrives, so a group commit holds everything that came in during the previous one (up to
// kMaxRequestsPerBatch requests or kMaxBatchBytes). A write is answered only after its job's
// commit returned: a request is never answered "stored" before its bytes are on disk. A
// device's reads that depend on its own writes (GET_KEYS after PUBLISH_KEYS, HELLO after ACK)
// are answered after those writes' commit; FETCH is answered at once from the last commit.
// Replies that meet a full send queue wait in a bounded per-connection queue (never dropped
// below kMaxQueuedReplyBytes). A SEND to a subscribed recipient is also pushed to it at once,
// marked provisional (wire::kProvisionalSeq): the recipient has it without waiting for the disk,
// and acknowledges the stored copy that follows the commit.
//
// Thread-safety: Run() on one thread; `stop` may be set from any thread or a signal handler.
#ifndef LIAISON_RELAY_RELAY_SERVER_H_
#define LIAISON_RELAY_RELAY_SERVER_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "base/clock.h"
#include "crypto/keys.h"
#include "relay/commit_thread.h"
#include "relay/config.h"
#include "relay/device_registry.h"
#include "relay/zap_handler.h"
#include "roster/roster.h"
#include "store/mailbox_store.h"
#include "wire/frame.h"
#include "wire/messages.h"

namespace liaison::relay {

class RelayServer {
 public:
  // Opens the store, starts the ZAP handler, and binds the ROUTER. Errors: whatever the store
  // or the key files report, kUnavailable if the endpoint cannot be bound, kInternal if the
  // socket does not read back the security options it was given. `clock` must outlive the server.
  static Result<std::unique_ptr<RelayServer>> Open(const RelayConfig& config, Clock& clock);
  ~RelayServer();

  // The endpoint actually bound (with the real port if the configuration said "*").
  const std::string& endpoint() const { return endpoint_; }

  // Serves until `stop` becomes true (checked at least every 200 ms). Whenever `log_counters`
  // (if given) is found true, it is cleared and the activity counters are logged at once (the
  // daemon sets it on SIGUSR1).
  Status Run(const std::atomic<bool>& stop, std::atomic<bool>* log_counters = nullptr);

 private:
  struct Session;
  struct Request;
  struct Pending;
  struct Job;
  struct Outbox;
  RelayServer(const RelayConfig& config, Clock& clock);
  Status Setup();
  // Whether the relay may read more requests: the next job's writes (a SEND_MANY or
  // SEND_BROADCAST counting its items) and the deferred reads of both jobs are below kMaxRequestsPerBatch and kMaxBatchBytes.
  bool HasRoom() const;
  // If the commit thread has finished its job: starts the next job and answers the finished one
  // (FinishJob; first, when reads wait on it), and returns true.
  bool OnCommitFinished();
  // Takes what has arrived, up to the room left in the next job.
  void Receive();
  // Decodes one request: answers it, defers it behind its device's writes, or adds it to the
  // next job.
  void HandleRequest(Request&& request);
  // Answers a request that writes nothing (its type is not a write). True if it subscribed the
  // device (a HELLO): the caller pushes to it.
  bool AnswerRead(const Request& request);
  // Hands the next job to the commit thread if it is idle and the job holds writes.
  void StartCommitIfIdle();
  // After a job's commit: replies to its writes, answers the reads deferred behind them, pushes.
  void FinishJob(Job& job);
  // Runs on the commit thread: every write of `writes` in one durable commit (or, if the shared
  // commit fails, each in its own). Touches only the Pending objects and the store.
  void ApplyWrites(std::vector<Pending*>& writes);
  void PushPending(const std::string& address);
  // Pushes a SEND to its recipient as it arrives, before it is stored, with seq
  // wire::kProvisionalSeq, if the recipient is subscribed and within its push window. The stored
  // copy is pushed (and acknowledged) as usual after the commit.
  void PushProvisional(const wire::SendRequest& send);
  enum class SendOutcome { kSent, kQueueFull, kGone };
  // ZeroMQ's routing id of a connection: opaque bytes, 5 of them when the ROUTER assigns it
  // (held inline by std::string, no allocation per request).
  using RoutingId = std::string;
  // Sends one frame; on kSent it has sent `frame`'s bytes (taking the buffer of a large one,
  // copying a small one).
  SendOutcome SendTo(const RoutingId& routing_id, Bytes& frame);
  // Sends a reply, or queues it behind the connection's earlier queued replies.
  void SendReply(const RoutingId& routing_id, Bytes&& frame);
  // Sends queued replies while the connections' send queues have room.
  void FlushOutboxes();
  void Reply(const Request& request, uint16_t status, uint8_t type, const Bytes& body);
  void ReplyError(const Request& request, uint8_t type, const Status& status);
  void Periodic();
  // Roster mode: verifies `signed_epoch` as the successor of the epoch held, stores it durably,
  // and admits exactly its devices from then on. Errors as roster::VerifyEpoch/CheckSuccessor,
  // or the store's.
  Status PublishRoster(ByteView signed_epoch);
  // Admits the devices of the held epoch valid now, then ForgetUnadmitted().
  void ApplyRoster();
  // Forgets the push sessions of devices no longer admitted and closes (shutdown) the TCP
  // connections their last requests came in on.
  void ForgetUnadmitted();
  // Answers a request that roster mode or the send policy refuses before it is decoded further;
  // returns true if it did.
  bool RefusedByRoster(const Request& request, wire::FrameType type);
  // OK if `sender` may have a message stored for `recipient`: a registered device (not the admin
  // tool) that the role policy lets the sender write to; else kNotFound or kPermissionDenied.
  Status MayDeliver(std::string_view sender, std::string_view recipient) const;
  // MayDeliver for each item of a SEND_BROADCAST or SEND_MANY (anything with a `recipient`): 0 for
  // an item allowed, else the wire status of its refusal. A refused item costs only itself.
  template <class Item>
  std::vector<uint16_t> RefusedEarly(std::string_view sender, const std::vector<Item>& items) const;
  // Counts a committed SEND_BROADCAST's or SEND_MANY's per-item statuses into the counters and
  // adds the recipients given a new message to `touched`; returns how many items are stored
  // (200 or 208).
  template <class Item>
  uint32_t TallyItems(const std::vector<uint16_t>& statuses, const std::vector<Item>& items,
                      std::vector<std::string>& touched);

  RelayConfig config_;
  Clock& clock_;
  zmq::context_t context_;
  DeviceRegistry registry_;
  std::unique_ptr<ZapHandler> zap_;
  std::unique_ptr<store::MailboxStore> store_;
  // Declared after store_: destroyed (joined) before it. The destructor waits for a running job
  // first, so that in_flight_ outlives it.
  std::unique_ptr<CommitThread> committer_;
  std::unique_ptr<Job> in_flight_;  // the job the commit thread has; null when idle
  std::unique_ptr<Job> next_;       // filling while in_flight_ commits
  uint64_t next_generation_ = 1;
  // Devices with writes in in_flight_ or next_: the generation of the newest job holding one.
  std::map<std::string, uint64_t, std::less<>> pending_writes_;
  std::map<RoutingId, Outbox> outboxes_;
  size_t deferred_bytes_ = 0;         // frame bytes of the reads waiting in in_flight_ and next_
  zmq::socket_t router_;
  std::string endpoint_;
  std::map<std::string, Session, std::less<>> sessions_;
  // The device (ZAP User-Id) whose request last arrived on each TCP connection, by descriptor.
  std::map<int, std::string> connection_owner_;
  std::optional<roster::PublicKey> coordinator_key_;   // set: roster mode
  std::unique_ptr<crypto::SigningKeyPair> signing_key_;  // signs submission receipts
  std::optional<TransportKey> admin_transport_key_;
  std::optional<roster::VerifiedEpoch> roster_;        // the newest epoch held (roster mode)
  int64_t next_roster_change_micros_ = INT64_MAX;      // a member's valid_until passes
  // Activity since start, logged every minute when it changed and at shutdown. Counts only:
  // the relay keeps no record of who wrote to whom.
  struct Counters {
    uint64_t stored = 0, stored_before = 0, refused = 0, delivered = 0, acknowledged = 0, expired = 0;
    uint64_t commits = 0, committed_writes = 0, replies_queued = 0, replies_dropped = 0, provisional = 0;
    bool operator==(const Counters&) const = default;
  };
  // Logs the counters since start, and the slowest SEND_BROADCAST since the last report (the
  // time from taking its request off the socket to the moment its commit returned), then starts
  // that window again.
  void LogCounters();
  Counters counters_;
  uint64_t slowest_broadcast_us_ = 0;  // since the last LogCounters()
  Counters last_logged_;
  int64_t next_counters_log_micros_ = 0;
  int64_t next_sweep_micros_ = 0;
  size_t dedup_set_aside_logged_ = 0;  // the store's dedup_records_set_aside() when last logged
  int64_t next_reader_check_micros_ = 0;
};

}  // namespace liaison::relay

#endif  // LIAISON_RELAY_RELAY_SERVER_H_
