// liaison-relay: init | run | register | status. See docs/operations.md.
#include <signal.h>
#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include "base/file_util.h"
#include "relay/config.h"
#include "relay/device_registry.h"
#include "relay/relay_server.h"

namespace {

// The process-wide flags the signal handlers set (lock-free atomics: async-signal-safe).
std::atomic<bool> g_stop{false};
std::atomic<bool> g_log_counters{false};

void OnSignal(int) { g_stop.store(true); }
void OnLogCountersSignal(int) { g_log_counters.store(true); }

int Fail(const liaison::Status& status) {
  std::fprintf(stderr, "liaison-relay: %s\n", status.ToString().c_str());
  switch (status.code()) {
    case liaison::Code::kInvalidArgument:
    case liaison::Code::kAlreadyExists:
    case liaison::Code::kNotFound: return 2;
    default: return 1;
  }
}

int Run(const std::string& dir, const std::string& listen) {
  auto config = liaison::relay::LoadConfig(dir);
  if (!config.ok()) return Fail(config.status());
  if (!listen.empty()) config->listen = listen;
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  struct sigaction log_action {};
  log_action.sa_handler = OnLogCountersSignal;
  sigaction(SIGUSR1, &log_action, nullptr);
  signal(SIGPIPE, SIG_IGN);
  auto server = liaison::relay::RelayServer::Open(*config, liaison::SystemClock());
  if (!server.ok()) return Fail(server.status());
  liaison::Status status = (*server)->Run(g_stop, &g_log_counters);
  if (!status.ok()) return Fail(status);
  spdlog::info("stopped cleanly");
  return 0;
}

int Register(const std::string& dir, const std::string& card_path) {
  auto loaded = liaison::relay::LoadConfig(dir);
  if (!loaded.ok()) return Fail(loaded.status());
  const liaison::relay::RelayConfig& config = *loaded;
  toml::table card;
  try {
    card = toml::parse_file(card_path);
  } catch (const toml::parse_error& e) {
    return Fail(liaison::Status::Error(liaison::Code::kInvalidArgument,
                                       card_path + ": not a device card: " + std::string(e.description())));
  }
  auto address = card["address"].value<std::string>();
  auto transport = card["transport_key"].value<std::string>();
  if (!address || !transport) {
    return Fail(liaison::Status::Error(liaison::Code::kInvalidArgument, card_path + ": needs address and transport_key"));
  }
  auto key = liaison::relay::ParseZ85Key(*transport);
  if (!key.ok()) return Fail(key.status().WithContext(card_path));
  if (!config.coordinator_key.empty()) {
    return Fail(liaison::Status::Error(liaison::Code::kInvalidArgument,
                                       "this relay is in roster mode: devices join through the coordinator "
                                       "(liaison admin invite / approve), not devices.list"));
  }
  liaison::Status status = liaison::relay::DeviceRegistry::Append(config.DevicesPath(), *address, *key);
  if (!status.ok()) return Fail(status);
  std::printf("registered %s; the running relay admits it within a second\n", address->c_str());
  return 0;
}

int Status(const std::string& dir) {
  auto config = liaison::relay::LoadConfig(dir);
  if (!config.ok()) return Fail(config.status());
  auto public_key = liaison::ReadFile(config->PublicKeyPath(), 128);
  if (!public_key.ok()) return Fail(public_key.status());
  liaison::relay::DeviceRegistry registry(config->DevicesPath());
  liaison::Status reload = registry.ReloadIfChanged();
  auto endpoint = liaison::ReadFile(config->EndpointPath(), 1024);
  std::error_code ec;
  const auto store_bytes = std::filesystem::file_size(config->StorePath() + "/data.mdb", ec);
  std::printf("data directory: %s\n", dir.c_str());
  std::printf("relay public key: %s", public_key->c_str());
  std::printf("configured listen: %s\n", config->listen.c_str());
  std::printf("last bound endpoint: %s", endpoint.ok() ? endpoint->c_str() : "(never started)\n");
  if (!config->coordinator_key.empty()) {
    std::printf("admission: roster mode, coordinator key %s (devices.list is not read)\n", config->coordinator_key.c_str());
  } else {
    std::printf("admission: list mode, registered devices: %zu%s\n", registry.size(),
                reload.ok() ? "" : (" (" + reload.ToString() + ")").c_str());
  }
  std::printf("store file: %s\n", ec ? "(not created yet)" : (std::to_string(store_bytes) + " bytes").c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "liaison-relay: libsodium failed to initialise\n");
    return 1;
  }
  struct rlimit no_core {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);  // a core dump would contain the relay's secret key
  spdlog::set_default_logger(spdlog::stderr_color_mt("relay")  /* the ZAP thread logs too */);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"liaison-relay: the end-to-end encrypted store-and-forward relay"};
  app.require_subcommand(1);
  std::string dir, listen, card;
  auto* init = app.add_subcommand("init", "create a data directory with a default configuration and fresh keys");
  init->add_option("dir", dir, "data directory")->required();
  init->add_option("--listen", listen, "endpoint to write into relay.toml (default tcp://127.0.0.1:7400)");
  auto* run = app.add_subcommand("run", "serve until SIGTERM or SIGINT (SIGUSR1 logs the activity counters)");
  run->add_option("dir", dir, "data directory")->required();
  run->add_option("--listen", listen, "override the configured endpoint, e.g. tcp://127.0.0.1:*");
  auto* reg = app.add_subcommand("register", "admit a device from the card `liaison card` printed");
  reg->add_option("dir", dir, "data directory")->required();
  reg->add_option("card", card, "device card file")->required();
  auto* status = app.add_subcommand("status", "show keys, endpoint, devices and store size");
  status->add_option("dir", dir, "data directory")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help exits 0; every usage error exits 2
  }

  if (init->parsed()) {
    liaison::Status s = liaison::relay::InitDataDir(dir, listen);
    if (!s.ok()) return Fail(s);
    auto public_key = liaison::ReadFile(dir + "/relay.pub", 128);
    std::printf("initialised %s\nrelay public key: %s", dir.c_str(), public_key.ok() ? public_key->c_str() : "?\n");
    return 0;
  }
  if (run->parsed()) return Run(dir, listen);
  if (reg->parsed()) return Register(dir, card);
  return Status(dir);
}
