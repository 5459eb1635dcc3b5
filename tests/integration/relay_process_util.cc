#include "integration/relay_process_util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "base/file_util.h"
#include "client/src/key_bundle.h"
#include "crypto/x3dh.h"
#include "wire/frame.h"
#include "wire/messages.h"

extern char** environ;

namespace liaison::testing {

namespace {

// Starts `argv`; with a `stderr_path`, its standard error is appended to that file.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& stderr_path = {}) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  REQUIRE(posix_spawn_file_actions_init(&actions) == 0);
  if (!stderr_path.empty()) {
    REQUIRE(posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644) == 0);
  }
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  return pid;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

TempDir::TempDir(const char* base) {
  if (base == nullptr) base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/liaison-test-XXXXXX";
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int RunProgram(const std::vector<std::string>& argv) {
  pid_t pid = Spawn(argv);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

RelayProcess::RelayProcess(const std::string& data_dir) : data_dir_(data_dir) {
  REQUIRE(RunProgram({LIAISON_RELAY_BIN, "init", data_dir_, "--listen", "tcp://127.0.0.1:*"}) == 0);
  auto key = ReadFile(data_dir_ + "/relay.pub");
  REQUIRE(key.ok());
  public_key_ = Trim(*key);
}

RelayProcess::~RelayProcess() {
  if (pid_ > 0) Kill(SIGKILL);
}

void RelayProcess::Start() { StartWrapped({}); }

void RelayProcess::Stop() {
  REQUIRE(pid_ > 0);
  if (wrapped_) {
    REQUIRE(RunProgram({"/usr/bin/pkill", "-TERM", "-P", std::to_string(pid_)}) == 0);
  } else {
    ::kill(pid_, SIGTERM);
  }
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RelayProcess::StartWrapped(const std::vector<std::string>& wrapper) {
  REQUIRE(pid_ <= 0);
  wrapped_ = !wrapper.empty();
  const std::string endpoint_file = data_dir_ + "/endpoint";
  std::filesystem::remove(endpoint_file);
  std::vector<std::string> argv = wrapper;
  for (const char* arg : {LIAISON_RELAY_BIN, "run"}) argv.push_back(arg);
  argv.push_back(data_dir_);
  if (!endpoint_.empty()) {
    argv.push_back("--listen");
    argv.push_back(endpoint_);
  }
  pid_ = Spawn(argv, log_path_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto text = ReadFile(endpoint_file);
    if (text.ok() && !text->empty() && text->back() == '\n') {
      endpoint_ = Trim(*text);
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("liaison-relay exited during start-up");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL("liaison-relay did not bind within 20 s");
}

void RelayProcess::Kill(int signal) {
  REQUIRE(pid_ > 0);
  ::kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RelayProcess::Signal(int signal) {
  REQUIRE(pid_ > 0);
  REQUIRE(::kill(pid_, signal) == 0);
}

long RelayProcess::StatusKiB(const std::string& field) const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  FAIL("no " << field << " in /proc/" << pid_ << "/status");
  return -1;
}

void RelayProcess::EditConfig(const std::string& from, const std::string& to) {
  const std::string path = data_dir_ + "/relay.toml";
  auto text = ReadFile(path);
  REQUIRE(text.ok());
  const auto at = text->find(from);
  REQUIRE(at != std::string::npos);
  text->replace(at, from.size(), to);
  REQUIRE(WriteFileAtomically(path, *text, 0644).ok());
}

void RelayProcess::Unregister(const std::string& address) {
  const std::string path = data_dir_ + "/devices.list";
  auto list = ReadFile(path);
  REQUIRE(list.ok());
  std::string kept;
  std::istringstream lines(*list);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(address + " ", 0) != 0) kept += line + "\n";
  }
  REQUIRE(kept.size() < list->size());
  REQUIRE(WriteFileAtomically(path, kept, 0644).ok());
}

void RelayProcess::Register(const std::string& address, const std::string& transport_key_z85) {
  const std::string card = data_dir_ + "/" + std::to_string(std::hash<std::string>{}(address)) + ".card";
  REQUIRE(WriteFileAtomically(card, "address = \"" + address + "\"\ntransport_key = \"" + transport_key_z85 + "\"\n", 0644).ok());
  REQUIRE(RunProgram({LIAISON_RELAY_BIN, "register", data_dir_, card}) == 0);
}

std::string RawDevice::TransportZ85() const {
  char out[41] = {};
  zmq_z85_encode(out, transport.public_key.data(), 32);
  return out;
}

std::unique_ptr<client::RelayConnection> RawDevice::Connect(zmq::context_t& context, const RelayProcess& relay,
                                                            std::chrono::milliseconds timeout) const {
  client::TransportKeys keys;
  std::string server = relay.public_key();
  REQUIRE(zmq_z85_decode(keys.server_public.data(), server.c_str()) != nullptr);
  keys.client_public = transport.public_key;
  keys.client_secret = transport.secret_key.Clone();
  return std::make_unique<client::RelayConnection>(context, relay.endpoint(), std::move(keys), timeout);
}

RelayWithTwoRawDevices::RelayWithTwoRawDevices(std::string first_address, std::string second_address)
    : relay(dir.Sub("relay")), first{std::move(first_address)}, second{std::move(second_address)} {
  relay.Start();
  relay.Register(first.address, first.TransportZ85());
  relay.Register(second.address, second.TransportZ85());
  first_connection = first.Connect(context, relay);
  second_connection = second.Connect(context, relay);
  REQUIRE(first_connection->Call(wire::FrameType::kPing, wire::Empty{}).ok());
  REQUIRE(second_connection->Call(wire::FrameType::kPing, wire::Empty{}).ok());
}

size_t DrainMailbox(client::RelayConnection& connection) {
  size_t total = 0;
  while (true) {
    auto fetched = connection.Call(wire::FrameType::kFetch, wire::FetchRequest{});
    REQUIRE(fetched.ok());
    auto deliveries = wire::Decode<wire::Deliveries>(fetched->body);
    REQUIRE(deliveries.ok());
    if (deliveries->items.empty()) return total;
    wire::AckRequest ack;
    for (const auto& d : deliveries->items) ack.seqs.push_back(d.seq);
    total += ack.seqs.size();
    auto acked = connection.Call(wire::FrameType::kAck, ack);
    REQUIRE(acked.ok());
    REQUIRE(client::ReplyStatus(*acked).ok());
  }
}

ClientOptions OptionsFor(const RelayProcess& relay, const std::string& dir) {
  ClientOptions options;
  options.state_dir = dir;
  options.relay_endpoint = relay.endpoint();
  options.relay_public_key = relay.public_key();
  options.timeout = std::chrono::milliseconds(3000);
  return options;
}

void PublishRawKeys(client::RelayConnection& connection, const RawDevice& device, bool break_signature) {
  auto reply = connection.Call(wire::FrameType::kPublishKeys,
                               wire::PublishKeysRequest{client::EncodeKeyBundle(device.address, device.signing, device.dh.public_key)});
  REQUIRE(reply.ok());
  REQUIRE(client::ReplyStatus(*reply).ok());
  const crypto::DhKeyPair signed_prekey = crypto::DhKeyPair::Generate();
  crypto::Signature signature = crypto::SignSignedPrekey(device.signing.secret_key, 1, signed_prekey.public_key);
  if (break_signature) signature[0] ^= 0x40;
  wire::PublishPrekeysRequest prekeys;
  prekeys.signed_prekey = client::EncodeSignedPrekeyRecord({1, signed_prekey.public_key, signature});
  reply = connection.Call(wire::FrameType::kPublishPrekeys, prekeys);
  REQUIRE(reply.ok());
  REQUIRE(client::ReplyStatus(*reply).ok());
}

std::unique_ptr<Client> MakeClient(RelayProcess& relay, const std::string& dir, const std::string& address) {
  auto client = Client::Create(OptionsFor(relay, dir), address);
  REQUIRE(client.ok());
  relay.Register(address, (*client)->Card().transport_key);
  return std::move(client).value();
}

void TestCoordinator::Configure(RelayProcess& relay) const {
  relay.EditConfig("# coordinator_key = \"64 hex characters\"", "coordinator_key = \"" + ToHex(key.public_key) + "\"");
  relay.EditConfig("# coordinator_transport_key = \"40 Z85 characters\"",
                   "coordinator_transport_key = \"" + admin.TransportZ85() + "\"");
}

void TestCoordinator::Add(const RawDevice& device, roster::Role role, std::vector<std::string> areas) {
  auto parts = roster::SplitAddress(device.address);
  REQUIRE(parts.has_value());
  roster::Device entry;
  entry.id = std::string(parts->second);
  entry.signing_key = device.signing.public_key;
  entry.dh_key = device.dh.public_key;
  entry.transport_key = device.transport.public_key;
  auto it = std::find_if(members.begin(), members.end(), [&](const roster::Member& m) { return m.id == parts->first; });
  if (it == members.end()) {
    roster::Member member;
    member.id = std::string(parts->first);
    member.display_name = "Test " + member.id;
    member.organisation = "Test organisation";
    member.role = static_cast<uint8_t>(role);
    std::sort(areas.begin(), areas.end());
    for (auto& tag : areas) member.areas.push_back({tag});
    it = members.insert(std::upper_bound(members.begin(), members.end(), member.id,
                                         [](const std::string& id, const roster::Member& m) { return id < m.id; }),
                        member);
  }
  it->devices.insert(std::upper_bound(it->devices.begin(), it->devices.end(), entry.id,
                                      [](const std::string& id, const roster::Device& d) { return id < d.id; }),
                     entry);
}

void TestCoordinator::Add(const DeviceCard& card, roster::Role role, std::vector<std::string> areas) {
  RawDevice device{card.address};
  roster::PublicKey transport{};
  REQUIRE(card.transport_key.size() == 40);
  REQUIRE(zmq_z85_decode(transport.data(), card.transport_key.c_str()) != nullptr);
  device.transport = crypto::DhKeyPair::Generate();  // only the public keys matter below
  Add(device, role, std::move(areas));
  auto parts = roster::SplitAddress(card.address);
  for (auto& member : members) {
    if (member.id != parts->first) continue;
    for (auto& entry : member.devices) {
      if (entry.id != parts->second) continue;
      entry.transport_key = transport;
      auto signing = FromHex(card.signing_key);
      auto dh = FromHex(card.dh_key);
      REQUIRE(signing.ok());
      REQUIRE(dh.ok());
      REQUIRE(signing->size() == 32);
      REQUIRE(dh->size() == 32);
      std::copy(signing->begin(), signing->end(), entry.signing_key.begin());
      std::copy(dh->begin(), dh->end(), entry.dh_key.begin());
    }
  }
}

std::unique_ptr<Client> MakeRosterClient(RelayProcess& relay, TestCoordinator& coordinator, const std::string& dir,
                                         const std::string& address, roster::Role role, Clock* clock) {
  ClientOptions options = OptionsFor(relay, dir);
  options.coordinator_key = ToHex(coordinator.key.public_key);
  options.clock = clock;
  auto client = Client::Create(options, address);
  REQUIRE(client.ok());
  coordinator.Add((*client)->Card(), role);
  return std::move(client).value();
}

void TestCoordinator::Remove(const std::string& member_id) {
  auto it = std::find_if(members.begin(), members.end(), [&](const roster::Member& m) { return m.id == member_id; });
  REQUIRE(it != members.end());
  members.erase(it);
}

Bytes TestCoordinator::SignNext(const crypto::SigningKeyPair& signer) const {
  roster::Epoch epoch;
  epoch.number = held ? held->epoch.number + 1 : 1;
  if (held) epoch.previous_hash = held->hash;
  epoch.issued_at = static_cast<uint64_t>(SystemClock().NowMicros());
  epoch.members = members;
  auto signed_epoch = roster::SignEpoch(epoch, signer);
  REQUIRE(signed_epoch.ok());
  return std::move(signed_epoch).value();
}

Status TestCoordinator::Publish(RelayProcess& relay, ByteView signed_epoch) {
  auto connection = admin.Connect(context_, relay);
  LIAISON_ASSIGN_OR_RETURN(client::Reply reply,
                           connection->Call(wire::FrameType::kPublishRoster, wire::PublishRosterRequest{Bytes(signed_epoch.begin(), signed_epoch.end())}));
  LIAISON_RETURN_IF_ERROR(client::ReplyStatus(reply));
  auto verified = roster::VerifyEpoch(signed_epoch, key.public_key);
  if (verified.ok()) held = std::move(verified).value();
  return Status::Ok();
}

void TestCoordinator::PublishNext(RelayProcess& relay) {
  const Status published = Publish(relay, SignNext());
  INFO(published.ToString());
  REQUIRE(published.ok());
}

}  // namespace liaison::testing
