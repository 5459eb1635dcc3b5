#include "power_loss_restore.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include "power_loss_journal.h"

namespace liaison::power_loss {

namespace {

namespace fs = std::filesystem;

Result<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(Code::kIoError, "cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Status Overwrite(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".power-loss.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) return Status::Error(Code::kIoError, "cannot write " + tmp);
  }
  std::error_code ec;
  fs::permissions(tmp, fs::status(path, ec).permissions(), ec);
  fs::rename(tmp, path, ec);
  if (ec) return Status::Error(Code::kIoError, "cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

// The created paths whose entry no later fsync of their parent directory made durable.
Result<std::vector<std::string>> LostEntries(const std::string& events_path) {
  std::vector<std::pair<std::string, std::string>> events;  // kind, path
  if (fs::exists(events_path)) {
    LIAISON_ASSIGN_OR_RETURN(std::string text, Slurp(events_path));
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      if (lines.eof() && !text.empty() && text.back() != '\n') break;  // cut short by the kill
      const size_t space = line.find(' ');
      if (space == std::string::npos) return Status::Error(Code::kCorruption, "bad event line: " + line);
      events.emplace_back(line.substr(0, space), line.substr(space + 1));
    }
  }
  std::vector<std::string> lost;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].first != "created") continue;
    const std::string parent = fs::path(events[i].second).parent_path().string();
    bool durable = false;
    for (size_t j = i + 1; j < events.size() && !durable; ++j) {
      durable = events[j].first == "dirsync" && events[j].second == parent;
    }
    if (!durable) lost.push_back(events[i].second);
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
    for (const Record& r : records) {
      const bool durable = r.end <= covered || static_cast<RecordType>(r.header.type) == RecordType::kDsyncWrite;
      switch (static_cast<RecordType>(r.header.type)) {
        case RecordType::kWrite:
        case RecordType::kDsyncWrite:
          WriteSectors(image, r.header.offset, journal.data() + r.data, r.header.length, durable);
          break;
        case RecordType::kTruncate:
          if (!durable) ++report_.unsynced_sectors;
          if (durable || Chance()) {
            if (!durable) ++report_.unsynced_kept;
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

  void WriteSectors(std::string& image, uint64_t offset, const char* data, uint64_t length, bool durable) {
    uint64_t done = 0;
    while (done < length) {
      const uint64_t at = offset + done;
      const uint64_t piece = std::min(length - done, kSectorBytes - at % kSectorBytes);
      bool keep = durable;
      if (!durable) {
        ++report_.unsynced_sectors;
        keep = Chance();
        if (keep) ++report_.unsynced_kept;
      }
      if (keep) {
        if (image.size() < at + piece) image.resize(at + piece, '\0');
        image.replace(at, piece, data + done, piece);
      }
      done += piece;
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
