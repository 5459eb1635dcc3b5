#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/store_test_util.h"
#include "store/write_ahead_log.h"

using namespace liaison;
using namespace liaison::store;
using namespace liaison::store::testing;

namespace {

std::unique_ptr<WriteAheadLog> OpenLog(const std::string& path, uint64_t bytes = 1 << 20) {
  auto log = WriteAheadLog::Open(path, bytes);
  INFO((log.ok() ? std::string("ok") : log.status().ToString()));
  REQUIRE(log.ok());
  return std::move(log).value();
}

Bytes Payload(size_t size, uint8_t fill) { return Bytes(size, fill); }

// Overwrites `size` bytes at `offset` of the file, as a damaged or half-written sector would.
void Scribble(const std::string& path, uint64_t offset, size_t size, uint8_t byte) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  const Bytes junk(size, byte);
  REQUIRE(::pwrite(fd, junk.data(), junk.size(), static_cast<off_t>(offset)) == static_cast<ssize_t>(size));
  ::close(fd);
}

}  // namespace

TEST_CASE("the log gives back what was appended, in order, after it is opened again", "[store][wal]") {
  StoreDir dir;
  std::filesystem::create_directories(dir.path);
  const std::string path = dir.path + "/log";
  const std::vector<Bytes> appended{Payload(0, 0), Payload(1, 1), Payload(100'000, 2), Payload(37, 3)};
  uint64_t epoch = 0;
  {
    auto log = OpenLog(path);
    CHECK(std::filesystem::file_size(path) == (1u << 20));  // written in full at creation
    epoch = log->Reset();
    for (const auto& p : appended) REQUIRE(log->Append(p).ok());
    CHECK(log->next_sequence() == 5);
  }
  auto log = OpenLog(path);
  auto scanned = log->Scan(epoch);
  REQUIRE(scanned.ok());
  CHECK(*scanned == appended);
  // Appends go on after the last record.
  REQUIRE(log->Append(Payload(5, 5)).ok());
  auto again = OpenLog(path)->Scan(epoch);
  REQUIRE(again.ok());
  REQUIRE(again->size() == 5);
  CHECK(again->back() == Payload(5, 5));
}

TEST_CASE("the log's scan stops at a damaged record and at the end of what was written", "[store][wal]") {
  StoreDir dir;
  std::filesystem::create_directories(dir.path);
  const std::string path = dir.path + "/log";
  uint64_t epoch = 0;
  {
    auto log = OpenLog(path);
    epoch = log->Reset();
    for (uint8_t i = 0; i < 4; ++i) REQUIRE(log->Append(Payload(1000, i)).ok());
  }
  SECTION("a payload byte changed in the third record") {
    Scribble(path, 2 * 4096 + 40 + 500, 1, 0xee);  // records begin every 4096 bytes
    auto scanned = OpenLog(path)->Scan(epoch);
    REQUIRE(scanned.ok());
    CHECK(scanned->size() == 2);
  }
  SECTION("the fourth record's header torn") {
    Scribble(path, 3 * 4096 + 4, 4, 0xff);  // its length now claims 4 GiB
    auto scanned = OpenLog(path)->Scan(epoch);
    REQUIRE(scanned.ok());
    CHECK(scanned->size() == 3);
  }
  SECTION("another epoch's records are not this one's") {
    auto scanned = OpenLog(path)->Scan(epoch + 1);
    REQUIRE(scanned.ok());
    CHECK(scanned->empty());
  }
}

TEST_CASE("a new epoch starts at the log's beginning and the older epoch's records are not read again",
          "[store][wal]") {
  StoreDir dir;
  std::filesystem::create_directories(dir.path);
  const std::string path = dir.path + "/log";
  auto log = OpenLog(path);
  const uint64_t first_epoch = log->Reset();
  for (uint8_t i = 0; i < 3; ++i) REQUIRE(log->Append(Payload(500, i)).ok());
  const uint64_t second_epoch = log->Reset();
  CHECK(second_epoch != first_epoch);
  // As long as the first epoch's first record: the first epoch's second record, sequence 2,
  // follows it on disk, where the second epoch's sequence 2 would be.
  REQUIRE(log->Append(Payload(500, 9)).ok());
  auto second = OpenLog(path)->Scan(second_epoch);
  REQUIRE(second.ok());
  CHECK(*second == std::vector<Bytes>{Payload(500, 9)});
  auto first = OpenLog(path)->Scan(first_epoch);
  REQUIRE(first.ok());
  CHECK(first->empty());  // its first record was overwritten
}

TEST_CASE("a log opened larger keeps its records", "[store][wal]") {
  StoreDir dir;
  std::filesystem::create_directories(dir.path);
  const std::string path = dir.path + "/log";
  uint64_t epoch = 0;
  {
    auto log = OpenLog(path, 4096);
    epoch = log->Reset();
    REQUIRE(log->Append(Payload(3000, 4)).ok());
  }
  auto log = OpenLog(path, 1 << 20);
  CHECK(log->capacity_bytes() == (1u << 20));
  auto scanned = log->Scan(epoch);
  REQUIRE(scanned.ok());
  CHECK(*scanned == std::vector<Bytes>{Payload(3000, 4)});
  REQUIRE(log->Append(Payload(5000, 5)).ok());  // past the old end
}

TEST_CASE("the log refuses a record it has no room for, and appends before it knows its end", "[store][wal]") {
  StoreDir dir;
  std::filesystem::create_directories(dir.path);
  const std::string path = dir.path + "/log";
  auto log = OpenLog(path, 4 * 4096);
  CHECK(log->Append(Payload(1, 1)).code() == Code::kInvalidArgument);  // neither Scan() nor Reset() yet
  const uint64_t epoch = log->Reset();
  size_t appended = 0;
  Status status;
  while ((status = log->Append(Payload(1000, 1))).ok()) ++appended;
  CHECK(status.code() == Code::kStoreFull);
  CHECK(appended == 4);  // each record takes whole 4096-byte blocks
  auto scanned = OpenLog(path, 4 * 4096)->Scan(epoch);
  REQUIRE(scanned.ok());
  CHECK(scanned->size() == appended);
}

TEST_CASE("a retracted record is not scanned, and the next append takes its place", "[store][wal]") {
  StoreDir dir;
  std::filesystem::create_directories(dir.path);
  const std::string path = dir.path + "/log";
  auto log = OpenLog(path);
  CHECK(log->Reset() != 0);
  const uint64_t epoch = log->epoch();
  for (uint8_t i = 0; i < 3; ++i) REQUIRE(log->Append(Payload(700, i)).ok());
  REQUIRE(log->RetractLast().ok());
  CHECK(log->RetractLast().code() == Code::kInvalidArgument);  // only the last append, once
  {
    auto scanned = OpenLog(path)->Scan(epoch);
    REQUIRE(scanned.ok());
    CHECK(*scanned == std::vector<Bytes>{Payload(700, 0), Payload(700, 1)});
  }
  REQUIRE(log->Append(Payload(700, 7)).ok());
  auto scanned = OpenLog(path)->Scan(epoch);
  REQUIRE(scanned.ok());
  CHECK(*scanned == std::vector<Bytes>{Payload(700, 0), Payload(700, 1), Payload(700, 7)});
}
