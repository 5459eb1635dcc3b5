// Test support: a real liaison-relay process on a free loopback port, and devices that talk to
// it. Each RelayProcess owns a temporary data directory removed on destruction.
#ifndef LIAISON_TESTS_INTEGRATION_RELAY_PROCESS_UTIL_H_
#define LIAISON_TESTS_INTEGRATION_RELAY_PROCESS_UTIL_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "client/src/connection.h"
#include "crypto/keys.h"
#include "liaison/client.h"
#include "roster/roster.h"

namespace liaison::testing {

// Whether RSS figures of the relay mean anything in this build (not under sanitizers).
#ifdef LIAISON_SANITIZED
inline constexpr bool kMemoryFiguresMeaningful = false;
#else
inline constexpr bool kMemoryFiguresMeaningful = true;
#endif

// A fresh directory under $TMPDIR (or under `base`, if given), removed (recursively) on destruction.
class TempDir {
 public:
  TempDir() : TempDir(nullptr) {}
  explicit TempDir(const char* base);
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs `argv` to completion; returns its exit code (stdout/stderr go to the test's output).
int RunProgram(const std::vector<std::string>& argv);

class RelayProcess {
 public:
  // Initialises a data directory (fresh keys, listen on tcp://127.0.0.1:*). Does not start.
  explicit RelayProcess(const std::string& data_dir);
  ~RelayProcess();

  // Starts the relay and waits until it has bound. After the first start, restarts reuse the
  // same endpoint, so clients need no new configuration. REQUIRE-fails if it does not come up.
  void Start();
  // Like Start(), but runs the relay under `wrapper` (e.g. {"strace", "-f", ...}); Stop() then
  // signals the wrapper's children and waits for the wrapper.
  void StartWrapped(const std::vector<std::string>& wrapper);
  // SIGTERM to the relay (also when wrapped) and wait for the process started.
  void Stop();
  // Sends `signal` and waits for the process to end.
  void Kill(int signal);
  // Sends `signal` and returns at once.
  void Signal(int signal);
  // Before Start(): the relay's standard error (its log) goes to `path` (appended) instead of
  // the test's output.
  void set_log_path(const std::string& path) { log_path_ = path; }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // A field of /proc/PID/status in KiB, e.g. "VmHWM" (peak resident set) or "VmRSS".
  long StatusKiB(const std::string& field) const;

  const std::string& endpoint() const { return endpoint_; }
  const std::string& public_key() const { return public_key_; }
  const std::string& data_dir() const { return data_dir_; }
  // Edits relay.toml before Start(): replaces the line `from` with `to` (REQUIRE-fails if absent).
  void EditConfig(const std::string& from, const std::string& to);
  // Removes a device from devices.list as a coordinator would (rewrite and rename); the running
  // relay refuses it from its next re-read of the list (within a second).
  void Unregister(const std::string& address);
  // Admits a device through `liaison-relay register`.
  void Register(const std::string& address, const std::string& transport_key_z85);

 private:
  std::string data_dir_;
  std::string endpoint_;
  std::string public_key_;
  pid_t pid_ = -1;
  bool wrapped_ = false;
  std::string log_path_;
};

// A device made directly from keys, for tests that must send what liaison::Client never would.
struct RawDevice {
  std::string address;
  crypto::SigningKeyPair signing = crypto::SigningKeyPair::Generate();
  crypto::DhKeyPair dh = crypto::DhKeyPair::Generate();
  crypto::DhKeyPair transport = crypto::DhKeyPair::Generate();
  std::string TransportZ85() const;
  // A connection with this device's transport keys. `context` must outlive it.
  std::unique_ptr<client::RelayConnection> Connect(zmq::context_t& context, const RelayProcess& relay,
                                                   std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) const;
};

// A running relay in a temporary directory with two raw devices registered, each with an open
// connection that has answered a PING (so the relay knows both before a test's timed part).
struct RelayWithTwoRawDevices {
  RelayWithTwoRawDevices(std::string first_address, std::string second_address);
  TempDir dir;
  RelayProcess relay;
  RawDevice first, second;
  zmq::context_t context;
  std::unique_ptr<client::RelayConnection> first_connection, second_connection;
};

// Publishes the device's identity bundle and a signed prekey with id 1 (no one-time prekeys), so
// that clients can start sessions with it. With `break_signature`, the signed prekey's signature
// has one bit flipped. REQUIRE-fails if the relay refuses either.
void PublishRawKeys(client::RelayConnection& connection, const RawDevice& device, bool break_signature = false);

// Fetches and acknowledges everything pending for the connection's device; returns how many.
size_t DrainMailbox(client::RelayConnection& connection);

// Creates a liaison::Client in `dir` for `address` and registers it with `relay`.
std::unique_ptr<Client> MakeClient(RelayProcess& relay, const std::string& dir, const std::string& address);

ClientOptions OptionsFor(const RelayProcess& relay, const std::string& dir);

class TestCoordinator;

// Creates a roster-mode liaison::Client (trusting `coordinator`'s key) in `dir` for `address`
// and adds it to the coordinator's next epoch with `role` (not published yet).
std::unique_ptr<Client> MakeRosterClient(RelayProcess& relay, TestCoordinator& coordinator, const std::string& dir,
                                         const std::string& address, roster::Role role, Clock* clock = nullptr);

// A coordinator for a relay in roster mode: its Ed25519 key, its admin tool's transport key,
// and the member list of the next epoch, which tests edit and then sign and publish.
class TestCoordinator {
 public:
  crypto::SigningKeyPair key = crypto::SigningKeyPair::Generate();
  RawDevice admin{"@coordinator"};
  std::vector<roster::Member> members;  // of the next epoch; kept sorted by Add()
  std::optional<roster::VerifiedEpoch> held;  // the last epoch Publish() got accepted

  // Writes the coordinator key and the admin transport key into relay.toml (before Start()).
  void Configure(RelayProcess& relay) const;
  // Adds (or extends with another device) a member with `device`'s keys; the device's address
  // must be "member/device".
  void Add(const RawDevice& device, roster::Role role, std::vector<std::string> areas = {});
  // The same for a liaison::Client's device, from its card.
  void Add(const DeviceCard& card, roster::Role role, std::vector<std::string> areas = {});
  void Remove(const std::string& member_id);
  // The next epoch (held's successor, or epoch 1) over `members`, signed by `signer`.
  Bytes SignNext(const crypto::SigningKeyPair& signer) const;
  Bytes SignNext() const { return SignNext(key); }
  // Publishes `signed_epoch` through the admin connection; returns the relay's answer.
  Status Publish(RelayProcess& relay, ByteView signed_epoch);
  // Signs and publishes the next epoch; REQUIRE-fails unless the relay accepts it.
  void PublishNext(RelayProcess& relay);

 private:
  zmq::context_t context_;
};

// A relay in roster mode under a fresh coordinator, started, with no epoch yet.
struct RosterRelay {
  TempDir dir;
  RelayProcess relay{dir.Sub("relay")};
  TestCoordinator coordinator;
  RosterRelay() {
    coordinator.Configure(relay);
    relay.Start();
  }
};

}  // namespace liaison::testing

#endif  // LIAISON_TESTS_INTEGRATION_RELAY_PROCESS_UTIL_H_
