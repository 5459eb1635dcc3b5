// The power-loss model itself (power_loss_shim.cc and power_loss_restore.cc): a real process with
// the shim preloaded writes, syncs and is killed with SIGKILL; the restore must then leave what
// the POSIX contract makes durable, and of the rest only what its options let through.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "base/file_util.h"
#include "reliability/power_loss_restore.h"
#include "store/lmdb.h"
#include "store/write_ahead_log.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using liaison::power_loss::Restore;
using liaison::power_loss::RestoreOptions;
using liaison::power_loss::RestoreReport;

struct Scratch {
  Scratch() {
    root = fs::temp_directory_path() / ("liaison-power-loss-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "state");
    fs::create_directories(root / "data");
  }
  ~Scratch() { fs::remove_all(root); }
  std::string state() const { return (root / "state").string(); }
  std::string data() const { return (root / "data").string(); }
  std::string file() const { return (root / "data" / "f").string(); }
  fs::path root;
};

std::string Contents(const std::string& path) {
  auto content = liaison::ReadFile(path, size_t{1} << 30);
  INFO(path << ": " << (content.ok() ? std::string("ok") : content.status().ToString()));
  REQUIRE(content.ok());
  return *content;
}

void Put(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// Runs the writer with the shim tracking `tracked`; true if it ended by its own SIGKILL.
bool RunWriter(const Scratch& scratch, const std::string& tracked, std::vector<std::string> ops) {
  std::vector<std::string> env_strings{std::string("LD_PRELOAD=") + LIAISON_POWER_LOSS_SHIM,
                                       "LIAISON_POWER_LOSS_DIR=" + tracked,
                                       "LIAISON_POWER_LOSS_STATE=" + scratch.state(),
                                       "ASAN_OPTIONS=verify_asan_link_order=0"};
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  ops.insert(ops.begin(), LIAISON_POWER_LOSS_WRITER);
  std::vector<char*> argv;
  for (auto& a : ops) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data()) != 0) return false;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return false;
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

RestoreReport RestoreOrFail(const Scratch& scratch, double keep, uint64_t seed = 1) {
  auto report = Restore(scratch.state(), RestoreOptions{keep, seed});
  INFO((report.ok() ? std::string("ok") : report.status().ToString()));
  REQUIRE(report.ok());
  return *report;
}

}  // namespace

TEST_CASE("power-loss model: a write that fdatasync covered survives, later unsynced ones are lost") {
  Scratch scratch;
  Put(scratch.file(), std::string(1024, '0'));
  REQUIRE(RunWriter(scratch, scratch.data(),
                    {"open", scratch.file(), "pwrite", "0", "a", "1024", "fdatasync", "pwrite", "0", "b", "512",
                     "write", "c", "100", "truncate", "300"}));
  // The page cache held the unsynced changes: SIGKILL alone loses nothing.
  CHECK(Contents(scratch.file()) == std::string(100, 'c') + std::string(200, 'b'));
  const RestoreReport report = RestoreOrFail(scratch, 0);
  CHECK(Contents(scratch.file()) == std::string(1024, 'a'));
  CHECK(report.files_rebuilt == 1);
  CHECK(report.unsynced_sectors == 1);  // the 512-byte and the 100-byte write share sector 0
  CHECK(report.unsynced_kept == 0);
  CHECK(report.unsynced_truncations == 1);
  CHECK(report.unsynced_truncations_kept == 0);
  CHECK(fs::is_empty(scratch.state()));
}

TEST_CASE("power-loss model: a write through an O_DSYNC descriptor survives without a sync") {
  Scratch scratch;
  Put(scratch.file(), std::string(1024, '0'));
  REQUIRE(RunWriter(scratch, scratch.data(),
                    {"open", scratch.file(), "open-dsync", scratch.file(), "pwrite", "0", "a", "1024",
                     "dsync-pwrite", "512", "m", "512"}));
  RestoreOrFail(scratch, 0);
  CHECK(Contents(scratch.file()) == std::string(512, '0') + std::string(512, 'm'));
}

TEST_CASE("power-loss model: keeping every unsynced sector gives the file as last written") {
  Scratch scratch;
  Put(scratch.file(), std::string(4096, '0'));
  REQUIRE(RunWriter(scratch, scratch.data(),
                    {"open", scratch.file(), "pwrite", "100", "a", "3000", "fdatasync", "truncate", "2000",
                     "pwrite", "5000", "b", "700", "pwrite", "1000", "c", "10"}));
  const std::string written = Contents(scratch.file());
  RestoreOrFail(scratch, 1);
  CHECK(Contents(scratch.file()) == written);
}

