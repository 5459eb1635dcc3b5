// The relay's own operating limits (the wire's are in wire/limits.h), each with its reason.
#ifndef LIAISON_RELAY_LIMITS_H_
#define LIAISON_RELAY_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace liaison::relay {

// Writes in one group commit: what arrived while the previous commit ran, up to this many
// requests (a SEND_MANY or SEND_BROADCAST counts as many as it has items) or bytes (whichever
// comes first; then the relay stops reading until the commit returns). Lower: more fsyncs per
// message under load. Higher: more memory held per commit (two jobs exist at a time: one
// committing, one filling) and longer commits.
inline constexpr size_t kMaxRequestsPerBatch = 1024;
inline constexpr size_t kMaxBatchBytes = 32u << 20;

// Replies held for one connection whose send queue is full (a pipelining client reading more
// slowly than the relay answers). Beyond this the relay drops replies to that connection: a
// client that does not read its replies cannot make the relay hold more. 8 MiB holds 16 full
// FETCH pages (kMaxDeliveryBytesPerFrame) or about 300,000 of the 26-byte replies to SEND and ACK.
inline constexpr size_t kMaxQueuedReplyBytes = 8u << 20;

// Deliveries pushed to one connection and not yet acknowledged. Lower: a fast recipient idles
// waiting for the next push. Higher: a slow recipient makes the relay and ZeroMQ buffer more.
inline constexpr uint32_t kPushWindow = 512;

// Bytes of envelopes in one FETCH reply or push frame, well under wire::kMaxBodyBytes so the
// per-item overhead always fits.
inline constexpr size_t kMaxDeliveryBytesPerFrame = 512 * 1024;

// Expired entries removed per sweep commit; the sweep runs once a second, and looks at
// max(4,096, dedup records / 3,600) records each time (MailboxStoreOptions): a backlog of expired
// entries leaves at this many a second.
inline constexpr size_t kMaxSweepPerCommit = 4096;

// Per-peer queues in messages (ZeroMQ's high-water marks count messages, not bytes). Inbound,
// with ZMQ_MAXMSGSIZE, one peer can make the relay hold at most 64 x 1 MiB. Outbound, a reply or
// push frame carries at most kMaxDeliveryBytesPerFrame, so a peer that stops reading costs at most
// about 64 x 512 KiB = 32 MiB (plus per-item framing) before the relay stops pushing to it (it
// resumes on its next ACK or HELLO, or the next message for it); replies beyond the queue wait in
// the relay's own bounded queue (kMaxQueuedReplyBytes). Lower: more replies take the slower
// queued path. Higher: more memory per misbehaving peer.
inline constexpr int kReceiveHighWaterMark = 64;
inline constexpr int kSendHighWaterMark = 64;

}  // namespace liaison::relay

#endif  // LIAISON_RELAY_LIMITS_H_
