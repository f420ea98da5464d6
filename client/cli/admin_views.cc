#include "client/cli/admin_views.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "base/metadata.h"
#include "base/text.h"
#include "client/status.h"
#include "eventbus/v1/eventbus.grpc.pb.h"

namespace eventbus::cli {
namespace {

void SetDeadline(const Connection& connection, grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + connection.timeout));
}

absl::Time FromProto(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

// The enum value's name without its prefix, in lower case.
std::string ShortName(const std::string& name, const std::string& prefix) {
  return absl::AsciiStrToLower(
      name.substr(name.rfind(prefix, 0) == 0 ? prefix.size() : 0));
}

// A client-chosen string (a name, an attribute) as one table cell: control
// characters and invalid UTF-8 as \xNN, as the daemon's logs write them,
// so that no subscriber can send escapes to the operator's terminal; and
// blanks as \x20, so that a cell stays one word.
std::string Cell(const std::string& text) {
  return absl::StrReplaceAll(EscapeForLog(text), {{" ", "\\x20"}});
}

// Lines of cells, each column padded to its widest cell, two blanks apart.
std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) {
        line.append(widths[i] - row[i].size() + 2, ' ');
      }
    }
    absl::StrAppend(&text, line, "\n");
  }
  return text;
}

}  // namespace

absl::StatusOr<std::vector<v1::SubscriberInfo>> ListSubscribers(
    const Connection& connection, std::string* instance) {
  auto stub = v1::AdminService::NewStub(connection.channel);
  grpc::ClientContext context;
  SetDeadline(connection, &context);
  v1::ListSubscribersResponse response;
  const grpc::Status status =
      stub->ListSubscribers(&context, v1::ListSubscribersRequest(), &response);
  if (!status.ok()) return client::FromGrpc(status);
  if (instance != nullptr) {
    const auto& headers = context.GetServerInitialMetadata();
    const auto found = headers.find(kInstanceMetadataKey);
    *instance = found == headers.end()
                    ? ""
                    : std::string(found->second.data(), found->second.size());
  }
  std::vector<v1::SubscriberInfo> subscribers(
      std::make_move_iterator(response.mutable_subscribers()->begin()),
      std::make_move_iterator(response.mutable_subscribers()->end()));
  std::sort(subscribers.begin(), subscribers.end(),
            [](const v1::SubscriberInfo& a, const v1::SubscriberInfo& b) {
              if (a.behind() != b.behind()) return a.behind() > b.behind();
              return std::tie(a.name(), a.peer()) <
                     std::tie(b.name(), b.peer());
            });
  return subscribers;
}

absl::StatusOr<v1::BusInfo> GetBusInfo(const Connection& connection) {
  auto stub = v1::AdminService::NewStub(connection.channel);
  grpc::ClientContext context;
  SetDeadline(connection, &context);
  v1::BusInfo info;
  const grpc::Status status =
      stub->GetBusInfo(&context, v1::GetBusInfoRequest(), &info);
  if (!status.ok()) return client::FromGrpc(status);
  return info;
}

std::string ShortDuration(absl::Duration duration) {
  if (duration < absl::Seconds(1)) {
    return absl::StrCat(absl::ToInt64Milliseconds(duration), "ms");
  }
  const int64_t seconds = absl::ToInt64Seconds(duration);
  const int64_t days = seconds / 86400, hours = seconds / 3600 % 24;
  const int64_t minutes = seconds / 60 % 60, rest = seconds % 60;
  if (days > 0) return absl::StrFormat("%dd%02dh", days, hours);
  if (hours > 0) return absl::StrFormat("%dh%02dm", hours, minutes);
  if (minutes > 0) return absl::StrFormat("%dm%02ds", minutes, rest);
  return absl::StrCat(rest, "s");
}

std::string FormatFilter(const v1::EventFilter& filter) {
  std::vector<std::string> parts;
  if (filter.types_size() > 0) {
    std::vector<std::string> types;
    for (int type : filter.types()) {
      types.push_back(ShortName(
          v1::EventType_Name(static_cast<v1::EventType>(type)), "EVENT_TYPE_"));
    }
    parts.push_back(absl::StrCat("type=", absl::StrJoin(types, ",")));
  }
  // The map's order is unspecified: sort for a stable display.
  std::vector<std::pair<std::string, std::string>> attributes(
      filter.attributes().begin(), filter.attributes().end());
  std::sort(attributes.begin(), attributes.end());
  for (const auto& [key, value] : attributes) {
    parts.push_back(absl::StrCat(Cell(key), "=", Cell(value)));
  }
  // The last column: blanks may stay, escapes may not.
  if (!filter.expression().empty()) {
    parts.push_back(absl::StrCat("expr=", EscapeForLog(filter.expression())));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, " ");
}

std::string FormatOverflow(v1::Overflow overflow) {
  if (overflow == v1::OVERFLOW_UNSPECIFIED) overflow = v1::OVERFLOW_DROP_OLDEST;
  return ShortName(v1::Overflow_Name(overflow), "OVERFLOW_");
}

std::string SubscriberTable(const std::vector<v1::SubscriberInfo>& subscribers,
                            absl::Time now,
                            const std::optional<std::vector<double>>& rates,
                            size_t max_rows) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"NAME",   "PEER", "OVERFLOW",
                                     "BEHIND", "NEXT", "RECEIVED"};
  if (rates) header.push_back("RATE/S");
  for (const char* column : {"MISSED", "AGE", "FILTER"}) {
    header.push_back(column);
  }
  rows.push_back(std::move(header));
  const size_t shown = std::min(max_rows, subscribers.size());
  for (size_t i = 0; i < shown; ++i) {
    const v1::SubscriberInfo& s = subscribers[i];
    std::vector<std::string> row = {s.name().empty() ? "-" : Cell(s.name()),
                                    Cell(s.peer()),
                                    FormatOverflow(s.overflow()),
                                    absl::StrCat(s.behind()),
                                    absl::StrCat(s.next_sequence()),
                                    absl::StrCat(s.received())};
    if (rates) {
      row.push_back(i < rates->size() ? absl::StrFormat("%.1f", (*rates)[i])
                                      : "-");
    }
    row.push_back(absl::StrCat(s.missed()));
    // The two clocks may disagree: never a negative age.
    row.push_back(ShortDuration(
        std::max(absl::ZeroDuration(), now - FromProto(s.start_time()))));
    row.push_back(FormatFilter(s.filter()));
    rows.push_back(std::move(row));
  }
  std::string table = Columns(rows);
  if (shown < subscribers.size()) {
    absl::StrAppend(&table, "... and ", subscribers.size() - shown, " more\n");
  }
  return table;
}

std::string BusSummary(const v1::BusInfo& info) {
  const absl::Duration uptime = absl::Seconds(info.uptime().seconds()) +
                                absl::Nanoseconds(info.uptime().nanos());
  return Columns(std::vector<std::vector<std::string>>{
      {"instance", info.instance()},
      {"uptime", ShortDuration(uptime)},
      {"head sequence", absl::StrCat(info.head_sequence())},
      {"oldest sequence", absl::StrCat(info.oldest_sequence())},
      {"ring",
       absl::StrCat(info.ring_events(), " of ", info.capacity(), " events")},
      {"subscribers", absl::StrCat(info.subscribers())},
      {"published", absl::StrCat(info.published())},
      {"delivered", absl::StrCat(info.delivered())},
      {"missed", absl::StrCat(info.missed())},
      {"blocked publishers", absl::StrCat(info.blocked_publishers())},
  });
}

}  // namespace eventbus::cli
