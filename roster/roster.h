// The coordinator-signed roster: who is a member, with which role, areas and device keys.
//
// The roster changes in epochs. Each epoch is a complete list of members, numbered 1, 2, 3, ...,
// naming the hash of its predecessor, and signed by the coordinator's Ed25519 key. Relay and
// clients accept an epoch only as the correctly signed direct successor of the newest one they
// hold (CheckSuccessor), so nobody but the coordinator can add a member or change a key, and
// nobody can roll the roster back. Format and hashing: docs/protocol.md §6.
//
// Encoding: a signed epoch is `wire::Encode(SignedEpochWire{body, signature})`, where `body` is
// `wire::Encode(Epoch)` and the signature is Ed25519 over kEpochSignatureContext || body. The
// epoch's hash is BLAKE2b-256 keyed with kEpochHashKey over the body. Both encodings are
// canonical (members sorted by id, devices by id), so an epoch has exactly one signed encoding.
//
// Thread-safety: all functions are pure; values are plain data.
#ifndef LIAISON_ROSTER_ROSTER_H_
#define LIAISON_ROSTER_ROSTER_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "crypto/keys.h"
#include "liaison/status.h"
#include "wire/codec.h"
#include "wire/limits.h"

namespace liaison::roster {

inline constexpr uint8_t kEpochVersion1 = 1;
inline constexpr std::string_view kEpochSignatureContext = "liaison/v1/roster-epoch-signature";
inline constexpr std::string_view kEpochHashKey = "liaison/v1/roster-epoch-hash";

using EpochHash = std::array<uint8_t, 32>;
using PublicKey = std::array<uint8_t, 32>;

// What a member is; decides what it may write to whom (roster/policy.h). Values are wire bytes.
enum class Role : uint8_t {
  kOfficer = 1,             // a police liaison officer
  kDesk = 2,                // a shared police inbox (several officers' devices)
  kAssociationContact = 3,  // the designated contact person of an association
  kDeputy = 4,              // an association contact's deputy
  kCoordinator = 5,         // the coordinating office (e.g. a prevention office)
};
// "officer", "desk", "association_contact", "deputy", "coordinator".
std::string_view RoleName(Role role);
// The inverse of RoleName. kInvalidArgument names the accepted spellings.
Result<Role> ParseRole(std::string_view name);

// One device of a member. Its address is "member/device".
struct Device {
  std::string id;             // 1..15 of [a-z0-9_-]
  PublicKey signing_key{};    // Ed25519: signs the device's prekeys
  PublicKey dh_key{};         // X25519 identity key for X3DH
  PublicKey transport_key{};  // CURVE key the relay admits
  std::string holder;         // UTF-8, 0..128 bytes: the person using it, e.g. the officer
                              // at a desk, named to recipients of what the device writes
  template <class Archive>
  void serialize(Archive& ar) {
    ar(wire::Bounded<wire::kMaxDeviceIdBytes>(id), signing_key, dh_key, transport_key,
       wire::Bounded<wire::kMaxDisplayNameBytes>(holder));
  }
};

struct Area {
  std::string tag;  // "kind:value", e.g. "city:dresden"; 3..64 of [a-z0-9_:.-]
  template <class Archive>
  void serialize(Archive& ar) { ar(wire::Bounded<wire::kMaxAreaBytes>(tag)); }
};

struct Member {
  std::string id;            // 1..48 of [a-z0-9_.-]
  std::string display_name;  // UTF-8, 0..128 bytes, for people
  std::string organisation;  // UTF-8, 0..128 bytes
  uint8_t role = 0;          // a Role
  std::vector<Area> areas;   // sorted, distinct
  uint64_t valid_until = 0;  // microseconds since the epoch after which the member's keys are no
                             // longer accepted; 0 = until revoked
  std::vector<Device> devices;  // sorted by id, distinct; at least one
  Role role_value() const { return static_cast<Role>(role); }
  bool ValidAt(int64_t now_micros) const {
    return valid_until == 0 || static_cast<uint64_t>(now_micros) < valid_until;
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(wire::Bounded<wire::kMaxMemberIdBytes>(id), wire::Bounded<wire::kMaxDisplayNameBytes>(display_name),
       wire::Bounded<wire::kMaxOrganisationBytes>(organisation), role,
       wire::BoundedList<wire::kMaxAreasPerMember, 8>(areas), valid_until,
       wire::BoundedList<wire::kMaxDevicesPerMember, 8 + 96 + 8>(devices));
  }
};

struct Epoch {
  uint8_t version = kEpochVersion1;
  uint64_t number = 0;           // 1 for the first epoch, then +1 each
  EpochHash previous_hash{};     // hash of epoch number-1; all zero for epoch 1
  uint64_t issued_at = 0;        // microseconds since the epoch, set by the coordinator
  std::vector<Member> members;   // sorted by id, distinct
  template <class Archive>
  void serialize(Archive& ar) {
    ar(version, number, previous_hash, issued_at,
       wire::BoundedList<wire::kMaxRosterMembers, 8 * 3 + 1 + 8 + 8 + 8>(members));
  }

  const Member* FindMember(std::string_view id) const;
  // The member and device of an address "member/device"; nullopt if either is absent.
  struct Entry {
    const Member* member;
    const Device* device;
  };
  std::optional<Entry> Find(std::string_view address) const;
  // The device whose transport key is `key`, if any (transport keys are unique in an epoch).
  std::optional<Entry> FindByTransportKey(const PublicKey& key) const;
};

struct SignedEpochWire {
  Bytes body;
  std::array<uint8_t, 64> signature{};
  template <class Archive>
  void serialize(Archive& ar) { ar(wire::Bounded<wire::kMaxRosterEpochBytes>(body), signature); }
};

// An epoch whose encoding, form and coordinator signature have been checked.
struct VerifiedEpoch {
  Epoch epoch;
  EpochHash hash{};
  Bytes signed_bytes;  // the exact bytes that were verified, for storing and serving
};

// Checks what a well-formed epoch is: version 1, number >= 1, a zero previous hash exactly for
// epoch 1, ids of the allowed characters and lengths, members and their devices and areas
// sorted and distinct, known roles, at least one device per member, transport keys distinct
// across the roster. kInvalidArgument names the first violation.
Status Validate(const Epoch& epoch);

// Validates, encodes and signs `epoch` with the coordinator's key. Returns the signed bytes.
Result<Bytes> SignEpoch(const Epoch& epoch, const crypto::SigningKeyPair& coordinator);

// Decodes and verifies signed epoch bytes from anywhere (network, disk). Errors: kMalformed or
// kTooLarge (undecodable; the body must also be the canonical encoding), kInvalidArgument
// (Validate failed), kUnauthenticated (not signed by `coordinator`).
Result<VerifiedEpoch> VerifyEpoch(ByteView signed_bytes, const PublicKey& coordinator);

// OK if `next` may follow `held` (nullptr: nothing held yet, so `next` must be epoch 1).
// kFailedPrecondition for an older or repeated number ("rollback"), a skipped number, or a
// previous hash that is not `held`'s hash; the message says which.
Status CheckSuccessor(const VerifiedEpoch* held, const VerifiedEpoch& next);

// The hash of an encoded epoch body.
EpochHash HashEpochBody(ByteView body);

// Splits "member/device"; nullopt unless both parts are non-empty and there is exactly one '/'.
std::optional<std::pair<std::string_view, std::string_view>> SplitAddress(std::string_view address);

}  // namespace liaison::roster

#endif  // LIAISON_ROSTER_ROSTER_H_
