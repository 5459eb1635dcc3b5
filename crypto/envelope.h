// The one-shot end-to-end envelope, version 1: one message from a sender device to a recipient
// device, encrypted to the recipient's long-term X25519 key with a fresh ephemeral key, and
// signed inside the encryption by the sender's long-term Ed25519 key. The relay only ever sees
// the version byte, the ephemeral public key, the nonce and ciphertext.
//
// Version 1 will be replaced by Double Ratchet sessions (version 2); the leading version byte is
// how a reader tells them apart, and a reader rejects versions it does not know with
// kUnsupportedVersion rather than kMalformed.
//
// Format v1 (all lengths in bytes; "|" is concatenation; u8 and u32be are unsigned integers,
// the latter big-endian):
//
//   envelope  = version:u8 (=1) | ephemeral_pk:32 | nonce:24 | aead_ciphertext
//   key       = HKDF-SHA256(ikm = X25519(ephemeral_sk, recipient_dh_pk),
//                           salt = ephemeral_pk || recipient_dh_pk, info = "liaison/v1/envelope/key", L = 32)
//   ad        = version | ephemeral_pk | message_id:16 | u8 len(recipient_address) | recipient_address
//   inner     = u8 len(sender_address) | sender_address | u32be len(plaintext) | plaintext | signature:64
//   signature = Ed25519(sender_sk, "liaison/v1/envelope/sig" | version | ephemeral_pk | recipient_dh_pk
//                       | message_id | u8 len(sender) | sender | u8 len(recipient) | recipient | plaintext)
//
//   aead_ciphertext = XChaCha20-Poly1305-IETF(key, nonce, ad, inner) = encrypted inner | tag:16
//
// - nonce is 24 random bytes (randombytes); ephemeral_sk is fresh for every envelope.
// - The info and signature-context strings are ASCII, without a terminating NUL.
// - message_id and recipient_address are not sent: the reader supplies the values it expects
//   (from the relay's delivery record), and the AEAD fails if they differ.
// - sender_address and recipient_address are 1..64 bytes (kMaxAddressBytes); plaintext is
//   0..65536 bytes (kMaxPlaintextBytes). inner must be consumed exactly.
// - Sizes: envelope = 57 + 16 + 1 + len(sender) + 4 + len(plaintext) + 64, so between 143 and
//   65742 bytes (kMinEnvelopeV1Bytes, kMaxEnvelopeV1Bytes).
//
// Primitives: X25519, HKDF-SHA256, XChaCha20-Poly1305 (IETF), Ed25519, exactly as in
// crypto/x25519.h, crypto/hkdf.h, crypto/aead.h and crypto/sign.h. Changing any of them, or
// any byte of the grammar above, needs a new version byte.
//
// Thread-safety: SealEnvelope and OpenEnvelope are reentrant and may run concurrently on any
// threads; OpenEnvelope calls `lookup_sender` on the calling thread.
#ifndef LIAISON_CRYPTO_ENVELOPE_H_
#define LIAISON_CRYPTO_ENVELOPE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "crypto/keys.h"
#include "crypto/secret.h"
#include "liaison/status.h"

namespace liaison::crypto {

inline constexpr uint8_t kEnvelopeVersion1 = 1;
inline constexpr size_t kMaxAddressBytes = 64;          // "member/device" addresses
inline constexpr size_t kMaxPlaintextBytes = 64 * 1024;

// Fixed overhead of a v1 envelope: version, ephemeral key, nonce, AEAD tag, sender length byte,
// plaintext length and signature. Total size = kEnvelopeV1OverheadBytes + len(sender) + len(pt).
inline constexpr size_t kEnvelopeV1OverheadBytes = 1 + 32 + 24 + 16 + 1 + 4 + 64;
inline constexpr size_t kMinEnvelopeV1Bytes = kEnvelopeV1OverheadBytes + 1;
inline constexpr size_t kMaxEnvelopeV1Bytes =
    kEnvelopeV1OverheadBytes + kMaxAddressBytes + kMaxPlaintextBytes;

// Identifies one message end to end; chosen by the sender (e.g. RandomArray<16>()).
using MessageId = std::array<uint8_t, 16>;

// Everything SealEnvelope needs. Views and the pointer are borrowed for the duration of the call
// only.
struct SealInput {
  std::string_view sender_address;                    // 1..kMaxAddressBytes
  const SecretBytes<kSignSecretKeyBytes>* sender_signing_secret;  // REQUIRES non-null
  std::string_view recipient_address;                 // 1..kMaxAddressBytes
  DhPublicKey recipient_dh_public;
  MessageId message_id;
  ByteView plaintext;                                 // <= kMaxPlaintextBytes
};

// Seals `input` into a v1 envelope owned by the caller (format above). Uses a fresh ephemeral
// key and a random nonce, so sealing the same input twice gives different envelopes.
// kInvalidArgument for out-of-range inputs (address lengths, plaintext size, null signing key),
// kUnauthenticated if the recipient key is low-order. The DH output, derived key and the
// internal copies of the plaintext are wiped before returning, on every path.
Result<Bytes> SealEnvelope(const SealInput& input);

// What a successfully opened envelope says. message_id is the expected id it was checked against.
struct OpenedEnvelope {
  std::string sender_address;
  MessageId message_id;
  Bytes plaintext;
};

// Looks up the signing key of a claimed sender; called at most once per OpenEnvelope.
// Returning an error (e.g. kNotFound for an unknown sender) makes OpenEnvelope fail.
using SenderKeyLookup = std::function<Result<SignPublicKey>(std::string_view sender_address)>;

// Opens a v1 envelope addressed to `recipient_address` with key pair `recipient`, expecting
// message id `expected_message_id`, and checks the sender's signature with the key that
// `lookup_sender` returns for the sender address found inside. The lookup runs only after the
// AEAD has authenticated the inner bytes. The result is owned by the caller; the DH output, the
// derived key and the decrypted inner buffer are wiped on every path.
// Errors: kUnsupportedVersion (first byte not 1), kMalformed (too short / inner grammar broken /
// lengths over limits), kUnauthenticated (AEAD failure, bad signature, message id or recipient
// mismatch, low-order ephemeral key); the lookup's own error is returned as kUnauthenticated
// with its message as context. kInvalidArgument if recipient_address is not 1..kMaxAddressBytes
// or lookup_sender is empty.
Result<OpenedEnvelope> OpenEnvelope(ByteView envelope, std::string_view recipient_address,
                                    const DhKeyPair& recipient, const MessageId& expected_message_id,
                                    const SenderKeyLookup& lookup_sender);

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_ENVELOPE_H_
