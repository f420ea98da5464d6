#include "base/file.h"

#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace eventbus {

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  const auto fail = [](int error) {
    return absl::Status(
        absl::ErrnoToStatusCode(error),
        std::error_code(error, std::generic_category()).message());
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(
      std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) return fail(errno);
  std::string contents;
  char buffer[8192];
  size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    contents.append(buffer, count);
  }
  if (std::ferror(file.get())) return fail(errno);
  return contents;
}

absl::StatusOr<std::string> ReadSettingFile(std::string_view key,
                                            const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(absl::string_view(key.data(), key.size()),
                     ": cannot read ", path, ": ", text.status().message()));
  }
  return text;
}

}  // namespace eventbus
