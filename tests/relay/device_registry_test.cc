#include <catch2/catch.hpp>

#include <filesystem>

#include "base/file_util.h"
#include "relay/device_registry.h"

using namespace liaison;
using namespace liaison::relay;

namespace {
struct File {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("liaison-devices-" + std::to_string(::getpid()) + "-" + std::to_string(reinterpret_cast<uintptr_t>(this))))
                         .string();
  ~File() { std::filesystem::remove(path); }
};

TransportKey KeyOf(uint8_t fill) {
  TransportKey key{};
  key.fill(fill);
  return key;
}
}  // namespace

TEST_CASE("Z85 keys round-trip and malformed ones are refused", "[relay][registry]") {
  const TransportKey key = KeyOf(0x42);
  auto parsed = ParseZ85Key(FormatZ85Key(key));
  REQUIRE(parsed.ok());
  CHECK(*parsed == key);
  CHECK(ParseZ85Key("short").status().code() == Code::kInvalidArgument);
  CHECK(ParseZ85Key(std::string(40, '~')).status().code() == Code::kInvalidArgument);
}

TEST_CASE("registered devices are found by key and address, including keys that contain '#'", "[relay][registry]") {
  File file;
  // Find a key whose Z85 form contains '#', which must not be taken for a comment.
  TransportKey hashy{};
  for (int fill = 0; fill < 256; ++fill) {
    hashy = KeyOf(static_cast<uint8_t>(fill));
    if (FormatZ85Key(hashy).find('#') != std::string::npos) break;
  }
  REQUIRE(FormatZ85Key(hashy).find('#') != std::string::npos);
  REQUIRE(DeviceRegistry::Append(file.path, "officer/1", hashy).ok());
  REQUIRE(DeviceRegistry::Append(file.path, "association/1", KeyOf(1)).ok());
  DeviceRegistry registry(file.path);
  REQUIRE(registry.ReloadIfChanged().ok());
  CHECK(registry.size() == 2);
  CHECK(registry.AddressOf(hashy) == "officer/1");
  CHECK(registry.HasAddress("association/1"));
  CHECK_FALSE(registry.AddressOf(KeyOf(2)).has_value());
}

TEST_CASE("registering an address or key twice is refused", "[relay][registry]") {
  File file;
  REQUIRE(DeviceRegistry::Append(file.path, "a/1", KeyOf(1)).ok());
  CHECK(DeviceRegistry::Append(file.path, "a/1", KeyOf(2)).code() == Code::kAlreadyExists);
  CHECK(DeviceRegistry::Append(file.path, "b/1", KeyOf(1)).code() == Code::kAlreadyExists);
  CHECK(DeviceRegistry::Append(file.path, "has space", KeyOf(3)).code() == Code::kInvalidArgument);
}

TEST_CASE("a damaged device list is refused as a whole and the previous list stays in force", "[relay][registry]") {
  File file;
  REQUIRE(DeviceRegistry::Append(file.path, "a/1", KeyOf(1)).ok());
  DeviceRegistry registry(file.path);
  REQUIRE(registry.ReloadIfChanged().ok());
  REQUIRE(WriteFileAtomically(file.path, "a/1 " + FormatZ85Key(KeyOf(1)) + "\nb/1 not-a-key\n", 0644).ok());
  auto status = registry.ReloadIfChanged();
  CHECK(status.code() == Code::kInvalidArgument);
  CHECK(status.message().find(":2") != std::string::npos);  // names the line
  CHECK(registry.AddressOf(KeyOf(1)) == "a/1");
  CHECK(registry.ReloadIfChanged().ok());  // reported once per change, not on every check
}

TEST_CASE("a device removed from the list is no longer admitted after reload", "[relay][registry]") {
  File file;
  REQUIRE(DeviceRegistry::Append(file.path, "a/1", KeyOf(1)).ok());
  REQUIRE(DeviceRegistry::Append(file.path, "b/1", KeyOf(2)).ok());
  DeviceRegistry registry(file.path);
  REQUIRE(registry.ReloadIfChanged().ok());
  REQUIRE(WriteFileAtomically(file.path, "b/1 " + FormatZ85Key(KeyOf(2)) + "\n", 0644).ok());
  REQUIRE(registry.ReloadIfChanged().ok());
  CHECK_FALSE(registry.AddressOf(KeyOf(1)).has_value());
  CHECK(registry.AddressOf(KeyOf(2)) == "b/1");
}
