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

// Per-peer receive queue in messages (ZMQ_RCVHWM counts messages, not bytes): with
// ZMQ_MAXMSGSIZE this caps what one peer can make the relay hold to about 64 MiB.
inline constexpr int kReceiveHighWaterMark = 64;
inline constexpr int kSendHighWaterMark = 4096;

}  // namespace liaison::relay

#endif  // LIAISON_RELAY_LIMITS_H_
