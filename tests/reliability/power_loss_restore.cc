#include "power_loss_restore.h"

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <unordered_map>
#include <vector>

#include "base/file_util.h"
#include "power_loss_journal.h"

namespace liaison::power_loss {

namespace {

namespace fs = std::filesystem;

// A state file, or a tracked file's image: the size of a store, bounded only to stay finite.
Result<std::string> Slurp(const std::string& path) { return ReadFile(path, size_t{1} << 36); }

// Replaces the file with its rebuilt content, keeping its permissions.
Status Overwrite(const std::string& path, const std::string& content) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::Error(Code::kIoError, "cannot stat " + path);
  return WriteFileAtomically(path, content, st.st_mode & 07777);
}

// The created paths whose entry no fsync of their parent directory, begun after the creation,
// made durable. Lines: "created PATH", "dirsync N PATH" (N: the lines before that fsync began).
Result<std::vector<std::string>> LostEntries(const std::string& events_path) {
  struct Line {
    bool created;
    uint64_t before;  // dirsync: the lines written before the fsync began
    std::string path;
  };
  std::vector<Line> lines;
  if (fs::exists(events_path)) {
    LIAISON_ASSIGN_OR_RETURN(std::string text, Slurp(events_path));
    size_t at = 0;
    for (size_t end; (end = text.find('\n', at)) != std::string::npos; at = end + 1) {  // a cut-short last line is ignored
      const std::string line = text.substr(at, end - at);
      if (line.rfind("created ", 0) == 0) {
        lines.push_back({true, 0, line.substr(8)});
      } else if (line.rfind("dirsync ", 0) == 0 && line.find(' ', 8) != std::string::npos) {
        const size_t space = line.find(' ', 8);
        lines.push_back({false, std::stoull(line.substr(8, space - 8)), line.substr(space + 1)});
      } else {
        return Status::Error(Code::kCorruption, "bad event line: " + line);
      }
    }
  }
  std::vector<std::string> lost;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].created) continue;
    const std::string parent = fs::path(lines[i].path).parent_path().string();
    bool durable = false;
    for (size_t j = i + 1; j < lines.size() && !durable; ++j) {
      durable = !lines[j].created && lines[j].path == parent && lines[j].before > i;
    }
    // Written before the call that may create the path: it counts if the path is there.
    std::error_code ec;
    if (!durable && fs::symlink_status(lines[i].path, ec).type() != fs::file_type::not_found) lost.push_back(lines[i].path);
  }
  return lost;
}

bool IsAtOrUnder(const std::string& path, const std::vector<std::string>& roots) {
  for (const auto& root : roots) {
    if (path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/')) {
      return true;
    }
  }
  return false;
}

class Rebuilder {
 public:
  Rebuilder(const RestoreOptions& options, RestoreReport& report)
      : keep_(options.keep_unsynced), rng_(options.seed), report_(report) {}

