#include "client/src/selection.h"

#include <algorithm>
#include <cctype>

namespace liaison::client {

namespace {

// Splits at spaces outside double quotes; quotes are removed.
Result<std::vector<std::string>> Tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false, any = false;
  for (char c : text) {
    if (c == '"') {
      quoted = !quoted;
      any = true;
    } else if (c == ' ' && !quoted) {
      if (any) out.push_back(std::move(current));
      current.clear();
      any = false;
    } else {
      current += c;
      any = true;
    }
  }
  if (quoted) return Status::Error(Code::kInvalidArgument, "the selection has an unclosed quote");
  if (any) out.push_back(std::move(current));
  return out;
}

std::vector<std::string> SplitValues(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const size_t end = comma == std::string_view::npos ? text.size() : comma;
    if (end > start) out.emplace_back(text.substr(start, end - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool Matches(const roster::Member& member, const Selection::Term& term) {
  auto any = [&](auto&& predicate) { return std::any_of(term.values.begin(), term.values.end(), predicate); };
  if (term.key == "member") return any([&](const std::string& v) { return v == member.id; });
  if (term.key == "org") return any([&](const std::string& v) { return EqualsIgnoringCase(v, member.organisation); });
  if (term.key == "role") return any([&](const std::string& v) { return v == roster::RoleName(member.role_value()); });
  // area
  return any([&](const std::string& v) {
    return std::any_of(member.areas.begin(), member.areas.end(), [&](const roster::Area& a) { return a.tag == v; });
  });
}

}  // namespace

Result<Selection> ParseSelection(std::string_view text) {
  LIAISON_ASSIGN_OR_RETURN(std::vector<std::string> tokens, Tokens(text));
  if (tokens.empty()) return Status::Error(Code::kInvalidArgument, "an empty selection (say \"all\" to alert everyone)");
  Selection selection;
  if (tokens.size() == 1 && tokens[0] == "all") {
    selection.all = true;
    return selection;
  }
  for (const std::string& token : tokens) {
    const size_t colon = token.find(':');
    if (colon == std::string::npos) {
      return Status::Error(Code::kInvalidArgument, "selection term \"" + token + "\" is not key:value");
    }
    Selection::Term term{token.substr(0, colon), SplitValues(std::string_view(token).substr(colon + 1))};
    if (term.key != "area" && term.key != "role" && term.key != "org" && term.key != "member") {
      return Status::Error(Code::kInvalidArgument,
                           "unknown selection key \"" + term.key + "\" (area, role, org or member)");
    }
    if (term.values.empty()) return Status::Error(Code::kInvalidArgument, "selection term \"" + token + "\" has no value");
    if (term.key == "role") {
      for (const std::string& v : term.values) LIAISON_RETURN_IF_ERROR(roster::ParseRole(v).status());
    }
    selection.terms.push_back(std::move(term));
  }
  return selection;
}

std::vector<const roster::Member*> SelectMembers(const roster::Epoch& epoch, const Selection& selection, int64_t now) {
  std::vector<const roster::Member*> out;
  for (const roster::Member& member : epoch.members) {
    if (!member.ValidAt(now)) continue;
    if (selection.all ||
        std::all_of(selection.terms.begin(), selection.terms.end(), [&](const Selection::Term& t) { return Matches(member, t); })) {
      out.push_back(&member);
    }
  }
  return out;
}

}  // namespace liaison::client
