// Alerts, receipts, tallies, escalation and concern reports between real clients through a real
// relay process in roster mode (issue 5).
#include <catch2/catch.hpp>

#include <lmdb.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/file_util.h"
#include "client/src/client_state.h"
#include "client/src/tracking.h"
#include "relay_process_util.h"
#include "store/lmdb.h"
#include "store/mailbox_store.h"

using namespace liaison;
using namespace liaison::testing;

namespace {

constexpr int64_t kMinute = 60 * kMicrosPerSecond;

// Sets a member's organisation and areas in the coordinator's next epoch.
void SetProfile(TestCoordinator& coordinator, const std::string& member_id, const std::string& organisation,
                std::vector<std::string> areas) {
  for (roster::Member& m : coordinator.members) {
    if (m.id != member_id) continue;
    m.organisation = organisation;
    m.areas.clear();
    std::sort(areas.begin(), areas.end());
    for (auto& tag : areas) m.areas.push_back({tag});
    return;
  }
  FAIL("no member " << member_id);
}

void SetHolder(TestCoordinator& coordinator, const std::string& address, const std::string& holder) {
  const auto slash = address.find('/');
  for (roster::Member& m : coordinator.members) {
    if (m.id != address.substr(0, slash)) continue;
    for (roster::Device& d : m.devices) {
      if (d.id == address.substr(slash + 1)) d.holder = holder;
    }
  }
}

const RecipientStatus& RecipientOf(const AlertStatus& status, const std::string& device) {
  for (const RecipientStatus& r : status.recipients) {
    if (r.device == device) return r;
  }
  FAIL("no recipient " << device);
  return status.recipients.front();
}

const InboxMessage* FindInInbox(Client& client, const std::string& id) {
  static std::vector<InboxMessage> inbox;
  auto listed = client.Inbox();
  REQUIRE(listed.ok());
  inbox = std::move(listed).value();
  for (const InboxMessage& m : inbox) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

AlertStatus StatusOf(Client& client, const std::string& id) {
  auto status = client.GetAlertStatus(id);
  INFO(status.status().ToString());
  REQUIRE(status.ok());
  return std::move(status).value();
}

// An officer on a FakeClock and five associations of Dresden (each its own organisation), plus
// one association of Leipzig that no Dresden alert addresses. Everyone synced once, so that
// every device's prekeys are on the relay.
struct DresdenDialogue : RosterRelay {
  FakeClock clock{SystemClock().NowMicros()};
  std::unique_ptr<Client> officer;
  std::vector<std::unique_ptr<Client>> associations;
  std::unique_ptr<Client> leipzig;

  explicit DresdenDialogue(bool with_deputies = false) {
    officer = MakeRosterClient(relay, coordinator, dir.Sub("officer"), "officer-meyer/1", roster::Role::kOfficer, &clock);
    for (int i = 1; i <= 5; ++i) {
      const std::string id = "verein-" + std::to_string(i);
      associations.push_back(
          MakeRosterClient(relay, coordinator, dir.Sub(id), id + "/1", roster::Role::kAssociationContact, &clock));
      SetProfile(coordinator, id, "Verein " + std::to_string(i) + " e.V.", {"city:dresden"});
    }
    leipzig = MakeRosterClient(relay, coordinator, dir.Sub("leipzig"), "verein-leipzig/1",
                               roster::Role::kAssociationContact, &clock);
    SetProfile(coordinator, "verein-leipzig", "Verein Leipzig e.V.", {"city:leipzig"});
    if (with_deputies) {
      for (int i : {1, 2}) {
        const std::string id = "stellv-" + std::to_string(i);
        deputies.push_back(MakeRosterClient(relay, coordinator, dir.Sub(id), id + "/1", roster::Role::kDeputy, &clock));
        SetProfile(coordinator, id, "Verein " + std::to_string(i) + " e.V.", {"city:dresden"});
      }
    }
    coordinator.PublishNext(relay);
    REQUIRE(officer->Sync().ok());
    for (auto& a : associations) REQUIRE(a->Sync().ok());
    REQUIRE(leipzig->Sync().ok());
    for (auto& d : deputies) REQUIRE(d->Sync().ok());
  }
  std::vector<std::unique_ptr<Client>> deputies;
};

AlertRequest DresdenAlert(std::optional<EscalationRules> rules) {
  AlertRequest alert;
  alert.to = "area:city:dresden role:association_contact";
  alert.severity = Severity::kUrgent;
  alert.title = "Drohschreiben an mehrere Gemeinden";
  alert.body = "Bitte prüfen Sie Ihre Post und melden Sie verdächtige Schreiben.";
  alert.ack_required = true;
  alert.ttl = std::chrono::hours(2);
  alert.escalation = rules;
  return alert;
}

}  // namespace

TEST_CASE("an alert reaches the selected devices and the tally counts receipts once, from addressed devices only",
          "[integration][alerts]") {
  DresdenDialogue d;
  auto sent = d.officer->SendAlert(DresdenAlert(EscalationRules{}));
  INFO(sent.status().ToString());
  REQUIRE(sent.ok());
  CHECK(sent->recipients == 5);  // Leipzig and the officer are not selected
  CHECK(sent->stored == 5);
  const std::string id = sent->id;

  // Three associations come online; two stay offline.
  for (int i = 0; i < 3; ++i) {
    auto report = d.associations[i]->Sync();
    REQUIRE(report.ok());
    CHECK(report->received == 1);
    CHECK(report->rejected == 0);
    const InboxMessage* alert = FindInInbox(*d.associations[i], id);
    REQUIRE(alert != nullptr);
    CHECK(alert->kind == "alert");
    CHECK(alert->severity == Severity::kUrgent);
    CHECK(alert->title == "Drohschreiben an mehrere Gemeinden");
    CHECK(alert->ack_required);
    CHECK(alert->sender == "officer-meyer/1");
    CHECK(alert->acknowledged_at == 0);
  }
  auto nothing = d.leipzig->Sync();
  REQUIRE(nothing.ok());
  CHECK(nothing->received == 0);

  REQUIRE(d.associations[0]->Acknowledge(id, "Verstanden").ok());
  REQUIRE(d.associations[1]->MarkRead(id).ok());
  REQUIRE(d.associations[1]->Acknowledge(id, "").ok());
  CHECK(d.associations[1]->Acknowledge(id, "").code() == Code::kAlreadyExists);
  REQUIRE(d.associations[2]->MarkRead(id).ok());
  CHECK(FindInInbox(*d.associations[0], id)->acknowledged_at != 0);

  auto report = d.officer->Sync();
  REQUIRE(report.ok());
  // Delivered from three devices, read from two, acknowledged from two (an acknowledgement
  // implies reading): 3 + 2 + 2 receipts.
  CHECK(report->receipts == 7);
  CHECK(report->rejected == 0);
  AlertStatus status = StatusOf(*d.officer, id);
  CHECK(status.kind == "alert");
  CHECK(status.sent == 5);
  CHECK(status.delivered == 3);
  CHECK(status.read == 3);
  CHECK(status.acknowledged == 2);
  CHECK(status.pending == 2);
  CHECK(status.expired == 0);
  CHECK(RecipientOf(status, "verein-1/1").answer == "Verstanden");
  CHECK(RecipientOf(status, "verein-1/1").organisation == "Verein 1 e.V.");
  CHECK(RecipientOf(status, "verein-4/1").delivered_at == 0);
  CHECK(RecipientOf(status, "verein-4/1").sent_at != 0);

  SECTION("a repeated acknowledgement counts once") {
    // verein-1 acknowledges again (a restored backup, or a modified client): its receipt arrives
    // a second time with another answer; the tally keeps the first.
    d.associations[0].reset();
    {
      auto state = client::ClientState::Open(d.dir.Sub("verein-1"));
      REQUIRE(state.ok());
      auto txn = (*state)->BeginWrite();
      REQUIRE(txn.ok());
      auto key = FromHex(id);
      REQUIRE(key.ok());
      auto value = (*state)->Get(*txn, client::ClientState::Table::kReceivedAlerts, *key);
      REQUIRE(value.ok());
      REQUIRE(value->has_value());
      auto record = client::DecodeReceivedAlert(**value);
      REQUIRE(record.ok());
      record->acknowledged_at = 0;
      auto encoded = client::EncodeRecord(*record);
      REQUIRE(encoded.ok());
      REQUIRE((*state)->Put(*txn, client::ClientState::Table::kReceivedAlerts, *key, *encoded).ok());
      REQUIRE(txn->Commit().ok());
    }
    auto reopened = Client::Open(OptionsFor(d.relay, d.dir.Sub("verein-1")));
    REQUIRE(reopened.ok());
    REQUIRE((*reopened)->Acknowledge(id, "Nochmal").ok());
    auto again = d.officer->Sync();
    REQUIRE(again.ok());
    CHECK(again->receipts == 0);
    CHECK(again->duplicates == 1);
    AlertStatus after = StatusOf(*d.officer, id);
    CHECK(after.acknowledged == 2);
    CHECK(RecipientOf(after, "verein-1/1").answer == "Verstanden");
  }

  SECTION("a receipt forged by a member the alert was not addressed to is rejected") {
    // Leipzig's client is modified to hold the alert as if it had received it, and acknowledges.
    d.leipzig.reset();
    {
      auto state = client::ClientState::Open(d.dir.Sub("leipzig"));
      REQUIRE(state.ok());
      auto txn = (*state)->BeginWrite();
      REQUIRE(txn.ok());
      client::ReceivedAlertRecord forged;
      auto key = FromHex(id);
      REQUIRE(key.ok());
      std::copy(key->begin(), key->end(), forged.id.begin());
      forged.content.kind = client::kKindAlert;
      forged.content.sender = "officer-meyer/1";
      forged.content.title = "x";
      forged.content.text = "x";
      forged.content.severity = 3;
      forged.content.expires_at = d.clock.NowMicros() + 3600 * kMicrosPerSecond;
      auto encoded = client::EncodeRecord(forged);
      REQUIRE(encoded.ok());
      REQUIRE((*state)->Put(*txn, client::ClientState::Table::kReceivedAlerts, *key, *encoded).ok());
      REQUIRE(txn->Commit().ok());
    }
    ClientOptions options = OptionsFor(d.relay, d.dir.Sub("leipzig"));
    options.clock = &d.clock;
    auto forger = Client::Open(options);
    REQUIRE(forger.ok());
    REQUIRE((*forger)->Acknowledge(id, "gefälscht").ok());
    auto after_forgery = d.officer->Sync();
    REQUIRE(after_forgery.ok());
    CHECK(after_forgery->receipts == 0);
    CHECK(after_forgery->rejected == 1);
    std::string errors;
    for (auto& e : after_forgery->errors) errors += e + "\n";
    CHECK_THAT(errors, Catch::Contains("not addressed to verein-leipzig/1"));
    AlertStatus after = StatusOf(*d.officer, id);
    CHECK(after.acknowledged == 2);
    CHECK(after.recipients.size() == 5);
  }

  SECTION("recipients that never received it show as expired after the expiry, not as missing") {
    d.clock.Advance(2 * 60 * kMinute + kMicrosPerSecond);
    AlertStatus after = StatusOf(*d.officer, id);
    CHECK(after.expired == 2);
    CHECK(after.pending == 0);
    CHECK(RecipientOf(after, "verein-4/1").expired);
    CHECK(RecipientOf(after, "verein-5/1").expired);
    CHECK_FALSE(RecipientOf(after, "verein-1/1").expired);
    CHECK(after.delivered == 3);
  }
}

TEST_CASE("escalation reminds at 15 minutes and notifies deputies at 60, by the injected clock, not before",
          "[integration][alerts]") {
  DresdenDialogue d(/*with_deputies=*/true);
  auto sent = d.officer->SendAlert(DresdenAlert(std::nullopt));  // urgent: the default rules
  REQUIRE(sent.ok());
  const std::string id = sent->id;
  // verein-1 receives it (delivered, not acknowledged); verein-3 acknowledges; 2, 4, 5 are offline.
  REQUIRE(d.associations[0]->Sync().ok());
  REQUIRE(d.associations[2]->Sync().ok());
  REQUIRE(d.associations[2]->Acknowledge(id, "").ok());
  const int64_t start = d.clock.NowMicros();

  d.clock.Set(start + 15 * kMinute - kMicrosPerSecond);
  auto early = d.officer->Sync();
  REQUIRE(early.ok());
  CHECK(early->escalations == 0);
  for (const RecipientStatus& r : StatusOf(*d.officer, id).recipients) CHECK(r.reminded_at == 0);

  d.clock.Set(start + 15 * kMinute + kMicrosPerSecond);
  auto reminded = d.officer->Sync();
  REQUIRE(reminded.ok());
  CHECK(reminded->escalations == 3);  // verein-2, -4, -5: stored, no delivery receipt
  AlertStatus status = StatusOf(*d.officer, id);
  CHECK(RecipientOf(status, "verein-1/1").reminded_at == 0);
  CHECK(RecipientOf(status, "verein-3/1").reminded_at == 0);
  for (const char* device : {"verein-2/1", "verein-4/1", "verein-5/1"}) CHECK(RecipientOf(status, device).reminded_at != 0);
  auto once = d.officer->Sync();
  REQUIRE(once.ok());
  CHECK(once->escalations == 0);  // each reminder goes once

  // The reminded device holds two copies of the alert; it gets it once.
  auto late = d.associations[1]->Sync();
  REQUIRE(late.ok());
  CHECK(late->received == 1);
  CHECK(late->duplicates == 1);

  d.clock.Set(start + 60 * kMinute - kMicrosPerSecond);
  auto before = d.officer->Sync();
  REQUIRE(before.ok());
  CHECK(before->escalations == 0);
  for (const RecipientStatus& r : StatusOf(*d.officer, id).recipients) CHECK_FALSE(r.call);

  d.clock.Set(start + 60 * kMinute + kMicrosPerSecond);
  auto escalated = d.officer->Sync();
  REQUIRE(escalated.ok());
  status = StatusOf(*d.officer, id);
  // Not acknowledged within the hour: verein-1 (delivered), -2 (delivered late), -4, -5.
  for (const char* device : {"verein-1/1", "verein-2/1", "verein-4/1", "verein-5/1"}) CHECK(RecipientOf(status, device).call);
  // Verein 1 and 2 have deputies in the roster, who were sent the alert; 4 and 5 have none.
  CHECK(RecipientOf(status, "verein-1/1").deputy_notified_at != 0);
  CHECK(RecipientOf(status, "verein-2/1").deputy_notified_at != 0);
  CHECK(RecipientOf(status, "verein-4/1").deputy_notified_at == 0);
  CHECK(RecipientOf(status, "verein-5/1").deputy_notified_at == 0);
  CHECK_FALSE(RecipientOf(status, "verein-3/1").call);
  // Verein 1 and Verein 2 have deputies in the roster; they now receive the alert.
  CHECK(RecipientOf(status, "stellv-1/1").via_escalation);
  CHECK(RecipientOf(status, "stellv-2/1").via_escalation);
  CHECK(status.recipients.size() == 7);
  CHECK(escalated->escalations == 2);  // a copy to each of the two deputies
  for (auto& deputy : d.deputies) {
    auto report = deputy->Sync();
    REQUIRE(report.ok());
    CHECK(report->received == 1);
    const InboxMessage* alert = FindInInbox(*deputy, id);
    REQUIRE(alert != nullptr);
    CHECK(alert->title == "Drohschreiben an mehrere Gemeinden");
  }
  auto after = d.officer->Sync();
  REQUIRE(after.ok());
  CHECK(after->escalations == 0);
  CHECK(StatusOf(*d.officer, id).delivered == 5);  // 1, 2, 3 and the two deputies
}

TEST_CASE("a report reaches every officer device of a desk, the answer names its officer, and the relay's receipt "
          "verifies",
          "[integration][alerts]") {
  RosterRelay r;
  auto association = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("association"), "moschee-dresden/1",
                                      roster::Role::kAssociationContact);
  auto schulz = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("desk1"), "desk-dresden/1", roster::Role::kDesk);
  auto weber = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("desk2"), "desk-dresden/2", roster::Role::kDesk);
  SetHolder(r.coordinator, "desk-dresden/1", "POK Schulz");
  SetHolder(r.coordinator, "desk-dresden/2", "POKin Weber");
  r.coordinator.PublishNext(r.relay);
  for (Client* c : {association.get(), schulz.get(), weber.get()}) REQUIRE(c->Sync().ok());

  ReportRequest report;
  report.desk = "desk-dresden";
  report.category = ReportCategory::kThreatLetter;
  report.place = "Moschee, Hauptstraße 1";
  report.when = "2026-12-01 08:15";
  report.text = "Heute lag ein Drohbrief im Briefkasten.";
  auto sent = association->SendReport(report);
  INFO(sent.status().ToString());
  REQUIRE(sent.ok());
  CHECK(sent->recipients == 2);
  CHECK(sent->stored == 2);
  const std::string id = sent->id;

  for (Client* officer : {schulz.get(), weber.get()}) {
    auto synced = officer->Sync();
    REQUIRE(synced.ok());
    CHECK(synced->received == 1);
    const InboxMessage* m = FindInInbox(*officer, id);
    REQUIRE(m != nullptr);
    CHECK(m->kind == "report");
    CHECK(m->category == ReportCategory::kThreatLetter);
    CHECK(m->place == "Moschee, Hauptstraße 1");
    CHECK(m->when == "2026-12-01 08:15");
    CHECK(m->text == "Heute lag ein Drohbrief im Briefkasten.");
  }
  REQUIRE(weber->Acknowledge(id, "Wir kommen heute vorbei.").ok());
  auto synced = association->Sync();
  REQUIRE(synced.ok());
  CHECK(synced->receipts == 3);  // two deliveries, one acknowledgement
  AlertStatus status = StatusOf(*association, id);
  CHECK(status.kind == "report");
  CHECK(status.delivered == 2);
  CHECK(status.acknowledged == 1);
  const RecipientStatus& answered = RecipientOf(status, "desk-dresden/2");
  CHECK(answered.name == "POKin Weber");
  CHECK(answered.answer == "Wir kommen heute vorbei.");
  CHECK(RecipientOf(status, "desk-dresden/1").acknowledged_at == 0);

  // The relay signed the hand-in; the receipt verifies against the key in its data directory.
  REQUIRE(status.submission.has_value());
  CHECK(status.submission->copies == 2);
  auto relay_key = ReadFile(r.relay.data_dir() + "/relay.sign.pub", 256);
  REQUIRE(relay_key.ok());
  std::string key = *relay_key;
  while (!key.empty() && key.back() == '\n') key.pop_back();
  CHECK(status.submission->relay_signing_key == key);
  CHECK(VerifySubmissionReceipt(id, *status.submission, key).ok());
  SubmissionReceipt moved = *status.submission;
  moved.stored_at += 1;  // a different hand-in time does not verify
  CHECK(VerifySubmissionReceipt(id, moved, key).code() == Code::kUnauthenticated);
  std::string other_key = key;
  other_key[0] = other_key[0] == '0' ? '1' : '0';
  CHECK_FALSE(VerifySubmissionReceipt(id, *status.submission, other_key).ok());

  // An association cannot alert, an officer does not report, and a report goes to desks only.
  AlertRequest alert;
  alert.to = "all";
  alert.title = "x";
  alert.body = "x";
  CHECK(association->SendAlert(alert).status().code() == Code::kPermissionDenied);
  CHECK(schulz->SendReport(report).status().code() == Code::kPermissionDenied);
  report.desk = "moschee-dresden";
  auto not_a_desk = association->SendReport(report);
  CHECK(not_a_desk.status().code() == Code::kInvalidArgument);
  CHECK_THAT(not_a_desk.status().message(), Catch::Contains("is an association_contact, not a desk"));
}

