// Shared command-line helpers (tools/cli_util.h).
#include "tools/cli_util.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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

}  // namespace liaison::cli
