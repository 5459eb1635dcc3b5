// Epoch validation, signing, verification and succession (roster/roster.h).
#include "roster/roster.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "crypto/hash.h"
#include "crypto/sign.h"

namespace liaison::roster {
namespace {

constexpr std::string_view kRoleNames[] = {"officer", "desk", "association_contact", "deputy", "coordinator"};

bool IdChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }

Status CheckId(std::string_view id, size_t max, bool allow_dot, std::string_view what) {
  if (id.empty() || id.size() > max) {
    return Status::Error(Code::kInvalidArgument, std::string(what) + " \"" + std::string(id.substr(0, 64)) + "\" must have 1 to " +
                                                     std::to_string(max) + " characters");
  }
  for (char c : id) {
    if (!IdChar(c) && !(allow_dot && c == '.')) {
      return Status::Error(Code::kInvalidArgument,
                           std::string(what) + " \"" + std::string(id) + "\" may contain only a-z, 0-9, '_', '-'" +
                               (allow_dot ? " and '.'" : ""));
    }
  }
  return Status::Ok();
}

Status CheckArea(std::string_view tag) {
  const size_t colon = tag.find(':');
  bool ok = tag.size() >= 3 && tag.size() <= wire::kMaxAreaBytes && colon != std::string_view::npos && colon > 0 &&
            colon + 1 < tag.size();
  for (char c : tag) ok = ok && (IdChar(c) || c == ':' || c == '.');
  if (!ok) {
    return Status::Error(Code::kInvalidArgument, "area tag \"" + std::string(tag.substr(0, 64)) +
                                                     "\" must be kind:value of a-z, 0-9, '_', '-', '.'");
  }
  return Status::Ok();
}

Bytes SignedMessage(ByteView body) {
  Bytes message(kEpochSignatureContext.size() + body.size());
  std::memcpy(message.data(), kEpochSignatureContext.data(), kEpochSignatureContext.size());
  if (!body.empty()) std::memcpy(message.data() + kEpochSignatureContext.size(), body.data(), body.size());
  return message;
}

}  // namespace

std::string_view RoleName(Role role) {
  const auto index = static_cast<size_t>(role);
  if (index < 1 || index > std::size(kRoleNames)) return "unknown";
  return kRoleNames[index - 1];
}

Result<Role> ParseRole(std::string_view name) {
  for (size_t i = 0; i < std::size(kRoleNames); ++i) {
    if (name == kRoleNames[i]) return static_cast<Role>(i + 1);
  }
  return Status::Error(Code::kInvalidArgument, "unknown role \"" + std::string(name.substr(0, 64)) +
                                                   "\"; roles are officer, desk, association_contact, deputy, coordinator");
}

const Member* Epoch::FindMember(std::string_view id) const {
  auto it = std::lower_bound(members.begin(), members.end(), id,
                             [](const Member& m, std::string_view key) { return m.id < key; });
  return it != members.end() && it->id == id ? &*it : nullptr;
}

std::optional<Epoch::Entry> Epoch::Find(std::string_view address) const {
  auto parts = SplitAddress(address);
  if (!parts) return std::nullopt;
  const Member* member = FindMember(parts->first);
  if (member == nullptr) return std::nullopt;
  for (const Device& device : member->devices) {
    if (device.id == parts->second) return Entry{member, &device};
  }
  return std::nullopt;
}

std::optional<Epoch::Entry> Epoch::FindByTransportKey(const PublicKey& key) const {
  for (const Member& member : members) {
    for (const Device& device : member.devices) {
      if (device.transport_key == key) return Entry{&member, &device};
    }
  }
  return std::nullopt;
}

