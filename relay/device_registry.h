// The devices the relay admits: address -> CURVE transport public key, read from devices.list
// (one "address Z85-key" per line, '#' comments). The coordinator-signed roster replaces this
// file in a later version; until then whoever can write the data directory admits devices.
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

namespace liaison::relay {

using TransportKey = std::array<uint8_t, 32>;

// Parses one Z85 CURVE key (40 characters). kInvalidArgument otherwise.
Result<TransportKey> ParseZ85Key(std::string_view z85);
std::string FormatZ85Key(const TransportKey& key);

class DeviceRegistry {
 public:
  explicit DeviceRegistry(std::string path) : path_(std::move(path)) {}

  // Re-reads the file if its modification time changed since the last read. A file with a bad
  // line is refused as a whole (the previous list stays in force) and the error returned.
  Status ReloadIfChanged();

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
};

}  // namespace liaison::relay

#endif  // LIAISON_RELAY_DEVICE_REGISTRY_H_
