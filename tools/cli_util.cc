// Shared command-line helpers (tools/cli_util.h).
#include "tools/cli_util.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "base/file_util.h"

namespace liaison::cli {

int ExitCode(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return 0;
    case Code::kInvalidArgument:
    case Code::kAlreadyExists:
    case Code::kNotFound:
    case Code::kExpired:
    case Code::kMalformed: return 2;
    case Code::kUnavailable: return 3;
    default: return 1;
  }
}

int Fail(const Status& status) {
  std::fprintf(stderr, "liaison: %s\n", status.ToString().c_str());
  return ExitCode(status);
}

Result<std::string> ReadPassphrase(const char* prompt) {
  if (const char* env = std::getenv("LIAISON_ADMIN_PASSPHRASE"); env != nullptr && *env != '\0') return std::string(env);
  if (!isatty(STDIN_FILENO)) {
    return Status::Error(Code::kInvalidArgument, "set LIAISON_ADMIN_PASSPHRASE or run on a terminal to enter the passphrase");
  }
  std::fprintf(stderr, "%s", prompt);
  termios old_mode{};
  tcgetattr(STDIN_FILENO, &old_mode);
  termios quiet = old_mode;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string passphrase;
  std::getline(std::cin, passphrase);
  tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
  std::fprintf(stderr, "\n");
  if (passphrase.empty()) return Status::Error(Code::kInvalidArgument, "the passphrase is empty");
  return passphrase;
}

Result<std::string> ReadFirstLine(const std::string& path) {
  LIAISON_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 64 * 1024));
  return text.substr(0, text.find_first_of("\r\n"));
}

std::string FormatTime(int64_t micros) {
  std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%SZ", &tm);
  return out;
}

Result<std::chrono::seconds> ParseDuration(std::string_view text, std::string_view option) {
  auto bad = [&] {
    return Status::Error(Code::kInvalidArgument, std::string(option) + " takes a duration such as 90s, 15m, 2h or 14d, not \"" +
                                                     std::string(text) + "\"");
  };
  if (text == "0") return std::chrono::seconds(0);
  if (text.size() < 2 || text.size() > 12) return bad();
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return bad();
  }
  int64_t count = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return bad();
    count = count * 10 + (c - '0');
  }
  // At most 10 years: longer is never meant, and the microseconds stay far from overflowing.
  if (count == 0 || count * unit > 3650ll * 86400) return bad();
  return std::chrono::seconds(count * unit);
}

}  // namespace liaison::cli
