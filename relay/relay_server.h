// liaison-relay's server: a ZeroMQ ROUTER with CURVE, admitted by the ZAP handler, storing
// envelopes in the MailboxStore and pushing them to subscribed recipients (docs/protocol.md).
//
// One thread runs the loop: it takes every request that has arrived (up to
// kMaxRequestsPerBatch), applies all writes in one durable LMDB commit, and only after that
// commit returned sends the replies, answers reads, and pushes new deliveries. A request is never
// answered "stored" before its bytes are on disk.
//
// Thread-safety: Run() on one thread; RequestStop() from any thread or a signal handler.
#ifndef LIAISON_RELAY_RELAY_SERVER_H_
#define LIAISON_RELAY_RELAY_SERVER_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "base/clock.h"
#include "crypto/keys.h"
#include "relay/config.h"
#include "relay/device_registry.h"
#include "relay/zap_handler.h"
#include "roster/roster.h"
#include "store/mailbox_store.h"
#include "wire/frame.h"

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

  // Serves until `stop` becomes true (checked at least every 200 ms).
  Status Run(const std::atomic<bool>& stop);

 private:
  struct Session;
  struct Request;
  struct Pending;
  RelayServer(const RelayConfig& config, Clock& clock);
  Status Setup();
  void HandleBatch(std::vector<Request>& batch);
  void ApplyWrites(std::vector<Pending*>& writes);
  void PushPending(const std::string& address);
  enum class SendOutcome { kSent, kQueueFull, kGone };
  SendOutcome SendTo(const Bytes& routing_id, const Bytes& frame);
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

  RelayConfig config_;
  Clock& clock_;
  zmq::context_t context_;
  DeviceRegistry registry_;
  std::unique_ptr<ZapHandler> zap_;
  std::unique_ptr<store::MailboxStore> store_;
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
    bool operator==(const Counters&) const = default;
  };
  void LogCounters();
  Counters counters_;
  Counters last_logged_;
  int64_t next_counters_log_micros_ = 0;
  int64_t next_sweep_micros_ = 0;
  int64_t next_reader_check_micros_ = 0;
};

}  // namespace liaison::relay

#endif  // LIAISON_RELAY_RELAY_SERVER_H_