TEST_CASE("a device that has not published its keys gets the alert later and holds nobody up; so does a deputy",
          "[integration][alerts]") {
  RosterRelay r;
  FakeClock clock{SystemClock().NowMicros()};
  auto officer = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("officer"), "officer-meyer/1", roster::Role::kOfficer, &clock);
  auto early = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("early"), "verein-a/1", roster::Role::kAssociationContact, &clock);
  auto late = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("late"), "verein-b/1", roster::Role::kAssociationContact, &clock);
  auto deputy = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("deputy"), "stellv-b/1", roster::Role::kDeputy, &clock);
  SetProfile(r.coordinator, "verein-a", "Verein A", {"city:dresden"});
  SetProfile(r.coordinator, "verein-b", "Verein B", {"city:dresden"});
  SetProfile(r.coordinator, "stellv-b", "Verein B", {"city:dresden"});
  r.coordinator.PublishNext(r.relay);
  REQUIRE(officer->Sync().ok());
  REQUIRE(early->Sync().ok());  // verein-b and its deputy have never been online

  AlertRequest alert = DresdenAlert(EscalationRules{std::chrono::seconds(0), std::chrono::minutes(60)});
  auto sent = officer->SendAlert(alert);
  INFO(sent.status().ToString());
  REQUIRE(sent.ok());
  CHECK(sent->recipients == 2);
  CHECK(sent->stored == 1);
  AlertStatus status = StatusOf(*officer, sent->id);
  CHECK(RecipientOf(status, "verein-b/1").sent_at == 0);
  CHECK(status.pending == 2);
  CHECK(status.refused == 0);
  REQUIRE(early->Sync()->received == 1);

  REQUIRE(late->Sync().ok());  // publishes its keys; nothing for it yet
  REQUIRE(officer->Sync().ok());  // starts the session and sends verein-b its copy
  CHECK(RecipientOf(StatusOf(*officer, sent->id), "verein-b/1").sent_at != 0);
  auto got = late->Sync();
  REQUIRE(got.ok());
  CHECK(got->received == 1);
  REQUIRE(FindInInbox(*late, sent->id) != nullptr);

  // An hour on, verein-b has not acknowledged; its deputy has still not published keys.
  clock.Advance(61 * kMinute);
  REQUIRE(officer->Sync().ok());
  status = StatusOf(*officer, sent->id);
  CHECK(RecipientOf(status, "verein-b/1").call);
  CHECK(RecipientOf(status, "verein-b/1").deputy_notified_at == 0);
  CHECK(status.recipients.size() == 2);
  REQUIRE(deputy->Sync().ok());
  auto retried = officer->Sync();
  REQUIRE(retried.ok());
  CHECK(retried->escalations == 1);
  status = StatusOf(*officer, sent->id);
  CHECK(RecipientOf(status, "verein-b/1").deputy_notified_at != 0);
  CHECK(RecipientOf(status, "stellv-b/1").via_escalation);
  CHECK(deputy->Sync()->received == 1);
  // A late acknowledgement lifts the call mark.
  REQUIRE(late->Acknowledge(sent->id, "").ok());
  REQUIRE(officer->Sync().ok());
  CHECK_FALSE(RecipientOf(StatusOf(*officer, sent->id), "verein-b/1").call);
}

