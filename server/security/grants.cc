#include "server/security/grants.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace eventbus {

absl::StatusOr<Grants> ParseGrants(std::string_view text) {
  const absl::string_view view(text.data(), text.size());
  Grants grants;
  bool valid = !view.empty();
  for (absl::string_view right : absl::StrSplit(view, ',')) {
    right = absl::StripAsciiWhitespace(right);
    bool* granted = right == "publish"     ? &grants.publish
                    : right == "subscribe" ? &grants.subscribe
                    : right == "admin"     ? &grants.admin
                                           : nullptr;
    if (granted == nullptr || *granted) {
      valid = false;
      break;
    }
    *granted = true;
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("grants must be publish, subscribe, admin or several "
                     "of them joined by commas, got \"",
                     absl::CHexEscape(view), "\""));
  }
  return grants;
}

std::string FormatGrants(Grants grants) {
  std::vector<absl::string_view> rights;
  if (grants.publish) rights.push_back("publish");
  if (grants.subscribe) rights.push_back("subscribe");
  if (grants.admin) rights.push_back("admin");
  if (rights.empty()) return "none";
  return absl::StrJoin(rights, ",");
}

}  // namespace eventbus
