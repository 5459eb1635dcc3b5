#include "relay/config.h"
#include "relay/signing_key.h"

#include <sys/stat.h>
#include <sodium.h>
#include <zmq.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <toml++/toml.h>

#include "base/file_util.h"

namespace liaison::relay {

const char* DefaultConfigToml() {
  return R"(# liaison-relay configuration. Every key is optional; these are the defaults.

# ZeroMQ endpoint the relay binds (CURVE-encrypted TCP). Use "tcp://127.0.0.1:*" for a free port;
# the bound endpoint is written to the file "endpoint" in the data directory.
listen = "tcp://127.0.0.1:7400"
# trace, debug, info, warn or error. Logs never contain message content or keys.
log_level = "info"

[store]
# Size of the LMDB map. Sends beyond it are refused with "store full", never dropped.
map_size_mib = 1024
# Per recipient device: a sender of one message more gets "mailbox full" (retry later).
max_mailbox_messages = 100000
max_mailbox_mib = 512
# Messages nobody acknowledged are purged after their expiry: this default, at most max_ttl_days.
default_ttl_days = 30
max_ttl_days = 90
# Reader slots left by killed processes pin old pages (the file grows); the relay clears them at
# start and this often while it runs.
reader_check_seconds = 60
# Off (the default): LMDB syncs every commit itself (two device writes each). On: each commit is
# made durable by one append and fdatasync of a preallocated log (two files of log_file_mib
# each), LMDB commits behind it without syncing, and checkpoints sync LMDB's file every
# checkpoint_after_mib of log or checkpoint_interval_ms, whichever comes first (until one
# completes, the pages commits free are not reused: the interval bounds how much the file grows
# by). On this 2-core machine the log measured no faster for sends (docs/performance.md). Either
# way nothing is acknowledged before it is on disk, and a restart recovers what a log left.
write_ahead_log = false
log_file_mib = 64
checkpoint_after_mib = 16
checkpoint_interval_ms = 100

[transport]
# A CURVE handshake not finished within this time is dropped.
handshake_timeout_ms = 5000
# ZMTP heartbeats detect dead peers.
heartbeat_interval_ms = 10000
heartbeat_timeout_ms = 30000

[roster]
# With a coordinator key the relay admits exactly the devices of the newest roster epoch signed
# by that key (published by `liaison admin`), and the admin tool's transport key; devices.list
# is then ignored. Both values are printed by `liaison admin init`.
# coordinator_key = "64 hex characters"
# coordinator_transport_key = "40 Z85 characters"
)";
}

namespace {

template <class T>
Status ReadPositive(const toml::table& table, const char* section, const char* key, T* out) {
  const toml::node* node = section ? table[section][key].node() : table[key].node();
  if (node == nullptr) return Status::Ok();
  auto value = node->value<int64_t>();
  if (!value || *value <= 0) {
    return Status::Error(Code::kInvalidArgument, std::string(section ? section : "") + (section ? "." : "") + key +
                                                     " must be a positive integer");
  }
  *out = static_cast<T>(*value);
  return Status::Ok();
}

Status ReadBool(const toml::table& table, const char* section, const char* key, bool* out) {
  const toml::node* node = table[section][key].node();
  if (node == nullptr) return Status::Ok();
  auto value = node->value<bool>();
  if (!value) return Status::Error(Code::kInvalidArgument, std::string(section) + "." + key + " must be true or false");
  *out = *value;
  return Status::Ok();
}

Status ReadString(const toml::table& table, const char* key, std::string* out, const char* section = nullptr) {
  const toml::node* node = section ? table[section][key].node() : table[key].node();
  if (node == nullptr) return Status::Ok();
  auto value = node->value<std::string>();
  if (!value || value->empty()) return Status::Error(Code::kInvalidArgument, std::string(key) + " must be a non-empty string");
  *out = *value;
  return Status::Ok();
}

}  // namespace

