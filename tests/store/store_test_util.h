// Helpers shared by the store's tests: a start time for their fake clocks, a store directory
// that is removed afterwards, message ids made from one byte, and a dump of every table.
#ifndef LIAISON_TESTS_STORE_STORE_TEST_UTIL_H_
#define LIAISON_TESTS_STORE_STORE_TEST_UTIL_H_

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "store/lmdb.h"
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

using Tables = std::map<std::string, std::vector<std::pair<Bytes, Bytes>>>;

// Every named table of `env` with all its entries, read directly.
inline Tables DumpTables(Env& env) {
  Tables tables;
  auto txn = Txn::BeginRead(env);
  REQUIRE(txn.ok());
  auto main = txn->OpenDb(nullptr);
  REQUIRE(main.ok());
  std::vector<std::string> names;
  {
    auto cursor = Cursor::Open(*txn, *main);
    REQUIRE(cursor.ok());
    for (auto e = cursor->First(); e.ok() && e->has_value(); e = cursor->Next()) {
      names.emplace_back(reinterpret_cast<const char*>((*e)->key.data()), (*e)->key.size());
    }
  }
  for (const auto& name : names) {
    auto dbi = txn->OpenDb(name.c_str());
    REQUIRE(dbi.ok());
    auto cursor = Cursor::Open(*txn, *dbi);
    REQUIRE(cursor.ok());
    auto& entries = tables[name];
    for (auto e = cursor->First(); e.ok() && e->has_value(); e = cursor->Next()) {
      entries.emplace_back(Bytes((*e)->key.begin(), (*e)->key.end()), Bytes((*e)->value.begin(), (*e)->value.end()));
    }
  }
  return tables;
}

// Applies each of `effects` to `env` in its own durable commit.
inline void Replay(Env& env, const std::vector<Bytes>& effects) {
  for (const Bytes& one : effects) {
    auto txn = Txn::BeginWrite(env);
    REQUIRE(txn.ok());
    const Status applied = ApplyEffects(*txn, one);
    INFO(applied.ToString());
    REQUIRE(applied.ok());
    REQUIRE(txn->Commit().ok());
  }
}

}  // namespace liaison::store::testing

#endif  // LIAISON_TESTS_STORE_STORE_TEST_UTIL_H_
