// The coordinator's membership operations (client/include/liaison/coordinator.h).
#include "liaison/coordinator.h"

#include <sodium.h>
#include <zmq.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "base/clock.h"
#include "base/file_util.h"
#include "client/src/connection.h"
#include "client/src/enrollment.h"
#include "crypto/keys.h"
#include "crypto/passphrase_box.h"
#include "crypto/random.h"
#include "roster/roster.h"
#include "wire/messages.h"

namespace liaison {
namespace client {
namespace {

constexpr size_t kMaxInvitationsFileBytes = 4 << 20;

std::string Z85Of(const std::array<uint8_t, 32>& key) {
  char out[41] = {};
  zmq_z85_encode(out, key.data(), key.size());
  return out;
}

Result<std::array<uint8_t, 32>> ParseZ85Key(const std::string& text) {
  std::array<uint8_t, 32> key{};
  if (text.size() != 40 || zmq_z85_decode(key.data(), text.c_str()) == nullptr) {
    return Status::Error(Code::kInvalidArgument, "the relay public key must be 40 Z85 characters");
  }
  return key;
}

std::string EpochPath(const std::string& dir, uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%012llu.epoch", static_cast<unsigned long long>(number));
  return dir + "/epochs/" + name;
}

class CoordinatorImpl final : public Coordinator {
 public:
  CoordinatorImpl(std::string dir, crypto::SigningKeyPair key, crypto::DhKeyPair transport, std::string endpoint,
                  std::array<uint8_t, 32> relay_key, std::chrono::milliseconds timeout, Clock& clock)
      : dir_(std::move(dir)),
        key_(std::move(key)),
        transport_(std::move(transport)),
        endpoint_(std::move(endpoint)),
        relay_key_(relay_key),
        timeout_(timeout),
        clock_(clock),
        context_(1) {}
  ~CoordinatorImpl() override {
    connection_.reset();
    context_.close();
  }

  std::string public_key() const override { return ToHex(key_.public_key); }
  std::string transport_key() const override { return Z85Of(transport_.public_key); }
  std::string RelayConfigLines() const override {
    return "[roster]\ncoordinator_key = \"" + public_key() + "\"\ncoordinator_transport_key = \"" + transport_key() +
           "\"\n";
  }

  Result<std::string> Invite(std::string_view address, std::chrono::seconds valid_for) override {
    auto parts = roster::SplitAddress(address);
    if (!parts || address.size() > 64) {
      return Status::Error(Code::kInvalidArgument, "an invitation names a device address \"member/device\"");
    }
    if (valid_for.count() <= 0) return Status::Error(Code::kInvalidArgument, "an invitation must be valid for some time");
    LIAISON_ASSIGN_OR_RETURN(std::optional<roster::VerifiedEpoch> newest, NewestStored());
    if (newest && newest->epoch.Find(address)) {
      return Status::Error(Code::kAlreadyExists, std::string(address) + " is in the roster already");
    }
    InvitationText invitation;
    invitation.relay_endpoint = endpoint_;
    invitation.relay_key = Z85Of(relay_key_);
    invitation.coordinator_key = public_key();
    invitation.address = std::string(address);
    invitation.id = crypto::RandomArray<16>();
    invitation.code = crypto::RandomArray<32>();
    invitation.expires_at = clock_.NowMicros() + valid_for.count() * kMicrosPerSecond;
    LIAISON_ASSIGN_OR_RETURN(nlohmann::json invitations, LoadInvitations());
    std::string code_hex = ToHex(invitation.code);
    invitations.push_back({{"id", ToHex(invitation.id)},
                           {"address", invitation.address},
                           {"code", code_hex},
                           {"expires_at", invitation.expires_at},
                           {"used_at", 0}});
    sodium_memzero(code_hex.data(), code_hex.size());
    LIAISON_RETURN_IF_ERROR(SaveInvitations(invitations));
    return EncodeInvitation(invitation);
  }

