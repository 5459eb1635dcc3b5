// The Double Ratchet, version 1: one end-to-end session between two devices, following Signal's
// "The Double Ratchet Algorithm" (Perrin, Marlinspike, revision 1, 2016-11-20), section 3 (no
// header encryption). A session starts from X3DH (crypto/x3dh.h): the initiator calls
// RatchetInitAlice(SK, responder's signed prekey public), the responder RatchetInitBob(SK,
// signed prekey pair); the initiator sends first. Both pass X3DH's AD to every encrypt/decrypt.
//
// Functions (names as in the specification; every secret is a SecretBytes or lives in memory
// from sodium_malloc):
//   KDF_RK(rk, dh_out) = HKDF-SHA256(ikm = dh_out, salt = rk, info = "liaison/v1/ratchet/rk",
//                                    L = 64) -> new rk (first 32 bytes), chain key (last 32)
//   KDF_CK(ck)         = mk_seed = HMAC-SHA256(ck, 0x01), next ck = HMAC-SHA256(ck, 0x02)
//   message key/nonce  = HKDF-SHA256(ikm = mk_seed, salt = 32 zero bytes,
//                                    info = "liaison/v1/ratchet/mk", L = 56)
//                        -> XChaCha20-Poly1305 key (first 32 bytes), nonce (last 24 bytes)
// The nonce is derived, not sent: every mk_seed is used for exactly one message, so a
// (key, nonce) pair never repeats, and the message is 24 bytes shorter than with a random nonce.
//
// Message format v1 (u32be = unsigned 32-bit big-endian):
//   message = header | aead_ciphertext
//   header  = version:u8 (=1) | dh_public:32 | pn:u32be | n:u32be             (41 bytes)
//   aead_ciphertext = XChaCha20-Poly1305-IETF(key, nonce, ad = AD | header, plaintext)
//                   = encrypted plaintext | tag:16
// This version byte is the ratchet's own; the envelope that carries a ratchet message has its
// own. Changing a primitive, a string or a byte of the grammar needs a new version (the slot
// the post-quantum hybrid will take).
//
// Receiving (RatchetDecrypt) differs from the specification's pseudocode in five deliberate ways:
// - Failed decryption never changes the state: the work is done on staged copies that are
//   committed only after the AEAD tag checks out.
// - Replays are recognised before any key is derived: a message of the current receiving chain
//   with n below the next expected number, or of one of the last kMaxPreviousReceivingChains
//   chains, whose key is not among the skipped keys, fails with kDuplicate. Like libsignal's
//   DuplicatedMessage this is decided from the (unauthenticated) header alone; it never changes
//   the state, so a forged header gains nothing from it.
// - Skipped message keys are bounded per message (kMaxSkip per chain) and in total
//   (kMaxSkippedKeys, oldest evicted), and expire kSkippedKeyMaxAgeMicros after they were stored;
//   time is the caller's `now_micros`, never a hidden clock.
// - A message whose key is no longer held fails with kDuplicate (used, evicted, or expired and
//   since dropped) or kExpired (expired but not dropped yet); either way this session can never
//   read it.
// - The sending half of a DH ratchet step (a new DHs, then RK and CKs) runs after the message
//   has authenticated, not before; the resulting state is the same, and a forged ratchet key
//   costs one X25519 instead of three.
//
// Errors are Status values; the only exception is std::bad_alloc when memory (sodium_malloc or
// the heap) runs out. If RatchetEncrypt or RatchetDecrypt throws it, the state may be partly
// updated: discard it and reload the last serialization.
//
// Thread-safety: a RatchetState is a value without internal locking. Use one from one thread at
// a time (Encrypt and Decrypt mutate it; Serialize only reads it). The free functions are
// otherwise reentrant.
#ifndef LIAISON_CRYPTO_RATCHET_H_
#define LIAISON_CRYPTO_RATCHET_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/bytes.h"
#include "crypto/aead.h"
#include "crypto/keys.h"
#include "crypto/secret.h"
#include "liaison/status.h"

