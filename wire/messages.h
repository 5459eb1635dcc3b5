// The bodies of liaison's frames (docs/protocol.md, "Requests"). Each is a plain struct with a
// serialize() that wraps every variable-length field in Bounded()/BoundedList() (wire/codec.h).
// Field order is the wire order. Decoding consumes a body exactly, so adding a field needs a
// new frame version (wire/frame.h).
#ifndef LIAISON_WIRE_MESSAGES_H_
#define LIAISON_WIRE_MESSAGES_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "wire/codec.h"
#include "wire/limits.h"

namespace liaison::wire {

using MessageId = std::array<uint8_t, 16>;

// Error replies (status >= 300) carry only a reason for people.
struct ErrorBody {
  std::string reason;
  template <class Archive>
  void serialize(Archive& ar) { ar(Bounded<kMaxReasonBytes>(reason)); }
};

// Requests and replies with nothing to say (HELLO, PING, PUBLISH_KEYS reply).
struct Empty {
  uint8_t reserved = 0;  // must be 0
  bool Valid() const { return reserved == 0; }
  template <class Archive>
  void serialize(Archive& ar) { ar(reserved); }
};

// SEND. The sender is the authenticated connection (ZAP User-Id), never a field here.
struct SendRequest {
  std::string recipient;      // recipient device address
  MessageId message_id{};     // chosen by the sender, random; a retry reuses it
  uint64_t expires_at = 0;    // microseconds since the epoch; 0 = relay default TTL
  Bytes envelope;             // opaque to the relay
  template <class Archive>
  void serialize(Archive& ar) {
    ar(Bounded<kMaxAddressBytes>(recipient), message_id, expires_at, Bounded<kMaxEnvelopeBytes>(envelope));
  }
};

// SEND_MANY: several SENDs in one request, as a client flushing its outbox sends them. Each item
// is checked, deduplicated and stored exactly as the same SEND alone would be, and fails alone;
// the items stored commit in one durable commit, before the reply.
struct SendManyRequest {
  std::vector<SendRequest> items;  // 1..kMaxSendManyItems
  template <class Archive>
  void serialize(Archive& ar) { ar(BoundedList<kMaxSendManyItems, kMinSendRequestBytes>(items)); }
};

// SEND_MANY reply (status 200 even when some items were refused): one wire status per item, in
// request order, as the same SEND alone would have been answered: 200 stored, 208 stored before,
// 301 mailbox full (retry), 403 the role policy forbids it, 404 no such device, 410 expired,
// 413 too large for the mailbox's quota.
struct SendManyReply {
  std::vector<uint16_t> statuses;
  template <class Archive>
  void serialize(Archive& ar) { ar(BoundedList<kMaxSendManyItems, sizeof(uint16_t)>(statuses)); }
};

// FETCH: up to `max` deliveries with a sequence number greater than `after_seq`.
struct FetchRequest {
  uint64_t after_seq = 0;
  uint32_t max = kMaxFetchBatch;
  template <class Archive>
  void serialize(Archive& ar) { ar(after_seq, max); }
};

// The seq of a provisional delivery: the relay pushed the message to its online recipient as it
// arrived, before it is durably stored. Not to be acknowledged: the same message (same
// message_id) follows with its real seq once stored, and that one is acknowledged. If the relay
// fails before storing it, the sender is not told it was stored and sends it again.
inline constexpr uint64_t kProvisionalSeq = 0;

struct Delivery {
  uint64_t seq = 0;           // the relay's sequence number (>= 1); what the recipient acknowledges; or kProvisionalSeq
  MessageId message_id{};
  uint64_t stored_at = 0;     // microseconds since the epoch
  uint64_t expires_at = 0;
  Bytes envelope;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(seq, message_id, stored_at, expires_at, Bounded<kMaxEnvelopeBytes>(envelope));
  }
};
// Smallest encoding of a Delivery: 8 + 16 + 8 + 8 + 8 (length tag) bytes.
inline constexpr size_t kMinDeliveryBytes = 48;

