// Alerts, reports, acknowledgements and submission receipts (tools/alert_commands.h).
#include "tools/alert_commands.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/file_util.h"
#include "liaison/client.h"
#include "tools/cli_util.h"

namespace liaison::cli {

struct AlertCommands::Options {
  const bool& json;
  // alert
  std::string to, severity = "info", title, body, expires, remind_after, deputy_after;
  bool ack_required = false;
  // report
  std::string desk, category, place, when, text;
  // status, ack, verify-receipt
  std::string id, answer, relay_key, relay_key_file;
  CLI::App *alert = nullptr, *alert_status = nullptr, *alert_list = nullptr, *report = nullptr,
           *report_status = nullptr, *ack = nullptr, *verify_receipt = nullptr;
  explicit Options(const bool& j) : json(j) {}
};

namespace {

Status Usage(std::string message) { return Status::Error(Code::kInvalidArgument, std::move(message)); }

std::string Quoted(const std::string& text) { return "\"" + text + "\""; }

nlohmann::json SubmissionJson(const std::optional<SubmissionReceipt>& s) {
  if (!s) return nullptr;
  return {{"relay_signing_key", s->relay_signing_key}, {"body_hash", s->body_hash}, {"stored_at", s->stored_at},
          {"copies", s->copies}, {"signature", s->signature}};
}

nlohmann::json StatusJson(const AlertStatus& a, bool with_recipients) {
  nlohmann::json out{{"id", a.id},
                     {"kind", a.kind},
                     {"severity", SeverityName(a.severity)},
                     {"category", ReportCategoryName(a.category)},
                     {"title", a.title},
                     {"ack_required", a.ack_required},
                     {"created_at", a.created_at},
                     {"expires_at", a.expires_at},
                     {"sent", a.sent},
                     {"delivered", a.delivered},
                     {"read", a.read},
                     {"acknowledged", a.acknowledged},
                     {"expired", a.expired},
                     {"pending", a.pending},
                     {"refused", a.refused},
                     {"submission", SubmissionJson(a.submission)}};
  if (with_recipients) {
    nlohmann::json recipients = nlohmann::json::array();
    for (const RecipientStatus& r : a.recipients) {
      recipients.push_back({{"device", r.device},
                            {"member", r.member},
                            {"name", r.name},
                            {"organisation", r.organisation},
                            {"via_escalation", r.via_escalation},
                            {"refused", r.refused},
                            {"sent_at", r.sent_at},
                            {"delivered_at", r.delivered_at},
                            {"read_at", r.read_at},
                            {"acknowledged_at", r.acknowledged_at},
                            {"answer", r.answer},
                            {"expired", r.expired},
                            {"reminded_at", r.reminded_at},
                            {"deputy_notified_at", r.deputy_notified_at},
                            {"call", r.call}});
    }
    out["recipients"] = std::move(recipients);
  }
  return out;
}

std::string Totals(const AlertStatus& a) {
  std::string out = "sent " + std::to_string(a.sent) + ", delivered " + std::to_string(a.delivered) + ", read " +
                    std::to_string(a.read) + ", acknowledged " + std::to_string(a.acknowledged) + ", expired " +
                    std::to_string(a.expired) + ", pending " + std::to_string(a.pending);
  if (a.refused) out += ", refused " + std::to_string(a.refused);
  return out;
}

// "alert urgent, ack required" / "report threat-letter".
std::string Kind(const AlertStatus& a) {
  if (a.kind == "report") return "report " + std::string(ReportCategoryName(a.category));
  return "alert " + std::string(SeverityName(a.severity)) + (a.ack_required ? ", ack required" : "");
}

// "holder or name, organisation" of a recipient, or "" if the roster names neither.
std::string Who(const RecipientStatus& r) {
  std::string who = r.name;
  if (!r.organisation.empty()) who += (who.empty() ? "" : ", ") + r.organisation;
  return who.empty() ? "" : " (" + who + ")";
}

void PrintStatus(const AlertStatus& a) {
  std::printf("%s %s: %s\n", Kind(a).c_str(), a.id.c_str(), Quoted(a.title).c_str());
  std::printf("created %s, expires %s\n", FormatTime(a.created_at).c_str(), FormatTime(a.expires_at).c_str());
  for (const RecipientStatus& r : a.recipients) {
    std::vector<std::string> parts;
    if (!r.refused.empty()) parts.push_back("REFUSED: " + r.refused);
    if (r.sent_at) {
      parts.push_back("sent " + FormatTime(r.sent_at));
    } else if (r.refused.empty()) {
      parts.push_back("waiting in the outbox");
    }
    if (r.delivered_at) {
      parts.push_back("delivered " + FormatTime(r.delivered_at));
    } else if (r.expired) {
      parts.push_back("EXPIRED undelivered");
    } else if (r.sent_at) {
      parts.push_back("not delivered");
    }
    if (r.read_at) parts.push_back("read " + FormatTime(r.read_at));
    if (r.acknowledged_at) {
      parts.push_back("acknowledged " + FormatTime(r.acknowledged_at) +
                      (r.answer.empty() ? "" : " with answer " + Quoted(r.answer)));
    }
    if (r.reminded_at) parts.push_back("reminded " + FormatTime(r.reminded_at));
    if (r.deputy_notified_at) {
      // The deputies the escalation added: recipients via escalation of the same organisation.
      std::vector<std::string> deputies;
      for (const RecipientStatus& d : a.recipients) {
        if (d.via_escalation && !r.organisation.empty() && d.organisation == r.organisation) deputies.push_back(d.device);
      }
      std::string which = deputies.empty() ? "no deputy reached" : "deputies:";
      for (const auto& d : deputies) which += " " + d;
      parts.push_back("deputy notified " + FormatTime(r.deputy_notified_at) + " (" + which + ")");
    }
    std::string line;
    for (const auto& p : parts) line += (line.empty() ? "" : ", ") + p;
    std::printf("  %-4s %s%s%s: %s\n", r.call ? "CALL" : "", r.device.c_str(), Who(r).c_str(),
                r.via_escalation ? ", via escalation" : "", line.c_str());
  }
  std::printf("%s\n", Totals(a).c_str());
  if (a.submission) {
    std::printf("submission receipt: the relay stored %u copies at %s; relay signing key %s; signature %s\n",
                a.submission->copies, FormatTime(a.submission->stored_at).c_str(),
                a.submission->relay_signing_key.c_str(), a.submission->signature.c_str());
  } else {
    std::printf("no submission receipt yet (the relay has stored no copy)\n");
  }
}

int PrintSent(const Result<BroadcastReceipt>& receipt, const char* what, bool json) {
  if (!receipt.ok()) return Fail(receipt.status());
  if (json) {
    std::cout << nlohmann::json{{"id", receipt->id}, {"recipients", receipt->recipients}, {"stored", receipt->stored}}
              << "\n";
    return 0;
  }
  std::printf("%s %s to %zu recipient device(s); the relay stored %zu", what, receipt->id.c_str(), receipt->recipients,
              receipt->stored);
  if (receipt->stored < receipt->recipients) std::printf(", the rest wait in the outbox (`liaison sync` retries)");
  std::printf("\n");
  return 0;
}

}  // namespace

AlertCommands::AlertCommands(CLI::App& app, const bool& json) : o_(std::make_unique<Options>(json)) {
  Options& o = *o_;
  o.alert = app.add_subcommand("alert", "send an alert to a selection of the roster (officers, desks, coordinators); "
                                        "`alert status ID`, `alert list`");
  o.alert->add_option("--to", o.to, "selection, e.g. 'area:city:dresden role:association_contact', "
                                    "'member:moschee-dresden,vsz-dresden', 'org:\"DITIB Dresden\"', 'all'");
  o.alert->add_option("--severity", o.severity, "info, warning or urgent")->capture_default_str();
  o.alert->add_option("--title", o.title, "title (1..200 bytes)");
  o.alert->add_option("--body", o.body, "text (1 byte..16 KiB)");
  o.alert->add_flag("--ack-required", o.ack_required, "ask every recipient to acknowledge");
  o.alert->add_option("--expires", o.expires, "lifetime, e.g. 90s, 15m, 2h, 14d (default 14d)");
  o.alert->add_option("--remind-after", o.remind_after,
                      "send again to a device without delivery receipt after this (0: never; default per severity: "
                      "urgent 15m, warning 60m, info never)");
  o.alert->add_option("--deputy-after", o.deputy_after,
                      "ack-required: notify the deputies of a member without acknowledgement after this and mark it "
                      "for a call (0: never; default urgent 60m)");
  o.alert_status = o.alert->add_subcommand("status", "the tally of an alert or report this device sent");
  o.alert_status->add_option("id", o.id, "the alert's or report's id")->required();
  o.alert_list = o.alert->add_subcommand("list", "every alert and report this device sent, newest first");

  o.report = app.add_subcommand("report", "report a concern to a police desk (association contacts, deputies); "
                                          "`report status ID`");
  o.report->add_option("--to", o.desk, "the desk's member id, e.g. desk-dresden");
  o.report->add_option("--category", o.category, "threat-letter, suspicious-event, damage or other");
  o.report->add_option("--place", o.place, "where (0..200 bytes)");
  o.report->add_option("--when", o.when, "when, as you would write it, e.g. '2026-12-01 19:30' (0..64 bytes)");
  o.report->add_option("--text", o.text, "what happened (1 byte..16 KiB)");
  o.report->add_option("--expires", o.expires, "lifetime, e.g. 30d (default 30d)");
  o.report_status = o.report->add_subcommand("status", "the tally of a report this device sent (as `alert status`)");
  o.report_status->add_option("id", o.id, "the report's id")->required();

  o.ack = app.add_subcommand("ack", "acknowledge a received alert or report, optionally with a short answer");
  o.ack->add_option("id", o.id, "the alert's or report's id (`liaison inbox`)")->required();
  o.ack->add_option("--answer", o.answer, "short answer (0..200 bytes)");

  o.verify_receipt = app.add_subcommand(
      "verify-receipt", "check the relay's signed submission receipt of an alert or report this device sent");
  o.verify_receipt->add_option("id", o.id, "the alert's or report's id")->required();
  auto* key = o.verify_receipt->add_option("--relay-key", o.relay_key, "the relay's signing key (64 hex characters)");
  auto* key_file = o.verify_receipt->add_option("--relay-key-file", o.relay_key_file,
                                                "file holding it (relay.sign.pub in the relay's data directory)");
  key->excludes(key_file);
  key_file->excludes(key);
}

AlertCommands::~AlertCommands() = default;

bool AlertCommands::parsed() const {
  const Options& o = *o_;
  return o.alert->parsed() || o.report->parsed() || o.ack->parsed() || o.verify_receipt->parsed();
}

int AlertCommands::Run(Client& client) {
  Options& o = *o_;
  if (o.alert_status->parsed() || o.report_status->parsed()) {
    auto status = client.GetAlertStatus(o.id);
    if (!status.ok()) return Fail(status.status());
    if (o.json) {
      std::cout << StatusJson(*status, true) << "\n";
    } else {
      PrintStatus(*status);
    }
    return 0;
  }
  if (o.alert_list->parsed()) {
    auto all = client.SentAlerts();
    if (!all.ok()) return Fail(all.status());
    if (o.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const AlertStatus& a : *all) out.push_back(StatusJson(a, false));
      std::cout << out << "\n";
      return 0;
    }
    if (all->empty()) std::printf("this device sent no alert or report\n");
    for (const AlertStatus& a : *all) {
      std::printf("%s  %s  [%s] %s: %s\n", a.id.c_str(), Kind(a).c_str(), FormatTime(a.created_at).c_str(),
                  Quoted(a.title).c_str(), Totals(a).c_str());
    }
    return 0;
  }
  if (o.alert->parsed()) {
    if (o.to.empty() || o.title.empty() || o.body.empty()) {
      return Fail(Usage("alert needs --to, --title and --body (or: alert status ID, alert list)"));
    }
    AlertRequest request;
    auto severity = ParseSeverity(o.severity);
    if (!severity.ok()) return Fail(severity.status());
    request.severity = *severity;
    request.to = o.to;
    request.title = o.title;
    request.body = o.body;
    request.ack_required = o.ack_required;
    if (!o.expires.empty()) {
      auto ttl = ParseDuration(o.expires, "--expires");
      if (!ttl.ok()) return Fail(ttl.status());
      if (ttl->count() == 0) return Fail(Usage("--expires must be longer than 0"));
      request.ttl = *ttl;
    }
    if (!o.remind_after.empty() || !o.deputy_after.empty()) {
      EscalationRules rules = DefaultEscalation(request.severity);  // what is not given keeps its default
      if (!o.remind_after.empty()) {
        auto d = ParseDuration(o.remind_after, "--remind-after");
        if (!d.ok()) return Fail(d.status());
        rules.remind_after = *d;
      }
      if (!o.deputy_after.empty()) {
        auto d = ParseDuration(o.deputy_after, "--deputy-after");
        if (!d.ok()) return Fail(d.status());
        if (d->count() != 0 && !request.ack_required) {
          return Fail(Usage("--deputy-after acts on missing acknowledgements; it needs --ack-required"));
        }
        rules.deputy_after = *d;
      }
      request.escalation = rules;
    }
    return PrintSent(client.SendAlert(request), "alert", o.json);
  }
  if (o.report->parsed()) {
    if (o.desk.empty() || o.category.empty() || o.text.empty()) {
      return Fail(Usage("report needs --to DESK, --category and --text (or: report status ID)"));
    }
    ReportRequest request;
    auto category = ParseReportCategory(o.category);
    if (!category.ok()) return Fail(category.status());
    request.category = *category;
    request.desk = o.desk;
    request.place = o.place;
    request.when = o.when;
    request.text = o.text;
    if (!o.expires.empty()) {
      auto ttl = ParseDuration(o.expires, "--expires");
      if (!ttl.ok()) return Fail(ttl.status());
      if (ttl->count() == 0) return Fail(Usage("--expires must be longer than 0"));
      request.ttl = *ttl;
    }
    return PrintSent(client.SendReport(request), "report", o.json);
  }
  if (o.ack->parsed()) {
    Status acknowledged = client.Acknowledge(o.id, o.answer);
    if (!acknowledged.ok()) return Fail(acknowledged);
    auto waiting = client.OutboxSize();
    if (o.json) {
      std::cout << nlohmann::json{{"id", o.id}, {"acknowledged", true}, {"answer", o.answer},
                                  {"outbox", waiting.ok() ? *waiting : 0}}
                << "\n";
    } else {
      std::printf("acknowledged %s%s\n", o.id.c_str(), o.answer.empty() ? "" : (" with answer " + Quoted(o.answer)).c_str());
      if (waiting.ok() && *waiting > 0) {
        std::printf("%zu message(s) wait in the outbox (the relay did not take them yet); `liaison sync` sends them\n",
                    *waiting);
      }
    }
    return 0;
  }
  if (o.verify_receipt->parsed()) {
    std::string key = o.relay_key;
    if (!o.relay_key_file.empty()) {
      auto line = ReadFirstLine(o.relay_key_file);
      if (!line.ok()) return Fail(line.status());
      key = *line;
    }
    if (key.empty()) return Fail(Usage("verify-receipt needs --relay-key HEX or --relay-key-file relay.sign.pub"));
    auto status = client.GetAlertStatus(o.id);
    if (!status.ok()) return Fail(status.status());
    if (!status->submission) {
      if (o.json) std::cout << nlohmann::json{{"id", o.id}, {"verified", false}, {"submission", nullptr}} << "\n";
      (void)Fail(Status::Error(Code::kNotFound,
                               "no submission receipt for " + o.id + " yet: the relay has stored no copy (`liaison sync`)"));
      return 1;  // nothing verifies: not a usage error
    }
    Status verified = VerifySubmissionReceipt(status->id, *status->submission, key);
    if (verified.code() == Code::kInvalidArgument) return Fail(verified);
    if (o.json) {
      std::cout << nlohmann::json{{"id", status->id}, {"verified", verified.ok()},
                                  {"submission", SubmissionJson(status->submission)}}
                << "\n";
    }
    if (!verified.ok()) {
      (void)Fail(verified);
      return 1;
    }
    if (!o.json) {
      std::printf("the submission receipt of %s %s verifies under relay key %s: %u copies stored at %s\n",
                  status->kind.c_str(), status->id.c_str(), key.c_str(), status->submission->copies,
                  FormatTime(status->submission->stored_at).c_str());
    }
    return 0;
  }
  return 2;
}

}  // namespace liaison::cli
