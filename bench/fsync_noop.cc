// DIAGNOSTIC ONLY, never under a relay that holds data anyone needs: an LD_PRELOAD library whose
// fsync and fdatasync return at once without syncing anything. bench/run.sh runs workload A once
// with it under the relay (liaison-bench's LIAISON_BENCH_RELAY_PRELOAD), so that the table shows
// what the durable commits cost end to end: A with them against A without them.
extern "C" int fsync(int) { return 0; }
extern "C" int fdatasync(int) { return 0; }
