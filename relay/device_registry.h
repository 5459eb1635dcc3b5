// The devices the relay admits: address -> CURVE transport public key, from one of two sources:
// - roster mode (relay.toml names a coordinator key): the devices of the newest verified roster
//   epoch whose members are valid now, plus the coordinator's admin tool as kAdminUser. Nothing
//   else is admitted, and each address carries its member's role for the send policy.
// - list mode (no coordinator key; development and the single-operator setup): devices.list,
//   one "address Z85-key" per line, '#' comments. Whoever can write the data directory admits
//   devices, and there are no roles.
//
// Thread-safety: all methods may be called from any thread (the ZAP thread and the main loop).
#ifndef LIAISON_RELAY_DEVICE_REGISTRY_H_
#define LIAISON_RELAY_DEVICE_REGISTRY_H_

#include <array>
#include <sys/types.h>

#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "liaison/status.h"
#include "roster/roster.h"

namespace liaison::relay {

using TransportKey = std::array<uint8_t, 32>;

// The ZAP User-Id of the coordinator's admin tool: not an address ('@' is not allowed in one),
// so it has no mailbox; it may only publish and read roster epochs.
inline constexpr std::string_view kAdminUser = "@coordinator";

// Parses one Z85 CURVE key (40 characters). kInvalidArgument otherwise.
Result<TransportKey> ParseZ85Key(std::string_view z85);
std::string FormatZ85Key(const TransportKey& key);

class DeviceRegistry {
 public:
  explicit DeviceRegistry(std::string path) : path_(std::move(path)) {}

  // List mode: re-reads the file if its modification time changed since the last read. A file
  // with a bad line is refused as a whole (the previous list stays in force) and the error
  // returned. In roster mode it does nothing.
  Status ReloadIfChanged();

  // Enters (or stays in) roster mode with the devices of `epoch`'s members valid at `now_micros`,
  // plus `admin_key` (if any) as kAdminUser. Returns when the admitted set next changes by
  // itself (the earliest valid_until after now), INT64_MAX if never.
  int64_t UseRoster(const roster::Epoch& epoch, int64_t now_micros, const std::optional<TransportKey>& admin_key);
  bool roster_mode() const;
  // The role of an admitted device's member (roster mode only; nullopt in list mode).
  std::optional<roster::Role> RoleOf(std::string_view address) const;

  // The address registered for this transport key, if any.
  std::optional<std::string> AddressOf(const TransportKey& key) const;
  bool HasAddress(std::string_view address) const;
  // The registered addresses "member/..." of `member` (which must not contain '/'), sorted, at
  // most `max` of them.
  std::vector<std::string> DevicesOf(std::string_view member, size_t max) const;
  size_t size() const;

  // Appends a device to the file (used by `liaison-relay register`). kAlreadyExists if the address
  // or the key is registered already.
  static Status Append(const std::string& path, const std::string& address, const TransportKey& key);

 private:
  std::string path_;
  mutable std::mutex mu_;
  // Identity of the file last read: a rename gives a new inode even within one mtime tick.
  std::timespec mtime_{};  // GUARDED_BY(mu_)
  ino_t inode_ = 0;        // GUARDED_BY(mu_)
  off_t size_ = -1;        // GUARDED_BY(mu_)
  std::map<TransportKey, std::string> by_key_;  // GUARDED_BY(mu_)
  std::map<std::string, TransportKey, std::less<>> by_address_;  // GUARDED_BY(mu_)
  bool roster_mode_ = false;                                     // GUARDED_BY(mu_)
  std::map<std::string, roster::Role, std::less<>> roles_;      // GUARDED_BY(mu_)
};

}  // namespace liaison::relay

#endif  // LIAISON_RELAY_DEVICE_REGISTRY_H_