TEST_CASE("power-loss model: an unsynced write comes back sector by sector, each sector old or new") {
  Scratch scratch;
  Put(scratch.file(), std::string(8192, '0'));
  REQUIRE(RunWriter(scratch, scratch.data(), {"open", scratch.file(), "pwrite", "0", "n", "8192"}));
  const RestoreReport report = RestoreOrFail(scratch, 0.5, 7);
  const std::string after = Contents(scratch.file());
  REQUIRE(after.size() == 8192);
  size_t kept = 0;
  for (size_t sector = 0; sector < 16; ++sector) {
    const std::string piece = after.substr(sector * 512, 512);
    const bool old_bytes = piece == std::string(512, '0'), new_bytes = piece == std::string(512, 'n');
    CHECK((old_bytes || new_bytes));
    kept += new_bytes ? 1 : 0;
  }
  CHECK(report.unsynced_sectors == 16);
  CHECK(report.unsynced_kept == kept);
  CHECK(kept > 0);   // with this seed, a mix: neither all nor nothing
  CHECK(kept < 16);
}

TEST_CASE("power-loss model: each sector holds a prefix of its unsynced writes, never a later one without an earlier") {
  const std::string old_bytes(512, '0');
  const std::string after_first = std::string(200, 'a') + std::string(312, '0');
  const std::string after_both = std::string(100, 'a') + std::string(200, 'b') + std::string(212, '0');
  std::set<std::string> seen;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    Scratch scratch;
    Put(scratch.file(), old_bytes);
    REQUIRE(RunWriter(scratch, scratch.data(), {"open", scratch.file(), "pwrite", "0", "a", "200", "pwrite", "100", "b", "200"}));
    RestoreOrFail(scratch, 0.5, seed);
    const std::string after = Contents(scratch.file());
    INFO("seed " << seed);
    CHECK((after == old_bytes || after == after_first || after == after_both));
    seen.insert(after);
  }
  CHECK(seen.size() == 3);  // with these seeds, each of the three
}

TEST_CASE("power-loss model: a truncation by O_TRUNC is a change like any other") {
  Scratch scratch;
  SECTION("unsynced, the old content comes back") {
    Put(scratch.file(), "0123456789");
    REQUIRE(RunWriter(scratch, scratch.data(), {"open-trunc", scratch.file(), "pwrite", "0", "x", "3"}));
    RestoreOrFail(scratch, 0);
    CHECK(Contents(scratch.file()) == "0123456789");
  }
  SECTION("synced after a reopen with O_TRUNC, only what followed it") {
    Put(scratch.file(), "");
    REQUIRE(RunWriter(scratch, scratch.data(),
                      {"open", scratch.file(), "pwrite", "0", "a", "1024", "fdatasync", "open-trunc", scratch.file(),
                       "pwrite", "0", "b", "10", "fdatasync"}));
    RestoreOrFail(scratch, 0);
    CHECK(Contents(scratch.file()) == std::string(10, 'b'));
  }
}

TEST_CASE("power-loss model: a plain crash keeps the record, so a later cut still loses what was never synced") {
  Scratch scratch;
  Put(scratch.file(), std::string(1024, '0'));
  SECTION("unsynced in the first process, unsynced in the second") {
    REQUIRE(RunWriter(scratch, scratch.data(), {"open", scratch.file(), "pwrite", "0", "a", "1024"}));
    REQUIRE(RunWriter(scratch, scratch.data(), {"open", scratch.file(), "pwrite", "2048", "c", "10"}));
    RestoreOrFail(scratch, 0);
    CHECK(Contents(scratch.file()) == std::string(1024, '0'));
  }
  SECTION("the second process's fdatasync covers the first one's writes, still in the page cache") {
    REQUIRE(RunWriter(scratch, scratch.data(), {"open", scratch.file(), "pwrite", "0", "a", "1024"}));
    REQUIRE(RunWriter(scratch, scratch.data(), {"open", scratch.file(), "pwrite", "2048", "c", "10", "fdatasync"}));
    RestoreOrFail(scratch, 0);
    CHECK(Contents(scratch.file()) == std::string(1024, 'a') + std::string(1024, '\0') + std::string(10, 'c'));
  }
  SECTION("a directory the first process made and never synced is lost, whatever the second synced inside it") {
    const std::string dir = scratch.data() + "/store", file = dir + "/data";
    REQUIRE(RunWriter(scratch, dir, {"mkdir", dir}));
    REQUIRE(RunWriter(scratch, dir, {"open", file, "pwrite", "0", "x", "10", "fdatasync", "dirsync", dir}));
    CHECK(RestoreOrFail(scratch, 1).entries_removed == 1);  // the directory, and the file with it
    CHECK_FALSE(fs::exists(dir));
  }
}

