// Every size and count limit of the wire protocol and the relay, in one place, each with the
// reason for its value. Decoders check against these *before* allocating anything.
#ifndef LIAISON_WIRE_LIMITS_H_
#define LIAISON_WIRE_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace liaison::wire {

// Addresses name one device of one member: "member/device". Lower: real organisation ids stop
// fitting. Higher: every index key and ZAP reply grows for no gain.
inline constexpr size_t kMaxAddressBytes = 64;

// An envelope carries at most 64 KiB of plaintext plus its header, signature and AEAD tag (see
// crypto/envelope.h). Lower: reports with a photo excerpt or a long letter no longer fit.
// Higher: one message could pin a large share of the relay's memory per connection.
inline constexpr size_t kMaxEnvelopeBytes = 64 * 1024 + 1024;

// A request or reply body. A FETCH reply carries up to kMaxFetchBatch deliveries but is cut by
// the relay to stay under this. Lower: a full-size envelope would not fit in a reply. Higher:
// each connected peer may make the relay hold this much per queued frame.
inline constexpr size_t kMaxBodyBytes = 1024 * 1024;

// Frame header is 18 bytes (wire/frame.h). ZMQ_MAXMSGSIZE is set to this so that the transport
// drops an oversized frame before liaison's code ever sees it.
inline constexpr size_t kFrameHeaderBytes = 18;
inline constexpr size_t kMaxFrameBytes = kFrameHeaderBytes + kMaxBodyBytes;

// Deliveries per FETCH reply or push. Lower: draining a long offline backlog costs more round
// trips. Higher: a reply grows toward kMaxBodyBytes with small messages and delays acks.
inline constexpr uint32_t kMaxFetchBatch = 256;

// Sequence numbers per ACK request. Matches kMaxFetchBatch times four so a client can ack several
// batches at once; higher only lengthens one write transaction.
inline constexpr size_t kMaxAckBatch = 1024;

// SENDs per SEND_MANY request (a client flushing its outbox). The frame's kMaxBodyBytes bounds
// their total size as well: 256 envelopes of 1 KiB fill a quarter of it. Higher only lengthens
// one request's share of a commit.
inline constexpr size_t kMaxSendManyItems = 256;
// The smallest encoding of one SendRequest: address length 8, id 16, expiry 8, envelope length 8.
inline constexpr size_t kMinSendRequestBytes = 8 + 16 + 8 + 8;

// Reasons in error replies are for people; 256 bytes say what went wrong without echoing input.
inline constexpr size_t kMaxReasonBytes = 256;

// Key bundles and other small opaque blobs published to the relay.
inline constexpr size_t kMaxKeyBundleBytes = 4096;

// A signed prekey record (id, public key, signature: 100 bytes in version 1) and one one-time
// prekey record (id, public key: 36 bytes), opaque to the relay. The bounds leave room for a
// post-quantum version's larger keys without letting a record grow into a bulk store.
inline constexpr size_t kMaxSignedPrekeyBytes = 2048;
inline constexpr size_t kMaxOneTimePrekeyBytes = 2048;

// One-time prekeys per PUBLISH_PREKEYS request, and held per device. A device publishes 100 at
// a time and tops up when fewer than 20 remain; a limit of 200 held keeps one device's share of
// the relay small while allowing one refill on top of what is left.
inline constexpr size_t kMaxOneTimePrekeysPerRequest = 100;
inline constexpr size_t kMaxOneTimePrekeysHeld = 200;

// Devices of one member that LIST_DEVICES returns. Members have a phone and a desktop, a desk a
// few officers' devices; 64 is far above both and bounds the reply.
inline constexpr size_t kMaxDevicesPerMember = 64;

// The roster (roster/roster.h). Each epoch is a full list of members, so its size bounds the
// community: 2,000 members with a few devices each fit in 768 KiB, below kMaxBodyBytes so that
// one epoch travels in one reply. Dresden's security dialogue has a few dozen members, Saxony's
// ASSKomm network 125 municipalities; a Land-wide roster beyond 2,000 needs delta epochs.
inline constexpr size_t kMaxRosterEpochBytes = 768 * 1024;
inline constexpr size_t kMaxRosterMembers = 2000;
// A signed epoch: the body plus its framing and the 64-byte signature.
inline constexpr size_t kMaxSignedRosterEpochBytes = kMaxRosterEpochBytes + 128;
// A member id and a device id, joined as "member/device", stay within kMaxAddressBytes.
inline constexpr size_t kMaxMemberIdBytes = 48;
inline constexpr size_t kMaxDeviceIdBytes = 15;
// Names and organisations as people write them ("Islamisches Zentrum Dresden e.V."), with room.
inline constexpr size_t kMaxDisplayNameBytes = 128;
inline constexpr size_t kMaxOrganisationBytes = 128;
// Area tags ("city:dresden", "district:meissen"): a member belongs to a few.
inline constexpr size_t kMaxAreasPerMember = 16;
inline constexpr size_t kMaxAreaBytes = 64;

// Broadcasts (alerts and reports, SEND_BROADCAST). The body is encrypted once and stored once;
// each recipient device gets a small copy carrying the body's key through its session.
// A body holds a title of 200 bytes and 16 KiB of text, padded to a bucket: 32 KiB bounds it
// with room for the padding, and keeps a delivered copy with its body under kMaxEnvelopeBytes.
inline constexpr size_t kMaxBroadcastBodyBytes = 32 * 1024 + 64;
// A copy is a sealed envelope in the smallest buckets (512 bytes, 1024 with an X3DH header and
// a long sender address). Higher would let copies carry bulk content the body should carry.
inline constexpr size_t kMaxBroadcastCopyBytes = 1024;
// Copies per request: 1,024 copies of 512 bytes plus their addresses and ids fit a body of
// kMaxBodyBytes next to the largest broadcast body; a client splits larger selections (and
// copies of 1024 bytes) over several requests, each of which stores the body once.
inline constexpr size_t kMaxBroadcastCopies = 1024;
// The smallest encoding of one copy: address length 8, 1 byte of address, id 16, envelope length 8.
inline constexpr size_t kMinBroadcastCopyBytes = 8 + 1 + 16 + 8;

}  // namespace liaison::wire

#endif  // LIAISON_WIRE_LIMITS_H_
