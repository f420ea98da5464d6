#include "tests/testing/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

namespace eventbus::testing {

TempDir::TempDir(std::string_view prefix) {
  const char* tmpdir = getenv("TMPDIR");
  std::string base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::string pattern = base + "/" + std::string(prefix) + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    std::fprintf(stderr, "TempDir: mkdtemp(%s) failed: %s\n", pattern.c_str(),
                 std::strerror(errno));
    std::abort();
  }
  path_ = std::filesystem::absolute(buffer.data()).lexically_normal().string();
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Path(std::string_view name) const {
  return path_ + "/" + std::string(name);
}

std::string TempDir::WriteFile(std::string_view name,
                               std::string_view contents) const {
  const std::string path = Path(name);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  file.close();
  if (!file) {
    std::fprintf(stderr, "TempDir: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace eventbus::testing
