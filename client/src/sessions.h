// End-to-end sessions with the devices of other members (internal to client/): starting one by
// X3DH, encrypting in the current one, decrypting with whichever session a message belongs to,
// and their stored form.
//
// A device keeps, per peer device, up to kMaxSessionsPerPeer sessions, the current one first.
// Two devices that start sessions with each other at the same time end up with two; each side
// keeps both and decrypts with whichever matches, and a session that decrypts a message becomes
// the current one, so the two sides converge on one session (as libsignal's session records do).
//
// Stored form (the value of the client's `sessions` table; u32be as elsewhere):
//   peer_sessions_v1 = version:u8 (=1) | count:u8 (1..4) | (u32be len | session)*  current first
//   session          = base_key:32 | associated_data:64 | flags:u8 (bit 0: pending initial)
//                      | initial_message_header_v1:74 (only with bit 0) | ratchet_state_v1
// base_key is the initiator's X3DH ephemeral key: it names the session on both sides. The
// initiator repeats the initial message header (pending initial) in every message until the
// first message from the responder decrypts in that session (X3DH section 3.3's advice).
// The encoding holds every session secret in the clear: callers keep it in WipedBytes.
//
// Thread-safety: values and pure functions; one thread at a time per PeerSessions.
#ifndef LIAISON_CLIENT_SRC_SESSIONS_H_
#define LIAISON_CLIENT_SRC_SESSIONS_H_

#include <optional>
#include <vector>

#include "base/bytes.h"
#include "crypto/keys.h"
#include "crypto/ratchet.h"
#include "crypto/sealed_envelope.h"
#include "crypto/wiped_bytes.h"
#include "crypto/x3dh.h"
#include "liaison/status.h"

namespace liaison::client {

inline constexpr uint8_t kPeerSessionsVersion1 = 1;
// Sessions kept per peer device. Two suffice for simultaneous starts; four also cover a peer that
// reinstalled while old messages are in flight. Higher: more trial decryptions of a forged message.
inline constexpr size_t kMaxSessionsPerPeer = 4;

struct Session {
  crypto::DhPublicKey base_key{};
  crypto::X3dhAssociatedData associated_data{};
  std::optional<crypto::InitialMessageHeader> pending_initial;
  crypto::RatchetState ratchet;
};
using PeerSessions = std::vector<Session>;  // current first

// The initiator's side: X3DH with the peer's bundle (whose identity keys the caller has checked
// against the roster or the pinned contact), then RatchetInitAlice. The new session has a pending
// initial header. Errors as X3dhInitiate and RatchetInitAlice.
Result<Session> StartSession(const crypto::DhKeyPair& own_identity, const crypto::PrekeyBundle& bundle);

// Makes `session` the current one (first), keeping at most kMaxSessionsPerPeer (the least
// recently current is dropped).
void MakeCurrent(PeerSessions& sessions, Session session);

// Encrypts `plaintext` in the current session. Returns what to seal: the ratchet message and the
// pending initial header, if any. kNotFound if there is no session, RatchetEncrypt's errors
// otherwise (kInvalidArgument if the current session cannot send yet).
struct OutgoingMessage {
  Bytes ratchet_message;
  std::optional<crypto::InitialMessageHeader> initial;
};
Result<OutgoingMessage> EncryptInCurrent(PeerSessions& sessions, ByteView plaintext);

// What DecryptFromPeer needs from the device's prekey store.
struct ResponderKeys {
  const crypto::DhKeyPair* identity = nullptr;  // this device's X25519 identity key pair
  crypto::PrekeyLookup signed_prekeys;
  crypto::PrekeyLookup one_time_prekeys;
};

struct Decrypted {
  crypto::WipedBytes plaintext;
  std::optional<uint32_t> used_one_time_prekey;  // delete it in the same commit as the session
};

// Decrypts the ratchet message of `content` from the peer whose X25519 identity key is
// `peer_identity_dh` (certified by the roster or pinned). An initial message whose header names
// another identity key is refused (kUnauthenticated). An initial message for a session held
// already decrypts in it; one for a new session runs X3DH as responder and, on success, adds the
// session. Other messages are tried against each held session. The session that decrypts becomes
// current and loses its pending initial header. On any error `sessions` is unchanged.
// Errors: kUnauthenticated (no session decrypts it, wrong identity), kDuplicate, kExpired,
// kTooLarge, kMalformed and kUnsupportedVersion from the ratchet; the lookups' errors
// (kNotFound for a prekey already used or never issued).
Result<Decrypted> DecryptFromPeer(PeerSessions& sessions, const crypto::SealedContent& content,
                                  const crypto::DhPublicKey& peer_identity_dh, const ResponderKeys& keys,
                                  int64_t now_micros);

// The stored form (top of this file), and back. Decode: kUnsupportedVersion or kCorruption.
crypto::WipedBytes EncodePeerSessions(const PeerSessions& sessions);
Result<PeerSessions> DecodePeerSessions(ByteView bytes);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_SESSIONS_H_
