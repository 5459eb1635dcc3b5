// The sealed envelope, version 2: how one Double Ratchet message (crypto/ratchet.h) travels from
// a sender device to a recipient device so that the relay learns neither the sender nor the
// exact size. The outer layer is sealed to the recipient device's X25519 identity key with a
// fresh ephemeral key (in the manner of crypto_box_seal); inside it travel the sender's address,
// the hash of the sender's roster view, the X3DH initial message header when the ratchet message
// starts a session, and the ratchet message. The whole envelope is padded to a size bucket.
//
// The outer layer does not authenticate the sender: anybody can seal to a public key. The
// recipient authenticates the sender from the inner layer, by decrypting the ratchet message
// with its session with the claimed sender device (whose keys the roster certifies), or, for an
// initial message, by checking that the X3DH header's identity key is the claimed sender's.
//
// Format v2 (u8, u32be as in crypto/envelope.h):
//   envelope  = version:u8 (=2) | ephemeral_pk:32 | aead_ciphertext           (size: a bucket)
//   key|nonce = HKDF-SHA256(ikm = X25519(ephemeral_sk, recipient_identity_dh_pk),
//                           salt = ephemeral_pk | recipient_identity_dh_pk,
//                           info = "liaison/v2/envelope/seal", L = 56)  -> key 32 | nonce 24
//   ad        = version | ephemeral_pk | message_id:16 | u8 len(recipient) | recipient
//   aead_ciphertext = XChaCha20-Poly1305-IETF(key, nonce, ad, sealed) = encrypted sealed | tag:16
//   sealed    = content_version:u8 (=1) | flags:u8 (bit 0: initial message)
//               | u8 len(sender) | sender | roster_hash:32
//               | initial_message_header_v1:74   (crypto/x3dh.h; only with flag bit 0)
//               | u32be len(ratchet_message) | ratchet_message | padding: zero bytes
// The nonce is derived: the key is fresh for every envelope, so the (key, nonce) pair is never
// reused. message_id and recipient are not sent in the envelope: the reader supplies the values
// of the relay's delivery record and the AEAD fails if they differ. Padding bytes must be zero,
// so that each content has exactly one encoding.
//
// Buckets (total envelope sizes): 512, 1024, 2048, 4096, 8192, 16384, 32768 and 66560 bytes
// (kEnvelopeBuckets); an envelope takes the smallest bucket it fits. The relay thus learns one
// of eight sizes: short texts and receipts look alike, and a report's length is known to within
// a factor of two.
//
// Thread-safety: all functions are reentrant.
#ifndef LIAISON_CRYPTO_SEALED_ENVELOPE_H_
#define LIAISON_CRYPTO_SEALED_ENVELOPE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "crypto/ratchet.h"
#include "crypto/x3dh.h"
#include "liaison/status.h"

namespace liaison::crypto {

inline constexpr uint8_t kEnvelopeVersion2 = 2;
inline constexpr uint8_t kSealedContentVersion1 = 1;
inline constexpr std::array<size_t, 8> kEnvelopeBuckets = {512, 1024, 2048, 4096, 8192, 16384, 32768, 66560};
inline constexpr size_t kEnvelopeV2HeadBytes = 1 + kDhPublicKeyBytes;
// Largest sealed content: the fixed fields, the longest sender, an initial header and the
// longest ratchet message. Must fit the top bucket.
inline constexpr size_t kMaxSealedContentBytes =
    1 + 1 + 1 + kMaxAddressBytes + 32 + kInitialMessageHeaderV1Bytes + 4 + kMaxRatchetMessageBytes;
static_assert(kEnvelopeV2HeadBytes + kMaxSealedContentBytes + 16 <= kEnvelopeBuckets.back());

using RosterHash = std::array<uint8_t, 32>;

// What travels inside the sealed layer. A plain value; ratchet_message is ciphertext already.
struct SealedContent {
  std::string sender_address;                  // "member/device", 1..kMaxAddressBytes
  RosterHash roster_hash{};                    // hash of the sender's newest roster epoch
  std::optional<InitialMessageHeader> initial; // present while the session is being set up
  Bytes ratchet_message;                       // 1..kMaxRatchetMessageBytes
  bool operator==(const SealedContent&) const = default;
};

// The bucket an envelope of `unpadded_bytes` is padded to; kTooLarge above the top bucket.
Result<size_t> EnvelopeBucket(size_t unpadded_bytes);

// Seals `content` for the device `recipient_address` whose X25519 identity key is
// `recipient_identity`, under `message_id`, padded to its bucket. Returns the envelope, owned by
// the caller. Errors: kInvalidArgument (an address or ratchet message of the wrong size, an
// initial header of another version), kUnauthenticated (low-order recipient key). Intermediate
// key material and the padded content are wiped on every path.
Result<Bytes> SealEnvelopeV2(const SealedContent& content, std::string_view recipient_address,
                             const DhPublicKey& recipient_identity, const MessageId& message_id);

// Opens a v2 envelope addressed to `recipient_address` with the device's identity key pair,
// expecting `message_id`. Does not authenticate the sender (see the top of this file).
// Errors: kUnsupportedVersion (first byte is not 2, or a content version other than 1),
// kMalformed (not a bucket size, grammar broken, non-zero padding, lengths out of range),
// kUnauthenticated (AEAD failure: wrong key, recipient, message id or any modified byte; a
// low-order ephemeral key), kInvalidArgument (recipient_address not 1..kMaxAddressBytes).
Result<SealedContent> OpenEnvelopeV2(ByteView envelope, std::string_view recipient_address,
                                     const DhKeyPair& recipient_identity, const MessageId& message_id);

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_SEALED_ENVELOPE_H_