Result<RelayConfig> LoadConfig(const std::string& data_dir) {
  RelayConfig config;
  config.data_dir = data_dir;
  if (!std::filesystem::exists(config.ConfigPath())) return config;
  toml::table table;
  try {
    table = toml::parse_file(config.ConfigPath());
  } catch (const toml::parse_error& e) {
    return Status::Error(Code::kInvalidArgument, config.ConfigPath() + ": " + std::string(e.description()) +
                                                     " at line " + std::to_string(e.source().begin.line));
  }
  Status s;
  LIAISON_RETURN_IF_ERROR(ReadString(table, "listen", &config.listen));
  LIAISON_RETURN_IF_ERROR(ReadString(table, "log_level", &config.log_level));
  static constexpr const char* kLevels[] = {"trace", "debug", "info", "warn", "error"};
  if (std::find(std::begin(kLevels), std::end(kLevels), config.log_level) == std::end(kLevels)) {
    return Status::Error(Code::kInvalidArgument, "log_level must be one of trace, debug, info, warn, error");
  }
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "store", "map_size_mib", &config.map_size_mib));
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "store", "max_mailbox_messages", &config.max_mailbox_messages));
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "store", "max_mailbox_mib", &config.max_mailbox_mib));
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "store", "default_ttl_days", &config.default_ttl_days));
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "store", "max_ttl_days", &config.max_ttl_days));
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "store", "reader_check_seconds", &config.reader_check_seconds));
  LIAISON_RETURN_IF_ERROR(ReadBool(table, "store", "write_ahead_log", &config.write_ahead_log));
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "store", "log_file_mib", &config.log_file_mib));
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "store", "checkpoint_after_mib", &config.checkpoint_after_mib));
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "store", "checkpoint_interval_ms", &config.checkpoint_interval_ms));
  if (config.checkpoint_after_mib >= config.log_file_mib) {
    return Status::Error(Code::kInvalidArgument, "store.checkpoint_after_mib must be below store.log_file_mib");
  }
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "transport", "handshake_timeout_ms", &config.handshake_timeout_ms));
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "transport", "heartbeat_interval_ms", &config.heartbeat_interval_ms));
  LIAISON_RETURN_IF_ERROR(ReadPositive(table, "transport", "heartbeat_timeout_ms", &config.heartbeat_timeout_ms));
  LIAISON_RETURN_IF_ERROR(ReadString(table, "coordinator_key", &config.coordinator_key, "roster"));
  LIAISON_RETURN_IF_ERROR(ReadString(table, "coordinator_transport_key", &config.coordinator_transport_key, "roster"));
  if (config.coordinator_key.empty() != config.coordinator_transport_key.empty()) {
    return Status::Error(Code::kInvalidArgument, "roster.coordinator_key and roster.coordinator_transport_key are set together");
  }
  if (!config.coordinator_key.empty()) {
    unsigned char key[32];
    size_t length = 0;
    if (config.coordinator_key.size() != 64 ||
        sodium_hex2bin(key, sizeof key, config.coordinator_key.data(), config.coordinator_key.size(), nullptr, &length,
                       nullptr) != 0 ||
        length != 32) {
      return Status::Error(Code::kInvalidArgument, "roster.coordinator_key must be 64 hex characters");
    }
    if (config.coordinator_transport_key.size() != 40 ||
        zmq_z85_decode(key, config.coordinator_transport_key.c_str()) == nullptr) {
      return Status::Error(Code::kInvalidArgument, "roster.coordinator_transport_key must be 40 Z85 characters");
    }
  }
  if (config.default_ttl_days > config.max_ttl_days) {
    return Status::Error(Code::kInvalidArgument, "store.default_ttl_days must not exceed store.max_ttl_days");
  }
  return config;
}

Status InitDataDir(const std::string& data_dir, const std::string& listen_override) {
  RelayConfig config;
  config.data_dir = data_dir;
  LIAISON_RETURN_IF_ERROR(CreateDirectoriesDurably(data_dir));
  if (std::filesystem::exists(config.SecretKeyPath())) {
    return Status::Error(Code::kAlreadyExists, data_dir + " already holds a relay key; refusing to overwrite it");
  }
  char public_z85[41] = {};
  char secret_z85[41] = {};
  if (zmq_curve_keypair(public_z85, secret_z85) != 0) {
    return Status::Error(Code::kInternal, "zmq_curve_keypair failed (libzmq built without CURVE?)");
  }
  Status written = WriteFileAtomically(config.SecretKeyPath(), std::string(secret_z85) + "\n", 0600);
  sodium_memzero(secret_z85, sizeof secret_z85);
  LIAISON_RETURN_IF_ERROR(written);
  LIAISON_RETURN_IF_ERROR(WriteFileAtomically(config.PublicKeyPath(), std::string(public_z85) + "\n", 0644));
  LIAISON_RETURN_IF_ERROR(LoadOrCreateSigningKey(config).status());
  std::string toml = DefaultConfigToml();
  if (!listen_override.empty()) {
    const std::string needle = "listen = \"tcp://127.0.0.1:7400\"";
    toml.replace(toml.find(needle), needle.size(), "listen = \"" + listen_override + "\"");
  }
  LIAISON_RETURN_IF_ERROR(WriteFileAtomically(config.ConfigPath(), toml, 0644));
  if (!std::filesystem::exists(config.DevicesPath())) {
    LIAISON_RETURN_IF_ERROR(WriteFileAtomically(
        config.DevicesPath(), "# address transport-public-key(Z85), one device per line\n", 0644));
  }
  return Status::Ok();
}

}  // namespace liaison::relay