  Result<uint64_t> Approve(std::string_view request_text, const MemberProfile& profile) override {
    LIAISON_ASSIGN_OR_RETURN(EnrollmentRequest request, DecodeEnrollmentRequest(request_text));
    LIAISON_ASSIGN_OR_RETURN(nlohmann::json invitations, LoadInvitations());
    const std::string id = ToHex(request.id);
    auto it = std::find_if(invitations.begin(), invitations.end(), [&](const nlohmann::json& i) {
      return i.is_object() && i.value("id", "") == id;
    });
    if (it == invitations.end()) {
      return Status::Error(Code::kNotFound, "no invitation " + id + " was issued from this admin directory");
    }
    const int64_t now = clock_.NowMicros();
    const int64_t used_at = it->value("used_at", int64_t{-1});
    const int64_t expires_at = it->value("expires_at", int64_t{0});
    if (used_at != 0) {
      return Status::Error(Code::kAlreadyExists, "invitation " + id + " was used already; issue a new one");
    }
    if (now >= expires_at) {
      return Status::Error(Code::kExpired, "invitation " + id + " has expired; issue a new one");
    }
    auto code = FromHex(it->value("code", std::string()));
    if (!code.ok() || code->size() != 32) return Status::Error(Code::kCorruption, "invitations.json holds a damaged code");
    std::array<uint8_t, 32> code_bytes{};
    std::copy(code->begin(), code->end(), code_bytes.begin());
    sodium_memzero(code->data(), code->size());
    const Status mac = CheckEnrollmentMac(request, code_bytes);
    sodium_memzero(code_bytes.data(), code_bytes.size());
    LIAISON_RETURN_IF_ERROR(mac);
    if (request.address != it->value("address", std::string())) {
      return Status::Error(Code::kUnauthenticated, "the request names another address than its invitation");
    }

    LIAISON_ASSIGN_OR_RETURN(std::optional<roster::VerifiedEpoch> newest, NewestStored());
    std::vector<roster::Member> members = newest ? newest->epoch.members : std::vector<roster::Member>{};
    auto parts = roster::SplitAddress(request.address);
    roster::Device device;
    device.id = std::string(parts->second);
    device.signing_key = request.signing_key;
    device.dh_key = request.dh_key;
    device.transport_key = request.transport_key;
    device.holder = profile.device_holder;
    if (device.holder.size() > wire::kMaxDisplayNameBytes) {
      return Status::Error(Code::kInvalidArgument, "the device holder's name is longer than 128 bytes");
    }
    auto member = std::find_if(members.begin(), members.end(), [&](const roster::Member& m) { return m.id == parts->first; });
    if (member == members.end()) {
      roster::Member fresh;
      fresh.id = std::string(parts->first);
      LIAISON_ASSIGN_OR_RETURN(roster::Role role, roster::ParseRole(profile.role));
      fresh.role = static_cast<uint8_t>(role);
      fresh.display_name = profile.display_name;
      fresh.organisation = profile.organisation;
      std::vector<std::string> areas = profile.areas;
      std::sort(areas.begin(), areas.end());
      areas.erase(std::unique(areas.begin(), areas.end()), areas.end());
      for (auto& tag : areas) fresh.areas.push_back({tag});
      member = members.insert(std::upper_bound(members.begin(), members.end(), fresh.id,
                                               [](const std::string& key, const roster::Member& m) { return key < m.id; }),
                              std::move(fresh));
    }
    auto& devices = member->devices;
    if (std::any_of(devices.begin(), devices.end(), [&](const roster::Device& d) { return d.id == device.id; })) {
      return Status::Error(Code::kAlreadyExists, request.address + " is in the roster already");
    }
    devices.insert(std::upper_bound(devices.begin(), devices.end(), device.id,
                                    [](const std::string& key, const roster::Device& d) { return key < d.id; }),
                   device);
    // The invitation is spent before the epoch exists: a crash in between leaves a used
    // invitation and no member (ask again), never a second use.
    (*it)["used_at"] = now;
    (*it)["code"] = "";
    LIAISON_RETURN_IF_ERROR(SaveInvitations(invitations));
    return SignStoreAndPublish(newest, std::move(members));
  }

  Result<uint64_t> ApproveRotation(std::string_view request_text) override {
    LIAISON_ASSIGN_OR_RETURN(RotationRequest request, DecodeRotationRequest(request_text));
    LIAISON_ASSIGN_OR_RETURN(std::optional<roster::VerifiedEpoch> newest, NewestStored());
    if (!newest || !newest->epoch.Find(request.address)) {
      return Status::Error(Code::kNotFound, request.address + " is not in the roster");
    }
    std::vector<roster::Member> members = newest->epoch.members;
    const auto parts = roster::SplitAddress(request.address);
    for (roster::Member& member : members) {
      if (member.id != parts->first) continue;
      for (roster::Device& device : member.devices) {
        if (device.id != parts->second) continue;
        LIAISON_RETURN_IF_ERROR(VerifyRotationRequest(request, device.signing_key));
        device.signing_key = request.signing_key;
        device.dh_key = request.dh_key;
        device.transport_key = request.transport_key;
      }
    }
    return SignStoreAndPublish(newest, std::move(members));
  }

