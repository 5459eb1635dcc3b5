// The effects of a write transaction: every put, delete and table drop it made, in order, as bytes. They are
// what a write-ahead log in front of LMDB would store (docs/performance.md, next step 1), and a
// replay of them onto the state the transaction began from gives the state it committed, byte for
// byte, whatever clock, quota or layout decided them the first time.
//
// Format, repeated: u8 kind (1 put, 2 delete, 3 drop of the whole table, 4 creation of a table
// if it is missing) | u8 table name length | name ("" for the unnamed table; no NUL byte) | for a
// put or delete: u32be key length | key | for a put: u32be value length | value.
// Thread-safety: none; an EffectsWriter belongs to one transaction.
#ifndef LIAISON_STORE_EFFECTS_H_
#define LIAISON_STORE_EFFECTS_H_

#include <string_view>

#include "base/bytes.h"
#include "liaison/status.h"

namespace liaison::store {

class Txn;

class EffectsWriter {
 public:
  // `table` is at most 255 bytes (the store's table names are constants well under that).
  void Put(std::string_view table, ByteView key, ByteView value);
  void Delete(std::string_view table, ByteView key);
  void Drop(std::string_view table);
  void Create(std::string_view table);
  ByteView view() const { return bytes_; }
  size_t size() const { return bytes_.size(); }
  // Forgets what was written after size() was `size`: the effect of a call that then failed.
  void Truncate(size_t size) { bytes_.resize(size); }

 private:
  void Head(uint8_t kind, std::string_view table);
  Bytes bytes_;
};

// Applies `effects` to `txn`, a write transaction, opening (and creating) their tables by name.
// kMalformed if the bytes do not follow the format, kCorruption if a delete or drop finds no such
// key or table; either way `txn` may hold part of the effects and should be aborted.
Status ApplyEffects(Txn& txn, ByteView effects);

}  // namespace liaison::store

#endif  // LIAISON_STORE_EFFECTS_H_
