// `liaison alert ...`, `liaison report ...`, `liaison ack` and `liaison verify-receipt`: alerts
// and reports (roster mode), their acknowledgements, the sender's tally and the relay's signed
// submission receipt. See `liaison alert --help` and docs/operations.md.
#ifndef LIAISON_TOOLS_ALERT_COMMANDS_H_
#define LIAISON_TOOLS_ALERT_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>

namespace liaison {
class Client;
}

namespace liaison::cli {

// Registers the commands on `app`; their options live in the returned object, which must
// outlive parsing. `json` is the global --json flag.
class AlertCommands {
 public:
  AlertCommands(CLI::App& app, const bool& json);
  ~AlertCommands();
  // After parsing: whether one of these commands was given.
  bool parsed() const;
  // Runs the command given on `client`; returns the exit code (0 done, 1 failed or a receipt that
  // does not verify, 2 bad usage or input, 3 relay unreachable).
  int Run(Client& client);

 private:
  struct Options;
  std::unique_ptr<Options> o_;
};

}  // namespace liaison::cli

#endif  // LIAISON_TOOLS_ALERT_COMMANDS_H_
