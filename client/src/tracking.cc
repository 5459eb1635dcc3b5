#include "client/src/tracking.h"

namespace liaison::client {

Status ValidateContent(const BroadcastContent& c) {
  if (c.kind != kKindAlert && c.kind != kKindReport) return Status::Error(Code::kMalformed, "unknown broadcast kind");
  if (c.sender.empty()) return Status::Error(Code::kMalformed, "a broadcast without a sender");
  if (c.severity < 1 || c.severity > 3) return Status::Error(Code::kMalformed, "severity out of range");
  if (c.category < 1 || c.category > 4) return Status::Error(Code::kMalformed, "report category out of range");
  if (c.ack_required > 1) return Status::Error(Code::kMalformed, "ack_required is not 0 or 1");
  if (c.text.empty()) return Status::Error(Code::kMalformed, "a broadcast without text");
  if (c.kind == kKindAlert && c.title.empty()) return Status::Error(Code::kMalformed, "an alert without a title");
  return Status::Ok();
}

Bytes RecipientKey(const BroadcastId& id, std::string_view device) {
  Bytes key(id.begin(), id.end());
  key.push_back(static_cast<uint8_t>(device.size()));
  key.insert(key.end(), device.begin(), device.end());
  return key;
}

namespace {
template <class T>
Result<T> DecodeVersioned(ByteView bytes, const char* what) {
  if (bytes.empty()) return Status::Error(Code::kMalformed, std::string(what) + " record is empty");
  auto decoded = wire::Decode<T>(bytes);
  if (!decoded.ok()) return decoded.status().WithContext(what);
  if (decoded->version != kTrackingVersion1) {
    return Status::Error(Code::kUnsupportedVersion, std::string(what) + " record version " + std::to_string(decoded->version));
  }
  return decoded;
}
}  // namespace

Result<Bytes> EncodeRecord(const SentAlertRecord& record) { return wire::Encode(record); }
Result<Bytes> EncodeRecord(const RecipientRecord& record) { return wire::Encode(record); }
Result<Bytes> EncodeRecord(const ReceivedAlertRecord& record) { return wire::Encode(record); }
Result<SentAlertRecord> DecodeSentAlert(ByteView bytes) { return DecodeVersioned<SentAlertRecord>(bytes, "sent alert"); }
Result<RecipientRecord> DecodeRecipient(ByteView bytes) { return DecodeVersioned<RecipientRecord>(bytes, "alert recipient"); }
Result<ReceivedAlertRecord> DecodeReceivedAlert(ByteView bytes) {
  return DecodeVersioned<ReceivedAlertRecord>(bytes, "received alert");
}

}  // namespace liaison::client
