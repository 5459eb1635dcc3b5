// liaison: the command line of one device, and of the coordinator (`liaison admin`, in
// tools/admin_commands.cc); alerts, reports and acknowledgements are in tools/alert_commands.cc,
// the inbox listing in tools/inbox_command.cc. See `liaison --help` and docs/operations.md.
// Exit codes: 0 done, 1 failed (relay, store, authentication), 2 bad usage or input, 3 relay
// unreachable (the outbox keeps what was not sent).
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/file_util.h"
#include "liaison/client.h"
#include "tools/admin_commands.h"
#include "tools/alert_commands.h"
#include "tools/cli_util.h"
#include "tools/inbox_command.h"

namespace {

using liaison::cli::ExitCode;
using liaison::cli::Fail;

nlohmann::json ReportJson(const liaison::SyncReport& r) {
  return {{"sent", r.sent},         {"failed", r.failed},         {"still_queued", r.still_queued},
          {"received", r.received}, {"duplicates", r.duplicates}, {"rejected", r.rejected},          {"deferred", r.deferred},
          {"roster_alarms", r.roster_alarms}, {"roster_epoch", r.roster_epoch},
          {"receipts", r.receipts}, {"escalations", r.escalations}, {"errors", r.errors}};
}

void PrintReport(const liaison::SyncReport& r) {
  std::printf("sent %zu, received %zu", r.sent, r.received);
  if (r.still_queued) std::printf(", %zu still queued", r.still_queued);
  if (r.duplicates) std::printf(", %zu duplicates ignored", r.duplicates);
  if (r.failed) std::printf(", %zu refused", r.failed);
  if (r.rejected) std::printf(", %zu rejected as forged or damaged", r.rejected);
  if (r.deferred) std::printf(", %zu left on the relay for later", r.deferred);
  if (r.receipts) std::printf(", %zu receipts for alerts and reports", r.receipts);
  if (r.escalations) std::printf(", %zu escalations (reminders, deputies notified)", r.escalations);
  if (r.roster_epoch) std::printf(", roster epoch %llu", static_cast<unsigned long long>(r.roster_epoch));
  if (r.roster_alarms) std::printf(", %zu ROSTER ALARMS (see below)", r.roster_alarms);
  std::printf("\n");
  for (const auto& e : r.errors) std::printf("  %s\n", e.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "liaison: libsodium failed to initialise\n");
    return 1;
  }
  CLI::App app{"liaison: end-to-end encrypted messages between police contacts and associations"};
  app.require_subcommand(1);
  app.fallthrough();  // global options (--state, --relay, --json) may follow the subcommand
  liaison::ClientOptions options;
  const char* env_state = std::getenv("LIAISON_STATE");
  options.state_dir = env_state ? env_state : "";
  bool json = false;
  int timeout_ms = 5000;
  app.add_option("--state", options.state_dir, "device state directory (or $LIAISON_STATE)");
  app.add_option("--timeout-ms", timeout_ms, "how long to wait for the relay")->capture_default_str();
  app.add_flag("--json", json, "machine-readable output");
  app.add_option("--relay", options.relay_endpoint, "relay endpoint, e.g. tcp://127.0.0.1:7400 (stored by init)");