std::optional<std::pair<std::string_view, std::string_view>> SplitAddress(std::string_view address) {
  const size_t slash = address.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == address.size() ||
      address.find('/', slash + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return std::make_pair(address.substr(0, slash), address.substr(slash + 1));
}

Status Validate(const Epoch& epoch) {
  if (epoch.version != kEpochVersion1) {
    return Status::Error(Code::kUnsupportedVersion, "roster epoch version " + std::to_string(epoch.version) +
                                                        " (this build reads version 1)");
  }
  if (epoch.number == 0) return Status::Error(Code::kInvalidArgument, "roster epochs are numbered from 1");
  const bool zero_previous = std::all_of(epoch.previous_hash.begin(), epoch.previous_hash.end(),
                                         [](uint8_t b) { return b == 0; });
  if ((epoch.number == 1) != zero_previous) {
    return Status::Error(Code::kInvalidArgument, "only epoch 1 has no previous hash");
  }
  if (epoch.members.size() > wire::kMaxRosterMembers) {
    return Status::Error(Code::kInvalidArgument, "a roster holds at most " + std::to_string(wire::kMaxRosterMembers) + " members");
  }
  std::set<PublicKey> transport_keys;
  for (size_t i = 0; i < epoch.members.size(); ++i) {
    const Member& m = epoch.members[i];
    LIAISON_RETURN_IF_ERROR(CheckId(m.id, wire::kMaxMemberIdBytes, true, "member id"));
    if (i > 0 && !(epoch.members[i - 1].id < m.id)) {
      return Status::Error(Code::kInvalidArgument, "members must be sorted by id and distinct (at \"" + m.id + "\")");
    }
    if (m.display_name.size() > wire::kMaxDisplayNameBytes || m.organisation.size() > wire::kMaxOrganisationBytes) {
      return Status::Error(Code::kInvalidArgument, "member \"" + m.id + "\": name or organisation too long");
    }
    if (m.role < 1 || m.role > std::size(kRoleNames)) {
      return Status::Error(Code::kInvalidArgument, "member \"" + m.id + "\" has unknown role " + std::to_string(m.role));
    }
    for (size_t a = 0; a < m.areas.size(); ++a) {
      LIAISON_RETURN_IF_ERROR(CheckArea(m.areas[a].tag));
      if (a > 0 && !(m.areas[a - 1].tag < m.areas[a].tag)) {
        return Status::Error(Code::kInvalidArgument, "member \"" + m.id + "\": areas must be sorted and distinct");
      }
    }
    if (m.devices.empty() || m.devices.size() > wire::kMaxDevicesPerMember) {
      return Status::Error(Code::kInvalidArgument, "member \"" + m.id + "\" must have 1 to " +
                                                       std::to_string(wire::kMaxDevicesPerMember) + " devices");
    }
    for (size_t d = 0; d < m.devices.size(); ++d) {
      const Device& device = m.devices[d];
      LIAISON_RETURN_IF_ERROR(CheckId(device.id, wire::kMaxDeviceIdBytes, false, "device id"));
      if (d > 0 && !(m.devices[d - 1].id < device.id)) {
        return Status::Error(Code::kInvalidArgument, "member \"" + m.id + "\": devices must be sorted by id and distinct");
      }
      if (device.holder.size() > wire::kMaxDisplayNameBytes) {
        return Status::Error(Code::kInvalidArgument, "device " + m.id + "/" + device.id + ": holder name too long");
      }
      if (!transport_keys.insert(device.transport_key).second) {
        return Status::Error(Code::kInvalidArgument, "device " + m.id + "/" + device.id +
                                                         " reuses another device's transport key");
      }
    }
  }
  return Status::Ok();
}

EpochHash HashEpochBody(ByteView body) {
  const ByteView key(reinterpret_cast<const uint8_t*>(kEpochHashKey.data()), kEpochHashKey.size());
  return crypto::GenericHash<32>(body, key);
}

Result<Bytes> SignEpoch(const Epoch& epoch, const crypto::SigningKeyPair& coordinator) {
  LIAISON_RETURN_IF_ERROR(Validate(epoch));
  SignedEpochWire signed_epoch;
  LIAISON_ASSIGN_OR_RETURN(signed_epoch.body, wire::Encode(epoch));
  if (signed_epoch.body.size() > wire::kMaxRosterEpochBytes) {
    return Status::Error(Code::kTooLarge, "the roster epoch encodes to " + std::to_string(signed_epoch.body.size()) +
                                              " bytes, the limit is " + std::to_string(wire::kMaxRosterEpochBytes));
  }
  const auto signature = crypto::SignDetached(coordinator.secret_key, SignedMessage(signed_epoch.body));
  std::copy(signature.begin(), signature.end(), signed_epoch.signature.begin());
  return wire::Encode(signed_epoch);
}

Result<VerifiedEpoch> VerifyEpoch(ByteView signed_bytes, const PublicKey& coordinator) {
  LIAISON_ASSIGN_OR_RETURN(SignedEpochWire signed_epoch, wire::Decode<SignedEpochWire>(signed_bytes));
  LIAISON_RETURN_IF_ERROR(crypto::VerifyDetached(coordinator, SignedMessage(signed_epoch.body), signed_epoch.signature)
                              .WithContext("roster epoch not signed by the coordinator"));
  VerifiedEpoch verified;
  LIAISON_ASSIGN_OR_RETURN(verified.epoch, wire::Decode<Epoch>(signed_epoch.body));
  LIAISON_RETURN_IF_ERROR(Validate(verified.epoch).WithContext("roster epoch " + std::to_string(verified.epoch.number)));
  verified.hash = HashEpochBody(signed_epoch.body);
  verified.signed_bytes.assign(signed_bytes.begin(), signed_bytes.end());
  return verified;
}

Status CheckSuccessor(const VerifiedEpoch* held, const VerifiedEpoch& next) {
  const uint64_t expected = held == nullptr ? 1 : held->epoch.number + 1;
  const uint64_t number = next.epoch.number;
  if (number < expected) {
    return Status::Error(Code::kConflict, "roster epoch " + std::to_string(number) + " is not newer than the epoch held (" +
                                              std::to_string(expected - 1) + "); rollback refused");
  }
  if (number > expected) {
    return Status::Error(Code::kConflict, "roster epoch " + std::to_string(number) + " skips epoch " +
                                              std::to_string(expected) + "; epochs are accepted one at a time");
  }
  if (held != nullptr && next.epoch.previous_hash != held->hash) {
    return Status::Error(Code::kConflict, "roster epoch " + std::to_string(number) +
                                              " names a previous epoch other than the one held (a fork)");
  }
  return Status::Ok();
}

}  // namespace liaison::roster