TEST_CASE("what its sender let expire is purged by the relay, and the alert's tally says expired",
          "[integration][alerts]") {
  RosterRelay r;
  auto officer = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("officer"), "officer-meyer/1", roster::Role::kOfficer);
  auto association = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("association"), "moschee-dresden/1",
                                      roster::Role::kAssociationContact);
  r.coordinator.PublishNext(r.relay);
  REQUIRE(officer->Sync().ok());
  REQUIRE(association->Sync().ok());
  auto lasting = officer->Send("moschee-dresden/1", "bleibt", std::chrono::hours(1));
  REQUIRE(lasting.ok());
  REQUIRE(lasting->stored);
  auto brief = officer->Send("moschee-dresden/1", "verfällt", std::chrono::seconds(2));
  REQUIRE(brief.ok());
  REQUIRE(brief->stored);
  AlertRequest alert;
  alert.to = "member:moschee-dresden";
  alert.title = "Kurzfristig";
  alert.body = "Nur bis gleich gültig.";
  alert.ttl = std::chrono::seconds(2);
  alert.escalation = EscalationRules{};
  auto sent = officer->SendAlert(alert);
  REQUIRE(sent.ok());
  REQUIRE(sent->stored == 1);
  CHECK(StatusOf(*officer, sent->id).expires_at - StatusOf(*officer, sent->id).created_at == 2 * kMicrosPerSecond);

  std::this_thread::sleep_for(std::chrono::milliseconds(3500));  // the relay sweeps once a second
  auto report = association->Sync();
  REQUIRE(report.ok());
  CHECK(report->received == 1);
  auto inbox = association->Inbox();
  REQUIRE(inbox.ok());
  REQUIRE(inbox->size() == 1);
  CHECK(inbox->front().text == "bleibt");
  AlertStatus status = StatusOf(*officer, sent->id);
  CHECK(status.expired == 1);
  CHECK(status.delivered == 0);
  CHECK(status.pending == 0);
}

