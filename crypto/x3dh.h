// X3DH key agreement, version 1: how two devices that have never talked agree on a 32-byte
// shared secret SK while the responder is offline, following Signal's "The X3DH Key Agreement
// Protocol" (Marlinspike, Perrin, revision 1, 2016-11-04). SK then seeds a Double Ratchet
// session (crypto/ratchet.h): the initiator calls RatchetInitAlice(SK, signed_prekey_public),
// the responder RatchetInitBob(SK, signed_prekey pair), and every ratchet message is
// authenticated together with AD.
//
// Differences from the published protocol, all deliberate:
// - A device has a separate Ed25519 signing key and X25519 identity key (both certified by the
//   roster), so there is no XEdDSA: the signed prekey is signed with Ed25519 over
//     spk_signed_data = "liaison/v1/spk" | signed_prekey_id:u32be | signed_prekey_public:32
// - Curve X25519, hash SHA-256, info "liaison/v1/x3dh"; Encode(PK) is the raw 32 bytes (the
//   curve is fixed by the version byte, so no curve-type prefix).
//
// Derivation (initiator A with identity key IK_A and ephemeral EK_A; responder B with identity
// IK_B, signed prekey SPK_B and optionally one-time prekey OPK_B):
//   DH1 = X25519(IK_A, SPK_B)   DH2 = X25519(EK_A, IK_B)   DH3 = X25519(EK_A, SPK_B)
//   DH4 = X25519(EK_A, OPK_B)   (only when the bundle carries a one-time prekey)
//   SK  = HKDF-SHA256(ikm = F | DH1 | DH2 | DH3 [| DH4], salt = 32 zero bytes,
//                     info = "liaison/v1/x3dh", L = 32),  F = 32 bytes 0xFF
//   AD  = IK_A_dh_public:32 | IK_B_dh_public:32
// Any DH with a low-order public key fails, and the whole agreement fails with kUnauthenticated.
//
// Encodings (u32be = unsigned 32-bit big-endian; absent optional fields are all-zero, and a
// decoder rejects non-zero bytes there, so every value has exactly one encoding):
//   prekey_bundle_v1 (202 bytes) = version:u8 (=1) | flags:u8 (bit 0: has one-time prekey)
//       | identity_dh_public:32 | identity_signing_public:32 | signed_prekey_id:u32be
//       | signed_prekey_public:32 | signed_prekey_signature:64
//       | one_time_prekey_id:u32be | one_time_prekey_public:32
//   initial_message_header_v1 (74 bytes) = version:u8 (=1) | flags:u8 (bit 0: has one-time
//       prekey) | initiator_identity_dh_public:32 | ephemeral_public:32
//       | signed_prekey_id:u32be | one_time_prekey_id:u32be
// Changing a primitive, a string or a byte of these grammars needs a new version (the post-quantum
// hybrid PQXDH, once libsodium 1.0.21+ is available, will be version 2).
//
// What the caller must do (X3DH's own security considerations, section 4 of the specification):
// - Check that the bundle's identity_dh_public and identity_signing_public are the keys the roster
//   certifies for the device it means to reach, and (responder) that the initiator's
//   identity_dh_public belongs to a roster device. X3dhInitiate checks the signed prekey's
//   signature against the signing key *in the bundle*; that only means something once the
//   caller has tied that key to the roster.
// - Responder: delete the one-time prekey's secret once the first ratchet message of the session
//   has decrypted (a replayed initial message then fails with the lookup's kNotFound), and keep a
//   replaced signed prekey's secret only as long as delayed initial messages may still arrive.
// - Wipe SK as soon as the ratchet is initialised (it is a SecretBytes: destroying it wipes it).
//
// Thread-safety: every function here is reentrant and may run on any thread; X3dhRespond calls
// the lookups on the calling thread. The structs are values (no internal synchronization).
#ifndef LIAISON_CRYPTO_X3DH_H_
#define LIAISON_CRYPTO_X3DH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "base/bytes.h"
#include "crypto/keys.h"
#include "crypto/secret.h"
#include "liaison/status.h"

