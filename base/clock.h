// Injected time. Everything that depends on "now" (expiry, sweeps, timestamps) takes a Clock so
// that tests can set time instead of sleeping.
//
// Thread-safety: NowMicros() may be called from any thread; FakeClock's setters are atomic.
#ifndef LIAISON_BASE_CLOCK_H_
#define LIAISON_BASE_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace liaison {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch (wall clock).
  virtual int64_t NowMicros() const = 0;
};

// The real wall clock. The returned object lives for the whole program.
Clock& SystemClock();

// A clock that moves only when told to. Starts at `start_micros`.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_micros) : now_(start_micros) {}
  int64_t NowMicros() const override { return now_.load(); }
  void Set(int64_t micros) { now_.store(micros); }
  void Advance(int64_t micros) { now_.fetch_add(micros); }

 private:
  std::atomic<int64_t> now_;
};

inline constexpr int64_t kMicrosPerSecond = 1'000'000;

}  // namespace liaison

#endif  // LIAISON_BASE_CLOCK_H_
