// Who an alert goes to: a selection of the roster (internal to client/).
//
//   selection = "all" | term { " " term }          every term must hold
//   term      = key ":" value { "," value }        any of the values may match
//   key       = "area" | "role" | "org" | "member"
// Values are compared exactly, except org, which ignores ASCII case; a value with spaces is
// written in double quotes (org:"DITIB Dresden"). Examples: "area:city:dresden
// role:association_contact", "member:moschee-dresden,vsz-dresden", "role:association_contact,deputy".
//
// Thread-safety: pure functions.
#ifndef LIAISON_CLIENT_SRC_SELECTION_H_
#define LIAISON_CLIENT_SRC_SELECTION_H_

#include <string>
#include <string_view>
#include <vector>

#include "liaison/status.h"
#include "roster/roster.h"

namespace liaison::client {

struct Selection {
  struct Term {
    std::string key;
    std::vector<std::string> values;
  };
  bool all = false;
  std::vector<Term> terms;
};

// kInvalidArgument naming what is wrong (empty, unknown key, a term without values, an unknown
// role, an unclosed quote).
Result<Selection> ParseSelection(std::string_view text);

// The members of `epoch` valid at `now` that the selection names, in roster order.
std::vector<const roster::Member*> SelectMembers(const roster::Epoch& epoch, const Selection& selection, int64_t now);

}  // namespace liaison::client

#endif  // LIAISON_CLIENT_SRC_SELECTION_H_