// FETCH reply and DELIVER push.
struct Deliveries {
  std::vector<Delivery> items;
  uint8_t more = 0;           // 1 if the mailbox holds more after the last item, else 0
  bool Valid() const { return more <= 1; }
  template <class Archive>
  void serialize(Archive& ar) { ar(BoundedList<kMaxFetchBatch, kMinDeliveryBytes>(items), more); }
};

struct AckRequest {
  std::vector<uint64_t> seqs;
  template <class Archive>
  void serialize(Archive& ar) { ar(BoundedList<kMaxAckBatch, sizeof(uint64_t)>(seqs)); }
};

struct AckReply {
  uint32_t removed = 0;       // how many of the sequence numbers were still pending
  template <class Archive>
  void serialize(Archive& ar) { ar(removed); }
};

// A device's public keys, opaque to the relay (the client's own versioned encoding).
struct PublishKeysRequest {
  Bytes bundle;
  template <class Archive>
  void serialize(Archive& ar) { ar(Bounded<kMaxKeyBundleBytes>(bundle)); }
};

struct GetKeysRequest {
  std::string address;
  template <class Archive>
  void serialize(Archive& ar) { ar(Bounded<kMaxAddressBytes>(address)); }
};

struct GetKeysReply {
  std::string address;
  Bytes bundle;
  template <class Archive>
  void serialize(Archive& ar) { ar(Bounded<kMaxAddressBytes>(address), Bounded<kMaxKeyBundleBytes>(bundle)); }
};

// PUBLISH_PREKEYS. The device is the authenticated connection. An empty signed_prekey keeps the
// one stored; one_time_prekeys are added to those held (the relay refuses the request with 413
// if that would exceed kMaxOneTimePrekeysHeld). An empty request only asks for the count.
struct OneTimePrekeyRecord {
  Bytes record;
  template <class Archive>
  void serialize(Archive& ar) { ar(Bounded<kMaxOneTimePrekeyBytes>(record)); }
};

struct PublishPrekeysRequest {
  Bytes signed_prekey;
  std::vector<OneTimePrekeyRecord> one_time_prekeys;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(Bounded<kMaxSignedPrekeyBytes>(signed_prekey),
       BoundedList<kMaxOneTimePrekeysPerRequest, 8>(one_time_prekeys));
  }
};

// PUBLISH_PREKEYS reply: how many one-time prekeys the relay now holds for the device.
struct PrekeyCount {
  uint32_t one_time_prekeys = 0;
  template <class Archive>
  void serialize(Archive& ar) { ar(one_time_prekeys); }
};

// CLAIM_PREKEYS: what an initiator needs to start a session with `address`.
struct ClaimPrekeysRequest {
  std::string address;
  template <class Archive>
  void serialize(Archive& ar) { ar(Bounded<kMaxAddressBytes>(address)); }
};

// CLAIM_PREKEYS reply. The one-time prekey was deleted from the relay in the same durable commit
// that preceded this reply; it is empty when none was left.
struct ClaimPrekeysReply {
  std::string address;
  Bytes identity_bundle;  // as published with PUBLISH_KEYS
  Bytes signed_prekey;
  Bytes one_time_prekey;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(Bounded<kMaxAddressBytes>(address), Bounded<kMaxKeyBundleBytes>(identity_bundle),
       Bounded<kMaxSignedPrekeyBytes>(signed_prekey), Bounded<kMaxOneTimePrekeyBytes>(one_time_prekey));
  }
};

// LIST_DEVICES: the registered devices of member `member` (addresses "member/...").
struct ListDevicesRequest {
  std::string member;
  template <class Archive>
  void serialize(Archive& ar) { ar(Bounded<kMaxAddressBytes>(member)); }
};