  // `image` as the disk could hold it after the changes in `journal`.
  Status Apply(std::string& image, const std::string& journal, const std::string& name) {
    struct Record {
      RecordHeader header;
      size_t data;  // offset of the record's bytes in `journal`
      size_t end;   // offset just past the record
    };
    std::vector<Record> records;
    uint64_t covered = 0;
    size_t at = 0;
    while (journal.size() - at >= sizeof(RecordHeader)) {
      Record r{};
      std::memcpy(&r.header, journal.data() + at, sizeof r.header);
      if (r.header.magic != kRecordMagic) return Status::Error(Code::kCorruption, name + ": bad record magic");
      r.data = at + sizeof r.header;
      if (r.header.length > journal.size() - r.data) break;  // the last record, cut short by the kill
      r.end = r.data + r.header.length;
      at = r.end;
      if (static_cast<RecordType>(r.header.type) == RecordType::kSync) {
        covered = std::max(covered, r.header.offset);
      } else {
        records.push_back(r);
      }
    }
    // Of each sector's unsynced writes, the disk holds the first k, k chosen per sector: the
    // page cache's content of some moment reached it, or nothing did.
    std::unordered_map<uint64_t, uint64_t> unsynced_writes, reached, applied;  // by sector
    auto durable = [&](const Record& r) {
      return r.end <= covered || static_cast<RecordType>(r.header.type) == RecordType::kDsyncWrite;
    };
    for (const Record& r : records) {
      if (static_cast<RecordType>(r.header.type) != RecordType::kWrite || durable(r)) continue;
      ForEachSector(r.header.offset, r.header.length, [&](uint64_t sector, uint64_t, uint64_t) { ++unsynced_writes[sector]; });
    }
    for (const auto& [sector, count] : unsynced_writes) {
      reached[sector] = keep_ <= 0 ? 0 : Chance() ? count : Uniform(count);
      report_.unsynced_sectors += 1;
      report_.unsynced_kept += reached[sector] > 0 ? 1 : 0;
    }
    for (const Record& r : records) {
      const char* data = journal.data() + r.data;
      switch (static_cast<RecordType>(r.header.type)) {
        case RecordType::kWrite:
        case RecordType::kDsyncWrite:
          ForEachSector(r.header.offset, r.header.length, [&](uint64_t sector, uint64_t offset, uint64_t done) {
            const uint64_t piece = std::min(r.header.length - done, kSectorBytes - offset % kSectorBytes);
            if (!durable(r) && applied[sector]++ >= reached[sector]) return;
            if (image.size() < offset + piece) image.resize(offset + piece, '\0');
            image.replace(offset, piece, data + done, piece);
          });
          break;
        case RecordType::kTruncate:
          if (!durable(r)) ++report_.unsynced_truncations;
          if (durable(r) || Chance()) {
            if (!durable(r)) ++report_.unsynced_truncations_kept;
            image.resize(r.header.offset, '\0');
          }
          break;
        default: return Status::Error(Code::kCorruption, name + ": unknown record type");
      }
    }
    return Status::Ok();
  }

 private:
  bool Chance() { return keep_ > 0 && static_cast<double>(rng_() >> 11) * 0x1.0p-53 < keep_; }
  uint64_t Uniform(uint64_t below) { return rng_() % below; }  // 0 .. below-1; the bias is immaterial here

  // Calls f(sector, file offset, bytes of the write before it) for each sector the write touches.
  template <typename F>
  static void ForEachSector(uint64_t offset, uint64_t length, F f) {
    for (uint64_t done = 0; done < length;) {
      const uint64_t at = offset + done;
      f(at / kSectorBytes, at, done);
      done += std::min(length - done, kSectorBytes - at % kSectorBytes);
    }
  }

  double keep_;
  std::mt19937_64 rng_;
  RestoreReport& report_;
};

}  // namespace

Result<RestoreReport> Restore(const std::string& state_dir, const RestoreOptions& options) {
  RestoreReport report;
  LIAISON_ASSIGN_OR_RETURN(std::vector<std::string> lost, LostEntries(state_dir + "/events"));
  Rebuilder rebuilder(options, report);
  const std::string files = state_dir + "/files";
  for (size_t n = 0; fs::exists(files + "/" + std::to_string(n) + ".path"); ++n) {
    const std::string base = files + "/" + std::to_string(n);
    LIAISON_ASSIGN_OR_RETURN(std::string path, Slurp(base + ".path"));
    if (IsAtOrUnder(path, lost)) continue;              // goes with its entry below
    if (!fs::exists(path)) continue;                    // removed by the process itself
    if (!fs::exists(base + ".image")) continue;         // killed before its first change
    LIAISON_ASSIGN_OR_RETURN(std::string image, Slurp(base + ".image"));
    std::string journal;
    if (fs::exists(base + ".journal")) {
      LIAISON_ASSIGN_OR_RETURN(journal, Slurp(base + ".journal"));
    }
    LIAISON_RETURN_IF_ERROR(rebuilder.Apply(image, journal, path));
    LIAISON_RETURN_IF_ERROR(Overwrite(path, image));
    ++report.files_rebuilt;
  }
  std::error_code ec;
  report.entries_removed = lost.size();
  for (const auto& path : lost) {
    fs::remove_all(path, ec);
    if (ec) return Status::Error(Code::kIoError, "cannot remove " + path + ": " + ec.message());
  }
  fs::remove_all(files, ec);
  fs::remove(state_dir + "/events", ec);
  if (ec) return Status::Error(Code::kIoError, "cannot clear " + state_dir + ": " + ec.message());
  return report;
}

}  // namespace liaison::power_loss
