// Reading small files whole: configuration, TLS material, token lists.
// Stateless: safe from any thread.
#ifndef EVENTBUS_BASE_FILE_H_
#define EVENTBUS_BASE_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace eventbus {

// The whole content of the file at `path`. Error: the code of errno
// (NotFound, PermissionDenied, FailedPrecondition for a directory, ...)
// with the reason only as message ("No such file or directory").
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// The whole file `path` that the setting `key` names (TLS files, the tokens
// file). Error: InvalidArgument "KEY: cannot read PATH: REASON", a bad
// setting being a configuration error.
absl::StatusOr<std::string> ReadSettingFile(std::string_view key,
                                            const std::string& path);

}  // namespace eventbus

#endif  // EVENTBUS_BASE_FILE_H_
