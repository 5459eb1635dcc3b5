// `liaison admin ...` (the coordinator: init, invite, approve, revoke, roster, publish) and
// `liaison enroll` (a new device answering an invitation). See `liaison admin --help`.
#ifndef LIAISON_TOOLS_ADMIN_COMMANDS_H_
#define LIAISON_TOOLS_ADMIN_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>

namespace liaison::cli {

// Registers the commands on `app`; their options live in the returned object, which must
// outlive parsing. `json` is the global --json flag.
class AdminCommands {
 public:
  AdminCommands(CLI::App& app, const bool& json);
  ~AdminCommands();
  // After parsing: the exit code if one of these commands was given, nullopt otherwise.
  // `state_dir` is the device state directory (for enroll).
  std::optional<int> Run(const std::string& state_dir, int timeout_ms);

 private:
  struct Options;
  std::unique_ptr<Options> o_;
};

}  // namespace liaison::cli

#endif  // LIAISON_TOOLS_ADMIN_COMMANDS_H_
