// The environment and the command line: ApplyEnvironment, ParseInvocation
// (with ValidateConfig, the checks across settings) and the --help text,
// each a walk over the settings table.

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"
#include "server/config/address.h"
#include "server/config/config.h"
#include "server/config/settings.h"
#include "server/config/values.h"
#include "server/security/tls_credentials.h"

namespace eventbus {

absl::Status ApplyEnvironment(
    const std::function<std::optional<std::string>(const std::string&)>& getenv,
    Config* config) {
  if (!getenv) return absl::OkStatus();
  Config updated = *config;
  for (const Setting& setting : Settings()) {
    const std::optional<std::string> value = getenv(setting.env);
    if (!value.has_value()) continue;
    absl::Status status = value->empty()
                              ? absl::InvalidArgumentError("set but empty")
                              : setting.set(*value, &updated);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment ", setting.env, ": ", setting.key, ": ",
                       status.message()));
    }
  }
  if (std::optional<std::string> tokens = getenv(kTokensEnv)) {
    // Checked when the daemon parses the tokens; the value is a secret, so
    // no message here quotes it.
    if (absl::StripAsciiWhitespace(*tokens).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment ", kTokensEnv, ": set but empty"));
    }
    updated.auth.tokens = std::move(*tokens);
  }
  *config = std::move(updated);
  return absl::OkStatus();
}

absl::Status ValidateConfig(const Config& config) {
  const TlsConfig& tls = config.server.tls;
  // The TLS combinations are the credentials' own rule.
  EVENTBUS_RETURN_IF_ERROR(
      ValidateTlsOptions({.cert_file = tls.cert_file,
                          .key_file = tls.key_file,
                          .client_ca_file = tls.client_ca_file}));
  if (absl::Status status = CheckUnixSocketDirectory(config.server.address);
      !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("server.address: ", status.message()));
  }
  const NatsForwardConfig& nats = config.forward.nats;
  if (!nats.url.empty() && config.storage.path.empty()) {
    return absl::InvalidArgumentError(
        "forward.nats.url needs storage.path: the forwarder reads the durable "
        "log, from a cursor kept in the storage directory");
  }
  if (nats.tls_cert_file.empty() != nats.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "forward.nats.tls_cert_file and forward.nats.tls_key_file go "
        "together");
  }
  if (nats.nkey.empty() != nats.nkey_seed_file.empty()) {
    return absl::InvalidArgumentError(
        "forward.nats.nkey and forward.nats.nkey_seed_file go together");
  }
  if (!nats.nkey.empty() && !nats.credentials_file.empty()) {
    return absl::InvalidArgumentError(
        "forward.nats.nkey and forward.nats.credentials_file exclude each "
        "other: a .creds file holds its own NKey");
  }
  if (!config.auth.subjects.empty() && tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "auth.subjects needs server.tls.client_ca_file: without client "
        "certificates there is no subject to grant rights to");
  }
  return absl::OkStatus();
}

absl::StatusOr<Invocation> ParseInvocation(
    int argc, const char* const* argv,
    const std::function<std::optional<std::string>(const std::string&)>&
        getenv) {
  Invocation invocation;
  // Flag values are applied after the file and the environment.
  std::vector<std::pair<const Setting*, std::string>> flag_values;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument ", Quoted(arg), " (see --help)"));
    }
    const size_t equals = arg.find('=');
    const absl::string_view flag = arg.substr(0, equals);
    const bool has_inline_value = equals != absl::string_view::npos;
    if (flag == "--help" || flag == "-h" || flag == "--version") {
      if (has_inline_value) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, " takes no value"));
      }
      (flag == "--version" ? invocation.show_version : invocation.show_help) =
          true;
      continue;
    }
    const Setting* setting = FindFlag(flag);
    if (setting == nullptr && flag != "--config") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag ", flag, " (see --help)"));
    }
    absl::string_view value;
    if (has_inline_value) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
      value = argv[++i];
    }
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
    }
    if (setting == nullptr) {
      invocation.config_path = std::string(value);
    } else {
      flag_values.emplace_back(setting, std::string(value));
    }
  }
  if (invocation.show_help || invocation.show_version) return invocation;

  Config config;
  if (!invocation.config_path.empty()) {
    EVENTBUS_ASSIGN_OR_RETURN(config,
                              LoadConfigFile(invocation.config_path, config));
  }
  EVENTBUS_RETURN_IF_ERROR(ApplyEnvironment(getenv, &config));
  for (const auto& [setting, value] : flag_values) {
    const absl::Status status = setting->set(value, &config);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(setting->flag, ": ", status.message()));
    }
  }
  EVENTBUS_RETURN_IF_ERROR(ValidateConfig(config));
  invocation.config = std::move(config);
  return invocation;
}

