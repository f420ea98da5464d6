// What the forwarder needs of each event, without parsing it: its id,
// source and payload kind read from the stored encoding, and its subject
// from a template split once.
#ifndef EVENTBUS_SERVER_FORWARD_FORWARD_SUBJECT_H_
#define EVENTBUS_SERVER_FORWARD_FORWARD_SUBJECT_H_

#include <string>
#include <string_view>
#include <vector>

namespace eventbus {

// The top-level fields of an encoded eventbus.v1.Event the forwarder
// sends; the views point into the encoding.
struct ForwardFields {
  std::string_view id;      // field 3
  std::string_view source;  // field 4
  bool audit = false;       // the payload is `audit` (field 10)
};

// Reads them from `encoded` as parsing would (the last occurrence of a
// field wins, unknown fields are skipped). False when its framing is broken
// (a torn field, a length past the end, field number 0); it checks neither
// UTF-8 nor the nested payloads, which the bus validated before storing.
bool ScanForwardFields(std::string_view encoded, ForwardFields* fields);

// `text` as one subject token: dots, spaces, wildcards and control
// characters become '_', and an empty text "_".
std::string SubjectToken(std::string_view text);

// A subject template ("eventbus.{source}.{type}"), split into its literal
// text and placeholders once.
class SubjectTemplate {
 public:
  explicit SubjectTemplate(std::string_view text);

  // The subject: {source} replaced by SubjectToken(source), {type} by
  // `type`.
  std::string Render(std::string_view source, std::string_view type) const;

 private:
  struct Part {
    enum Kind { kText, kSource, kType } kind;
    std::string text;  // kText only
  };
  std::vector<Part> parts_;
};

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_FORWARD_FORWARD_SUBJECT_H_
