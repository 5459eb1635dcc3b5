#include "client/src/broadcast_body.h"

#include <sodium.h>

#include <algorithm>
#include <string_view>

#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/sealed_envelope.h"
#include "crypto/wiped_bytes.h"
#include "wire/codec.h"
#include "wire/limits.h"

namespace liaison::client {

namespace {
constexpr size_t kOverheadBytes = 1 + crypto::kXNonceBytes + crypto::kAeadTagBytes;
constexpr size_t kLargestBucket = 32768;
static_assert(kLargestBucket <= wire::kMaxBroadcastBodyBytes);

Bytes AssociatedData(const BroadcastId& id) {
  static constexpr std::string_view kContext = "liaison/v1/broadcast-body";
  Bytes ad(kContext.begin(), kContext.end());
  ad.push_back(kBroadcastBodyVersion1);
  ad.insert(ad.end(), id.begin(), id.end());
  return ad;
}

bool IsBucket(size_t size) {
  for (size_t bucket : crypto::kEnvelopeBuckets) {
    if (bucket == size && bucket <= kLargestBucket) return true;
  }
  return false;
}
}  // namespace

Result<Bytes> SealBroadcastBody(const BroadcastContent& content, const crypto::AeadKey& key, const BroadcastId& id) {
  LIAISON_RETURN_IF_ERROR(ValidateContent(content).WithContext("an alert or report"));
  LIAISON_ASSIGN_OR_RETURN(Bytes encoded_raw, wire::Encode(content));
  crypto::WipedBytes encoded(std::move(encoded_raw));
  size_t bucket = 0;
  for (size_t b : crypto::kEnvelopeBuckets) {
    if (b <= kLargestBucket && kOverheadBytes + 4 + encoded.view().size() <= b) {
      bucket = b;
      break;
    }
  }
  if (bucket == 0) return Status::Error(Code::kInvalidArgument, "an alert or report larger than 32 KiB encrypted");
  crypto::WipedBytes padded;
  padded.bytes().reserve(bucket - kOverheadBytes);
  padded.AppendU32Be(static_cast<uint32_t>(encoded.view().size()));
  padded.Append(encoded.view());
  padded.bytes().resize(bucket - kOverheadBytes, 0);
  const auto nonce = crypto::RandomArray<crypto::kXNonceBytes>();
  LIAISON_ASSIGN_OR_RETURN(Bytes sealed, crypto::XChaChaSeal(key, nonce, padded.view(), AssociatedData(id)));
  Bytes body;
  body.reserve(bucket);
  body.push_back(kBroadcastBodyVersion1);
  body.insert(body.end(), nonce.begin(), nonce.end());
  body.insert(body.end(), sealed.begin(), sealed.end());
  return body;
}

Result<BroadcastContent> OpenBroadcastBody(ByteView body, const crypto::AeadKey& key, const BroadcastId& id) {
  if (body.empty()) return Status::Error(Code::kMalformed, "an empty broadcast body");
  if (body[0] != kBroadcastBodyVersion1) {
    return Status::Error(Code::kUnsupportedVersion, "broadcast body version " + std::to_string(body[0]));
  }
  if (!IsBucket(body.size())) return Status::Error(Code::kMalformed, "a broadcast body that is not a bucket size");
  LIAISON_ASSIGN_OR_RETURN(Bytes opened, crypto::XChaChaOpen(key, body.subspan(1, crypto::kXNonceBytes),
                                                             body.subspan(1 + crypto::kXNonceBytes), AssociatedData(id)));
  crypto::WipedBytes padded(std::move(opened));
  const ByteView p = padded.view();
  const uint32_t length = static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
                          static_cast<uint32_t>(p[2]) << 8 | p[3];
  if (length == 0 || length > p.size() - 4) return Status::Error(Code::kMalformed, "a broadcast body's length is wrong");
  if (!std::all_of(p.begin() + 4 + length, p.end(), [](uint8_t b) { return b == 0; })) {
    return Status::Error(Code::kMalformed, "a broadcast body's padding is not zero");
  }
  LIAISON_ASSIGN_OR_RETURN(BroadcastContent content, wire::Decode<BroadcastContent>(p.subspan(4, length)));
  LIAISON_RETURN_IF_ERROR(ValidateContent(content));
  return content;
}

std::array<uint8_t, 32> BroadcastBodyHash(ByteView body) { return crypto::GenericHash<32>(body); }

}  // namespace liaison::client