namespace liaison::crypto {

// ---- ratchet_limits: every bound of the ratchet, with the reason for its value ----------------
namespace ratchet_limits {

// Most message keys one received message may make the receiver derive and store per chain: the
// gap before its number n in its own chain, and (for the first message of a new chain) the
// unreceived rest of the previous chain up to pn, are each checked against it. A message over
// the bound fails with kTooLarge and leaves the state unchanged.
// Lower: a message behind more than this many lost or delayed messages of its chain (a device
// that wrote 1,000 messages offline and whose first ones were lost) cannot be read. Higher: one
// forged header makes the receiver derive and stage up to twice this many keys (HMACs, and
// locked memory for their seeds) before the AEAD rejects it, and a genuine one can evict keys
// that older delayed messages still need.
inline constexpr uint32_t kMaxSkip = 1000;

// Most skipped message keys one session keeps; when more are stored, the oldest are evicted (their
// messages then fail with kDuplicate).
// Lower: messages delayed behind many others (a member offline for days while a desk writes to
// them) become unreadable. Higher: a stolen device yields more keys for messages still in
// flight, and the state grows (76 bytes per key when serialized, 32 bytes of locked memory).
// Two chains' worth of kMaxSkip, so that one message that skips the maximum in the old and the
// new chain does not evict its own keys.
inline constexpr size_t kMaxSkippedKeys = 2 * static_cast<size_t>(kMaxSkip);

// How long a skipped key is kept after it was stored (RatchetDecrypt's now_micros then).
// Lower: a message that the relay still holds, delayed behind later ones, becomes unreadable
// (kExpired): the message was sent before its key was stored, so keys kept for the relay's
// longest TTL (max_ttl_days, 90 by default: relay/config.h, store/mailbox_store.h) cover every
// message the relay may still deliver. Higher: a key for a message that will never arrive
// (lost, or purged at its TTL) stays available to a thief of the device for longer. An operator
// who raises the relay's maximum TTL above 90 days should know that this bound does not follow.
inline constexpr int64_t kSkippedKeyMaxAgeMicros = int64_t{90} * 24 * 60 * 60 * 1000 * 1000;

// How many earlier receiving chains' ratchet keys a session remembers so that a replayed message
// from them fails with kDuplicate. Older chains are forgotten: a replay from them is treated as a
// new ratchet key, fails the AEAD with kUnauthenticated and leaves the state unchanged, so this
// only changes which error is reported. Lower: more replays reported as kUnauthenticated (an
// integrator may log those as attacks). Higher: 32 bytes of state per remembered chain.
inline constexpr size_t kMaxPreviousReceivingChains = 32;

// Largest plaintext of one ratchet message. Pairwise messages are small (texts, receipts, the
// content key of a sealed broadcast); bulk data travels once under a content key. 64 KiB of text
// plus 256 bytes for the application message's own header (client/src/app_message.h).
// Lower: long reports no longer fit. Higher: more memory per message at every hop.
inline constexpr size_t kMaxPlaintextBytes = 64 * 1024 + 256;

}  // namespace ratchet_limits
// -----------------------------------------------------------------------------------------------

inline constexpr uint8_t kRatchetVersion1 = 1;
inline constexpr size_t kRatchetHeaderBytes = 1 + kDhPublicKeyBytes + 4 + 4;
inline constexpr size_t kRatchetMessageOverheadBytes = kRatchetHeaderBytes + kAeadTagBytes;
inline constexpr size_t kMaxRatchetMessageBytes =
    kRatchetMessageOverheadBytes + ratchet_limits::kMaxPlaintextBytes;
static_assert(kRatchetHeaderBytes == 41);

// The cleartext header in front of every ratchet message. A plain value.
struct RatchetHeader {
  uint8_t version = kRatchetVersion1;
  DhPublicKey dh_public{};  // the sender's current ratchet public key
  uint32_t pn = 0;          // number of messages in the sender's previous sending chain
  uint32_t n = 0;           // number of this message in the current sending chain
  bool operator==(const RatchetHeader&) const = default;
};

// The 41-byte v1 encoding of `header` (grammar at the top). Writes header.version as it is;
// REQUIRES header.version == kRatchetVersion1 for the result to decode. Never fails.
std::array<uint8_t, kRatchetHeaderBytes> EncodeRatchetHeader(const RatchetHeader& header);

// Parses exactly one v1 header. kMalformed if `bytes` is empty or not 41 bytes long;
// kUnsupportedVersion if the first byte is not 1. Allocates nothing.
Result<RatchetHeader> DecodeRatchetHeader(ByteView bytes);

struct RatchetStateAccess;  // crypto/src/ratchet.cc; the only code that sees the fields.

// One side of a session: DHs, DHr, RK, CKs, CKr, Ns, Nr, PN and the skipped message keys of the
// specification, plus the remembered ratchet keys of earlier receiving chains. Opaque: made by
// RatchetInitAlice, RatchetInitBob or ParseRatchetState, changed only by RatchetEncrypt and a
// successful RatchetDecrypt. Move-only; a moved-from state may only be destroyed or assigned to.
// The secrets (DHs's secret, RK, CKs, CKr, skipped keys) live in sodium_malloc'd memory and are
// wiped when the state is destroyed. The skipped keys share a few page-sized blocks rather than
// one allocation each, so that thousands of them do not cost thousands of memory mappings, and
// each state keeps one small secret workspace that its operations reuse (and wipe) instead of
// allocating their temporaries anew.
class RatchetState {
 public:
  RatchetState(RatchetState&&) noexcept;
  RatchetState& operator=(RatchetState&&) noexcept;
  RatchetState(const RatchetState&) = delete;
  RatchetState& operator=(const RatchetState&) = delete;
  ~RatchetState();

  // True once the state has a sending chain: always for the initiator, for the responder only
  // after it has decrypted a message.
  bool CanSend() const;
  // The ratchet public key that the next sent message will carry (DHs).
  const DhPublicKey& SendingRatchetPublic() const;
  // How many skipped message keys the state holds (0..kMaxSkippedKeys).
  size_t SkippedKeyCount() const;