std::string UsageText() {
  const Config defaults;
  std::string text = absl::StrCat(
      "Usage: eventbusd [flags]\n"
      "\n"
      "Runs the event bus gRPC daemon. Each setting comes from, lowest\n"
      "precedence first: the built-in default, the --config file, an\n"
      "EVENTBUS_* environment variable, a flag. Flags take \"--flag value\"\n"
      "or \"--flag=value\".\n"
      "\n"
      "Flags:\n"
      "  --config FILE\n"
      "      read settings from a YAML file (example: config/eventbus.yaml)\n");
  for (const Setting& setting : Settings()) {
    const std::string shown = setting.show(defaults);
    absl::StrAppend(&text, "  ", setting.flag, " ", setting.metavar, "\n",
                    "      ", setting.help, "\n",
                    "      default: ", shown.empty() ? "none" : shown, "\n");
  }
  absl::StrAppend(
      &text,
      "  -h, --help\n"
      "      print this text and exit\n"
      "  --version\n"
      "      print the version and exit\n"
      "\n"
      "Durations look like \"500ms\", \"5s\", \"1m\" or \"1h\".\n"
      "Sizes are bytes, or a number with B, KiB, MiB or GiB: \"512KiB\".\n"
      "Grants are publish, subscribe, admin, or several joined by commas:\n"
      "publish,subscribe,admin.\n"
      "\n"
      "Environment (overrides the file; flags override it):\n");
  for (const Setting& setting : Settings()) {
    absl::StrAppend(
        &text, absl::StrFormat("  %-43s like %s\n", setting.env, setting.flag));
  }
  absl::StrAppend(&text, absl::StrFormat("  %-43s bearer tokens, \"TOKEN "
                                         "GRANTS [NAME];...\"\n",
                                         kTokensEnv));
  absl::StrAppend(&text, "\nConfig file keys (YAML), with their defaults:\n");
  absl::string_view section;
  for (const Setting& setting : Settings()) {
    if (setting.section != section) {
      // Open the components of the new section that the last one lacked.
      const std::vector<absl::string_view> from = absl::StrSplit(section, '.');
      const std::vector<absl::string_view> to =
          absl::StrSplit(setting.section, '.');
      size_t common = 0;
      while (common < from.size() && common < to.size() &&
             from[common] == to[common]) {
        ++common;
      }
      for (size_t depth = common; depth < to.size(); ++depth) {
        absl::StrAppend(&text, std::string(2 * depth + 2, ' '), to[depth],
                        ":\n");
      }
      section = setting.section;
    }
    // Keys sit one level deeper than their section's last component.
    const int indent =
        2 * static_cast<int>(std::count(section.begin(), section.end(), '.')) +
        4;
    absl::StrAppend(
        &text, absl::StrFormat(
                   "%*s%-*s like %s\n", indent, "", 44 - indent,
                   absl::StrCat(setting.name, ": ", setting.show(defaults)),
                   setting.flag));
  }
  return text;
}

}  // namespace eventbus
