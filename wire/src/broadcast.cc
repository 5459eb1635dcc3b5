#include "wire/broadcast.h"

#include <string_view>

namespace liaison::wire {

Bytes ComposeBroadcastDelivery(ByteView copy, ByteView body) {
  Bytes out;
  out.reserve(kBroadcastDeliveryHeadBytes + copy.size() + body.size());
  out.push_back(kBroadcastDeliveryTag);
  const auto n = static_cast<uint32_t>(copy.size());
  out.push_back(static_cast<uint8_t>(n >> 24));
  out.push_back(static_cast<uint8_t>(n >> 16));
  out.push_back(static_cast<uint8_t>(n >> 8));
  out.push_back(static_cast<uint8_t>(n));
  out.insert(out.end(), copy.begin(), copy.end());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<BroadcastDeliveryView> SplitBroadcastDelivery(ByteView delivery) {
  if (delivery.size() < kBroadcastDeliveryHeadBytes || delivery[0] != kBroadcastDeliveryTag) {
    return Status::Error(Code::kMalformed, "not a broadcast delivery");
  }
  const uint32_t n = static_cast<uint32_t>(delivery[1]) << 24 | static_cast<uint32_t>(delivery[2]) << 16 |
                     static_cast<uint32_t>(delivery[3]) << 8 | delivery[4];
  const size_t rest = delivery.size() - kBroadcastDeliveryHeadBytes;
  if (n == 0 || n > kMaxBroadcastCopyBytes || n >= rest || rest - n > kMaxBroadcastBodyBytes) {
    return Status::Error(Code::kMalformed, "a broadcast delivery's copy or body has an impossible length");
  }
  return BroadcastDeliveryView{delivery.subspan(kBroadcastDeliveryHeadBytes, n),
                               delivery.subspan(kBroadcastDeliveryHeadBytes + n)};
}

Bytes SubmissionReceiptMessage(const std::array<uint8_t, 16>& broadcast_id, const std::array<uint8_t, 32>& body_hash,
                               uint64_t stored_at, uint32_t copies) {
  static constexpr std::string_view kContext = "liaison/v1/submission-receipt";
  Bytes out(kContext.begin(), kContext.end());
  out.insert(out.end(), broadcast_id.begin(), broadcast_id.end());
  out.insert(out.end(), body_hash.begin(), body_hash.end());
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(stored_at >> shift));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(copies >> shift));
  return out;
}

}  // namespace liaison::wire
