#include "tests/testing/daemon_process.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace eventbus::testing {
namespace {

constexpr char kListeningOn[] = "listening on ";

std::vector<std::string> Argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {EVENTBUSD_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DaemonProcess>> DaemonProcess::Start(
    const std::vector<std::string>& args, absl::Duration timeout,
    const std::string& runtime_directory) {
  // Its runtime directory (where TLS keeps its private copies) is the
  // test's, so that a daemon the test kills leaves nothing behind.
  std::unique_ptr<TempDir> runtime;
  if (runtime_directory.empty()) {
    runtime = std::make_unique<TempDir>("eventbusd-runtime");
  }
  auto process = ChildProcess::Start(
      Argv(args),
      {.env = {"RUNTIME_DIRECTORY=" +
               (runtime != nullptr ? runtime->path() : runtime_directory)}});
  if (!process.ok()) return process.status();
  // The start-up line ends with " instance ID)\n"; wait for all of it.
  if (!(*process)->AwaitStderr(kListeningOn, timeout) ||
      !(*process)->AwaitStderr(")\n", timeout)) {
    const std::string log = (*process)->Stderr();
    if ((*process)->Wait(absl::ZeroDuration())) {
      return absl::FailedPreconditionError(
          absl::StrCat("eventbusd exited: ", log));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("eventbusd did not listen: ", log));
  }
  const std::string log = (*process)->Stderr();
  const size_t begin = log.find(kListeningOn) + sizeof(kListeningOn) - 1;
  std::string address = log.substr(begin, log.find(' ', begin) - begin);
  return std::unique_ptr<DaemonProcess>(new DaemonProcess(
      std::move(runtime), std::move(*process), std::move(address)));
}

absl::StatusOr<int> DaemonProcess::Run(const std::vector<std::string>& args,
                                       std::string* log,
                                       absl::Duration timeout) {
  const TempDir runtime("eventbusd-runtime");
  CommandResult result = RunCommand(
      Argv(args), {.env = {"RUNTIME_DIRECTORY=" + runtime.path()}}, timeout);
  *log = result.err;
  if (result.exit_status == -1000) {
    return absl::DeadlineExceededError("eventbusd did not exit");
  }
  return result.exit_status;
}

}  // namespace eventbus::testing
