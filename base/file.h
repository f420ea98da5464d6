// Reading small files whole: configuration, TLS material, token lists.
// Each must be a regular file of bounded size: a FIFO, a device such as
// /dev/zero or a directory is refused at once, never read or waited on.
// Stateless: safe from any thread.
#ifndef EVENTBUS_BASE_FILE_H_
#define EVENTBUS_BASE_FILE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace eventbus {

// Largest file a setting may name unless it says otherwise.
inline constexpr size_t kMaxSettingFileBytes = 1 << 20;

// The whole content of the regular file at `path`, at most `max_bytes`.
// Error, with the reason only as message: the code of errno (NotFound
// "No such file or directory", PermissionDenied, ...), or
// FailedPrecondition "is a FIFO, not a regular file" / "is N bytes, over
// the limit of M".
absl::StatusOr<std::string> ReadFileToString(
    const std::string& path, size_t max_bytes = kMaxSettingFileBytes);

// The whole file `path` that the setting `key` names (TLS files, the tokens
// file). Error: InvalidArgument "KEY: cannot read PATH: REASON", a bad
// setting being a configuration error.
absl::StatusOr<std::string> ReadSettingFile(
    std::string_view key, const std::string& path,
    size_t max_bytes = kMaxSettingFileBytes);

}  // namespace eventbus

#endif  // EVENTBUS_BASE_FILE_H_
