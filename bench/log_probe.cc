// What one device write per group commit would allow (docs/performance.md, next step 1): batches
// of 1 KiB records written to a log file with one write and made durable with one fdatasync,
// as a write-ahead log in front of LMDB would; the relay's LMDB commits make two (the data's
// fdatasync, then the meta page through O_DSYNC), and liaison-bench-lmdb-probe measures those.
// Three layouts, each for each batch size:
//   append       the file grows with each batch (the file system must also write its size)
//   preallocated the batches overwrite a file written in full and synced beforehand, so an
//                fdatasync has only the data to write
//   lmdb-nosync  preallocated, and each batch also put into LMDB (1 KiB values under increasing
//                keys, MDB_APPEND) in a transaction committed with MDB_NOSYNC before the log
//                write; every 100 ms a checkpoint syncs LMDB (mdb_env_sync), in line. This is
//                the design of docs/performance.md's next step 1 without its effect capture.
// For each: durable batches/s and records/s. One writer, no network.
//
// Usage: liaison-bench-log-probe [seconds per batch size] [batch sizes...]   (1.5; 1 40 100)
#include <fcntl.h>
#include <lmdb.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.h"

using namespace liaison::bench;

namespace {

constexpr size_t kRecordBytes = 1024 + 64;  // a 1 KiB envelope with its keys and a checksum
constexpr size_t kPreallocatedBytes = size_t{256} << 20;

void WriteFully(int fd, const char* data, size_t size, off_t offset) {
  while (size > 0) {
    const ssize_t n = pwrite(fd, data, size, offset);
    Check(n > 0, "pwrite to the log");
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
}

// An LMDB environment whose commits do not sync: the log makes the batches durable.
class NosyncLmdb {
 public:
  explicit NosyncLmdb(const std::string& dir) {
    Check(mdb_env_create(&env_) == 0, "mdb_env_create");
    Check(mdb_env_set_mapsize(env_, size_t{4} << 30) == 0, "mapsize");
    Check(mdb_env_open(env_, dir.c_str(), MDB_NOTLS | MDB_NOSYNC, 0600) == 0, "mdb_env_open");
    MDB_txn* txn = nullptr;
    Check(mdb_txn_begin(env_, nullptr, 0, &txn) == 0, "begin");
    Check(mdb_dbi_open(txn, nullptr, 0, &dbi_) == 0, "dbi");
    Check(mdb_txn_commit(txn) == 0, "commit");
  }
  ~NosyncLmdb() { mdb_env_close(env_); }
  void Put(size_t batch, std::string& value) {
    MDB_txn* txn = nullptr;
    Check(mdb_txn_begin(env_, nullptr, 0, &txn) == 0, "begin");
    for (size_t i = 0; i < batch; ++i) {
      uint8_t key[8];
      for (int b = 0; b < 8; ++b) key[b] = static_cast<uint8_t>(next_key_ >> (56 - 8 * b));
      ++next_key_;
      MDB_val k{8, key}, v{value.size(), value.data()};
      Check(mdb_put(txn, dbi_, &k, &v, MDB_APPEND) == 0, "put");
    }
    Check(mdb_txn_commit(txn) == 0, "commit");
    if (NowNs() - checkpoint_ns_ > 100'000'000) {
      Check(mdb_env_sync(env_, 1) == 0, "mdb_env_sync");
      checkpoint_ns_ = NowNs();
    }
  }

 private:
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  uint64_t next_key_ = 1;
  int64_t checkpoint_ns_ = NowNs();
};

void Probe(const std::string& layout, const std::string& path, size_t batch, double seconds) {
  const bool with_lmdb = layout == "lmdb-nosync";
  const bool preallocated = layout == "preallocated" || with_lmdb;
  std::unique_ptr<NosyncLmdb> lmdb;
  std::unique_ptr<TempDir> lmdb_dir;
  if (with_lmdb) {
    lmdb_dir = std::make_unique<TempDir>("log-probe-lmdb");
    lmdb = std::make_unique<NosyncLmdb>(lmdb_dir->path());
  }
  std::string value(1024, 'v');
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  Check(fd >= 0, "open the log");
  if (preallocated) {
    const std::string zeros(size_t{1} << 20, '\0');
    for (size_t at = 0; at < kPreallocatedBytes; at += zeros.size()) WriteFully(fd, zeros.data(), zeros.size(), static_cast<off_t>(at));
    Check(fsync(fd) == 0, "fsync the preallocated log");
  }
  const std::string records(batch * kRecordBytes, 'r');
  size_t batches = 0;
  off_t offset = 0;
  const long long written_before = IoField(getpid(), "write_bytes");
  const int64_t start = NowNs();
  const int64_t until = start + static_cast<int64_t>(seconds * 1e9);
  while (NowNs() < until) {
    if (preallocated && static_cast<size_t>(offset) + records.size() > kPreallocatedBytes) offset = 0;
    if (lmdb) lmdb->Put(batch, value);
    WriteFully(fd, records.data(), records.size(), offset);
    Check(fdatasync(fd) == 0, "fdatasync the log");
    offset += static_cast<off_t>(records.size());
    ++batches;
  }
  const double s = SecondsBetween(start, NowNs());
  const double bytes_per_record =
      static_cast<double>(IoField(getpid(), "write_bytes") - written_before) / static_cast<double>(batches * batch);
  close(fd);
  const std::string suffix = layout + ".batch" + std::to_string(batch);
  Report("log", "disk_bytes_per_record." + suffix, bytes_per_record, "bytes");
  Report("log", "syncs_per_s." + suffix, static_cast<double>(batches) / s, "commit/s");
  Report("log", "records_per_s." + suffix, static_cast<double>(batches * batch) / s, "msg/s");
  Note("log probe: %s, batch %zu: %.0f durable batches/s, %.0f records/s", layout.c_str(), batch,
       static_cast<double>(batches) / s, static_cast<double>(batches * batch) / s);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.5;
  std::vector<size_t> batches;
  for (int i = 2; i < argc; ++i) batches.push_back(std::stoul(argv[i]));
  if (batches.empty()) batches = {1, 40, 100};
  TempDir dir("log-probe");
  for (const char* layout : {"append", "preallocated", "lmdb-nosync"}) {
    for (size_t batch : batches) Probe(layout, dir.path() + "/log", batch, seconds);
  }
  return 0;
}
