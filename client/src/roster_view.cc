// The client's roster chain (client/src/roster_view.h).
#include "client/src/roster_view.h"

#include "wire/messages.h"

namespace liaison::client {

Result<RosterView> RosterView::Load(ClientState& state, const roster::PublicKey& coordinator) {
  RosterView view(coordinator);
  LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state.BeginRead());
  LIAISON_ASSIGN_OR_RETURN(auto epochs, state.RosterEpochs(txn));
  for (size_t i = 0; i < epochs.size(); ++i) {
    auto& [number, bytes] = epochs[i];
    auto signed_epoch = wire::Decode<roster::SignedEpochWire>(bytes);
    if (!signed_epoch.ok() || number != i + 1) {
      return Status::Error(Code::kCorruption, "stored roster epoch " + std::to_string(number) + " is damaged or out of order");
    }
    view.known_.insert(roster::HashEpochBody(signed_epoch->body));
  }
  if (!epochs.empty()) {
    auto verified = roster::VerifyEpoch(epochs.back().second, coordinator);
    if (!verified.ok()) return verified.status().WithContext("the stored newest roster epoch");
    view.newest_ = std::move(verified).value();
  }
  return view;
}

Result<size_t> RosterView::Update(ClientState& state, RelayConnection& connection) {
  const uint64_t held = newest_ ? newest_->epoch.number : 0;
  auto get = [&](uint64_t number) -> Result<wire::GetRosterReply> {
    LIAISON_ASSIGN_OR_RETURN(Reply reply, connection.Call(wire::FrameType::kGetRoster, wire::GetRosterRequest{number}));
    LIAISON_RETURN_IF_ERROR(ReplyStatus(reply).WithContext("reading the roster"));
    return wire::Decode<wire::GetRosterReply>(reply.body);
  };
  LIAISON_ASSIGN_OR_RETURN(wire::GetRosterReply top, get(0));
  if (top.newest < held) {
    return Status::Error(Code::kConflict, "the relay's newest roster epoch is " + std::to_string(top.newest) +
                                              " but this device holds epoch " + std::to_string(held) +
                                              ": the relay rolled the roster back or withholds epochs");
  }
  size_t added = 0;
  for (uint64_t number = held + 1; number <= top.newest; ++number) {
    wire::GetRosterReply reply;
    if (number == top.newest) {
      reply = std::move(top);
    } else {
      LIAISON_ASSIGN_OR_RETURN(reply, get(number));
    }
    LIAISON_ASSIGN_OR_RETURN(roster::VerifiedEpoch next, roster::VerifyEpoch(reply.signed_epoch, coordinator_));
    LIAISON_RETURN_IF_ERROR(roster::CheckSuccessor(newest_ ? &*newest_ : nullptr, next));
    LIAISON_ASSIGN_OR_RETURN(store::Txn txn, state.BeginWrite());
    LIAISON_RETURN_IF_ERROR(state.PutRosterEpoch(txn, next.epoch.number, next.signed_bytes));
    LIAISON_RETURN_IF_ERROR(txn.Commit());
    known_.insert(next.hash);
    newest_ = std::move(next);
    ++added;
  }
  return added;
}

Result<roster::Epoch::Entry> RosterView::Find(std::string_view address, int64_t now_micros) const {
  if (!newest_) return Status::Error(Code::kNotFound, "this device holds no roster epoch yet (sync first)");
  auto entry = newest_->epoch.Find(address);
  if (!entry) {
    return Status::Error(Code::kNotFound, std::string(address) + " is not in the roster (epoch " +
                                              std::to_string(newest_->epoch.number) + ")");
  }
  if (!entry->member->ValidAt(now_micros)) {
    return Status::Error(Code::kNotFound, std::string(address) + "'s roster entry has expired");
  }
  return *entry;
}

}  // namespace liaison::client
