// liaison::Coordinator: the coordinator's side of membership. It keeps the coordinator's
// Ed25519 key (in a file sealed under a passphrase with Argon2id), issues invitations, approves
// enrollment requests and revocations by signing new roster epochs, and publishes them to the
// relay through its own admin transport key (docs/protocol.md section 6).
//
//   auto c = liaison::Coordinator::Init({.admin_dir = "...", .passphrase = "...",
//                                        .relay_endpoint = "...", .relay_public_key = "..."});
//   // put (*c)->RelayConfigLines() into the relay's relay.toml, start the relay
//   auto invitation = (*c)->Invite("moschee-dresden/1", std::chrono::hours(72));
//   // the member runs Client::Enroll(options, *invitation, &request) and hands `request` back
//   (*c)->Approve(request, {.role = "association_contact", .organisation = "...", .areas = {...}});
//
// An admin directory holds: coordinator.key (the sealed keys), admin.json (relay endpoint and
// key, public keys), invitations.json (issued invitations, their codes and use), and
// epochs/NNNNNNNNNNNN.epoch (every signed epoch). Epochs are stored before they are published,
// and every operation first publishes stored epochs the relay lacks, so an interrupted approval
// is completed by the next command.
//
// Thread-safety: one Coordinator per admin directory, used from one thread at a time.
#ifndef LIAISON_COORDINATOR_H_
#define LIAISON_COORDINATOR_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "liaison/status.h"

namespace liaison {

class Clock;  // base/clock.h

struct CoordinatorOptions {
  std::string admin_dir;
  // Unlocks coordinator.key (sets it, for Init). Not stored. Copies are wiped by the library; the
  // caller wipes its own.
  std::string passphrase;
  // Required by Init (stored in admin.json); Open uses the stored values when empty.
  std::string relay_endpoint;
  std::string relay_public_key;  // Z85
  std::chrono::milliseconds timeout{5000};
  Clock* clock = nullptr;  // invitation expiry and epoch times; nullptr = system clock
  // Init only: Argon2id at libsodium's INTERACTIVE cost (64 MiB) instead of MODERATE (256 MiB),
  // for tests and small machines. The cost is recorded in the key file.
  bool light_key_protection = false;
};

// What the coordinator decides about a new member when approving its first device.
struct MemberProfile {
  std::string role;  // officer | desk | association_contact | deputy | coordinator
  std::string display_name;
  std::string organisation;
  std::vector<std::string> areas;  // "kind:value", e.g. "city:dresden"
  // The person using the approved device (e.g. the officer at a desk device). Applies to the
  // device even when the member exists already; recipients see it as who wrote.
  std::string device_holder;
};

struct RosterMemberInfo {
  std::string id, display_name, organisation, role;
  std::vector<std::string> areas;
  std::vector<std::string> devices;  // addresses
};

class Coordinator {
 public:
  // Creates the admin directory with fresh keys sealed under the passphrase. kAlreadyExists if
  // it holds a coordinator key; kInvalidArgument for a missing endpoint, key or passphrase.
  static Result<std::unique_ptr<Coordinator>> Init(const CoordinatorOptions& options);
  // Opens an admin directory. kUnauthenticated for a wrong passphrase; kNotFound if none.
  static Result<std::unique_ptr<Coordinator>> Open(const CoordinatorOptions& options);
  virtual ~Coordinator() = default;

  virtual std::string public_key() const = 0;      // Ed25519, hex: what clients and relay trust
  virtual std::string transport_key() const = 0;   // the admin tool's CURVE key, Z85
  // The [roster] section for the relay's relay.toml.
  virtual std::string RelayConfigLines() const = 0;

  // Issues a single-use invitation for the device `address` ("member/device"), valid for
  // `valid_for`. Returns its text (one line, QR-printable). kInvalidArgument for a bad address;
  // kAlreadyExists if the roster already has that device.
  virtual Result<std::string> Invite(std::string_view address, std::chrono::seconds valid_for) = 0;
  // Checks an enrollment request against its invitation (known, unused, unexpired, MAC under its
  // code), adds the device (a new member with `profile`, or another device of an existing
  // member, whose profile stays), signs the next epoch, stores and publishes it. Returns the
  // epoch number. Errors: kMalformed (not a request), kNotFound (unknown invitation),
  // kAlreadyExists (invitation already used), kExpired, kUnauthenticated (bad MAC),
  // kInvalidArgument (profile), kUnavailable (relay unreachable: the epoch is stored and the
  // next command publishes it).
  virtual Result<uint64_t> Approve(std::string_view request, const MemberProfile& profile) = 0;
  // Replaces a device's keys with those of its rotation request (Client::RequestKeyRotation),
  // after checking that the request is signed by the device's current key in the newest epoch;
  // signs, stores and publishes the next epoch. Errors: kMalformed, kNotFound (device not in the
  // roster), kUnauthenticated (signature), kInvalidArgument (the new transport key is in use).
  virtual Result<uint64_t> ApproveRotation(std::string_view request) = 0;
  // Removes a member ("member") or one device ("member/device"; the member goes with its last
  // device) in a new epoch, stored and published. kNotFound if absent.
  virtual Result<uint64_t> Revoke(std::string_view member_or_device) = 0;
  // Publishes stored epochs the relay does not hold yet. Returns the relay's newest epoch.
  virtual Result<uint64_t> Publish() = 0;
  // The members of the newest stored epoch.
  virtual Result<std::vector<RosterMemberInfo>> Members() = 0;
};

}  // namespace liaison

#endif  // LIAISON_COORDINATOR_H_