  Result<uint64_t> Revoke(std::string_view target) override {
    LIAISON_ASSIGN_OR_RETURN(std::optional<roster::VerifiedEpoch> newest, NewestStored());
    if (!newest) return Status::Error(Code::kNotFound, "the roster is empty");
    std::vector<roster::Member> members = newest->epoch.members;
    const auto parts = roster::SplitAddress(target);
    const std::string member_id(parts ? parts->first : target);
    auto member = std::find_if(members.begin(), members.end(), [&](const roster::Member& m) { return m.id == member_id; });
    if (member == members.end()) return Status::Error(Code::kNotFound, member_id + " is not in the roster");
    if (parts) {
      auto& devices = member->devices;
      auto device = std::find_if(devices.begin(), devices.end(), [&](const roster::Device& d) { return d.id == parts->second; });
      if (device == devices.end()) return Status::Error(Code::kNotFound, std::string(target) + " is not in the roster");
      devices.erase(device);
      if (devices.empty()) members.erase(member);
    } else {
      members.erase(member);
    }
    return SignStoreAndPublish(newest, std::move(members));
  }

  Result<uint64_t> Publish() override {
    LIAISON_ASSIGN_OR_RETURN(uint64_t local, NewestStoredNumber());
    LIAISON_RETURN_IF_ERROR(Connect());
    LIAISON_ASSIGN_OR_RETURN(Reply reply, connection_->Call(wire::FrameType::kGetRoster, wire::GetRosterRequest{0}));
    LIAISON_RETURN_IF_ERROR(ReplyStatus(reply).WithContext("reading the relay's roster"));
    LIAISON_ASSIGN_OR_RETURN(wire::GetRosterReply top, wire::Decode<wire::GetRosterReply>(reply.body));
    if (top.newest > local) {
      return Status::Error(Code::kConflict, "the relay holds roster epoch " + std::to_string(top.newest) +
                                                " but this admin directory only " + std::to_string(local) +
                                                "; is this the right admin directory?");
    }
    for (uint64_t number = top.newest + 1; number <= local; ++number) {
      LIAISON_ASSIGN_OR_RETURN(std::string bytes, ReadFile(EpochPath(dir_, number), wire::kMaxSignedRosterEpochBytes));
      LIAISON_ASSIGN_OR_RETURN(Reply published,
                               connection_->Call(wire::FrameType::kPublishRoster,
                                                 wire::PublishRosterRequest{Bytes(bytes.begin(), bytes.end())}));
      LIAISON_RETURN_IF_ERROR(ReplyStatus(published).WithContext("publishing roster epoch " + std::to_string(number)));
    }
    return local;
  }

  Result<std::vector<RosterMemberInfo>> Members() override {
    LIAISON_ASSIGN_OR_RETURN(std::optional<roster::VerifiedEpoch> newest, NewestStored());
    std::vector<RosterMemberInfo> out;
    if (!newest) return out;
    for (const auto& m : newest->epoch.members) {
      RosterMemberInfo info{m.id, m.display_name, m.organisation, std::string(roster::RoleName(m.role_value())), {}, {}};
      for (const auto& a : m.areas) info.areas.push_back(a.tag);
      for (const auto& d : m.devices) info.devices.push_back(m.id + "/" + d.id);
      out.push_back(std::move(info));
    }
    return out;
  }

 private:
  Status Connect() {
    if (connection_) return Status::Ok();
    TransportKeys keys{relay_key_, transport_.public_key, transport_.secret_key.Clone()};
    connection_ = std::make_unique<RelayConnection>(context_, endpoint_, std::move(keys), timeout_);
    return Status::Ok();
  }

