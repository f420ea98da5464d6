#include "client/cli/command.h"

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace eventbus::cli {
namespace {

constexpr char kGlobalFlagsFooter[] =
    "Global flags (--server, --timeout, --tls, --ca-file, --cert-file,\n"
    "--key-file, --token-file) may come before or after the command;\n"
    "`eventbus --help` describes them.";

// "eventbus publish" for the publish subcommand.
std::string CommandPath(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* parent = app.get_parent(); parent != nullptr;
       parent = parent->get_parent()) {
    path = absl::StrCat(parent->get_name(), " ", path);
  }
  return path;
}

}  // namespace

Command::Command(CLI::App* parent, const std::string& name,
                 const std::string& summary, const std::string& details)
    : app_(parent->add_subcommand(
          name,
          details.empty() ? summary : absl::StrCat(summary, "\n\n", details))) {
  app_->fallthrough();
  app_->group("Commands");
  app_->footer(kGlobalFlagsFooter);
  app_->option_defaults()->group("Flags");
  app_->get_help_ptr()->group("Flags")->description("this text");
}

int Command::UsageFailure(const absl::Status& status) const {
  return ReportUsageError(*app_, std::string(status.message()));
}

std::string HelpHint(const CLI::App& app) {
  return absl::StrCat("Run '", CommandPath(app),
                      " --help' for more information.");
}

int ReportUsageError(const CLI::App& app, const std::string& message) {
  std::fprintf(stderr, "eventbus: %s\n%s\n", message.c_str(),
               HelpHint(app).c_str());
  return kUsageError;
}

int RpcFailure(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "eventbus: %s failed: %s\n", what,
               status.ToString().c_str());
  return kRpcErrorBase + static_cast<int>(status.code());
}

std::string ToJson(const google::protobuf::Message& message,
                   bool with_defaults) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = with_defaults;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

void PrintLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace eventbus::cli
