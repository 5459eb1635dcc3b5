// The relay's configuration: a TOML file in the data directory (relay.toml) over embedded
// defaults that work out of the box. See docs/operations.md for every key.
#ifndef LIAISON_RELAY_CONFIG_H_
#define LIAISON_RELAY_CONFIG_H_

#include <cstdint>
#include <string>

#include "liaison/status.h"

namespace liaison::relay {

struct RelayConfig {
  std::string data_dir;                         // holds everything below
  std::string listen = "tcp://127.0.0.1:7400";  // a ZeroMQ endpoint; port "*" picks a free one
  std::string log_level = "info";               // trace, debug, info, warn, error
  uint64_t map_size_mib = 1024;                 // LMDB map: sends beyond it get "store full"
  uint64_t max_mailbox_messages = 100'000;
  uint64_t max_mailbox_mib = 512;
  uint64_t default_ttl_days = 30;
  uint64_t max_ttl_days = 90;
  uint64_t reader_check_seconds = 60;           // how often stale LMDB reader slots are cleared
  bool write_ahead_log = false;                 // store/commit_log.h; off: LMDB syncs each commit
  uint64_t log_file_mib = 64;                   // each of the log's two files
  uint64_t checkpoint_after_mib = 16;           // of log between LMDB's own syncs
  uint64_t checkpoint_interval_ms = 100;        // or this long, whichever comes first
  int handshake_timeout_ms = 5000;              // half-open CURVE handshakes are dropped after it
  int heartbeat_interval_ms = 10'000;
  int heartbeat_timeout_ms = 30'000;
  // Roster mode (relay/device_registry.h) when set: the coordinator's Ed25519 public key (64 hex
  // characters) and the CURVE public key (Z85) of the coordinator's admin tool.
  std::string coordinator_key;
  std::string coordinator_transport_key;

  std::string ConfigPath() const { return data_dir + "/relay.toml"; }
  std::string SecretKeyPath() const { return data_dir + "/relay.key"; }
  std::string PublicKeyPath() const { return data_dir + "/relay.pub"; }
  std::string SigningSecretKeyPath() const { return data_dir + "/relay.sign.key"; }  // relay/signing_key.h
  std::string SigningPublicKeyPath() const { return data_dir + "/relay.sign.pub"; }
  std::string DevicesPath() const { return data_dir + "/devices.list"; }
  std::string StorePath() const { return data_dir + "/store"; }
  std::string EndpointPath() const { return data_dir + "/endpoint"; }
};

// The configuration file `init` writes, with every default spelled out and explained.
const char* DefaultConfigToml();

// Loads DIR/relay.toml over the defaults (the file may be absent). kInvalidArgument names the
// key and what is wrong with it.
Result<RelayConfig> LoadConfig(const std::string& data_dir);

// Creates DIR with relay.toml, a fresh CURVE keypair (relay.key 0600, relay.pub) and an empty
// devices.list. kAlreadyExists if DIR already holds a relay.key.
Status InitDataDir(const std::string& data_dir, const std::string& listen_override);

}  // namespace liaison::relay

#endif  // LIAISON_RELAY_CONFIG_H_