namespace liaison::crypto {

inline constexpr uint8_t kX3dhVersion1 = 1;
inline constexpr size_t kX3dhSharedSecretBytes = 32;
inline constexpr size_t kX3dhAssociatedDataBytes = 2 * kDhPublicKeyBytes;
inline constexpr size_t kPrekeyBundleV1Bytes = 1 + 1 + kDhPublicKeyBytes + kSignPublicKeyBytes + 4 +
                                               kDhPublicKeyBytes + kSignatureBytes + 4 +
                                               kDhPublicKeyBytes;
inline constexpr size_t kInitialMessageHeaderV1Bytes = 1 + 1 + 2 * kDhPublicKeyBytes + 4 + 4;
static_assert(kPrekeyBundleV1Bytes == 202 && kInitialMessageHeaderV1Bytes == 74);

using X3dhSharedSecret = SecretBytes<kX3dhSharedSecretBytes>;
// AD = initiator identity_dh_public | responder identity_dh_public. Public, not secret.
using X3dhAssociatedData = std::array<uint8_t, kX3dhAssociatedDataBytes>;

// The public half of one one-time prekey, as a bundle carries it.
struct OneTimePrekeyPublic {
  uint32_t id = 0;
  DhPublicKey public_key{};
  bool operator==(const OneTimePrekeyPublic&) const = default;
};

// What the relay hands out for a device it has prekeys for: everything the initiator needs.
// A plain value; all fields are public keys, ids and a signature.
struct PrekeyBundle {
  uint8_t version = kX3dhVersion1;
  DhPublicKey identity_dh_public{};         // IK_B, the device's X25519 identity key
  SignPublicKey identity_signing_public{};  // the device's Ed25519 key; signs the signed prekey
  uint32_t signed_prekey_id = 0;
  DhPublicKey signed_prekey_public{};   // SPK_B
  Signature signed_prekey_signature{};  // SignSignedPrekey(signing secret, id, SPK_B)
  std::optional<OneTimePrekeyPublic> one_time_prekey;  // OPK_B, if the relay had one left
  bool operator==(const PrekeyBundle&) const = default;
};

// What the initiator sends in front of its first ratchet message so that the responder can
// compute SK. A plain value of public data.
struct InitialMessageHeader {
  uint8_t version = kX3dhVersion1;
  DhPublicKey initiator_identity_dh_public{};  // IK_A
  DhPublicKey ephemeral_public{};              // EK_A, fresh for every X3dhInitiate
  uint32_t signed_prekey_id = 0;               // which SPK_B the initiator used
  std::optional<uint32_t> one_time_prekey_id;  // which OPK_B, if any
  bool operator==(const InitialMessageHeader&) const = default;
};

// Signs a signed prekey: Ed25519(signing_secret, spk_signed_data) with spk_signed_data as in
// the comment at the top. Deterministic; never fails. The device calls it when it makes a new
// signed prekey and uploads the result with the bundle.
Signature SignSignedPrekey(const SecretBytes<kSignSecretKeyBytes>& signing_secret,
                           uint32_t signed_prekey_id, const DhPublicKey& signed_prekey_public);

// OK if `signature` signs (signed_prekey_id, signed_prekey_public) under `signing_public`.
// kUnauthenticated for any failure (bad signature, invalid or small-order signing key).
Status VerifySignedPrekey(const SignPublicKey& signing_public, uint32_t signed_prekey_id,
                          const DhPublicKey& signed_prekey_public, const Signature& signature);

// The 202-byte v1 encoding of `bundle` (grammar at the top). Writes bundle.version as it is;
// REQUIRES bundle.version == kX3dhVersion1 for the result to decode. Never fails.
std::array<uint8_t, kPrekeyBundleV1Bytes> EncodePrekeyBundle(const PrekeyBundle& bundle);

// Parses a v1 bundle. Reads nothing beyond `bytes` and allocates nothing. Does not verify the
// signature (X3dhInitiate does). Errors: kMalformed if empty, of the wrong length, with unknown
// flag bits or with non-zero bytes in an absent one-time prekey; kUnsupportedVersion if the
// first byte is not 1.
Result<PrekeyBundle> DecodePrekeyBundle(ByteView bytes);

// The 74-byte v1 encoding of `header`; same contract as EncodePrekeyBundle.
std::array<uint8_t, kInitialMessageHeaderV1Bytes> EncodeInitialMessageHeader(
    const InitialMessageHeader& header);

// Parses a v1 initial message header, with the same errors and bounds as DecodePrekeyBundle.
Result<InitialMessageHeader> DecodeInitialMessageHeader(ByteView bytes);

// The initiator's result. Owned by the caller; shared_secret is wiped when destroyed.
struct X3dhInitiatorOutput {
  X3dhSharedSecret shared_secret;      // SK
  X3dhAssociatedData associated_data;  // AD
  InitialMessageHeader header;         // send this with the first ratchet message
};

// The initiator's side: checks the bundle's signed prekey signature, makes a fresh ephemeral key
// (libsodium's CSPRNG) and derives SK and AD. `identity` is the initiator's X25519 identity key
// pair, borrowed for the call. REQUIRES: the caller has checked the bundle's identity keys
// against the roster (see the top of this file).
// Errors: kUnsupportedVersion if bundle.version is not 1; kUnauthenticated if the signature
// does not verify (the agreement is aborted before any DH) or if any public key in the bundle
// is low-order. Every intermediate DH output and the KDF input are wiped on every path.
Result<X3dhInitiatorOutput> X3dhInitiate(const DhKeyPair& identity, const PrekeyBundle& bundle);

// Looks up the key pair of one of the responder's prekeys by id, returning a copy the caller
// owns (e.g. SecretBytes::Clone of the stored secret). Return kNotFound for an unknown or
// already deleted id; any error aborts X3dhRespond with that error.
using PrekeyLookup = std::function<Result<DhKeyPair>(uint32_t id)>;

// The responder's result. Owned by the caller; the secrets are wiped when destroyed.
struct X3dhResponderOutput {
  X3dhSharedSecret shared_secret;              // SK, equal to the initiator's if all keys matched
  X3dhAssociatedData associated_data;          // AD
  DhKeyPair signed_prekey;                     // the SPK_B pair used: pass it to RatchetInitBob
  std::optional<uint32_t> one_time_prekey_id;  // the OPK_B used: delete it after the first
                                               // ratchet message of the session decrypts
};

// The responder's side: looks up the signed prekey (and, if the header names one, the one-time
// prekey) by id and derives the same SK and AD as the initiator. `identity` is the responder's
// X25519 identity key pair, borrowed for the call. A wrong key anywhere gives a different SK, not
// an error: the mismatch shows when the first ratchet message fails to decrypt (kUnauthenticated),
// and the caller then discards the result. REQUIRES: the caller has checked that
// header.initiator_identity_dh_public belongs to a roster device.
// Errors: kUnsupportedVersion if header.version is not 1; kInvalidArgument if a lookup needed is
// empty; the lookup's own error (typically kNotFound) if it fails; kUnauthenticated if the
// initiator's identity or ephemeral key is low-order. Intermediates are wiped on every path.
Result<X3dhResponderOutput> X3dhRespond(const DhKeyPair& identity,
                                        const InitialMessageHeader& header,
                                        const PrekeyLookup& signed_prekeys,
                                        const PrekeyLookup& one_time_prekeys);

}  // namespace liaison::crypto

#endif  // LIAISON_CRYPTO_X3DH_H_
