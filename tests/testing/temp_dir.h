// TempDir: a fresh directory for one test (or one fixture), removed with
// everything in it when the TempDir goes away.
//
// Tests write only under their own TempDir: no fixed names in /tmp, so two
// test runs (or two tests of one run, which ctest starts as separate
// processes in parallel) never share or leave a file.
#ifndef EVENTBUS_TESTS_TESTING_TEMP_DIR_H_
#define EVENTBUS_TESTS_TESTING_TEMP_DIR_H_

#include <string>
#include <string_view>

namespace eventbus::testing {

class TempDir {
 public:
  // Makes $TMPDIR/PREFIX-XXXXXX (mkdtemp; /tmp when TMPDIR is unset or
  // empty), mode 0700. Aborts the test binary when it cannot: nothing the
  // test would do after that could be trusted.
  explicit TempDir(std::string_view prefix = "eventbus-test");
  // Removes the directory recursively; errors are ignored.
  ~TempDir();

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The directory's absolute path, without a trailing slash.
  const std::string& path() const { return path_; }
  // path() + "/" + name (nothing is created).
  std::string Path(std::string_view name) const;
  // Writes `contents` to Path(name), replacing it, and returns that path.
  // Aborts when the file cannot be written.
  std::string WriteFile(std::string_view name, std::string_view contents) const;

 private:
  std::string path_;
};

}  // namespace eventbus::testing

#endif  // EVENTBUS_TESTS_TESTING_TEMP_DIR_H_
