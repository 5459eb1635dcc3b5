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

Output Cli(const std::string& args) {
  Output out;
  FILE* pipe = popen((std::string(LIAISON_CLI_BIN) + " " + args + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.text.append(buffer, n);
  const int status = pclose(pipe);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
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
