#include "server/forward/forward_subject.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <cstdint>

namespace eventbus {
namespace {

using ::google::protobuf::internal::WireFormatLite;

constexpr int kIdField = 3;
constexpr int kSourceField = 4;
constexpr int kAuditField = 10;
constexpr int kSpaceNameField = 11;

}  // namespace

bool ScanForwardFields(std::string_view encoded, ForwardFields* fields) {
  *fields = ForwardFields();
  // CodedInputStream takes an int size (stored events are far smaller).
  if (encoded.size() > static_cast<size_t>(INT32_MAX)) return false;
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(encoded.data()),
      static_cast<int>(encoded.size()));
  while (const uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    if (field == 0) return false;
    const bool delimited = WireFormatLite::GetTagWireType(tag) ==
                           WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (!delimited || (field != kIdField && field != kSourceField &&
                       field != kAuditField && field != kSpaceNameField)) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint64_t length = 0;
    if (!in.ReadVarint64(&length)) return false;
    const size_t at = static_cast<size_t>(in.CurrentPosition());
    if (length > encoded.size() - at || !in.Skip(static_cast<int>(length))) {
      return false;
    }
    const std::string_view value = encoded.substr(at, length);
    if (field == kIdField) {
      fields->id = value;
    } else if (field == kSourceField) {
      fields->source = value;
    } else {
      // A oneof: the last payload is the event's.
      fields->audit = field == kAuditField;
    }
  }
  return in.ConsumedEntireMessage();
}

std::string SubjectToken(std::string_view text) {
  std::string token(text.empty() ? "_" : text);
  for (char& c : token) {
    if (c == '.' || c == '*' || c == '>' || c <= ' ' || c == 127) c = '_';
  }
  return token;
}

SubjectTemplate::SubjectTemplate(std::string_view text) {
  while (!text.empty()) {
    const size_t source = text.find("{source}");
    const size_t type = text.find("{type}");
    const size_t next = std::min(source, type);
    if (next > 0) {
      parts_.push_back({Part::kText, std::string(text.substr(0, next))});
    }
    if (next == std::string_view::npos) break;
    const bool is_source = next == source;
    parts_.push_back({is_source ? Part::kSource : Part::kType, ""});
    text.remove_prefix(next + (is_source ? 8 : 6));
  }
}

std::string SubjectTemplate::Render(std::string_view source,
                                    std::string_view type) const {
  std::string subject;
  subject.reserve(64);
  for (const Part& part : parts_) {
    switch (part.kind) {
      case Part::kText:
        subject += part.text;
        break;
      case Part::kSource:
        subject += SubjectToken(source);
        break;
      case Part::kType:
        subject += type;
        break;
    }
  }
  return subject;
}

}  // namespace eventbus
