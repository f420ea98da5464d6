// The rows of `forward.nats`.

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/config/settings.h"
#include "server/config/values.h"

namespace eventbus {
namespace {

// Any text, possibly empty.
ValueKind<std::string> Text(std::string metavar, std::string domain) {
  return {
      .metavar = std::move(metavar),
      .expected = "a string",
      .domain = std::move(domain),
      .parse = [](absl::string_view text) -> absl::StatusOr<std::string> {
        return std::string(text);
      },
      .show = [](const std::string& text) { return text; },
  };
}

// nats://, tls:// or bare host:port URLs, comma-separated.
ValueKind<std::string> NatsUrls() {
  ValueKind<std::string> kind = Text("URLS", " (empty: no forwarding)");
  kind.parse = [](absl::string_view text) -> absl::StatusOr<std::string> {
    for (absl::string_view url : absl::StrSplit(text, ',')) {
      if (url.empty() || absl::StrContains(url, ' ')) {
        return absl::InvalidArgumentError(absl::StrCat(
            "must be NATS URLs separated by commas (nats://host:4222), got ",
            Quoted(text)));
      }
    }
    return std::string(text);
  };
  return kind;
}

// The subject template: no spaces, not empty.
ValueKind<std::string> SubjectTemplate() {
  ValueKind<std::string> kind =
      Text("SUBJECT", " ({source} and {type} are replaced)");
  kind.parse = [](absl::string_view text) -> absl::StatusOr<std::string> {
    // A fixed first token: the stream's subjects are what precedes the
    // first placeholder's token + ">".
    const size_t brace = text.find('{');
    if (text.empty() || absl::StrContains(text, ' ') ||
        absl::StartsWith(text, ".") ||
        (brace != absl::string_view::npos && text.find('.') > brace)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "must be a NATS subject starting with a fixed token, like "
          "eventbus.{source}.{type}, got ",
          Quoted(text)));
    }
    return std::string(text);
  };
  return kind;
}

}  // namespace

std::vector<Setting> ForwardSettings() {
  const SectionRows<ForwardConfig> forward("forward", &Config::forward);
  const SectionRows<NatsForwardConfig> nats =
      forward.Nested("nats", &ForwardConfig::nats);
  using N = NatsForwardConfig;
  return {
      nats.Row("url", &N::url, NatsUrls(),
               "forward every stored event to these NATS JetStream servers"),
      nats.Row("subject", &N::subject, SubjectTemplate(),
               "subject of each forwarded event"),
      nats.Row("stream", &N::stream, Text("NAME", ""),
               "JetStream stream, created when missing"),
      nats.Row("replicas", &N::replicas, IntegerIn(1, 5),
               "replicas of the stream when it is created"),
      nats.Row("duplicate_window", &N::duplicate_window,
               DurationIn(absl::Seconds(1), absl::Hours(24 * 7)),
               "the stream's duplicate window when it is created"),
      nats.Row("token", &N::token, Text("TOKEN", ""), "NATS token"),
      nats.Row("user", &N::user, Text("USER", ""), "NATS user"),
      nats.Row("password", &N::password, Text("PASSWORD", ""), "NATS password"),
      nats.Row("credentials_file", &N::credentials_file, FilePath(),
               "NATS .creds file (JWT and NKey seed)"),
      nats.Row("nkey", &N::nkey, Text("PUBLIC_KEY", ""),
               "NATS user NKey, the public key (needs the seed file)"),
      nats.Row("nkey_seed_file", &N::nkey_seed_file, FilePath(),
               "file holding the seed of forward.nats.nkey"),
      nats.Row("tls_ca_file", &N::tls_ca_file, FilePath(),
               "PEM CAs the NATS server's certificate must chain to"),
      nats.Row("tls_cert_file", &N::tls_cert_file, FilePath(),
               "PEM client certificate for NATS (needs the key file)"),
      nats.Row("tls_key_file", &N::tls_key_file, FilePath(),
               "PEM private key of the NATS client certificate"),
      nats.Row("max_in_flight", &N::max_in_flight, IntegerIn(1, 65536),
               "events published to NATS and not yet acknowledged"),
      nats.Row("encoding", &N::encoding, OneOf("ENC", {"proto", "json"}),
               "what a forwarded message carries"),
      nats.Row("max_backlog", &N::max_backlog,
               IntegerIn(0, uint64_t{1000000000000}),
               "let retention remove unforwarded events this far behind; 0: "
               "never"),
  };
}

}  // namespace eventbus
