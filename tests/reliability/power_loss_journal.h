// The record format shared by the power-loss shim (power_loss_shim.cc, LD_PRELOADed into the
// process under test) and the restore that follows its SIGKILL (power_loss_restore.cc).
//
// The shim writes, under LIAISON_POWER_LOSS_STATE (a directory only the harness uses):
//   files/N.path     the absolute path of the N-th tracked file this process opened for writing
//   files/N.image    the file's content at that first open (written as N.image.tmp, then renamed)
//   files/N.journal  every change made to the file after that, as records in call order
//   events           one line per directory-entry event: "created PATH" (a file or directory
//                    made by this process) and "dirsync PATH" (an fsync of a directory that
//                    returned 0)
// A journal's last record may be cut short by the kill; the restore ignores a short record.
#ifndef LIAISON_TESTS_RELIABILITY_POWER_LOSS_JOURNAL_H_
#define LIAISON_TESTS_RELIABILITY_POWER_LOSS_JOURNAL_H_

#include <cstdint>

namespace liaison::power_loss {

inline constexpr uint32_t kRecordMagic = 0x4c503031;  // "LP01"
inline constexpr uint64_t kSectorBytes = 512;          // the unit a disk writes whole or not at all

enum class RecordType : uint32_t {
  kWrite = 1,       // bytes at `offset`, `length` of them follow; durable only once a kSync covers it
  kDsyncWrite = 2,  // the same through an O_SYNC/O_DSYNC descriptor: durable when it returned
  kTruncate = 3,    // the file's size set to `offset`; durable only once a kSync covers it
  kSync = 4,        // fsync/fdatasync returned 0: every record that ends at or before journal
                    // byte `offset` (its length when the call began) is durable
};

struct RecordHeader {
  uint32_t magic;
  uint32_t type;
  uint64_t offset;
  uint64_t length;
};
static_assert(sizeof(RecordHeader) == 24, "the journal's header has no padding");

}  // namespace liaison::power_loss

#endif  // LIAISON_TESTS_RELIABILITY_POWER_LOSS_JOURNAL_H_
