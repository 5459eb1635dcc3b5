// The `liaison` command line end to end: exit codes and output that scripts can rely on.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/relay_process_util.h"

using namespace liaison::testing;

namespace {

struct Output {
  int code = -1;
  std::string text;
};

// Runs a shell command line; captures its stdout and stderr.
Output Shell(const std::string& command) {
  Output out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.text.append(buffer, n);
  const int status = pclose(pipe);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

Output Cli(const std::string& args) { return Shell(std::string(LIAISON_CLI_BIN) + " " + args); }

// How often `needle` occurs in `text`.
size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE("the command line sends, syncs and lists with meaningful exit codes", "[integration][cli]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  const std::string key_file = relay.data_dir() + "/relay.pub";
  for (const std::string who : {"officer", "association"}) {
    auto init = Cli("--state " + dir.Sub(who) + " init --address " + who + "/1 --relay " + relay.endpoint() +
                    " --relay-key-file " + key_file + " --card " + dir.Sub(who + ".card"));
    INFO(init.text);
    REQUIRE(init.code == 0);
    REQUIRE(RunProgram({LIAISON_RELAY_BIN, "register", relay.data_dir(), dir.Sub(who + ".card")}) == 0);
  }
  REQUIRE(Cli("--state " + dir.Sub("association") + " sync").code == 0);

  auto sent = Cli("--state " + dir.Sub("officer") + " --json send --to association/1 --text 'Termin am Freitag'");
  INFO(sent.text);
  REQUIRE(sent.code == 0);
  auto sent_json = nlohmann::json::parse(sent.text);
  CHECK(sent_json["queued"] == false);

  REQUIRE(Cli("--state " + dir.Sub("association") + " sync").code == 0);
  auto inbox = Cli("--state " + dir.Sub("association") + " inbox --json");
  REQUIRE(inbox.code == 0);
  auto messages = nlohmann::json::parse(inbox.text);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0]["from"] == "officer/1");
  CHECK(messages[0]["text"] == "Termin am Freitag");
  CHECK(messages[0]["id"] == sent_json["id"]);

  SECTION("usage errors exit 2") {
    CHECK(Cli("--state " + dir.Sub("officer") + " send --to association/1").code == 2);
    CHECK(Cli("--state " + dir.Sub("nobody") + " inbox").code == 2);
    CHECK(Cli("--state " + dir.Sub("officer") + " init --address officer/1 --relay " + relay.endpoint() +
              " --relay-key-file " + key_file).code == 2);  // already a device there
  }
  SECTION("an unreachable relay exits 3 and keeps the message in the outbox") {
    relay.Kill(SIGTERM);
    auto queued = Cli("--state " + dir.Sub("officer") + " --timeout-ms 500 --json send --to association/1 --text later");
    INFO(queued.text);
    REQUIRE(queued.code == 0);
    CHECK(nlohmann::json::parse(queued.text)["queued"] == true);
    CHECK(Cli("--state " + dir.Sub("officer") + " --timeout-ms 500 sync").code == 3);
    relay.Start();
    auto synced = Cli("--state " + dir.Sub("officer") + " --json sync");
    REQUIRE(synced.code == 0);
    CHECK(nlohmann::json::parse(synced.text)["sent"] == 1);
  }
}

