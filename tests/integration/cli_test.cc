// The `liaison` command line end to end: exit codes and output that scripts can rely on.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

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
