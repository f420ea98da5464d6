// JsonLine: one flat JSON object, built key by key, printed on one line (the
// result format of WORKLOADS.md). Not thread-safe; build one per result.
#ifndef EVENTBUS_BENCH_JSON_LINE_H_
#define EVENTBUS_BENCH_JSON_LINE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace eventbus::bench {

class JsonLine {
 public:
  JsonLine& Str(std::string_view key, std::string_view value);
  // Non-finite values are written as null.
  JsonLine& Num(std::string_view key, double value, int decimals = 1);
  JsonLine& Int(std::string_view key, int64_t value);
  JsonLine& Bool(std::string_view key, bool value);

  // The object, without a newline.
  std::string Done() const { return "{" + body_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string body_;
};

}  // namespace eventbus::bench

#endif  // EVENTBUS_BENCH_JSON_LINE_H_
