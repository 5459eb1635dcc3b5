// The relay's own operating limits (the wire's are in wire/limits.h), each with its reason.
#ifndef LIAISON_RELAY_LIMITS_H_
#define LIAISON_RELAY_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace liaison::relay {

// Messages taken off the socket per loop turn and written in one commit (group commit). Lower:
// more fsyncs per message under load. Higher: the first request in a batch waits longer.
inline constexpr size_t kMaxRequestsPerBatch = 512;

// Deliveries pushed to one connection and not yet acknowledged. Lower: a fast recipient idles
// waiting for the next push. Higher: a slow recipient makes the relay and ZeroMQ buffer more.
inline constexpr uint32_t kPushWindow = 512;

// Bytes of envelopes in one FETCH reply or push frame, well under wire::kMaxBodyBytes so the
// per-item overhead always fits.
inline constexpr size_t kMaxDeliveryBytesPerFrame = 512 * 1024;

// Expired entries removed per sweep commit; the sweep runs once a second.
inline constexpr size_t kMaxSweepPerCommit = 4096;

// Per-peer queues in messages (ZeroMQ's high-water marks count messages, not bytes). Inbound,
// with ZMQ_MAXMSGSIZE, one peer can make the relay hold at most 64 x 1 MiB. Outbound, a reply or
// push frame carries at most kMaxDeliveryBytesPerFrame, so a peer that stops reading costs at most
// about 64 x 512 KiB = 32 MiB (plus per-item framing) before the relay stops pushing to it (it
// resumes on its next ACK or HELLO, or the next message for it) and drops its replies. Lower: a pipelining client stalls on its own window. Higher: more memory per
// misbehaving peer.
inline constexpr int kReceiveHighWaterMark = 64;
inline constexpr int kSendHighWaterMark = 64;

}  // namespace liaison::relay

#endif  // LIAISON_RELAY_LIMITS_H_
