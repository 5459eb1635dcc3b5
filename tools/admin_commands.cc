// The coordinator's commands and enrollment (tools/admin_commands.h).
#include "tools/admin_commands.h"

#include <sodium.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/file_util.h"
#include "liaison/client.h"
#include "liaison/coordinator.h"
#include "tools/cli_util.h"

namespace liaison::cli {

struct AdminCommands::Options {
  const bool& json;
  std::string admin_dir, relay_endpoint, relay_key_file, relay_config, address, out, request_file, invitation_file,
      role, name, organisation, holder, target;
  std::vector<std::string> areas;
  int valid_hours = 72;
  bool light_kdf = false;
  CLI::App* admin = nullptr;
  CLI::App *init = nullptr, *invite = nullptr, *approve = nullptr, *revoke = nullptr, *roster = nullptr,
           *publish = nullptr, *enroll = nullptr, *rotate = nullptr;
  explicit Options(const bool& j) : json(j) {}
};

AdminCommands::AdminCommands(CLI::App& app, const bool& json) : o_(std::make_unique<Options>(json)) {
  Options& o = *o_;
  o.enroll = app.add_subcommand("enroll", "create this device from a coordinator's invitation and print the request");
  o.enroll->add_option("--invitation", o.invitation_file, "file holding the invitation")->required();
  o.enroll->add_option("--out", o.out, "also write the enrollment request to this file");

  o.admin = app.add_subcommand("admin", "the coordinator: keys, invitations, approvals, revocations");
  o.admin->require_subcommand(1);
  const char* env_admin = std::getenv("LIAISON_ADMIN");
  o.admin_dir = env_admin ? env_admin : "";
  o.admin->add_option("--admin", o.admin_dir, "admin directory (or $LIAISON_ADMIN); passphrase from "
                                              "$LIAISON_ADMIN_PASSPHRASE or the terminal");
  o.init = o.admin->add_subcommand("init", "create the coordinator's key (sealed under a passphrase)");
  o.init->add_option("--relay", o.relay_endpoint, "relay endpoint, e.g. tcp://127.0.0.1:7400")->required();
  o.init->add_option("--relay-key-file", o.relay_key_file, "the relay's public key file (relay.pub)")->required();
  o.init->add_option("--relay-config", o.relay_config, "also put the [roster] keys into this relay.toml");
  o.init->add_flag("--light-kdf", o.light_kdf, "Argon2id at 64 MiB instead of 256 MiB (small machines, tests)");
  o.invite = o.admin->add_subcommand("invite", "issue a single-use invitation for a device address");
  o.invite->add_option("--address", o.address, "the new device's address, e.g. moschee-dresden/1")->required();
  o.invite->add_option("--valid-hours", o.valid_hours, "how long the invitation is valid")->capture_default_str();
  o.invite->add_option("--out", o.out, "also write the invitation to this file");
  o.approve = o.admin->add_subcommand("approve", "check an enrollment request, sign and publish the next epoch");
  o.approve->add_option("request", o.request_file, "file holding the enrollment request")->required();
  o.approve->add_option("--role", o.role, "officer, desk, association_contact, deputy or coordinator");
  o.approve->add_option("--name", o.name, "display name");
  o.approve->add_option("--org,--organisation", o.organisation, "organisation (deputies stand in for members of the same one)");
  o.approve->add_option("--area", o.areas, "area tag such as city:dresden (repeatable)");
  o.approve->add_option("--holder", o.holder, "the person using this device (e.g. the officer at a desk)");
  o.rotate = o.admin->add_subcommand("approve-rotation", "give a device the new keys of its signed rotation request");
  o.rotate->add_option("request", o.request_file, "file holding the rotation request (`liaison rekey`)")->required();
  o.revoke = o.admin->add_subcommand("revoke", "remove a member or one device in a new epoch");
  o.revoke->add_option("target", o.target, "member (e.g. moschee-dresden) or device (moschee-dresden/1)")->required();
  o.roster = o.admin->add_subcommand("roster", "list the members of the newest epoch");
  o.publish = o.admin->add_subcommand("publish", "publish stored epochs the relay does not hold yet");
}

AdminCommands::~AdminCommands() = default;

std::optional<int> AdminCommands::Run(const std::string& state_dir, int timeout_ms) {
  Options& o = *o_;
  if (o.enroll->parsed()) {
    if (state_dir.empty()) return Fail(Status::Error(Code::kInvalidArgument, "--state or $LIAISON_STATE is required"));
    auto invitation = ReadFirstLine(o.invitation_file);
    if (!invitation.ok()) return Fail(invitation.status());
    ClientOptions options;
    options.state_dir = state_dir;
    options.timeout = std::chrono::milliseconds(timeout_ms);
    std::string request;
    auto client = Client::Enroll(options, *invitation, &request);
    sodium_memzero(invitation->data(), invitation->size());
    if (!client.ok()) return Fail(client.status());
    if (!o.out.empty()) {
      Status written = WriteFileAtomically(o.out, request + "\n", 0644);
      if (!written.ok()) return Fail(written);
    }
    if (o.json) {
      std::cout << nlohmann::json{{"address", (*client)->address()}, {"request", request}} << "\n";
    } else {
      std::printf("created device %s; give this enrollment request to the coordinator:\n%s\n",
                  (*client)->address().c_str(), request.c_str());
    }
    return 0;
  }
  if (!o.admin->parsed()) return std::nullopt;
  if (o.admin_dir.empty()) return Fail(Status::Error(Code::kInvalidArgument, "--admin or $LIAISON_ADMIN is required"));

  CoordinatorOptions options;
  options.admin_dir = o.admin_dir;
  options.timeout = std::chrono::milliseconds(timeout_ms);
  auto passphrase = ReadPassphrase(o.init->parsed() ? "new coordinator passphrase: " : "coordinator passphrase: ");
  if (!passphrase.ok()) return Fail(passphrase.status());
  options.passphrase = std::move(*passphrase);
  std::unique_ptr<Coordinator> coordinator;
  if (o.init->parsed()) {
    auto key = ReadFirstLine(o.relay_key_file);
    if (!key.ok()) return Fail(key.status());
    options.relay_endpoint = o.relay_endpoint;
    options.relay_public_key = *key;
    options.light_key_protection = o.light_kdf;
    auto created = Coordinator::Init(options);
    sodium_memzero(options.passphrase.data(), options.passphrase.size());
    if (!created.ok()) return Fail(created.status());
    coordinator = std::move(created).value();
    if (!o.relay_config.empty()) {
      auto config = ReadFile(o.relay_config);
      if (!config.ok()) return Fail(config.status());
      const std::string commented_key = "# coordinator_key = \"64 hex characters\"";
      const std::string commented_transport = "# coordinator_transport_key = \"40 Z85 characters\"";
      const auto at_key = config->find(commented_key);
      const auto at_transport = config->find(commented_transport);
      if (at_key != std::string::npos && at_transport != std::string::npos) {
        config->replace(at_transport, commented_transport.size(),
                        "coordinator_transport_key = \"" + coordinator->transport_key() + "\"");
        config->replace(at_key, commented_key.size(), "coordinator_key = \"" + coordinator->public_key() + "\"");
      } else {
        *config += "\n" + coordinator->RelayConfigLines();
      }
      Status written = WriteFileAtomically(o.relay_config, *config, 0644);
      if (!written.ok()) return Fail(written);
    }
    if (o.json) {
      std::cout << nlohmann::json{{"coordinator_key", coordinator->public_key()},
                                  {"coordinator_transport_key", coordinator->transport_key()}}
                << "\n";
    } else {
      std::printf("coordinator key created in %s\n%s", o.admin_dir.c_str(),
                  o.relay_config.empty() ? ("add to the relay's relay.toml (and restart it):\n" + coordinator->RelayConfigLines()).c_str()
                                         : ("wrote the [roster] keys into " + o.relay_config + "; restart the relay\n").c_str());
    }
    return 0;
  }
  auto opened = Coordinator::Open(options);
  sodium_memzero(options.passphrase.data(), options.passphrase.size());
  if (!opened.ok()) return Fail(opened.status());
  coordinator = std::move(opened).value();

  if (o.invite->parsed()) {
    auto invitation = coordinator->Invite(o.address, std::chrono::hours(o.valid_hours));
    if (!invitation.ok()) return Fail(invitation.status());
    if (!o.out.empty()) {
      Status written = WriteFileAtomically(o.out, *invitation + "\n", 0600);
      if (!written.ok()) return Fail(written);
    }
    if (o.json) {
      std::cout << nlohmann::json{{"address", o.address}, {"invitation", *invitation}} << "\n";
    } else {
      std::printf("invitation for %s, valid %d hours, single use (print it as a QR code or hand over the file):\n%s\n",
                  o.address.c_str(), o.valid_hours, invitation->c_str());
    }
    return 0;
  }
  if (o.approve->parsed()) {
    auto request = ReadFirstLine(o.request_file);
    if (!request.ok()) return Fail(request.status());
    auto epoch = coordinator->Approve(*request, {o.role, o.name, o.organisation, o.areas, o.holder});
    if (!epoch.ok()) return Fail(epoch.status());
    if (o.json) {
      std::cout << nlohmann::json{{"epoch", *epoch}} << "\n";
    } else {
      std::printf("approved; roster epoch %llu signed and published\n", static_cast<unsigned long long>(*epoch));
    }
    return 0;
  }
  if (o.rotate->parsed()) {
    auto request = ReadFirstLine(o.request_file);
    if (!request.ok()) return Fail(request.status());
    auto epoch = coordinator->ApproveRotation(*request);
    if (!epoch.ok()) return Fail(epoch.status());
    if (o.json) {
      std::cout << nlohmann::json{{"epoch", *epoch}} << "\n";
    } else {
      std::printf("new keys approved; roster epoch %llu signed and published\n", static_cast<unsigned long long>(*epoch));
    }
    return 0;
  }
  if (o.revoke->parsed()) {
    auto epoch = coordinator->Revoke(o.target);
    if (!epoch.ok()) return Fail(epoch.status());
    if (o.json) {
      std::cout << nlohmann::json{{"epoch", *epoch}} << "\n";
    } else {
      std::printf("revoked %s; roster epoch %llu signed and published\n", o.target.c_str(),
                  static_cast<unsigned long long>(*epoch));
    }
    return 0;
  }
  if (o.publish->parsed()) {
    auto newest = coordinator->Publish();
    if (!newest.ok()) return Fail(newest.status());
    std::printf("the relay holds roster epoch %llu\n", static_cast<unsigned long long>(*newest));
    return 0;
  }
  if (o.roster->parsed()) {
    auto members = coordinator->Members();
    if (!members.ok()) return Fail(members.status());
    if (o.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& m : *members) {
        out.push_back({{"id", m.id}, {"name", m.display_name}, {"organisation", m.organisation}, {"role", m.role},
                       {"areas", m.areas}, {"devices", m.devices}});
      }
      std::cout << out << "\n";
      return 0;
    }
    if (members->empty()) std::printf("the roster is empty\n");
    for (const auto& m : *members) {
      std::printf("%s (%s, %s, %s): %zu device(s)\n", m.id.c_str(), m.role.c_str(), m.display_name.c_str(),
                  m.organisation.c_str(), m.devices.size());
    }
    return 0;
  }
  return 2;
}

}  // namespace liaison::cli