  std::string address, relay_key_file, to, text, card_out;
  auto* init = app.add_subcommand("init", "create this device: keys and state");
  init->add_option("--address", address, "device address, e.g. officer-meyer/1")->required();
  init->add_option("--relay-key", options.relay_public_key, "relay public key (Z85)");
  init->add_option("--relay-key-file", relay_key_file, "file holding the relay public key (relay.pub)");
  init->add_option("--card", card_out, "also write the device card to this file");
  auto* card = app.add_subcommand("card", "print this device's card for the coordinator");
  card->add_option("--out", card_out, "write it to this file instead");
  auto* send = app.add_subcommand("send", "encrypt and send a text message");
  send->add_option("--to", to, "recipient device address")->required();
  send->add_option("--text", text, "message text")->required();
  std::string send_expires;
  send->add_option("--expires", send_expires, "how long the relay keeps it for the recipient, e.g. 7d (default 30d)");
  auto* sync = app.add_subcommand("sync", "send the outbox, fetch and acknowledge new messages");
  int listen_seconds = 0;
  auto* listen = app.add_subcommand("listen", "receive pushed messages for a while");
  listen->add_option("--seconds", listen_seconds, "how long")->required();
  auto* inbox = app.add_subcommand("inbox", "list received alerts, reports and messages (shown alerts and reports count as read)");
  std::string verify_member, confirm, rekey_out;
  auto* rekey = app.add_subcommand("rekey", "make new keys for this device and print the request for the coordinator");
  rekey->add_option("--out", rekey_out, "also write the rotation request to this file");
  auto* verify = app.add_subcommand("verify", "show the safety number with a member; --confirm records a match");
  verify->add_option("member", verify_member, "member id, e.g. desk-dresden")->required();
  verify->add_option("--confirm", confirm, "the number the other person read out (spaces allowed)");
  liaison::cli::AdminCommands admin(app, json);
  liaison::cli::AlertCommands alerts(app, json);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help exits 0; every usage error exits 2
  }
  options.timeout = std::chrono::milliseconds(timeout_ms);
  if (auto code = admin.Run(options.state_dir, timeout_ms)) return *code;

  if (options.state_dir.empty()) return Fail(liaison::Status::Error(liaison::Code::kInvalidArgument, "--state or $LIAISON_STATE is required"));

  if (init->parsed()) {
    if (!relay_key_file.empty()) {
      auto key = liaison::ReadFile(relay_key_file, 128);
      if (!key.ok()) return Fail(key.status());
      options.relay_public_key = key->substr(0, key->find_first_of("\r\n"));
    }
    auto client = liaison::Client::Create(options, address);
    if (!client.ok()) return Fail(client.status());
    const auto device_card = (*client)->Card();
    if (!card_out.empty()) {
      liaison::Status s = liaison::WriteFileAtomically(card_out, device_card.ToToml(), 0644);
      if (!s.ok()) return Fail(s);
    }
    if (json) {
      std::cout << nlohmann::json{{"address", device_card.address}, {"transport_key", device_card.transport_key}} << "\n";
    } else {
      std::printf("created device %s in %s\n", device_card.address.c_str(), options.state_dir.c_str());
    }
    return 0;
  }

  auto client = liaison::Client::Open(options);
  if (!client.ok()) return Fail(client.status());
  if (alerts.parsed()) return alerts.Run(**client);
  if (card->parsed()) {
    const std::string toml = (*client)->Card().ToToml();
    if (card_out.empty()) {
      std::fputs(toml.c_str(), stdout);
      return 0;
    }
    return ExitCode(liaison::WriteFileAtomically(card_out, toml, 0644));
  }
  if (send->parsed()) {
    std::chrono::seconds ttl{0};
    if (!send_expires.empty()) {
      auto parsed = liaison::cli::ParseDuration(send_expires, "--expires");
      if (!parsed.ok()) return Fail(parsed.status());
      ttl = *parsed;
    }
    auto receipt = (*client)->Send(to, text, ttl);
    if (!receipt.ok()) return Fail(receipt.status());
    if (json) {
      std::cout << nlohmann::json{{"id", receipt->id}, {"queued", !receipt->stored}} << "\n";
    } else if (!receipt->stored) {
      std::printf("message %s is in the outbox; the relay did not store it yet, `liaison sync` retries\n",
                  receipt->id.c_str());
    } else {
      std::printf("message %s stored by the relay for %s\n", receipt->id.c_str(), to.c_str());
    }
    return 0;
  }
  if (sync->parsed() || listen->parsed()) {
    auto report = sync->parsed() ? (*client)->Sync()
                                 : (*client)->Listen(std::chrono::seconds(listen_seconds), [&](const liaison::InboxMessage& m) {
                                     if (json) return;
                                     if (m.kind == "alert") {
                                       std::printf("ALERT %s from %s: \"%s\" (id %s)\n",
                                                   std::string(liaison::SeverityName(m.severity)).c_str(),
                                                   m.sender.c_str(), m.title.c_str(), m.id.c_str());
                                     } else if (m.kind == "report") {
                                       std::printf("REPORT %s from %s (id %s)\n",
                                                   std::string(liaison::ReportCategoryName(m.category)).c_str(),
                                                   m.sender.c_str(), m.id.c_str());
                                     } else {
                                       std::printf("from %s: %s\n", m.sender.c_str(), m.text.c_str());
                                     }
                                   });
    if (!report.ok()) return Fail(report.status());
    if (json) {
      std::cout << ReportJson(*report) << "\n";
    } else {
      PrintReport(*report);
    }
    return 0;
  }
  if (rekey->parsed()) {
    auto request = (*client)->RequestKeyRotation();
    if (!request.ok()) return Fail(request.status());
    if (!rekey_out.empty()) {
      liaison::Status written = liaison::WriteFileAtomically(rekey_out, *request + "\n", 0644);
      if (!written.ok()) return Fail(written);
    }
    if (json) {
      std::cout << nlohmann::json{{"request", *request}} << "\n";
    } else {
      std::printf("new keys made (used once the coordinator approves); give this request to the coordinator:\n%s\n",
                  request->c_str());
    }
    return 0;
  }
  if (verify->parsed()) {
    if (!confirm.empty()) {
      liaison::Status marked = (*client)->MarkVerified(verify_member, confirm);
      if (!marked.ok()) return Fail(marked);
    }
    auto v = (*client)->Verify(verify_member);
    if (!v.ok()) return Fail(v.status());
    const char* state = v->verified ? "verified" : v->changed_since_verification ? "CHANGED since it was verified" : "not verified";
    if (json) {
      std::cout << nlohmann::json{{"member", v->member}, {"safety_number", v->safety_number}, {"qr_text", v->qr_text},
                                  {"verified", v->verified}, {"changed_since_verification", v->changed_since_verification}}
                << "\n";
    } else {
      std::printf("safety number with %s (%s):\n  %s\nQR text: %s\n", v->member.c_str(), state, v->safety_number.c_str(),
                  v->qr_text.c_str());
    }
    return 0;
  }
  if (inbox->parsed()) return liaison::cli::ShowInbox(**client, json);
  return 2;
}
