// Status propagation macros. Abseil 20220623 ships none publicly; these are
// the two every fallible path here uses.
#ifndef EVENTBUS_BASE_STATUS_MACROS_H_
#define EVENTBUS_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns `expr` from the current function when it is not OK.
#define EVENTBUS_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::absl::Status eventbus_status_ = (expr);            \
    if (!eventbus_status_.ok()) return eventbus_status_; \
  } while (0)

#define EVENTBUS_STATUS_CONCAT_INNER_(a, b) a##b
#define EVENTBUS_STATUS_CONCAT_(a, b) EVENTBUS_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK,
// otherwise moves the value into `lhs` (which may be a declaration).
#define EVENTBUS_ASSIGN_OR_RETURN(lhs, rexpr) \
  EVENTBUS_ASSIGN_OR_RETURN_IMPL_(            \
      EVENTBUS_STATUS_CONCAT_(eventbus_statusor_, __LINE__), lhs, rexpr)

#define EVENTBUS_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                    \
  if (!statusor.ok()) return std::move(statusor).status();    \
  lhs = std::move(statusor).value()

#endif  // EVENTBUS_BASE_STATUS_MACROS_H_