  Result<uint64_t> NewestStoredNumber() {
    uint64_t newest = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/epochs", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.size() != 18 || name.substr(12) != ".epoch" ||
          !std::all_of(name.begin(), name.begin() + 12, [](char c) { return c >= '0' && c <= '9'; })) {
        continue;  // not an epoch file
      }
      newest = std::max<uint64_t>(newest, std::strtoull(name.substr(0, 12).c_str(), nullptr, 10));
    }
    if (ec) return Status::Error(Code::kIoError, "cannot list " + dir_ + "/epochs: " + ec.message());
    return newest;
  }

  Result<std::optional<roster::VerifiedEpoch>> NewestStored() {
    LIAISON_ASSIGN_OR_RETURN(uint64_t number, NewestStoredNumber());
    if (number == 0) return std::optional<roster::VerifiedEpoch>();
    LIAISON_ASSIGN_OR_RETURN(std::string bytes, ReadFile(EpochPath(dir_, number), wire::kMaxSignedRosterEpochBytes));
    auto verified = roster::VerifyEpoch(AsBytes(bytes), key_.public_key);
    if (!verified.ok()) return verified.status().WithContext(EpochPath(dir_, number));
    if (verified->epoch.number != number) return Status::Error(Code::kCorruption, EpochPath(dir_, number) + " holds another epoch");
    return std::optional<roster::VerifiedEpoch>(std::move(verified).value());
  }

  // Signs the successor of `newest` over `members`, stores it, and publishes what the relay lacks.
  Result<uint64_t> SignStoreAndPublish(const std::optional<roster::VerifiedEpoch>& newest, std::vector<roster::Member> members) {
    roster::Epoch epoch;
    epoch.number = newest ? newest->epoch.number + 1 : 1;
    if (newest) epoch.previous_hash = newest->hash;
    epoch.issued_at = static_cast<uint64_t>(clock_.NowMicros());
    epoch.members = std::move(members);
    LIAISON_ASSIGN_OR_RETURN(Bytes signed_epoch, roster::SignEpoch(epoch, key_));
    LIAISON_RETURN_IF_ERROR(WriteFileAtomically(EpochPath(dir_, epoch.number),
                                                std::string(reinterpret_cast<const char*>(signed_epoch.data()), signed_epoch.size()),
                                                0644));
    auto published = Publish();
    if (!published.ok()) {
      return published.status().WithContext("roster epoch " + std::to_string(epoch.number) +
                                            " is signed and stored; the next admin command publishes it");
    }
    return epoch.number;
  }

  Result<nlohmann::json> LoadInvitations() {
    const std::string path = dir_ + "/invitations.json";
    if (!std::filesystem::exists(path)) return nlohmann::json::array();
    LIAISON_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxInvitationsFileBytes));
    auto json = nlohmann::json::parse(text, nullptr, false);
    sodium_memzero(text.data(), text.size());
    if (!json.is_array()) return Status::Error(Code::kCorruption, path + " is not a JSON array");
    for (const auto& entry : json) {
      const bool well_formed = entry.is_object() && entry.contains("id") && entry["id"].is_string() &&
                               entry.contains("address") && entry["address"].is_string() && entry.contains("code") &&
                               entry["code"].is_string() && entry.contains("expires_at") &&
                               entry["expires_at"].is_number_integer() && entry.contains("used_at") &&
                               entry["used_at"].is_number_integer();
      if (!well_formed) return Status::Error(Code::kCorruption, path + " holds a damaged invitation entry");
    }
    return json;
  }

  Status SaveInvitations(const nlohmann::json& invitations) {
    std::string text = invitations.dump(1) + "\n";
    Status written = WriteFileAtomically(dir_ + "/invitations.json", text, 0600);
    sodium_memzero(text.data(), text.size());
    return written;
  }

  std::string dir_;
  crypto::SigningKeyPair key_;
  crypto::DhKeyPair transport_;
  std::string endpoint_;
  std::array<uint8_t, 32> relay_key_;
  std::chrono::milliseconds timeout_;
  Clock& clock_;
  zmq::context_t context_;
  std::unique_ptr<RelayConnection> connection_;
};

}  // namespace
}  // namespace client

