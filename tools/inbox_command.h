// `liaison inbox`: alerts first (urgent, warning, info), then reports, then messages. The human
// listing records that a person saw each alert and report shown (Client::MarkRead, which sends
// the read receipt once); --json prints every field and marks nothing read.
#ifndef LIAISON_TOOLS_INBOX_COMMAND_H_
#define LIAISON_TOOLS_INBOX_COMMAND_H_

namespace liaison {
class Client;
}

namespace liaison::cli {

// Prints the inbox of `client`; returns the exit code.
int ShowInbox(Client& client, bool json);

}  // namespace liaison::cli

#endif  // LIAISON_TOOLS_INBOX_COMMAND_H_
