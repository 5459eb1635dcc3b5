// What the disk allows: durable LMDB commits of 1 KiB values appended under increasing u64be
// keys (MDB_APPEND, as the relay's `bodies` table is written), with LMDB's default durability
// (no MDB_NOSYNC / MDB_NOMETASYNC: each commit syncs the data and then the meta page, as the
// relay's store does). One writer, no network. For each batch size: commits/s and values/s.
//
// Usage: liaison-bench-lmdb-probe [seconds per batch size] [batch sizes...]   (1.5; 1 100 512)
#include <lmdb.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.h"

using namespace liaison::bench;

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.5;
  std::vector<size_t> batches;
  for (int i = 2; i < argc; ++i) batches.push_back(std::stoul(argv[i]));
  if (batches.empty()) batches = {1, 100, 512};
  TempDir dir("lmdb-probe");
  MDB_env* env = nullptr;
  Check(mdb_env_create(&env) == 0, "mdb_env_create");
  Check(mdb_env_set_mapsize(env, size_t{4} << 30) == 0, "mapsize");
  Check(mdb_env_set_maxdbs(env, 4) == 0, "maxdbs");
  Check(mdb_env_open(env, dir.path().c_str(), MDB_NOTLS, 0600) == 0, "mdb_env_open");
  MDB_dbi dbi;
  {
    MDB_txn* txn = nullptr;
    Check(mdb_txn_begin(env, nullptr, 0, &txn) == 0, "begin");
    Check(mdb_dbi_open(txn, "bodies", MDB_CREATE, &dbi) == 0, "dbi");
    Check(mdb_txn_commit(txn) == 0, "commit");
  }
  std::string value(1024, 'v');
  uint64_t next_key = 1;
  for (size_t batch : batches) {
    size_t commits = 0;
    const long long written_before = IoField(getpid(), "write_bytes");
    const int64_t start = NowNs();
    const int64_t until = start + static_cast<int64_t>(seconds * 1e9);
    while (NowNs() < until) {
      MDB_txn* txn = nullptr;
      Check(mdb_txn_begin(env, nullptr, 0, &txn) == 0, "begin");
      for (size_t i = 0; i < batch; ++i) {
        uint8_t key[8];
        for (int b = 0; b < 8; ++b) key[b] = static_cast<uint8_t>(next_key >> (56 - 8 * b));
        ++next_key;
        std::memcpy(value.data(), key, 8);
        MDB_val k{8, key}, v{value.size(), value.data()};
        Check(mdb_put(txn, dbi, &k, &v, MDB_APPEND) == 0, "put");
      }
      Check(mdb_txn_commit(txn) == 0, "commit");
      ++commits;
    }
    const double s = SecondsBetween(start, NowNs());
    const double bytes_per_value =
        static_cast<double>(IoField(getpid(), "write_bytes") - written_before) / static_cast<double>(commits * batch);
    Report("lmdb", "disk_bytes_per_value.batch" + std::to_string(batch), bytes_per_value, "bytes");
    Report("lmdb", "commits_per_s.batch" + std::to_string(batch), static_cast<double>(commits) / s, "commit/s");
    Report("lmdb", "values_per_s.batch" + std::to_string(batch), static_cast<double>(commits * batch) / s, "msg/s");
    Note("lmdb probe: batch %zu: %.0f durable commits/s, %.0f values/s", batch, static_cast<double>(commits) / s,
         static_cast<double>(commits * batch) / s);
  }
  mdb_env_close(env);
  return 0;
}
