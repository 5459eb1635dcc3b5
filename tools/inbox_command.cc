// The inbox listing (tools/inbox_command.h).
#include "tools/inbox_command.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "liaison/client.h"
#include "tools/cli_util.h"

namespace liaison::cli {
namespace {

nlohmann::json MessageJson(const InboxMessage& m) {
  return {{"id", m.id},
          {"kind", m.kind},
          {"from", m.sender},
          {"from_name", m.sender_name},
          {"stored_at", m.stored_at},
          {"received_at", m.received_at},
          {"text", m.text},
          {"severity", SeverityName(m.severity)},
          {"category", ReportCategoryName(m.category)},
          {"title", m.title},
          {"place", m.place},
          {"when", m.when},
          {"ack_required", m.ack_required},
          {"expires_at", m.expires_at},
          {"read_at", m.read_at},
          {"acknowledged_at", m.acknowledged_at},
          {"answer", m.answer}};
}

// What is asked of the reader, or what they did: "ACK REQUIRED", "acknowledged ... with answer".
std::string AckState(const InboxMessage& m, int64_t now) {
  std::string out;
  if (m.acknowledged_at != 0) {
    out = "  acknowledged " + FormatTime(m.acknowledged_at);
    if (!m.answer.empty()) out += " with answer \"" + m.answer + "\"";
  } else if (m.ack_required || m.kind == "report") {  // a report always asks for an acknowledgement
    out = "  ACK REQUIRED";
  }
  if (m.expires_at != 0 && now >= m.expires_at) out += "  (expired " + FormatTime(m.expires_at) + ")";
  return out;
}

void PrintIndented(const std::string& text) {
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    std::printf("    %s\n", text.substr(start, end == std::string::npos ? std::string::npos : end - start).c_str());
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

}  // namespace

int ShowInbox(Client& client, bool json) {
  auto messages = client.Inbox();
  if (!messages.ok()) return Fail(messages.status());
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : *messages) out.push_back(MessageJson(m));
    std::cout << out << "\n";
    return 0;
  }
  if (messages->empty()) std::printf("inbox is empty\n");
  const int64_t now =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (const auto& m : *messages) {
    const std::string name = m.sender_name.empty() ? "" : " (" + m.sender_name + ")";
    const char* fresh = m.read_at == 0 && m.kind != "text" ? " NEW" : "";
    if (m.kind == "alert") {
      std::printf("ALERT %s%s [%s] from %s%s: \"%s\"%s\n", std::string(SeverityName(m.severity)).c_str(), fresh,
                  FormatTime(m.stored_at).c_str(), m.sender.c_str(), name.c_str(), m.title.c_str(), AckState(m, now).c_str());
      PrintIndented(m.text);
      std::printf("    id %s\n", m.id.c_str());
    } else if (m.kind == "report") {
      std::string about;
      if (!m.place.empty()) about += ", place: " + m.place;
      if (!m.when.empty()) about += ", when: " + m.when;
      std::printf("REPORT %s%s [%s] from %s%s%s%s\n", std::string(ReportCategoryName(m.category)).c_str(), fresh,
                  FormatTime(m.stored_at).c_str(), m.sender.c_str(), name.c_str(), about.c_str(), AckState(m, now).c_str());
      PrintIndented(m.text);
      std::printf("    id %s\n", m.id.c_str());
    } else {
      std::printf("[%s] from %s%s: %s\n", FormatTime(m.stored_at).c_str(), m.sender.c_str(), name.c_str(), m.text.c_str());
    }
  }
  std::fflush(stdout);
  // A person has now seen these alerts and reports: record it and tell their senders (once).
  for (const auto& m : *messages) {
    if (m.kind == "text" || m.read_at != 0) continue;
    Status read = client.MarkRead(m.id);
    if (!read.ok()) {
      std::fprintf(stderr, "liaison: could not record that %s %s was read (the next `liaison inbox` tries again): %s\n",
                   m.kind.c_str(), m.id.c_str(), read.ToString().c_str());
    }
  }
  return 0;
}

}  // namespace liaison::cli
