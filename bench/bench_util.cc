#include "bench_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace liaison::bench {

void ParseWorkloadOptions(int argc, char** argv, const std::string& server_flag, WorkloadOptions& o,
                          const std::function<bool(const std::string&, const NextValue&)>& extra) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const NextValue next = [&]() -> std::string {
      Check(i + 1 < argc, "missing value for " + a);
      return argv[++i];
    };
    try {
      if (a == server_flag) o.server = next();
      else if (a == "--messages") o.messages = std::stoul(next());
      else if (a == "--window") o.window = std::stoul(next());
      else if (a == "--latency-messages") o.latency_messages = std::stoul(next());
      else if (a == "--rate") o.rate = std::stod(next());
      else if (a == "--durability") o.durability = std::stoul(next());
      else if (a == "--idle") o.idle = std::stoul(next());
      else if (a == "--only") o.only = next();
      else if (!extra || !extra(a, next)) Die("unknown argument " + a);
    } catch (const std::logic_error&) {  // std::stoul / std::stod: not a number, or out of range
      Die("bad value for " + a);
    }
  }
}

namespace {
// What Die() must clean up: std::exit does not run destructors, so the servers a failed bench
// started would keep running and their temporary directories would stay.
std::mutex cleanup_mutex;
std::set<pid_t>& Children() {
  static std::set<pid_t> children;
  return children;
}
std::set<std::string>& Dirs() {
  static std::set<std::string> dirs;
  return dirs;
}
void Forget(pid_t pid) {
  std::lock_guard<std::mutex> lock(cleanup_mutex);
  Children().erase(pid);
}
bool KeepDirs() {
  const char* keep = std::getenv("LIAISON_BENCH_KEEP");
  return keep != nullptr && std::string(keep) == "1";
}
}  // namespace

void Die(const std::string& what) {
  std::fprintf(stderr, "bench failed: %s\n", what.c_str());
  {
    std::lock_guard<std::mutex> lock(cleanup_mutex);
    for (pid_t pid : Children()) {  // only the processes this bench started, by pid
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    Children().clear();
    for (const std::string& dir : Dirs()) {
      std::error_code ec;
      if (!KeepDirs()) std::filesystem::remove_all(dir, ec);
    }
  }
  std::_Exit(1);
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  if (rank < 1) rank = 1;
  return values[std::min(rank, values.size()) - 1];
}

void Report(const std::string& system, const std::string& key, double value, const std::string& unit) {
  std::printf("RESULT %s %s %.6g %s\n", system.c_str(), key.c_str(), value, unit.c_str());
  std::fflush(stdout);
}

void ReportLatencies(const std::string& system, const std::string& prefix, const std::vector<int64_t>& sent_ns,
                     const std::vector<int64_t>& arrived_ns) {
  std::vector<double> ms;
  for (size_t i = 0; i < sent_ns.size() && i < arrived_ns.size(); ++i) {
    if (arrived_ns[i] != 0) ms.push_back(static_cast<double>(arrived_ns[i] - sent_ns[i]) / 1e6);
  }
  for (const auto& [name, p] : {std::pair{"p50", 50.0}, {"p99", 99.0}, {"p999", 99.9}, {"max", 100.0}}) {
    Report(system, prefix + name + "_ms", Percentile(ms, p), "ms");
  }
}

void Note(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
}

TempDir::TempDir(const std::string& tag) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/liaison-bench-" + tag + "-XXXXXX";
  Check(mkdtemp(pattern.data()) != nullptr, "mkdtemp");
  path_ = pattern;
  std::lock_guard<std::mutex> lock(cleanup_mutex);
  Dirs().insert(path_);
}

TempDir::~TempDir() {
  {
    std::lock_guard<std::mutex> lock(cleanup_mutex);
    Dirs().erase(path_);
  }
  if (KeepDirs()) {
    std::fprintf(stderr, "kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  Check(fd >= 0, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  Check(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind a probe port");
  socklen_t len = sizeof addr;
  Check(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0, "getsockname");
  ::close(fd);
  const int port = ntohs(addr.sin_port);
  Check(!PortAccepts(port), "probe port already in use");
  return port;
}

bool PortAccepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool WaitForPort(int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (PortAccepts(port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!log_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  }
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  Check(rc == 0, "cannot start " + argv[0]);
  std::lock_guard<std::mutex> lock(cleanup_mutex);
  Children().insert(pid);
  return pid;
}

int RunToCompletion(const std::vector<std::string>& argv, const std::string& log_path) {
  const pid_t pid = Spawn(argv, log_path);
  int status = 0;
  Check(waitpid(pid, &status, 0) == pid, "waitpid");
  Forget(pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int KillAndWait(pid_t pid, int signal) {
  Check(pid > 0, "kill of no process");
  ::kill(pid, signal);
  int status = 0;
  waitpid(pid, &status, 0);
  Forget(pid);
  return status;
}

bool Exited(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) != pid) return false;
  Forget(pid);
  return true;
}

long StatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

long long IoField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 1));
  std::string field;
  double utime = -1, stime = -1;
  for (int index = 3; rest >> field && index <= 15; ++index) {
    if (index == 14) utime = std::stod(field);
    if (index == 15) stime = std::stod(field);
  }
  if (utime < 0 || stime < 0) return -1;
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

bool ResetPeakRss(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::vector<std::string> IndexedPayloads(size_t n, size_t size) {
  Check(size >= 8, "payload too small");
  std::mt19937_64 random(std::random_device{}());
  std::vector<std::string> out(n);
  for (size_t i = 0; i < n; ++i) {
    std::string& p = out[i];
    p.resize(size);
    for (size_t k = 0; k + 8 <= size; k += 8) {
      const uint64_t r = random();
      std::memcpy(&p[k], &r, 8);
    }
    const uint64_t index = i;
    std::memcpy(&p[0], &index, 8);
  }
  return out;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteWholeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  Check(static_cast<bool>(out), "write " + path);
}

struct RssSampler::Impl {
  pid_t pid;
  std::string field;
  std::chrono::milliseconds interval;
  std::atomic<bool> stop{false};
  std::atomic<long> max_kib{0};
  std::thread thread;
};

RssSampler::RssSampler(pid_t pid, std::string field, std::chrono::milliseconds interval)
    : impl_(new Impl{pid, std::move(field), interval, {}, {}, {}}) {
  impl_->thread = std::thread([impl = impl_] {
    while (!impl->stop.load()) {
      const long rss = StatusKiB(impl->pid, impl->field);
      if (rss > impl->max_kib.load()) impl->max_kib.store(rss);
      std::this_thread::sleep_for(impl->interval);
    }
  });
}

RssSampler::~RssSampler() {
  StopAndMaxKiB();
  delete impl_;
}

long RssSampler::StopAndMaxKiB() {
  impl_->stop.store(true);
  if (impl_->thread.joinable()) impl_->thread.join();
  return impl_->max_kib.load();
}

}  // namespace liaison::bench
