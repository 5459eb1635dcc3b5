#include "client/src/sessions.h"

#include <sodium.h>

#include <algorithm>

namespace liaison::client {
namespace {

constexpr uint8_t kFlagPendingInitial = 0x01;
constexpr size_t kSessionFixedBytes = 32 + crypto::kX3dhAssociatedDataBytes + 1;

Status Corrupt(const std::string& what) { return Status::Error(Code::kCorruption, "stored sessions: " + what); }

uint32_t GetBe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         static_cast<uint32_t>(p[3]);
}

}  // namespace

Result<Session> StartSession(const crypto::DhKeyPair& own_identity, const crypto::PrekeyBundle& bundle) {
  LIAISON_ASSIGN_OR_RETURN(crypto::X3dhInitiatorOutput x3dh, crypto::X3dhInitiate(own_identity, bundle));
  LIAISON_ASSIGN_OR_RETURN(crypto::RatchetState ratchet,
                           crypto::RatchetInitAlice(x3dh.shared_secret, bundle.signed_prekey_public));
  return Session{x3dh.header.ephemeral_public, x3dh.associated_data, x3dh.header, std::move(ratchet)};
}

void MakeCurrent(PeerSessions& sessions, Session session) {
  sessions.insert(sessions.begin(), std::move(session));
  while (sessions.size() > kMaxSessionsPerPeer) sessions.pop_back();
}

Result<OutgoingMessage> EncryptInCurrent(PeerSessions& sessions, ByteView plaintext) {
  if (sessions.empty()) return Status::Error(Code::kNotFound, "no session with that device");
  Session& current = sessions.front();
  LIAISON_ASSIGN_OR_RETURN(Bytes message, crypto::RatchetEncrypt(current.ratchet, plaintext, current.associated_data));
  return OutgoingMessage{std::move(message), current.pending_initial};
}

Result<Decrypted> DecryptFromPeer(PeerSessions& sessions, const crypto::SealedContent& content,
                                  const crypto::DhPublicKey& peer_identity_dh, const ResponderKeys& keys,
                                  int64_t now_micros) {
  auto promote = [&](size_t index) {
    Session chosen = std::move(sessions[index]);
    chosen.pending_initial.reset();  // the peer has answered in this session (or it is ours as responder)
    sessions.erase(sessions.begin() + static_cast<ptrdiff_t>(index));
    sessions.insert(sessions.begin(), std::move(chosen));
  };
  if (content.initial) {
    const crypto::InitialMessageHeader& header = *content.initial;
    if (sodium_memcmp(header.initiator_identity_dh_public.data(), peer_identity_dh.data(), peer_identity_dh.size()) != 0) {
      return Status::Error(Code::kUnauthenticated, "the initial message names another identity key than its sender's");
    }
    for (size_t i = 0; i < sessions.size(); ++i) {
      if (sessions[i].base_key != header.ephemeral_public) continue;
      LIAISON_ASSIGN_OR_RETURN(Bytes plaintext, crypto::RatchetDecrypt(sessions[i].ratchet, content.ratchet_message,
                                                                       sessions[i].associated_data, now_micros));
      // A repeated header of a session we already answered in: it stays as it is, but current.
      Session chosen = std::move(sessions[i]);
      sessions.erase(sessions.begin() + static_cast<ptrdiff_t>(i));
      sessions.insert(sessions.begin(), std::move(chosen));
      return Decrypted{crypto::WipedBytes(std::move(plaintext)), std::nullopt};
    }
    if (keys.identity == nullptr) return Status::Error(Code::kInvalidArgument, "no identity key");
    LIAISON_ASSIGN_OR_RETURN(crypto::X3dhResponderOutput x3dh,
                             crypto::X3dhRespond(*keys.identity, header, keys.signed_prekeys, keys.one_time_prekeys));
    Session fresh{header.ephemeral_public, x3dh.associated_data, std::nullopt,
                  crypto::RatchetInitBob(x3dh.shared_secret, std::move(x3dh.signed_prekey))};
    LIAISON_ASSIGN_OR_RETURN(Bytes plaintext, crypto::RatchetDecrypt(fresh.ratchet, content.ratchet_message,
                                                                     fresh.associated_data, now_micros));
    MakeCurrent(sessions, std::move(fresh));
    return Decrypted{crypto::WipedBytes(std::move(plaintext)), x3dh.one_time_prekey_id};
  }
  Status last = Status::Error(Code::kUnauthenticated, "no session with the sender");
  for (size_t i = 0; i < sessions.size(); ++i) {
    auto plaintext = crypto::RatchetDecrypt(sessions[i].ratchet, content.ratchet_message, sessions[i].associated_data,
                                            now_micros);
    if (plaintext.ok()) {
      promote(i);
      return Decrypted{crypto::WipedBytes(std::move(plaintext).value()), std::nullopt};
    }
    // A duplicate or expired key is a definite answer about the session that knew the message.
    if (plaintext.status().code() == Code::kDuplicate || plaintext.status().code() == Code::kExpired) {
      if (last.code() == Code::kUnauthenticated) last = plaintext.status();
    } else if (last.code() == Code::kUnauthenticated && i == 0) {
      last = plaintext.status();
    }
  }
  return last;
}

