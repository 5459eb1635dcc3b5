#include "relay/device_registry.h"

#include <sys/stat.h>
#include <zmq.h>

#include <sstream>

#include "base/file_util.h"
#include "wire/limits.h"

namespace liaison::relay {

Result<TransportKey> ParseZ85Key(std::string_view z85) {
  if (z85.size() != 40) return Status::Error(Code::kInvalidArgument, "a Z85 key has 40 characters");
  std::string text(z85);
  TransportKey key{};
  if (zmq_z85_decode(key.data(), text.c_str()) == nullptr) {
    return Status::Error(Code::kInvalidArgument, "not a Z85 key");
  }
  return key;
}

std::string FormatZ85Key(const TransportKey& key) {
  char out[41] = {};
  zmq_z85_encode(out, key.data(), key.size());
  return out;
}

namespace {
struct Parsed {
  std::map<TransportKey, std::string> by_key;
  std::map<std::string, TransportKey, std::less<>> by_address;
};

Result<Parsed> ParseList(const std::string& path, const std::string& text) {
  Parsed parsed;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    // Z85 keys may contain '#', so only a line that starts with it is a comment.
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream fields(line);
    std::string address, key_text, extra;
    if (!(fields >> address)) continue;
    const std::string where = path + ":" + std::to_string(number);
    if (!(fields >> key_text) || (fields >> extra)) {
      return Status::Error(Code::kInvalidArgument, where + ": expected \"address key\"");
    }
    if (address.size() > wire::kMaxAddressBytes) {
      return Status::Error(Code::kInvalidArgument, where + ": address longer than 64 bytes");
    }
    auto key = ParseZ85Key(key_text);
    if (!key.ok()) return key.status().WithContext(where);
    if (!parsed.by_key.emplace(*key, address).second || !parsed.by_address.emplace(address, *key).second) {
      return Status::Error(Code::kInvalidArgument, where + ": address or key listed twice");
    }
  }
  return parsed;
}
}  // namespace

Status DeviceRegistry::ReloadIfChanged() {
  if (roster_mode()) return Status::Ok();
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    std::lock_guard lock(mu_);
    by_key_.clear();
    by_address_.clear();
    return Status::Error(Code::kNotFound, path_ + " does not exist; no device is admitted");
  }
  {
    std::lock_guard lock(mu_);
    if (st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec && st.st_ino == inode_ &&
        st.st_size == size_) {
      return Status::Ok();
    }
  }
  auto text = ReadFile(path_);
  auto parsed = text.ok() ? ParseList(path_, *text) : Result<Parsed>(text.status());
  std::lock_guard lock(mu_);
  inode_ = st.st_ino;
  size_ = st.st_size;
  mtime_ = st.st_mtim;  // a bad file is reported once per change, not on every check
  if (!parsed.ok()) return parsed.status().WithContext("keeping the previous device list");
  by_key_ = std::move(parsed->by_key);
  by_address_ = std::move(parsed->by_address);
  return Status::Ok();
}

std::optional<std::string> DeviceRegistry::AddressOf(const TransportKey& key) const {
  std::lock_guard lock(mu_);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

bool DeviceRegistry::HasAddress(std::string_view address) const {
  std::lock_guard lock(mu_);
  return by_address_.find(address) != by_address_.end();
}

std::vector<std::string> DeviceRegistry::DevicesOf(std::string_view member, size_t max) const {
  std::vector<std::string> out;
  if (member.empty() || member.find('/') != std::string_view::npos) return out;
  const std::string prefix = std::string(member) + "/";
  std::lock_guard lock(mu_);
  for (auto it = by_address_.lower_bound(prefix); it != by_address_.end() && out.size() < max; ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(it->first);
  }
  return out;
}

int64_t DeviceRegistry::UseRoster(const roster::Epoch& epoch, int64_t now_micros,
                                  const std::optional<TransportKey>& admin_key) {
  std::map<TransportKey, std::string> by_key;
  std::map<std::string, TransportKey, std::less<>> by_address;
  std::map<std::string, roster::Role, std::less<>> roles;
  int64_t next_change = INT64_MAX;
  for (const roster::Member& member : epoch.members) {
    if (!member.ValidAt(now_micros)) continue;
    if (member.valid_until != 0) next_change = std::min(next_change, static_cast<int64_t>(member.valid_until));
    for (const roster::Device& device : member.devices) {
      const std::string address = member.id + "/" + device.id;
      by_key.emplace(device.transport_key, address);  // keys are distinct in a valid epoch
      by_address.emplace(address, device.transport_key);
      roles.emplace(address, member.role_value());
    }
  }
  if (admin_key && !by_key.count(*admin_key)) {
    by_key.emplace(*admin_key, std::string(kAdminUser));
    by_address.emplace(std::string(kAdminUser), *admin_key);
  }
  std::lock_guard lock(mu_);
  roster_mode_ = true;
  by_key_ = std::move(by_key);
  by_address_ = std::move(by_address);
  roles_ = std::move(roles);
  return next_change;
}

bool DeviceRegistry::roster_mode() const {
  std::lock_guard lock(mu_);
  return roster_mode_;
}

std::optional<roster::Role> DeviceRegistry::RoleOf(std::string_view address) const {
  std::lock_guard lock(mu_);
  auto it = roles_.find(address);
  if (it == roles_.end()) return std::nullopt;
  return it->second;
}

size_t DeviceRegistry::size() const {
  std::lock_guard lock(mu_);
  return by_key_.size();
}

Status DeviceRegistry::Append(const std::string& path, const std::string& address, const TransportKey& key) {
  std::string text;
  auto existing = ReadFile(path);
  if (existing.ok()) {
    text = *existing;
  } else if (existing.status().code() != Code::kNotFound) {
    return existing.status();
  }
  LIAISON_ASSIGN_OR_RETURN(Parsed parsed, ParseList(path, text));
  if (parsed.by_address.count(address) || parsed.by_key.count(key)) {
    return Status::Error(Code::kAlreadyExists, address + " or its transport key is registered already");
  }
  if (address.empty() || address.size() > wire::kMaxAddressBytes || address.find_first_of(" \t#\n") != std::string::npos) {
    return Status::Error(Code::kInvalidArgument, "address must be 1 to 64 bytes without spaces or '#'");
  }
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += address + " " + FormatZ85Key(key) + "\n";
  return WriteFileAtomically(path, text, 0644);
}

}  // namespace liaison::relay
