// The shared body of an alert or report: its content encrypted once under a fresh key, stored
// once by the relay and delivered with every recipient's copy (internal to client/).
//
//   body      = version:u8 (=1) | nonce:24 | XChaCha20-Poly1305(key, nonce, ad, padded)
//   ad        = "liaison/v1/broadcast-body" | version | broadcast_id:16
//   padded    = u32be len(content) | content | zero bytes
//   content   = BroadcastContent in the bounded cereal encoding (client/src/tracking.h)
//
// The whole body is padded to one of 512, 1024, ..., 32768 bytes, so the relay learns a size
// bucket and nothing finer. The key travels to each recipient device in its own copy (kind 2 of
// app_message.h) together with BLAKE2b-256(body): a recipient opens only the body its
// authenticated sender committed to. The nonce is random; a key encrypts one body only.
//
// Thread-safety: pure functions.
#ifndef LIAISON_CLIENT_SRC_BROADCAST_BODY_H_
#define LIAISON_CLIENT_SRC_BROADCAST_BODY_H_

#include <array>

#include "base/bytes.h"
#include "client/src/tracking.h"
#include "crypto/aead.h"
#include "liaison/status.h"

namespace liaison::client {

inline constexpr uint8_t kBroadcastBodyVersion1 = 1;

// Encrypts `content` under `key` for broadcast `id`. kInvalidArgument if it does not validate or
// exceeds the largest bucket.
Result<Bytes> SealBroadcastBody(const BroadcastContent& content, const crypto::AeadKey& key, const BroadcastId& id);

// Opens a body. kUnsupportedVersion (another version), kMalformed (not a bucket size, damaged
// plaintext, non-zero padding, content that does not validate), kUnauthenticated (wrong key, id or
// any modified byte).
Result<BroadcastContent> OpenBroadcastBody(ByteView body, const crypto::AeadKey& key, const BroadcastId& id);

// BLAKE2b-256 of an encrypted body, as copies carry it.
std::array<uint8_t, 32> BroadcastBodyHash(ByteView body);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_BROADCAST_BODY_H_
