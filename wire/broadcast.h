// How the relay hands a broadcast copy to its recipient: the copy's envelope with the shared
// body attached, in the `envelope` field of an ordinary Delivery (wire/messages.h).
//
//   broadcast_delivery = tag:u8 (=0x10) | u32be len(copy) | copy | body
//
// The tag cannot begin a sealed envelope (their first byte is the envelope version, 1 or 2), so
// a client tells the two apart by the first byte. The relay composes it from what it stored;
// the client splits it and authenticates the body with the hash its copy carries.
//
// Thread-safety: pure functions.
#ifndef LIAISON_WIRE_BROADCAST_H_
#define LIAISON_WIRE_BROADCAST_H_

#include <array>
#include <cstdint>

#include "base/bytes.h"
#include "liaison/status.h"
#include "wire/limits.h"

namespace liaison::wire {

inline constexpr uint8_t kBroadcastDeliveryTag = 0x10;
inline constexpr size_t kBroadcastDeliveryHeadBytes = 1 + 4;
static_assert(kBroadcastDeliveryHeadBytes + kMaxBroadcastCopyBytes + kMaxBroadcastBodyBytes <= kMaxEnvelopeBytes,
              "a delivered broadcast copy must fit a delivery's envelope field");

// REQUIRES: copy.size() <= kMaxBroadcastCopyBytes, body.size() <= kMaxBroadcastBodyBytes.
Bytes ComposeBroadcastDelivery(ByteView copy, ByteView body);

struct BroadcastDeliveryView {
  ByteView copy;  // views into the argument of SplitBroadcastDelivery
  ByteView body;
};

// Errors: kMalformed (not tagged 0x10, lengths out of range or inconsistent, an empty part).
Result<BroadcastDeliveryView> SplitBroadcastDelivery(ByteView delivery);

// The bytes the relay signs to acknowledge a broadcast (its submission receipt):
//   "liaison/v1/submission-receipt" | broadcast_id:16 | body_hash:32 | stored_at:u64be | copies:u32be
// where body_hash = BLAKE2b-256(body) and copies counts the copies stored (200 or 208).
Bytes SubmissionReceiptMessage(const std::array<uint8_t, 16>& broadcast_id, const std::array<uint8_t, 32>& body_hash,
                               uint64_t stored_at, uint32_t copies);

}  // namespace liaison::wire

#endif  // LIAISON_WIRE_BROADCAST_H_
