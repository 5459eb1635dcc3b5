// Shared by the `liaison` command line's files: exit codes, error output, passphrases.
// Exit codes: 0 done, 1 failed (relay, store, authentication), 2 bad usage or input (including
// an unknown, used or expired invitation), 3 relay unreachable.
#ifndef LIAISON_TOOLS_CLI_UTIL_H_
#define LIAISON_TOOLS_CLI_UTIL_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "liaison/status.h"

namespace liaison::cli {

int ExitCode(const Status& status);
// Prints "liaison: <status>" to stderr; returns ExitCode(status).
int Fail(const Status& status);
// The coordinator's passphrase: $LIAISON_ADMIN_PASSPHRASE, else asked on the terminal without
// echo. kInvalidArgument if neither is available or it is empty.
Result<std::string> ReadPassphrase(const char* prompt);
// The first line of a file (an invitation, a request, a key), without its line end.
Result<std::string> ReadFirstLine(const std::string& path);
// Microseconds since the epoch as UTC "YYYY-MM-DD HH:MM:SSZ".
std::string FormatTime(int64_t micros);
// A duration such as "90s", "15m", "2h" or "14d" (a positive whole number and one unit), or "0"
// (off, where the option allows it). kInvalidArgument otherwise; `option` names the option.
Result<std::chrono::seconds> ParseDuration(std::string_view text, std::string_view option);

}  // namespace liaison::cli

#endif  // LIAISON_TOOLS_CLI_UTIL_H_
