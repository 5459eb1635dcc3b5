// The second half of the power-loss model (power_loss_shim.cc is the first): after the SIGKILL
// of a process that ran with the shim, rebuilds every file it tracked as a disk could hold it had
// the power been cut at that moment, and removes what it created without making the entry
// durable. Then empties the state directory, so that the next run of the process starts a new
// record from the files as rebuilt.
//
// Run it only while no process that loaded the shim with this state directory is alive.
#ifndef LIAISON_TESTS_RELIABILITY_POWER_LOSS_RESTORE_H_
#define LIAISON_TESTS_RELIABILITY_POWER_LOSS_RESTORE_H_

#include <cstdint>
#include <string>

#include "liaison/status.h"

namespace liaison::power_loss {

struct RestoreOptions {
  // The chance that a 512-byte sector written since the last sync that covered it holds its
  // last content; otherwise it holds what it held after one of its earlier writes, or before
  // all of them (chosen evenly). Each truncation no sync covered is kept with the same chance.
  // 0 keeps only what was synced, 1 everything as last written.
  double keep_unsynced = 0;
  uint64_t seed = 0;  // for the choice of those sectors
};

struct RestoreReport {
  size_t files_rebuilt = 0;
  uint64_t unsynced_sectors = 0;  // sectors written after the last sync that covered them
  uint64_t unsynced_kept = 0;     // of those, the ones holding one of those writes
  uint64_t unsynced_truncations = 0;
  uint64_t unsynced_truncations_kept = 0;
  size_t entries_removed = 0;     // files and directories created without a durable entry
};

// kIoError if a file cannot be read or written; kCorruption if a state file is not the shim's.
Result<RestoreReport> Restore(const std::string& state_dir, const RestoreOptions& options);

}  // namespace liaison::power_loss

#endif  // LIAISON_TESTS_RELIABILITY_POWER_LOSS_RESTORE_H_