struct DeviceAddress {
  std::string address;
  template <class Archive>
  void serialize(Archive& ar) { ar(Bounded<kMaxAddressBytes>(address)); }
};

struct ListDevicesReply {
  std::vector<DeviceAddress> addresses;  // sorted
  template <class Archive>
  void serialize(Archive& ar) { ar(BoundedList<kMaxDevicesPerMember, 9>(addresses)); }
};

// PUBLISH_ROSTER: a signed roster epoch (roster/roster.h), opaque here. The relay stores it only
// if it verifies under the configured coordinator key and directly follows the newest one held
// (else 401 or 409); the reply is a RosterNumber naming the newest epoch now held.
struct PublishRosterRequest {
  Bytes signed_epoch;
  template <class Archive>
  void serialize(Archive& ar) { ar(Bounded<kMaxSignedRosterEpochBytes>(signed_epoch)); }
};

struct RosterNumber {
  uint64_t newest = 0;  // 0: no epoch held
  template <class Archive>
  void serialize(Archive& ar) { ar(newest); }
};

// GET_ROSTER: epoch `number`, or the newest for 0.
struct GetRosterRequest {
  uint64_t number = 0;
  template <class Archive>
  void serialize(Archive& ar) { ar(number); }
};

struct GetRosterReply {
  uint64_t newest = 0;   // the newest epoch the relay holds (0: none)
  Bytes signed_epoch;    // the epoch asked for; empty when none is held
  template <class Archive>
  void serialize(Archive& ar) { ar(newest, Bounded<kMaxSignedRosterEpochBytes>(signed_epoch)); }
};

// SEND_BROADCAST: an alert or report. `body` is stored once; each copy is stored in its
// recipient's mailbox like a SEND (deduplicated by its own message id) and delivered with the
// body attached (wire/broadcast.h). All copies and the body are written in one durable commit.
struct BroadcastCopy {
  std::string recipient;      // recipient device address
  MessageId message_id{};     // random per copy; a retry reuses it
  Bytes envelope;             // opaque: carries the body's key to that device
  template <class Archive>
  void serialize(Archive& ar) {
    ar(Bounded<kMaxAddressBytes>(recipient), message_id, Bounded<kMaxBroadcastCopyBytes>(envelope));
  }
};

struct SendBroadcastRequest {
  MessageId broadcast_id{};   // the alert's or report's id, named in the relay's receipt
  uint64_t expires_at = 0;    // as SendRequest::expires_at, for the body and every copy
  Bytes body;                 // opaque to the relay, 1..kMaxBroadcastBodyBytes
  std::vector<BroadcastCopy> copies;  // 1..kMaxBroadcastCopies
  template <class Archive>
  void serialize(Archive& ar) {
    ar(broadcast_id, expires_at, Bounded<kMaxBroadcastBodyBytes>(body),
       BoundedList<kMaxBroadcastCopies, kMinBroadcastCopyBytes>(copies));
  }
};

// SEND_BROADCAST reply (status 200 even when some copies were refused). `statuses` has one wire
// status per copy, in request order: 200 stored, 208 stored before, 301 mailbox full (retry),
// 403 the role policy forbids it, 404 no such device, 410 expired. The relay signs a submission
// receipt over "liaison/v1/submission-receipt" | broadcast_id | BLAKE2b-256(body) |
// stored_at:u64be | copies:u32be, where copies counts the 200s and 208s.
struct SendBroadcastReply {
  std::vector<uint16_t> statuses;
  uint64_t stored_at = 0;     // the relay's clock, microseconds since the epoch
  std::array<uint8_t, 32> relay_signing_key{};
  std::array<uint8_t, 64> signature{};
  template <class Archive>
  void serialize(Archive& ar) {
    ar(BoundedList<kMaxBroadcastCopies, sizeof(uint16_t)>(statuses), stored_at, relay_signing_key, signature);
  }
};

}  // namespace liaison::wire

#endif  // LIAISON_WIRE_MESSAGES_H_
