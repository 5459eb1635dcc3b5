#include <catch2/catch.hpp>

#include <filesystem>

#include "base/file_util.h"
#include "relay/config.h"

using namespace liaison;
using namespace liaison::relay;

namespace {
struct Dir {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("liaison-config-" + std::to_string(::getpid()) + "-" + std::to_string(reinterpret_cast<uintptr_t>(this))))
                         .string();
  ~Dir() { std::filesystem::remove_all(path); }
};
}  // namespace

TEST_CASE("a data directory without relay.toml runs on the embedded defaults", "[relay][config]") {
  Dir dir;
  auto config = LoadConfig(dir.path);
  REQUIRE(config.ok());
  CHECK(config->listen == "tcp://127.0.0.1:7400");
  CHECK(config->map_size_mib == 1024);
  CHECK(config->StorePath() == dir.path + "/store");
}

TEST_CASE("init writes a configuration that loads to the defaults, keys, and refuses to run twice",
          "[relay][config]") {
  Dir dir;
  REQUIRE(InitDataDir(dir.path, "tcp://127.0.0.1:*").ok());
  auto config = LoadConfig(dir.path);
  REQUIRE(config.ok());
  CHECK(config->listen == "tcp://127.0.0.1:*");
  CHECK(config->max_mailbox_messages == 100000);
  CHECK(config->handshake_timeout_ms == 5000);
  auto secret = ReadFile(dir.path + "/relay.key");
  auto public_key = ReadFile(dir.path + "/relay.pub");
  REQUIRE(secret.ok());
  REQUIRE(public_key.ok());
  CHECK(secret->size() == 41);  // 40 Z85 characters and a newline
  CHECK(*secret != *public_key);
  CHECK((std::filesystem::status(dir.path + "/relay.key").permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);
  CHECK(InitDataDir(dir.path, "").code() == Code::kAlreadyExists);
  CHECK(*ReadFile(dir.path + "/relay.key") == *secret);  // the key was not overwritten
}

TEST_CASE("a bad configuration value is refused with the key it concerns", "[relay][config]") {
  Dir dir;
  std::filesystem::create_directories(dir.path);
  REQUIRE(WriteFileAtomically(dir.path + "/relay.toml", "[store]\nmap_size_mib = -5\n", 0644).ok());
  auto config = LoadConfig(dir.path);
  CHECK(config.status().code() == Code::kInvalidArgument);
  CHECK(config.status().message().find("store.map_size_mib") != std::string::npos);
  REQUIRE(WriteFileAtomically(dir.path + "/relay.toml", "listen = [\n", 0644).ok());
  auto broken = LoadConfig(dir.path);
  CHECK(broken.status().code() == Code::kInvalidArgument);
  CHECK(broken.status().message().find("line") != std::string::npos);
}

TEST_CASE("an unknown log level and a default TTL above the maximum are refused", "[relay][config]") {
  Dir dir;
  std::filesystem::create_directories(dir.path);
  REQUIRE(WriteFileAtomically(dir.path + "/relay.toml", "log_level = \"verbose\"\n", 0644).ok());
  CHECK(LoadConfig(dir.path).status().message().find("log_level") != std::string::npos);
  REQUIRE(WriteFileAtomically(dir.path + "/relay.toml", "[store]\ndefault_ttl_days = 100\nmax_ttl_days = 90\n", 0644).ok());
  CHECK(LoadConfig(dir.path).status().code() == Code::kInvalidArgument);
}
