// A client's verified view of the roster: the chain of coordinator-signed epochs it has
// accepted, persisted in its ClientState, and the newest of them, from which it takes every key
// it encrypts to and every sender it accepts (roster mode, docs/protocol.md §6).
//
// Thread-safety: none; owned by one Client.
#ifndef LIAISON_CLIENT_SRC_ROSTER_VIEW_H_
#define LIAISON_CLIENT_SRC_ROSTER_VIEW_H_

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "client/src/client_state.h"
#include "client/src/connection.h"
#include "roster/roster.h"

namespace liaison::client {

class RosterView {
 public:
  // Loads the stored chain and re-verifies its newest epoch under `coordinator`. kCorruption if
  // the stored epochs do not verify or do not chain.
  static Result<RosterView> Load(ClientState& state, const roster::PublicKey& coordinator);

  // Fetches epochs newer than the newest held from the relay, verifies each as the successor of
  // the previous, and stores them (one commit per epoch). Errors: kUnauthenticated (an epoch
  // not signed by the coordinator), kConflict (the relay's newest is older than the one held: a
  // rollback, or an epoch that does not chain: a fork), kUnavailable; epochs accepted before the
  // error stay accepted. Returns how many epochs were added.
  Result<size_t> Update(ClientState& state, RelayConnection& connection);

  // The newest accepted epoch, if any.
  const roster::VerifiedEpoch* newest() const { return newest_ ? &*newest_ : nullptr; }
  // The member and device of `address` in the newest epoch, valid at `now`. kNotFound when it is
  // not in the roster, no longer valid, or no epoch is held yet; the message says which.
  Result<roster::Epoch::Entry> Find(std::string_view address, int64_t now_micros) const;
  // Whether `hash` is the hash of an epoch in the accepted chain.
  bool Knows(const roster::EpochHash& hash) const { return known_.count(hash) > 0; }

 private:
  explicit RosterView(const roster::PublicKey& coordinator) : coordinator_(coordinator) {}
  roster::PublicKey coordinator_;
  std::optional<roster::VerifiedEpoch> newest_;
  std::set<roster::EpochHash> known_;
};

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_ROSTER_VIEW_H_
