// Test helper: opens the LMDB environment at argv[1], begins a read transaction, reads one
// value so the snapshot is really pinned, and kills itself with SIGKILL while holding it. This
// leaves a stale reader slot, as a crashed reader process would (LMDB pitfall L4).
#include <lmdb.h>
#include <signal.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: liaison_stale_reader LMDB_DIR\n");
    return 2;
  }
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 16) != 0 ||
      mdb_env_open(env, argv[1], MDB_NOTLS | MDB_RDONLY, 0600) != 0 ||
      mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) != 0) {
    std::fprintf(stderr, "liaison_stale_reader: cannot open a read transaction in %s\n", argv[1]);
    return 1;
  }
  MDB_dbi dbi = 0;
  (void)mdb_dbi_open(txn, "bodies", 0, &dbi);
  raise(SIGKILL);
  return 1;
}
