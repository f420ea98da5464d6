#include "server/security/grants.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
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
                                           : nullptr;
    if (granted == nullptr || *granted) {
      valid = false;
      break;
    }
    *granted = true;
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("grants must be publish, subscribe or publish,subscribe, "
                     "got \"",
                     absl::CHexEscape(view), "\""));
  }
  return grants;
}

std::string FormatGrants(Grants grants) {
  if (grants.publish && grants.subscribe) return "publish,subscribe";
  if (grants.publish) return "publish";
  if (grants.subscribe) return "subscribe";
  return "none";
}

}  // namespace eventbus