TEST_CASE("power-loss model: what a process creates lasts only once its parent directory is synced") {
  Scratch scratch;
  const std::string dir = scratch.data() + "/store", file = dir + "/data";
  SECTION("no directory synced: the new directory is gone with its synced file") {
    REQUIRE(RunWriter(scratch, dir, {"mkdir", dir, "open", file, "pwrite", "0", "x", "10", "fdatasync"}));
    CHECK(RestoreOrFail(scratch, 1).entries_removed == 2);
    CHECK_FALSE(fs::exists(dir));
  }
  SECTION("the directory's parent synced, not the directory: the directory stays, the file is gone") {
    REQUIRE(RunWriter(scratch, dir,
                      {"mkdir", dir, "dirsync", scratch.data(), "open", file, "pwrite", "0", "x", "10", "fdatasync"}));
    CHECK(RestoreOrFail(scratch, 1).entries_removed == 1);
    CHECK(fs::is_directory(dir));
    CHECK_FALSE(fs::exists(file));
  }
  SECTION("both synced after the creations: the synced content stays") {
    REQUIRE(RunWriter(scratch, dir,
                      {"mkdir", dir, "dirsync", scratch.data(), "open", file, "dirsync", dir, "pwrite", "0", "x",
                       "10", "fdatasync", "pwrite", "0", "y", "5"}));
    CHECK(RestoreOrFail(scratch, 0).entries_removed == 0);
    CHECK(Contents(file) == std::string(10, 'x'));
  }
}

TEST_CASE("power-loss model: a store created in new directories keeps its first commit through a power cut") {
  // Env::Open syncs the directories it adds entries to; without that the new data.mdb, with
  // everything committed to it, would be gone (the power-cut loop lost 81 of 400 messages so).
  Scratch scratch;
  const std::string top = scratch.data() + "/relay", dir = top + "/nested/store";
  SECTION("created by the open") { REQUIRE(RunWriter(scratch, top, {"store-put", dir, "key", "committed"})); }
  SECTION("its directories made by an earlier process that crashed before syncing them") {
    REQUIRE(RunWriter(scratch, top, {"mkdir", top, "mkdir", top + "/nested", "mkdir", dir}));
    REQUIRE(RunWriter(scratch, top, {"store-put", dir, "key", "committed"}));
  }
  SECTION("named through a symbolic link and \"..\", so that its real parent is not its named one") {
    // top/link -> top/nested/deeper: top/link/../store is top/nested/store, not top/store.
    fs::create_directories(top + "/nested/deeper");
    fs::create_directory_symlink(top + "/nested/deeper", top + "/link");
    REQUIRE(RunWriter(scratch, top, {"store-put", top + "/link/../store", "key", "committed"}));
  }
  const RestoreReport report = RestoreOrFail(scratch, 0);
  CHECK(report.entries_removed == 0);
  CHECK(report.files_rebuilt == 2);  // data.mdb and liaison.lock (Env's flock); lock.mdb is not tracked
  liaison::store::EnvOptions options;
  options.path = dir;
  auto env = liaison::store::Env::Open(options);
  REQUIRE(env.ok());
  auto txn = liaison::store::Txn::BeginRead(**env);
  REQUIRE(txn.ok());
  auto dbi = txn->OpenDb(nullptr);
  REQUIRE(dbi.ok());
  const std::string key = "key";
  auto value = txn->Get(*dbi, liaison::ByteView(reinterpret_cast<const uint8_t*>(key.data()), key.size()));
  REQUIRE(value.ok());
  REQUIRE(value->has_value());
  CHECK(std::string(reinterpret_cast<const char*>((*value)->data()), (*value)->size()) == "committed");
}

TEST_CASE("power-loss model: every record the write-ahead log appended survives a power cut, and nothing more",
          "[wal]") {
  Scratch scratch;
  const std::string log_path = scratch.data() + "/wal", epoch_file = (scratch.root / "epoch").string();
  const double keep = GENERATE(0.0, 0.5, 1.0);
  // 20 records appended, then unsynced bytes where a 21st would go (a record's worth of junk
  // written through another descriptor): whatever of them reached the disk, Scan gives 20.
  const std::string end = std::to_string(20 * 4096);  // each record of 3,040 bytes takes a block
  REQUIRE(RunWriter(scratch, scratch.data(),
                    {"wal-append", log_path, epoch_file, "20", "3000", "open", log_path, "pwrite", end, "j", "3040"}));
  const RestoreReport report = RestoreOrFail(scratch, keep, 3);
  CHECK(report.entries_removed == 0);  // Open synced the new file's directory
  CHECK(report.unsynced_sectors > 0);
  const uint64_t epoch = std::stoull(Contents(epoch_file));
  auto log = liaison::store::WriteAheadLog::Open(log_path, 1 << 20);
  REQUIRE(log.ok());
  auto records = (*log)->Scan(epoch);
  REQUIRE(records.ok());
  REQUIRE(records->size() == 20);
  for (size_t i = 0; i < records->size(); ++i) CHECK((*records)[i] == liaison::Bytes(3000, static_cast<uint8_t>(i)));
}
