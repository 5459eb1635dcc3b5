// A helper process for the power-loss model's tests (tests/reliability/power_loss_model_test.cc):
// runs the file operations its arguments name, in order, then kills itself with SIGKILL, as the
// harness kills a relay (or, after "exit", exits 0). Run with the power-loss shim preloaded. Exits 2 if an operation fails.
//   open PATH                   the file operations below use this descriptor (O_RDWR|O_CREAT)
//   open-trunc PATH             the same with O_TRUNC
//   open-dsync PATH             a second descriptor of it, opened O_WRONLY|O_DSYNC
//   mkdir PATH
//   pwrite OFFSET CHAR LENGTH   LENGTH bytes of CHAR at OFFSET
//   dsync-pwrite OFFSET CHAR LENGTH   the same through the O_DSYNC descriptor
//   write CHAR LENGTH           at the descriptor's position
//   truncate LENGTH
//   fdatasync
//   dirsync PATH                fsync of a directory
//   store-put DIR KEY VALUE     opens (creating) the LMDB store in DIR through store::Env, puts
//                               KEY = VALUE in its main database and commits
//   wal-append PATH EPOCH_FILE COUNT SIZE
//                               opens (creating, 1 MiB) the write-ahead log at PATH, starts an
//                               epoch (written to EPOCH_FILE, synced) and appends COUNT records of
//                               SIZE bytes, record i filled with i
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "store/lmdb.h"
#include "store/write_ahead_log.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::perror(what.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int fd = -1, dsync_fd = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string op = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Fail("missing argument to " + op);
      return argv[++i];
    };
    if (op == "open") {
      if ((fd = ::open(next().c_str(), O_RDWR | O_CREAT, 0644)) < 0) Fail(op);
    } else if (op == "open-trunc") {
      if ((fd = ::open(next().c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0) Fail(op);
    } else if (op == "open-dsync") {
      if ((dsync_fd = ::open(next().c_str(), O_WRONLY | O_DSYNC)) < 0) Fail(op);
    } else if (op == "mkdir") {
      if (::mkdir(next().c_str(), 0755) != 0) Fail(op);
    } else if (op == "pwrite" || op == "dsync-pwrite") {
      const off_t offset = std::stoll(next());
      const char c = next()[0];
      const std::string bytes(std::stoul(next()), c);
      if (::pwrite(op == "pwrite" ? fd : dsync_fd, bytes.data(), bytes.size(), offset) != static_cast<ssize_t>(bytes.size())) Fail(op);
    } else if (op == "write") {
      const char c = next()[0];
      const std::string bytes(std::stoul(next()), c);
      if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) Fail(op);
    } else if (op == "truncate") {
      if (::ftruncate(fd, std::stoll(next())) != 0) Fail(op);
    } else if (op == "fdatasync") {
      if (::fdatasync(fd) != 0) Fail(op);
    } else if (op == "dirsync") {
      const int dir = ::open(next().c_str(), O_RDONLY | O_DIRECTORY);
      if (dir < 0 || ::fsync(dir) != 0) Fail(op);
      ::close(dir);
    } else if (op == "store-put") {
      namespace store = liaison::store;
      store::EnvOptions options;
      options.path = next();
      const std::string key = next(), value = next();
      auto env = store::Env::Open(options);
      if (!env.ok()) Fail(env.status().ToString());
      auto txn = store::Txn::BeginWrite(**env);
      if (!txn.ok()) Fail(txn.status().ToString());
      auto dbi = txn->OpenDb(nullptr);
      if (!dbi.ok()) Fail(dbi.status().ToString());
      const liaison::Status put = txn->Put(*dbi, liaison::ByteView(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                                           liaison::ByteView(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
      if (!put.ok()) Fail(put.ToString());
      const liaison::Status committed = txn->Commit();
      if (!committed.ok()) Fail(committed.ToString());
      env->release();  // left open, as a killed relay leaves it
    } else if (op == "wal-append") {
      const std::string path = next(), epoch_file = next();
      const int count = std::stoi(next());
      const size_t size = std::stoul(next());
      auto log = liaison::store::WriteAheadLog::Open(path, 1 << 20);
      if (!log.ok()) Fail(log.status().ToString());
      const std::string epoch = std::to_string((*log)->Reset());
      const int epoch_fd = ::open(epoch_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (epoch_fd < 0 || ::write(epoch_fd, epoch.data(), epoch.size()) != static_cast<ssize_t>(epoch.size()) ||
          ::fsync(epoch_fd) != 0) {
        Fail("write " + epoch_file);
      }
      ::close(epoch_fd);
      for (int r = 0; r < count; ++r) {
        const liaison::Status appended = (*log)->Append(liaison::Bytes(size, static_cast<uint8_t>(r)));
        if (!appended.ok()) Fail(appended.ToString());
      }
      log->release();  // left open, as a killed relay leaves it
    } else if (op == "exit") {
      return 0;
    } else {
      Fail("unknown operation " + op);
    }
  }
  ::raise(SIGKILL);
  return 3;
}