TEST_CASE("the coordinator's command line: init, invite, enroll, approve, message, revoke", "[integration][cli][enrollment]") {
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();  // learn the endpoint, which restarts keep
  relay.Stop();
  const std::string admin = "LIAISON_ADMIN_PASSPHRASE='Sicherheitsdialog Dresden' " + std::string(LIAISON_CLI_BIN) +
                            " admin --admin " + dir.Sub("admin") + " ";
  auto Admin = [&](const std::string& args) { return Shell(admin + args); };
  auto init = Admin("init --relay " + relay.endpoint() + " --relay-key-file " + relay.data_dir() + "/relay.pub" +
                    " --relay-config " + relay.data_dir() + "/relay.toml --light-kdf");
  INFO(init.text);
  REQUIRE(init.code == 0);
  relay.Start();  // now in roster mode

  const std::pair<std::string, std::string> devices[] = {
      {"officer-dresden/1", "--role officer --name 'KHK Weber' --org 'PD Dresden' --area city:dresden"},
      {"moschee-dresden/1", "--role association_contact --name 'Herr Yilmaz' --org 'Moschee e.V.' --area city:dresden"}};
  int epoch = 0;
  for (const auto& [address, profile] : devices) {
    const std::string name = address.substr(0, address.find('/'));
    auto invite = Admin("invite --address " + address + " --out " + dir.Sub(name + ".invitation"));
    REQUIRE(invite.code == 0);
    auto enroll = Cli("--state " + dir.Sub(name) + " enroll --invitation " + dir.Sub(name + ".invitation") + " --out " +
                      dir.Sub(name + ".request"));
    INFO(enroll.text);
    REQUIRE(enroll.code == 0);
    auto approve = Admin("--json approve " + dir.Sub(name + ".request") + " " + profile);
    INFO(approve.text);
    REQUIRE(approve.code == 0);
    CHECK(nlohmann::json::parse(approve.text)["epoch"] == ++epoch);
  }
  // A used invitation is refused with a clear message and a usage exit code.
  auto reused = Admin("approve " + dir.Sub("officer-dresden.request") + " --role officer");
  CHECK(reused.code == 2);
  CHECK_THAT(reused.text, Catch::Contains("used already"));
  auto wrong = Cli("admin --admin " + dir.Sub("admin") + " roster");  // no passphrase in the environment
  CHECK(wrong.code == 2);
  auto bad_passphrase = Shell("LIAISON_ADMIN_PASSPHRASE=falsch " + std::string(LIAISON_CLI_BIN) + " admin --admin " +
                              dir.Sub("admin") + " roster </dev/null");
  CHECK(bad_passphrase.code == 1);
  CHECK_THAT(bad_passphrase.text, Catch::Contains("wrong passphrase"));

  // The members message each other.
  REQUIRE(Cli("--state " + dir.Sub("officer-dresden") + " sync").code == 0);
  auto sent = Cli("--state " + dir.Sub("moschee-dresden") + " send --to officer-dresden --text 'Drohbrief erhalten'");
  INFO(sent.text);
  REQUIRE(sent.code == 0);
  auto synced = Cli("--state " + dir.Sub("officer-dresden") + " --json sync");
  REQUIRE(synced.code == 0);
  auto report = nlohmann::json::parse(synced.text);
  CHECK(report["received"] == 1);
  CHECK(report["roster_epoch"] == 2);
  CHECK(report["roster_alarms"] == 0);

  // Safety numbers: equal on both sides; confirming records it.
  auto officer_view = nlohmann::json::parse(Cli("--state " + dir.Sub("officer-dresden") + " --json verify moschee-dresden").text);
  Cli("--state " + dir.Sub("moschee-dresden") + " sync");
  auto association_view = nlohmann::json::parse(Cli("--state " + dir.Sub("moschee-dresden") + " --json verify officer-dresden").text);
  CHECK(officer_view["safety_number"] == association_view["safety_number"]);
  CHECK(officer_view["verified"] == false);
  auto confirmed = Cli("--state " + dir.Sub("officer-dresden") + " verify moschee-dresden --confirm '" +
                       association_view["safety_number"].get<std::string>() + "'");
  CHECK(confirmed.code == 0);
  CHECK_THAT(confirmed.text, Catch::Contains("(verified)"));

  auto roster = Admin("--json roster");
  REQUIRE(roster.code == 0);
  CHECK(nlohmann::json::parse(roster.text).size() == 2);

  // Revoked: the association can no longer send, and the officer's device learns it.
  auto revoke = Admin("revoke moschee-dresden");
  REQUIRE(revoke.code == 0);
  auto refused = Cli("--timeout-ms 1500 --state " + dir.Sub("moschee-dresden") + " send --to officer-dresden --text 'noch da?'");
  INFO(refused.text);
  CHECK(refused.code == 1);
  CHECK_THAT(refused.text, Catch::Contains("refused this device's key"));
  auto after = nlohmann::json::parse(Cli("--state " + dir.Sub("officer-dresden") + " --json sync").text);
  CHECK(after["roster_epoch"] == 3);
  auto to_revoked = Cli("--state " + dir.Sub("officer-dresden") + " send --to moschee-dresden/1 --text '?'");
  CHECK(to_revoked.code == 2);
  CHECK_THAT(to_revoked.text, Catch::Contains("not in the roster"));
}

