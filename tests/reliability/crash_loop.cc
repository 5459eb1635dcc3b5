// Crash loop: real liaison-relay under load from real clients, killed with SIGKILL at random
// moments and restarted. Two senders send messages of 1 byte to 64 KiB (retrying what the relay
// did not acknowledge, with the same message id, through their outbox); two recipients sync
// continuously. At the end every recipient syncs until nothing is left and the checker counts:
//   lost        acknowledged to a sender (left its outbox), never in the recipient's inbox
//   duplicated  in an inbox more than once
//   unexpected  in an inbox, never sent
// Exits 0 only if all three are 0 and every message was acknowledged.
//
// With --power-loss, every second kill is a power cut: the relay runs with the power-loss shim
// (power_loss_shim.cc) preloaded, and after those SIGKILLs its store is rebuilt as the disk could
// hold it (power_loss_restore.cc): what it synced, and of the rest a random share of the sectors
// (none, 30% or 70% holding their last content, chosen per cut). Directory entries it created
// and never synced are removed. The kills between the cuts are plain crashes: what the relay left
// unsynced then is still unsynced at the next cut.
//
// With --write-ahead-log the relay runs with store.write_ahead_log = true (store/commit_log.h).
//
//   crash_loop [--write-ahead-log] [--power-loss SHIM_LIBRARY] RELAY_BIN WORK_DIR MESSAGES KILLS [SEED]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "liaison/client.h"
#include "reliability/power_loss_restore.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// `extra_env` ("NAME=value") replaces the variables of those names in this process's environment.
pid_t Spawn(std::vector<std::string> argv, const std::string& log, std::vector<std::string> extra_env = {}) {
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (const auto& extra : extra_env) replaced = replaced || entry.substr(0, entry.find('=') + 1) == extra.substr(0, extra.find('=') + 1);
    if (!replaced) envp.push_back(*e);
  }
  for (auto& e : extra_env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int RunToEnd(std::vector<std::string> argv, const std::string& log) {
  pid_t pid = Spawn(std::move(argv), log);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class Relay {
 public:
  Relay(std::string bin, std::string dir) : bin_(std::move(bin)), dir_(std::move(dir)) {}
  // Every later start preloads `shim`, tracking the store, with its record under `state_dir`.
  void ModelPowerLoss(const std::string& shim, const std::string& state_dir) {
    std::filesystem::create_directories(state_dir);
    const char* asan = std::getenv("ASAN_OPTIONS");
    env_ = {"LD_PRELOAD=" + shim, "LIAISON_POWER_LOSS_DIR=" + dir_ + "/store", "LIAISON_POWER_LOSS_STATE=" + state_dir,
            // The shim comes before a sanitized relay's runtime in the list of loaded libraries.
            std::string("ASAN_OPTIONS=") + (asan != nullptr ? std::string(asan) + ":" : "") + "verify_asan_link_order=0"};
  }
  bool Start() {
    std::filesystem::remove(dir_ + "/endpoint");
    std::vector<std::string> argv{bin_, "run", dir_, "--listen", endpoint_.empty() ? "tcp://127.0.0.1:*" : endpoint_};
    pid_ = Spawn(argv, dir_ + "/../relay.log", env_);
    for (int i = 0; i < 400; ++i) {
      std::string text = ReadAll(dir_ + "/endpoint");
      if (!text.empty() && text.back() == '\n') {
        endpoint_ = Trim(text);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  const std::string& endpoint() const { return endpoint_; }

 private:
  std::string bin_, dir_, endpoint_;
  std::vector<std::string> env_;
  pid_t pid_ = -1;
};

// Ends the run as failed while the client threads still loop (they cannot be joined).
[[noreturn]] void Abandon(Relay& relay) {
  relay.Kill(SIGKILL);
  std::printf("0 passed, 1 failed\n");
  std::fflush(stdout);
  std::_Exit(1);
}

struct Sent {
  std::mutex mu;
  std::set<std::string> acknowledged;  // message bodies' tags the relay acknowledged
  std::set<std::string> attempted;
};

std::string Tag(int sender, int n) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "s%d-%06d|", sender, n);
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  std::string shim;
  bool write_ahead_log = false;
  if (argc > 1 && std::string(argv[1]) == "--write-ahead-log") {
    write_ahead_log = true;
    ++argv;
    --argc;
  }
  if (argc > 2 && std::string(argv[1]) == "--power-loss") {
    shim = argv[2];
    argv += 2;
    argc -= 2;
  }
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: crash_loop [--write-ahead-log] [--power-loss SHIM_LIBRARY] RELAY_BIN WORK_DIR MESSAGES KILLS [SEED]\n");
    return 2;
  }
  const std::string relay_bin = argv[1];
  const std::string work = argv[2];
  const int messages = std::stoi(argv[3]);
  const int kills = std::stoi(argv[4]);
  const unsigned seed = argc > 5 ? static_cast<unsigned>(std::stoul(argv[5])) : std::random_device{}();
  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("crash loop: %d messages, %d %s, seed %u, write-ahead log %s\n", messages, kills,
              shim.empty() ? "kills" : "power cuts", seed, write_ahead_log ? "on" : "off");
  std::filesystem::remove_all(work);
  std::filesystem::create_directories(work);
  const std::string relay_dir = work + "/relay";
  if (RunToEnd({relay_bin, "init", relay_dir}, work + "/relay.log") != 0) return 2;
  if (write_ahead_log) {
    std::string config = ReadAll(relay_dir + "/relay.toml");
    const std::string off = "write_ahead_log = false";
    const size_t at = config.find(off);
    if (at == std::string::npos) {
      std::fprintf(stderr, "relay.toml has no \"%s\"\n", off.c_str());
      return 2;
    }
    config.replace(at, off.size(), "write_ahead_log = true");
    std::ofstream(relay_dir + "/relay.toml", std::ios::trunc) << config;
  }
  const std::string relay_key = Trim(ReadAll(relay_dir + "/relay.pub"));
  Relay relay(relay_bin, relay_dir);
  const std::string power_state = work + "/power-loss-state";
  if (!shim.empty()) relay.ModelPowerLoss(shim, power_state);
  liaison::power_loss::RestoreReport cuts;  // summed over all power cuts
  int power_cuts = 0;
  if (!relay.Start()) {
    std::fprintf(stderr, "relay did not start\n");
    return 2;
  }

  auto make = [&](const std::string& name) -> std::unique_ptr<liaison::Client> {
    liaison::ClientOptions options;
    options.state_dir = work + "/" + name;
    options.relay_endpoint = relay.endpoint();
    options.relay_public_key = relay_key;
    options.timeout = std::chrono::milliseconds(1000);
    auto client = liaison::Client::Create(options, name + "/1");
    if (!client.ok()) {
      std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
      std::exit(2);
    }
    const std::string card = work + "/" + name + ".card";
    std::ofstream(card) << (*client)->Card().ToToml();
    if (RunToEnd({relay_bin, "register", relay_dir, card}, work + "/relay.log") != 0) std::exit(2);
    return std::move(client).value();
  };
  std::vector<std::unique_ptr<liaison::Client>> senders, recipients;
  for (int i = 0; i < 2; ++i) recipients.push_back(make("recipient" + std::to_string(i)));
  for (int i = 0; i < 2; ++i) senders.push_back(make("sender" + std::to_string(i)));
  for (auto& r : recipients) {
    while (!r->Sync().ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // publish keys
  }

  Sent sent;
  std::atomic<int> senders_done{0};
  std::atomic<bool> stop_recipients{false};
  std::vector<std::thread> threads;
  for (int s = 0; s < 2; ++s) {
    threads.emplace_back([&, s] {
      std::mt19937 rng(seed + static_cast<unsigned>(s));
      std::uniform_int_distribution<int> log_size(0, 16);  // sizes spread from 1 byte to 64 KiB
      for (int n = s; n < messages; n += 2) {
        const std::string tag = Tag(s, n);
        const size_t size = std::min<size_t>(std::max<size_t>(tag.size(), size_t{1} << log_size(rng)), 64 * 1024);
        std::string text = tag + std::string(size - tag.size(), static_cast<char>('a' + n % 26));
        const std::string to = "recipient" + std::to_string(n % 4 < 2 ? 0 : 1) + "/1";
        {
          std::lock_guard lock(sent.mu);
          sent.attempted.insert(tag);
        }
        while (!senders[s]->Send(to, text).ok()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        // The message is acknowledged once it has left the outbox.
        while (true) {
          auto left = senders[s]->OutboxSize();
          if (left.ok() && *left == 0) break;
          (void)senders[s]->Sync();
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        std::lock_guard lock(sent.mu);
        sent.acknowledged.insert(tag);
      }
      ++senders_done;
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      while (!stop_recipients.load()) {
        (void)recipients[r]->Sync();
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
      }
    });
  }

  std::mt19937 rng(seed ^ 0x9e3779b9u);
  const auto started = Clock::now();
  int done_kills = 0;
  while (done_kills < kills && senders_done.load() < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 400)(rng)));
    relay.Kill(SIGKILL);
    ++done_kills;
    if (!shim.empty() && done_kills % 2 == 0) {
      ++power_cuts;
      const double shares[] = {0.0, 0.3, 0.7};
      auto report = liaison::power_loss::Restore(power_state, {shares[rng() % 3], rng()});
      if (!report.ok()) {
        std::fprintf(stderr, "power cut %d: %s\n", done_kills, report.status().ToString().c_str());
        Abandon(relay);
      }
      cuts.files_rebuilt += report->files_rebuilt;
      cuts.unsynced_sectors += report->unsynced_sectors;
      cuts.unsynced_kept += report->unsynced_kept;
      cuts.unsynced_truncations += report->unsynced_truncations;
      cuts.entries_removed += report->entries_removed;
    }
    if (!relay.Start()) {
      std::fprintf(stderr, "relay did not restart after kill %d (its log: %s/relay.log)\n", done_kills, work.c_str());
      Abandon(relay);
    }
  }
  while (senders_done.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop_recipients = true;
  for (auto& t : threads) t.join();
  // Final drain: sync until two rounds in a row bring nothing new.
  for (auto& r : recipients) {
    int quiet = 0;
    while (quiet < 2) {
      auto report = r->Sync();
      quiet = report.ok() && report->received == 0 ? quiet + 1 : 0;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  std::map<std::string, int> seen;
  for (auto& r : recipients) {
    auto inbox = r->Inbox();
    if (!inbox.ok()) return 1;
    for (const auto& m : *inbox) ++seen[m.text.substr(0, m.text.find('|') + 1)];
  }
  size_t lost = 0, duplicated = 0, unexpected = 0;
  for (const auto& tag : sent.acknowledged) {
    if (seen.find(tag) == seen.end()) ++lost;
  }
  for (const auto& [tag, count] : seen) {
    if (count > 1) duplicated += static_cast<size_t>(count - 1);
    if (sent.attempted.find(tag) == sent.attempted.end()) ++unexpected;
  }
  relay.Kill(SIGTERM);
  std::printf("crash loop: %d kills in %.1f s; %zu sent and acknowledged, %zu delivered\n", done_kills, seconds,
              sent.acknowledged.size(), seen.size());
  if (!shim.empty()) {
    std::printf("crash loop: %d of the kills were power cuts; they rebuilt %zu files; %llu unsynced sectors, %llu of them "
                "holding one of their unsynced writes; %llu unsynced truncations; %zu entries removed\n",
                power_cuts, cuts.files_rebuilt, static_cast<unsigned long long>(cuts.unsynced_sectors),
                static_cast<unsigned long long>(cuts.unsynced_kept),
                static_cast<unsigned long long>(cuts.unsynced_truncations), cuts.entries_removed);
  }
  std::printf("crash loop: lost %zu, duplicated %zu, unexpected %zu\n", lost, duplicated, unexpected);
  // Power cuts that found nothing recorded mean the shim was not loaded: nothing was tested.
  const bool shim_worked = shim.empty() || power_cuts == 0 || cuts.files_rebuilt + cuts.entries_removed > 0;
  if (!shim_worked) std::printf("crash loop: the power-loss shim recorded nothing; was it preloaded?\n");
  const bool ok = lost == 0 && duplicated == 0 && unexpected == 0 && shim_worked &&
                  sent.acknowledged.size() == static_cast<size_t>(messages);
  std::printf("%d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
  if (ok) std::filesystem::remove_all(work);
  return ok ? 0 : 1;
}