 private:
  friend struct RatchetStateAccess;
  struct Impl;
  explicit RatchetState(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The initiator's initial state (specification: RatchetInitAlice): a fresh ratchet key pair
// (libsodium's CSPRNG), DHr = the responder's signed prekey, (RK, CKs) = KDF_RK(SK, DH(DHs, DHr)).
// `shared_secret` is X3DH's SK, borrowed; the caller wipes it afterwards (destroying it does).
// kUnauthenticated if `responder_signed_prekey` is low-order.
Result<RatchetState> RatchetInitAlice(const SecretBytes<32>& shared_secret,
                                      const DhPublicKey& responder_signed_prekey);

// The responder's initial state (specification: RatchetInitBob): DHs = its signed prekey pair
// (taken over; pass X3dhResponderOutput::signed_prekey or a Clone of the stored one), RK = SK,
// no chains yet: the responder can send once it has decrypted the initiator's first message.
// Never fails.
RatchetState RatchetInitBob(const SecretBytes<32>& shared_secret, DhKeyPair signed_prekey);

// Encrypts `plaintext` as the next message of the sending chain and advances the chain. Returns
// the message (header | aead_ciphertext, owned by the caller). `associated_data` is X3DH's AD.
// Errors, all of which leave the state unchanged: kInvalidArgument if the state cannot send yet
// (a responder before its first decryption) or the plaintext is over kMaxPlaintextBytes;
// kTooLarge if the sending chain has reached 2^32 - 1 messages (start a new session).
Result<Bytes> RatchetEncrypt(RatchetState& state, ByteView plaintext, ByteView associated_data);

// Decrypts one message, performing a DH ratchet step if it carries a new ratchet key, storing the
// keys of messages it skips over (stamped with `now_micros`) and dropping skipped keys older than
// kSkippedKeyMaxAgeMicros. Returns the plaintext, owned by the caller.
// On any error the state is left exactly as it was (its serialization is byte-identical):
//   kMalformed          shorter than a header plus tag, or not a v1 header
//   kUnsupportedVersion first byte is not 1
//   kTooLarge           longer than kMaxRatchetMessageBytes, or it would need more than kMaxSkip
//                       skipped keys in a chain, or n = 2^32 - 1
//   kDuplicate          its key was used already or is no longer held (see the top of the file)
//   kExpired            its skipped key is older than kSkippedKeyMaxAgeMicros
//   kUnauthenticated    the AEAD rejects it (wrong key, AD, any modified byte), or its ratchet key
//                       is low-order
// A session restarted from an earlier serialization must not be used to decrypt messages that a
// later state has already decrypted (it would decrypt them again): persist after every success.
Result<Bytes> RatchetDecrypt(RatchetState& state, ByteView message, ByteView associated_data,
                             int64_t now_micros);

// Drops the skipped keys stored more than kSkippedKeyMaxAgeMicros before `now_micros` and
// returns how many it dropped. RatchetDecrypt already does this after every success; call it to
// purge a session that is not receiving. Never fails.
size_t DropExpiredSkippedKeys(RatchetState& state, int64_t now_micros);

// The state as bytes, so that a session survives restarts (e.g. in LMDB). The blob contains every
// secret of the session in the clear: it is the caller's to protect (encrypt it at rest, and
// sodium_memzero the buffer once it is written). Deterministic: equal states give equal bytes,
// and ParseRatchetState(SerializeRatchetState(s)) serializes to the same bytes. Never fails.
// Format v1 (i64be = two's complement signed 64-bit big-endian; absent fields are all-zero):
//   state   = version:u8 (=1) | flags:u8 (bit 0: DHr, bit 1: CKs, bit 2: CKr present)
//             | dhs_secret:32 | dhs_public:32 | dhr:32 | rk:32 | cks:32 | ckr:32
//             | ns:u32be | nr:u32be | pn:u32be
//             | previous_count:u16be | previous_dhr:32 * previous_count          (oldest first)
//             | skipped_count:u16be | skipped * skipped_count                    (oldest first)
//   skipped = dh:32 | n:u32be | stored_at_micros:i64be | mk_seed:32
Bytes SerializeRatchetState(const RatchetState& state);

// Rebuilds a state from SerializeRatchetState's bytes, with every secret in sodium_malloc'd
// memory. Bounded: each count is checked against its limit before anything is allocated, and
// nothing is read beyond `bytes`. The caller still owns and must wipe `bytes`.
// Errors: kUnsupportedVersion if the first byte is not 1; kCorruption for anything else that
// is not a state this build could have written (wrong length, unknown flags, bytes in absent
// fields, a count over its limit, DHs's public key not matching its secret, duplicate skipped
// keys, counters inconsistent with the chains present).
Result<RatchetState> ParseRatchetState(ByteView bytes);

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_RATCHET_H_