namespace {

// Bytes of live data in the relay's store (the pages its tables use), read while it is stopped.
uint64_t StoreBytesInUse(const RelayProcess& relay) {
  store::EnvOptions options;
  options.path = relay.data_dir() + "/store";
  auto env = store::Env::Open(options);
  REQUIRE(env.ok());
  auto txn = store::Txn::BeginRead(**env);
  REQUIRE(txn.ok());
  uint64_t pages = 0;
  MDB_stat stat{};
  REQUIRE(mdb_stat(txn->get(), 1, &stat) == 0);  // the main table, which names the others
  pages += stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages;
  for (const char* table : {"bodies", "index", "dedup_by_id", "shared", "refs"}) {
    auto dbi = txn->OpenDb(table, 0);
    REQUIRE(dbi.ok());
    REQUIRE(mdb_stat(txn->get(), *dbi, &stat) == 0);
    pages += stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages;
  }
  return pages * stat.ms_psize;
}

}  // namespace

TEST_CASE("an alert to 1,000 devices stores its body once and reaches all of them", "[integration][alerts][fanout]") {
  constexpr int kDevices = 1000;
  RosterRelay r;
  auto officer = MakeRosterClient(r.relay, r.coordinator, r.dir.Sub("officer"), "officer-meyer/1", roster::Role::kOfficer);
  // The recipients' state directories live in memory where the machine has /dev/shm: the test is
  // about the relay's store (on disk, fsync'd), and 3,000 client commits on disk would take minutes.
  TempDir devices(std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : nullptr);
  auto dir_of = [&](int i) { return devices.Sub("v" + std::to_string(i)); };
  auto address_of = [](int i) { return "verein-" + std::to_string(i) + "/1"; };
  for (int i = 0; i < kDevices; ++i) {
    // One device at a time: each Client holds an LMDB environment and a zmq context.
    MakeRosterClient(r.relay, r.coordinator, dir_of(i), address_of(i), roster::Role::kAssociationContact);
  }
  r.coordinator.PublishNext(r.relay);
  auto open = [&](int i) {
    auto client = Client::Open(OptionsFor(r.relay, dir_of(i)));
    REQUIRE(client.ok());
    return std::move(client).value();
  };
  for (int i = 0; i < kDevices; ++i) REQUIRE(open(i)->Sync().ok());  // publish prekeys
  REQUIRE(officer->Sync().ok());

  r.relay.Stop();
  const uint64_t empty = StoreBytesInUse(r.relay);
  r.relay.Start();

  AlertRequest alert;
  alert.to = "role:association_contact";
  alert.severity = Severity::kWarning;
  alert.title = "Versammlung am Samstag";
  alert.body = std::string(2000, 'x');
  alert.escalation = EscalationRules{};
  auto sent = officer->SendAlert(alert);
  INFO(sent.status().ToString());
  REQUIRE(sent.ok());
  CHECK(sent->recipients == kDevices);
  CHECK(sent->stored == kDevices);

  r.relay.Stop();
  const uint64_t with_alert = StoreBytesInUse(r.relay);
  {
    store::MailboxStoreOptions options;
    options.path = r.relay.data_dir() + "/store";
    auto store = store::MailboxStore::Open(options, SystemClock());
    REQUIRE(store.ok());
    auto shared = (*store)->SharedBodies();
    REQUIRE(shared.ok());
    CHECK(shared->messages == 1);  // the body, once
    CHECK(shared->bytes == 4096);  // 2 KiB of text and the title, padded to the 4 KiB bucket
  }
  r.relay.Start();

  size_t received = 0;
  for (int i = 0; i < kDevices; ++i) {
    auto client = open(i);
    auto report = client->Sync();
    REQUIRE(report.ok());
    received += report->received;
    const InboxMessage* m = FindInInbox(*client, sent->id);
    REQUIRE(m != nullptr);
    REQUIRE(m->text == alert.body);
  }
  CHECK(received == kDevices);
  REQUIRE(officer->Sync().ok());
  CHECK(StatusOf(*officer, sent->id).delivered == kDevices);

  // The same content as 1,000 separate messages, for comparison.
  for (int i = 0; i < kDevices; ++i) {
    auto one = officer->Send(address_of(i), alert.title + "\n" + alert.body);
    REQUIRE(one.ok());
    REQUIRE(one->stored);
  }
  r.relay.Stop();
  const uint64_t with_messages = StoreBytesInUse(r.relay);
  const uint64_t alert_bytes = with_alert - empty;
  const uint64_t messages_bytes = with_messages - empty;
  std::printf("relay store for one alert to %d devices: %llu bytes; for %d separate messages: %llu bytes (%.1fx)\n",
              kDevices, static_cast<unsigned long long>(alert_bytes), kDevices,
              static_cast<unsigned long long>(messages_bytes), double(messages_bytes) / double(alert_bytes));
  // A copy is a 512-byte envelope; a separate message a 4,096-byte one: the alert needs far less.
  CHECK(alert_bytes * 4 < messages_bytes);
}
