// Helpers shared by the broker benchmarks of issue 7 (liaison-bench, liaison-bench-mosquitto,
// liaison-bench-redis and the probes): timing, percentiles, temporary directories, child
// processes on loopback, /proc figures, and the RESULT lines that bench/run.sh turns into its
// table. Not a library for anything else; single-threaded unless a function says otherwise.
#ifndef LIAISON_BENCH_BENCH_UTIL_H_
#define LIAISON_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace liaison::bench {

// The options every broker benchmark takes, with the same flags and defaults: the server program
// (flag named by the program), --messages, --window, --latency-messages, --rate, --durability,
// --idle, --only (the workload letters to run).
struct WorkloadOptions {
  std::string server;
  size_t messages = 100000, window = 100, latency_messages = 10000, durability = 10000, idle = 1000;
  double rate = 1000;
  std::string only;
  bool Runs(char w) const { return only.find(w) != std::string::npos; }
};
// Takes the value of the flag just read; Die()s if there is none.
using NextValue = std::function<std::string()>;
// Parses argv into `o` (whose fields hold the defaults). A flag other than `server_flag` and the
// common ones goes to `extra(flag, next)`, which returns false if it does not know it either;
// then, or for a value that is no number, the program Die()s with the flag named.
void ParseWorkloadOptions(int argc, char** argv, const std::string& server_flag, WorkloadOptions& o,
                          const std::function<bool(const std::string&, const NextValue&)>& extra = {});

// Prints "bench failed: WHAT" to stderr, SIGKILLs the children Spawn() started that are still
// running (by pid), removes the live TempDirs (unless LIAISON_BENCH_KEEP=1), and exits 1.
[[noreturn]] void Die(const std::string& what);
inline void Check(bool ok, const std::string& what) {
  if (!ok) Die(what);
}

// Monotonic time in nanoseconds (the same clock in every thread of the process).
inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
inline double SecondsBetween(int64_t start_ns, int64_t end_ns) { return static_cast<double>(end_ns - start_ns) / 1e9; }

// The p-th percentile (0..100, nearest rank) of `values`; 0 for an empty vector.
double Percentile(std::vector<double> values, double p);

// One machine-readable figure for bench/run.sh: "RESULT <system> <key> <value> <unit>".
void Report(const std::string& system, const std::string& key, double value, const std::string& unit);
// Reports the latencies arrived_ns[i] - sent_ns[i] in ms (steady-clock nanoseconds; messages with
// arrived_ns[i] == 0 never arrived and are left out) as <prefix>p50_ms, p99, p999 and max.
void ReportLatencies(const std::string& system, const std::string& prefix, const std::vector<int64_t>& sent_ns,
                     const std::vector<int64_t>& arrived_ns);
// A human-readable line on stderr (progress, details); run.sh keeps these in its log.
void Note(const char* format, ...) __attribute__((format(printf, 1, 2)));

// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction (kept, and its
// path printed, when LIAISON_BENCH_KEEP=1).
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bound with port 0, then closed).
int FreeLoopbackPort();
// Whether something accepts TCP connections on 127.0.0.1:port.
bool PortAccepts(int port);
// Waits up to `timeout` for PortAccepts(port); false on timeout.
bool WaitForPort(int port, std::chrono::milliseconds timeout);

// A child process, stdout and stderr appended to `log_path` ("" keeps the parent's).
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path = "");
// Runs to completion; returns the exit code (128 + signal if killed).
int RunToCompletion(const std::vector<std::string>& argv, const std::string& log_path = "");
// Sends `signal` to `pid` (only that pid) and reaps it. Returns the wait status.
int KillAndWait(pid_t pid, int signal);
// Whether `pid` (a child) has exited; reaps it if so.
bool Exited(pid_t pid);

// A field of /proc/PID/status in KiB ("VmHWM", "VmRSS"); -1 if absent.
long StatusKiB(pid_t pid, const std::string& field);
// A field of /proc/PID/io ("write_bytes": bytes this process caused to be written to storage);
// -1 if absent or not readable.
long long IoField(pid_t pid, const std::string& field);
// CPU time `pid` has used so far, user and system, all threads (/proc/PID/stat utime + stime,
// counted in clock ticks of 1/sysconf(_SC_CLK_TCK) s, USER_HZ: 10 ms on x86); -1 if unreadable.
double CpuSeconds(pid_t pid);
// Resets the peak RSS (VmHWM) of `pid` to its current RSS (writes "5" to /proc/PID/clear_refs);
// false if the kernel refused.
bool ResetPeakRss(pid_t pid);

// Raises this process's soft RLIMIT_NOFILE to its hard limit (children inherit it).
void RaiseFileLimit();

// `n` payloads of `size` random bytes, each starting with its index as u64le.
std::vector<std::string> IndexedPayloads(size_t n, size_t size);
inline uint64_t PayloadIndex(const void* data) {
  uint64_t v = 0;
  __builtin_memcpy(&v, data, sizeof v);
  return v;
}

// Reads a whole file; "" if it cannot be read.
std::string ReadWholeFile(const std::string& path);
void WriteWholeFile(const std::string& path, const std::string& text);

// Samples a /proc/PID/status field (e.g. "VmRSS", "RssAnon") every `interval` on a thread until
// StopAndMaxKiB(); reports the largest value seen.
class RssSampler {
 public:
  RssSampler(pid_t pid, std::string field, std::chrono::milliseconds interval);
  ~RssSampler();
  long StopAndMaxKiB();

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace liaison::bench

#endif  // LIAISON_BENCH_BENCH_UTIL_H_