crypto::WipedBytes EncodePeerSessions(const PeerSessions& sessions) {
  std::vector<crypto::WipedBytes> states;
  size_t total = 2;
  for (const Session& s : sessions) {
    states.emplace_back(crypto::SerializeRatchetState(s.ratchet));
    total += 4 + kSessionFixedBytes + (s.pending_initial ? crypto::kInitialMessageHeaderV1Bytes : 0) +
             states.back().view().size();
  }
  crypto::WipedBytes out;
  out.bytes().reserve(total);
  out.AppendU8(kPeerSessionsVersion1);
  out.AppendU8(static_cast<uint8_t>(sessions.size()));
  for (size_t i = 0; i < sessions.size(); ++i) {
    const Session& s = sessions[i];
    const size_t len = kSessionFixedBytes + (s.pending_initial ? crypto::kInitialMessageHeaderV1Bytes : 0) +
                       states[i].view().size();
    out.AppendU32Be(static_cast<uint32_t>(len));
    out.Append(s.base_key);
    out.Append(s.associated_data);
    out.AppendU8(s.pending_initial ? kFlagPendingInitial : 0);
    if (s.pending_initial) out.Append(crypto::EncodeInitialMessageHeader(*s.pending_initial));
    out.Append(states[i].view());
  }
  return out;
}

Result<PeerSessions> DecodePeerSessions(ByteView bytes) {
  if (bytes.size() < 2) return Corrupt("too short");
  if (bytes[0] != kPeerSessionsVersion1) {
    return Status::Error(Code::kUnsupportedVersion, "stored sessions of version " + std::to_string(bytes[0]));
  }
  const size_t count = bytes[1];
  if (count == 0 || count > kMaxSessionsPerPeer) return Corrupt("session count out of range");
  ByteView rest = bytes.subspan(2);
  PeerSessions sessions;
  for (size_t i = 0; i < count; ++i) {
    if (rest.size() < 4) return Corrupt("truncated");
    const size_t len = GetBe32(rest.data());
    rest = rest.subspan(4);
    if (len > rest.size() || len < kSessionFixedBytes) return Corrupt("session length out of range");
    ByteView s = rest.first(len);
    rest = rest.subspan(len);
    crypto::DhPublicKey base_key{};
    crypto::X3dhAssociatedData ad{};
    std::copy_n(s.begin(), 32, base_key.begin());
    std::copy_n(s.begin() + 32, ad.size(), ad.begin());
    const uint8_t flags = s[32 + ad.size()];
    if ((flags & ~kFlagPendingInitial) != 0) return Corrupt("unknown session flags");
    s = s.subspan(kSessionFixedBytes);
    std::optional<crypto::InitialMessageHeader> pending;
    if (flags & kFlagPendingInitial) {
      if (s.size() < crypto::kInitialMessageHeaderV1Bytes) return Corrupt("truncated initial header");
      auto header = crypto::DecodeInitialMessageHeader(s.first(crypto::kInitialMessageHeaderV1Bytes));
      if (!header.ok()) return Corrupt("initial header: " + header.status().ToString());
      pending = *header;
      s = s.subspan(crypto::kInitialMessageHeaderV1Bytes);
    }
    auto ratchet = crypto::ParseRatchetState(s);
    if (!ratchet.ok()) return Corrupt("ratchet state: " + ratchet.status().ToString());
    sessions.push_back(Session{base_key, ad, pending, std::move(ratchet).value()});
  }
  if (!rest.empty()) return Corrupt("trailing bytes");
  return sessions;
}

}  // namespace liaison::client
