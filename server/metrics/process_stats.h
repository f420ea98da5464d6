// ProcessStats: the standard process_* metrics of this process, read from
// /proc/self as Prometheus's client libraries do: CPU seconds, resident and
// virtual memory, open and maximum file descriptors, start time.
// Stateless: safe from any thread.
#ifndef EVENTBUS_SERVER_METRICS_PROCESS_STATS_H_
#define EVENTBUS_SERVER_METRICS_PROCESS_STATS_H_

#include "server/metrics/exposition.h"

namespace eventbus {

// Writes the process_* families to `page`; a value /proc does not give is
// left out.
void WriteProcessMetrics(Exposition* page);

}  // namespace eventbus

#endif  // EVENTBUS_SERVER_METRICS_PROCESS_STATS_H_