Result<std::unique_ptr<Coordinator>> Coordinator::Init(const CoordinatorOptions& options) {
  if (options.admin_dir.empty()) return Status::Error(Code::kInvalidArgument, "the admin directory is required");
  if (options.passphrase.empty()) return Status::Error(Code::kInvalidArgument, "a passphrase is required");
  if (options.relay_endpoint.empty()) return Status::Error(Code::kInvalidArgument, "the relay endpoint is required");
  LIAISON_RETURN_IF_ERROR(client::ParseZ85Key(options.relay_public_key).status());
  const std::string key_path = options.admin_dir + "/coordinator.key";
  if (std::filesystem::exists(key_path)) {
    return Status::Error(Code::kAlreadyExists, options.admin_dir + " already holds a coordinator key");
  }
  LIAISON_RETURN_IF_ERROR(CreateDirectoriesDurably(options.admin_dir + "/epochs"));
  const auto key = crypto::SigningKeyPair::Generate();
  const auto transport = crypto::DhKeyPair::Generate();
  crypto::WipedBytes secrets;
  secrets.Append(ByteView(key.secret_key.data(), key.secret_key.size()));
  secrets.Append(ByteView(transport.secret_key.data(), transport.secret_key.size()));
  const crypto::PassphraseCost cost =
      options.light_key_protection ? crypto::InteractivePassphraseCost() : crypto::ModeratePassphraseCost();
  LIAISON_ASSIGN_OR_RETURN(Bytes box, crypto::SealWithPassphrase(secrets.view(), options.passphrase, cost));
  nlohmann::json admin{{"relay_endpoint", options.relay_endpoint},
                       {"relay_key", options.relay_public_key},
                       {"coordinator_key", ToHex(key.public_key)},
                       {"transport_key", client::Z85Of(transport.public_key)}};
  LIAISON_RETURN_IF_ERROR(WriteFileAtomically(options.admin_dir + "/admin.json", admin.dump(1) + "\n", 0644));
  LIAISON_RETURN_IF_ERROR(WriteFileAtomically(key_path, std::string(box.begin(), box.end()), 0600));
  return Open(options);
}

Result<std::unique_ptr<Coordinator>> Coordinator::Open(const CoordinatorOptions& options) {
  const std::string key_path = options.admin_dir + "/coordinator.key";
  if (!std::filesystem::exists(key_path)) {
    return Status::Error(Code::kNotFound, options.admin_dir + " holds no coordinator key (run `liaison admin init`)");
  }
  LIAISON_ASSIGN_OR_RETURN(std::string admin_text, ReadFile(options.admin_dir + "/admin.json", 1 << 16));
  auto admin = nlohmann::json::parse(admin_text, nullptr, false);
  if (!admin.is_object() || !admin["relay_endpoint"].is_string() || !admin["relay_key"].is_string()) {
    return Status::Error(Code::kCorruption, options.admin_dir + "/admin.json is damaged");
  }
  std::string endpoint = options.relay_endpoint.empty() ? admin["relay_endpoint"].get<std::string>() : options.relay_endpoint;
  LIAISON_ASSIGN_OR_RETURN(auto relay_key, client::ParseZ85Key(options.relay_public_key.empty()
                                                                   ? admin["relay_key"].get<std::string>()
                                                                   : options.relay_public_key));
  LIAISON_ASSIGN_OR_RETURN(std::string box, ReadFile(key_path, 4096));
  LIAISON_ASSIGN_OR_RETURN(crypto::WipedBytes secrets, crypto::OpenWithPassphrase(AsBytes(box), options.passphrase));
  if (secrets.view().size() != crypto::kSignSecretKeyBytes + crypto::kDhSecretKeyBytes) {
    return Status::Error(Code::kCorruption, key_path + " holds keys of the wrong size");
  }
  LIAISON_ASSIGN_OR_RETURN(auto sign_secret, crypto::SecretBytes<crypto::kSignSecretKeyBytes>::FromBytes(
                                                 secrets.view().first(crypto::kSignSecretKeyBytes)));
  LIAISON_ASSIGN_OR_RETURN(auto dh_secret, crypto::SecretBytes<crypto::kDhSecretKeyBytes>::FromBytes(
                                               secrets.view().subspan(crypto::kSignSecretKeyBytes)));
  LIAISON_ASSIGN_OR_RETURN(auto key, crypto::SigningKeyPair::FromSecret(std::move(sign_secret)));
  return std::unique_ptr<Coordinator>(new client::CoordinatorImpl(
      options.admin_dir, std::move(key), crypto::DhKeyPair::FromSecret(std::move(dh_secret)), std::move(endpoint),
      relay_key, options.timeout, options.clock != nullptr ? *options.clock : SystemClock()));
}

}  // namespace liaison