TEST_CASE("the command line's alerts: acknowledgements, escalation to a deputy, a report answered by the desk",
          "[integration][cli][alerts]") {
  using Clock = std::chrono::steady_clock;
  TempDir dir;
  RelayProcess relay(dir.Sub("relay"));
  relay.Start();
  relay.Stop();
  const std::string admin = "LIAISON_ADMIN_PASSPHRASE='Sicherheitsdialog Dresden' " + std::string(LIAISON_CLI_BIN) +
                            " admin --admin " + dir.Sub("admin") + " ";
  auto Admin = [&](const std::string& args) { return Shell(admin + args); };
  REQUIRE(Admin("init --relay " + relay.endpoint() + " --relay-key-file " + relay.data_dir() + "/relay.pub" +
                " --relay-config " + relay.data_dir() + "/relay.toml --light-kdf").code == 0);
  relay.Start();
  // `On(name, args)`: the command line on the device `name`.
  auto On = [&](const std::string& name, const std::string& args) { return Cli("--state " + dir.Sub(name) + " " + args); };

  const std::string city = " --area city:dresden";
  const std::pair<std::string, std::string> devices[] = {
      {"officer-meyer/1", "--role officer --name 'KHK Meyer' --org 'PD Dresden'" + city},
      {"desk-dresden/1", "--role desk --name 'Kontaktstelle' --org 'PD Dresden' --holder 'KHK Weber'" + city},
      {"moschee/1", "--role association_contact --name 'Herr Yilmaz' --org 'Moschee e.V.'" + city},
      {"kultur/1", "--role association_contact --name 'Frau Nguyen' --org 'Kulturverein e.V.'" + city},
      {"synagoge/1", "--role association_contact --name 'Frau Cohen' --org 'Gemeinde'" + city},
      {"afrikahaus/1", "--role association_contact --name 'Herr Mensah' --org 'Afrikahaus e.V.'" + city},
      {"ezidi/1", "--role association_contact --name 'Herr Murad' --org 'Ezidischer Verein'" + city},
      {"afrikahaus-vertretung/1", "--role deputy --name 'Frau Owusu' --organisation 'Afrikahaus e.V.'" + city}};
  for (const auto& [address, profile] : devices) {
    const std::string name = address.substr(0, address.find('/'));
    REQUIRE(Admin("invite --address " + address + " --out " + dir.Sub(name + ".invitation")).code == 0);
    auto enroll = On(name, "enroll --invitation " + dir.Sub(name + ".invitation") + " --out " + dir.Sub(name + ".request"));
    INFO(enroll.text);
    REQUIRE(enroll.code == 0);
    auto approve = Admin("approve " + dir.Sub(name + ".request") + " " + profile);
    INFO(approve.text);
    REQUIRE(approve.code == 0);
  }
  for (const auto& [address, profile] : devices) {  // each device publishes its keys once
    REQUIRE(On(address.substr(0, address.find('/')), "sync").code == 0);
  }

  // Only the police side alerts; an association is refused.
  auto refused = On("moschee", "alert --to all --title x --body y");
  CHECK(refused.code == 1);
  CHECK_THAT(refused.text, Catch::Contains("permission denied"));
  CHECK(On("officer-meyer", "alert --to all --title x --body y --remind-after 5 --ack-required").code == 2);

  // The officer alerts the five associations; afrikahaus and ezidi stay offline.
  const auto alerted = Clock::now();
  auto alert = On("officer-meyer", "--json alert --to 'area:city:dresden role:association_contact' --severity urgent "
                                   "--ack-required --remind-after 2s --deputy-after 4s --title 'Hinweis auf Drohlage' "
                                   "--body 'Bitte heute keine Veranstaltungen.'");
  INFO(alert.text);
  REQUIRE(alert.code == 0);
  const auto alert_json = nlohmann::json::parse(alert.text);
  CHECK(alert_json["recipients"] == 5);
  CHECK(alert_json["stored"] == 5);
  const std::string id = alert_json["id"];

  for (const std::string name : {"moschee", "kultur", "synagoge"}) {
    REQUIRE(On(name, "sync").code == 0);
    auto json_inbox = nlohmann::json::parse(On(name, "--json inbox").text);
    REQUIRE(json_inbox.size() == 1);
    CHECK(json_inbox[0]["id"] == id);
    CHECK(json_inbox[0]["kind"] == "alert");
    CHECK(json_inbox[0]["severity"] == "urgent");
    CHECK(json_inbox[0]["ack_required"] == true);
    CHECK(json_inbox[0]["from_name"] == "KHK Meyer");
    CHECK(json_inbox[0]["read_at"] == 0);  // --json marks nothing read
    auto inbox = On(name, "inbox");
    INFO(inbox.text);
    REQUIRE(inbox.code == 0);
    CHECK_THAT(inbox.text, Catch::Contains("ALERT urgent") && Catch::Contains("Hinweis auf Drohlage") &&
                               Catch::Contains("KHK Meyer") && Catch::Contains("ACK REQUIRED"));
    CHECK(nlohmann::json::parse(On(name, "--json inbox").text)[0]["read_at"] != 0);  // shown: read
    auto ack = On(name, "ack " + id + (name == "moschee" ? " --answer Verstanden" : ""));
    INFO(ack.text);
    CHECK(ack.code == 0);
  }
  CHECK(On("moschee", "ack " + id).code == 2);  // acknowledged already
  CHECK_THAT(On("moschee", "inbox").text, Catch::Contains("acknowledged") && Catch::Contains("\"Verstanden\"") &&
                                              !Catch::Contains("ACK REQUIRED"));
  CHECK(On("moschee", "ack 0123456789abcdef0123456789abcdef").code == 2);

  const bool before_deputy_interval = Clock::now() - alerted < std::chrono::milliseconds(3500);
  auto synced = On("officer-meyer", "--json sync");
  REQUIRE(synced.code == 0);
  const auto synced_json = nlohmann::json::parse(synced.text);
  CHECK(synced_json["receipts"] == 9);  // delivered, read, acknowledged from three
  auto status = On("officer-meyer", "alert status " + id);
  INFO(status.text);
  REQUIRE(status.code == 0);
  CHECK_THAT(status.text, Catch::Contains("sent 5, delivered 3, read 3, acknowledged 3, expired 0, pending 2"));
  CHECK_THAT(status.text, Catch::Contains("moschee/1 (Herr Yilmaz, Moschee e.V.)") &&
                              Catch::Contains("with answer \"Verstanden\""));
  if (before_deputy_interval) CHECK(Count(status.text, "CALL") == 0);

  // Past the deputy interval: the two silent members are marked for a call, their deputy alerted.
  std::this_thread::sleep_until(alerted + std::chrono::seconds(5));
  auto escalated = On("officer-meyer", "--json sync");
  REQUIRE(escalated.code == 0);
  // At least two reminders and one deputy's copy, some in the first sync on a slow machine.
  CHECK(synced_json["escalations"].get<int>() + nlohmann::json::parse(escalated.text)["escalations"].get<int>() >= 3);
  status = On("officer-meyer", "alert status " + id);
  INFO(status.text);
  CHECK(Count(status.text, "  CALL ") == 2);
  CHECK_THAT(status.text, Catch::Contains("CALL afrikahaus/1") && Catch::Contains("CALL ezidi/1") &&
                              Catch::Contains("deputies: afrikahaus-vertretung/1") &&
                              Catch::Contains("afrikahaus-vertretung/1 (Frau Owusu, Afrikahaus e.V.), via escalation"));
  CHECK_THAT(status.text, Catch::Contains("acknowledged 3, expired 0"));
  auto status_json = nlohmann::json::parse(On("officer-meyer", "alert status " + id + " --json").text);
  CHECK(status_json["acknowledged"] == 3);
  size_t calls = 0;
  for (const auto& r : status_json["recipients"]) {
    const std::string device = r["device"];
    const bool silent = device == "afrikahaus/1" || device == "ezidi/1";
    CHECK(r["call"] == silent);
    // Only afrikahaus has a deputy in the roster; ezidi's call mark stands alone.
    CHECK((r["deputy_notified_at"] != 0) == (device == "afrikahaus/1"));
    CHECK(r["via_escalation"] == (device == "afrikahaus-vertretung/1"));
    if (silent) CHECK(r["reminded_at"] != 0);
    calls += r["call"] == true;
  }
  CHECK(calls == 2);
  CHECK(status_json["recipients"].size() == 6);
  auto listed = On("officer-meyer", "alert list");
  CHECK_THAT(listed.text, Catch::Contains(id) && Catch::Contains("acknowledged 3"));

  REQUIRE(On("afrikahaus-vertretung", "sync").code == 0);
  auto deputy_inbox = nlohmann::json::parse(On("afrikahaus-vertretung", "--json inbox").text);
  REQUIRE(deputy_inbox.size() == 1);
  CHECK(deputy_inbox[0]["id"] == id);

  // A report of a threat letter to the desk, acknowledged there with an answer naming the officer.
  auto report = On("moschee", "--json report --to desk-dresden --category threat-letter --place 'Gemeindehaus' "
                              "--when 'heute 08:15' --text 'Drohbrief im Briefkasten'");
  INFO(report.text);
  REQUIRE(report.code == 0);
  const auto report_json = nlohmann::json::parse(report.text);
  CHECK(report_json["recipients"] == 1);
  const std::string report_id = report_json["id"];
  REQUIRE(On("desk-dresden", "sync").code == 0);
  auto desk_inbox = On("desk-dresden", "inbox");
  INFO(desk_inbox.text);
  CHECK_THAT(desk_inbox.text, Catch::Contains("REPORT threat-letter") && Catch::Contains("place: Gemeindehaus") &&
                                  Catch::Contains("when: heute 08:15") && Catch::Contains("Drohbrief im Briefkasten") &&
                                  Catch::Contains("Herr Yilmaz") && Catch::Contains("ACK REQUIRED"));
  CHECK(On("desk-dresden", "ack " + report_id + " --answer 'Wir kommen um 11 Uhr'").code == 0);
  REQUIRE(On("moschee", "sync").code == 0);
  auto report_status = On("moschee", "report status " + report_id);
  INFO(report_status.text);
  REQUIRE(report_status.code == 0);
  CHECK_THAT(report_status.text, Catch::Contains("desk-dresden/1 (KHK Weber, PD Dresden)") &&
                                     Catch::Contains("with answer \"Wir kommen um 11 Uhr\"") &&
                                     Catch::Contains("acknowledged 1, expired 0, pending 0"));
  auto report_status_json = nlohmann::json::parse(On("moschee", "--json alert status " + report_id).text);
  CHECK(report_status_json["kind"] == "report");
  REQUIRE(report_status_json["recipients"].size() == 1);
  CHECK(report_status_json["recipients"][0]["name"] == "KHK Weber");
  CHECK(report_status_json["recipients"][0]["answer"] == "Wir kommen um 11 Uhr");

  // The relay's submission receipts verify under relay.sign.pub, and under no other key.
  const std::string sign_pub = relay.data_dir() + "/relay.sign.pub";
  auto verified = On("officer-meyer", "verify-receipt " + id + " --relay-key-file " + sign_pub);
  INFO(verified.text);
  CHECK(verified.code == 0);
  CHECK_THAT(verified.text, Catch::Contains("verifies"));
  CHECK(On("moschee", "verify-receipt " + report_id + " --relay-key-file " + sign_pub).code == 0);
  CHECK(On("moschee", "verify-receipt " + report_id + " --relay-key " + std::string(64, 'a')).code == 1);
  CHECK(On("moschee", "verify-receipt " + id + " --relay-key-file " + sign_pub).code == 2);  // not its alert
  CHECK(On("officer-meyer", "alert status 0123456789abcdef0123456789abcdef").code == 2);
}
