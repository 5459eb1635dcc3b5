#include "store/effects.h"

#include <cassert>
#include <string>
#include <unordered_map>

#include "store/lmdb.h"

namespace liaison::store {

namespace {
constexpr uint8_t kPut = 1;
constexpr uint8_t kDelete = 2;
constexpr uint8_t kDrop = 3;
constexpr uint8_t kCreate = 4;

void AppendBytes(Bytes& out, ByteView bytes) {
  assert(bytes.size() <= UINT32_MAX);  // LMDB's keys and values, in a map of well under 4 GiB
  uint8_t length[4];
  PutBigEndian32(static_cast<uint32_t>(bytes.size()), length);
  out.insert(out.end(), length, length + 4);
  out.insert(out.end(), bytes.begin(), bytes.end());
}

// Reads the effects' parts in order, each bounded by what is left.
class Reader {
 public:
  explicit Reader(ByteView bytes) : bytes_(bytes) {}
  bool done() const { return at_ == bytes_.size(); }
  bool Byte(uint8_t* out) {
    if (bytes_.size() - at_ < 1) return false;
    *out = bytes_[at_++];
    return true;
  }
  bool Take(size_t n, ByteView* out) {
    if (bytes_.size() - at_ < n) return false;
    *out = bytes_.subspan(at_, n);
    at_ += n;
    return true;
  }
  bool Sized(ByteView* out) {
    ByteView length;
    return Take(4, &length) && Take(GetBigEndian32(length.data()), out);
  }

 private:
  ByteView bytes_;
  size_t at_ = 0;
};
}  // namespace

void EffectsWriter::Head(uint8_t kind, std::string_view table) {
  assert(table.size() <= 255);
  bytes_.push_back(kind);
  bytes_.push_back(static_cast<uint8_t>(table.size()));
  bytes_.insert(bytes_.end(), table.begin(), table.end());
}

void EffectsWriter::Put(std::string_view table, ByteView key, ByteView value) {
  Head(kPut, table);
  AppendBytes(bytes_, key);
  AppendBytes(bytes_, value);
}

void EffectsWriter::Delete(std::string_view table, ByteView key) {
  Head(kDelete, table);
  AppendBytes(bytes_, key);
}

void EffectsWriter::Drop(std::string_view table) { Head(kDrop, table); }

void EffectsWriter::Create(std::string_view table) { Head(kCreate, table); }

Status ApplyEffects(Txn& txn, ByteView effects) {
  std::unordered_map<std::string, MDB_dbi> tables;
  Reader reader(effects);
  for (size_t index = 0; !reader.done(); ++index) {
    uint8_t kind = 0, name_length = 0;
    ByteView name, key, value;
    if (!reader.Byte(&kind) || kind < kPut || kind > kCreate || !reader.Byte(&name_length) ||
        !reader.Take(name_length, &name) || ((kind == kPut || kind == kDelete) && !reader.Sized(&key)) ||
        (kind == kPut && !reader.Sized(&value))) {
      return Status::Error(Code::kMalformed, "effect " + std::to_string(index) + " does not follow the format");
    }
    const std::string table(name.begin(), name.end());
    if (table.find('\0') != std::string::npos) {
      return Status::Error(Code::kMalformed, "effect " + std::to_string(index) + " names a table with a NUL byte");
    }
    auto it = tables.find(table);
    if (it == tables.end()) {
      auto dbi = txn.OpenDb(table.empty() ? nullptr : table.c_str(), kind == kDrop ? 0 : MDB_CREATE);
      if (!dbi.ok()) {
        // A table to drop that is missing, or a damaged store, is corruption; the store being full
        // or unreadable keeps its code; anything else LMDB refuses (such as a name) is malformed.
        const Code code = dbi.status().code();
        const bool kept = code == Code::kCorruption || code == Code::kIoError || code == Code::kStoreFull;
        return Status::Error(kept ? code : kind == kDrop && code == Code::kNotFound ? Code::kCorruption : Code::kMalformed,
                             "effect " + std::to_string(index) + ": " + dbi.status().message());
      }
      it = tables.emplace(table, *dbi).first;
    }
    if (kind == kCreate) {
      // Opened with MDB_CREATE above, or earlier in these effects.
    } else if (kind == kPut) {
      LIAISON_RETURN_IF_ERROR(txn.Put(it->second, key, value));
    } else if (kind == kDrop) {
      LIAISON_RETURN_IF_ERROR(txn.DropTable(it->second));
      tables.erase(it);
    } else {
      LIAISON_ASSIGN_OR_RETURN(bool found, txn.Del(it->second, key));
      if (!found) {
        return Status::Error(Code::kCorruption, "effect " + std::to_string(index) + " deletes a key table " + table +
                                                    " does not hold");
      }
    }
  }
  return Status::Ok();
}

}  // namespace liaison::store
