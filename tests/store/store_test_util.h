// Helpers shared by the store's tests: a start time for their fake clocks, a store directory
// that is removed afterwards, and message ids made from one byte.
#ifndef LIAISON_TESTS_STORE_STORE_TEST_UTIL_H_
#define LIAISON_TESTS_STORE_STORE_TEST_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "base/clock.h"
#include "store/mailbox_store.h"

namespace liaison::store::testing {

// 2027-01-15, in microseconds since the epoch: the tests' FakeClock starts here.
constexpr int64_t kStart = 1'800'000'000ll * kMicrosPerSecond;

// A fresh directory under the system's temporary directory, removed with everything in it when
// the object goes. Not copyable: the path names this object.
struct StoreDir {
  std::string path;
  StoreDir() {
    path = (std::filesystem::temp_directory_path() / ("liaison-store-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(reinterpret_cast<uintptr_t>(this))))
               .string();
    std::filesystem::remove_all(path);
  }
  StoreDir(const StoreDir&) = delete;
  StoreDir& operator=(const StoreDir&) = delete;
  ~StoreDir() { std::filesystem::remove_all(path); }
};

// The id whose first byte is `n` and whose other bytes are zero: ids of a smaller `n` sort first.
inline MessageId Id(uint8_t n) {
  MessageId id{};
  id[0] = n;
  return id;
}

}  // namespace liaison::store::testing

#endif  // LIAISON_TESTS_STORE_STORE_TEST_UTIL_H_
