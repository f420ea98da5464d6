#!/usr/bin/env python3
"""Prints the side-by-side table of one scripts/bench-compare run.

    compare_table.py RESULTS.jsonl

Reads the JSON lines of eventbus-bench, ../shared/peers/run and
../shared/anchors/tokio-broadcast/run (all from the same run) and prints one
Markdown table: a row per workload, S and metric, a column per system, and
eventbus against the best other system in that row. The ratio is written so
that > 1 always means eventbus is better: ours/best for throughput,
best/ours for latency, memory, CPU and time.
"""

import json
import sys

# (workload, metric, label, higher_is_better); the first metric of a
# workload is its headline.
METRICS = [
    ("W0", "delivered_eps", "delivered ev/s", True),
    ("W1", "delivered_eps", "delivered ev/s", True),
    ("W1", "publish_eps", "publish ev/s", True),
    ("W1", "drops", "drops", False),
    ("W1", "cpu_total_s", "CPU s (broker+client)", False),
    ("W1", "broker_rss_mb", "broker peak RSS MB", False),
    ("W2", "p99_us", "p99 us", False),
    ("W2", "p50_us", "p50 us", False),
    ("W2", "p999_us", "p99.9 us", False),
    ("W2", "max_us", "max us", False),
    ("W2", "drops", "drops", False),
    ("W3", "p99_us", "healthy p99 us", False),
    ("W3", "p999_us", "healthy p99.9 us", False),
    ("W3", "drops", "healthy drops", False),
    ("W3", "stalled_outcome", "stalled subscriber", None),
    ("W3", "broker_rss_mb", "broker peak RSS MB", False),
    ("W4", "complete_ms", "complete ms", False),
    ("W4", "broker_rss_per_sub_kb", "broker KB/subscriber", False),
    ("W4", "delivered_eps", "delivered ev/s", True),
    ("W5", "publish_eps", "acked ev/s", True),
    ("W5", "p50_us", "ack p50 us", False),
    ("W5", "p99_us", "ack p99 us", False),
    ("W5", "p999_us", "ack p99.9 us", False),
    ("W5", "broker_cpu_s", "broker CPU s", False),
    ("W5", "disk_write_bytes_per_event", "disk bytes written/event", False),
    ("W6", "recovery_ms", "recovery ms", False),
    ("W6", "replay_eps", "replay ev/s", True),
    ("W6", "replay_ms", "replay ms", False),
    ("W6", "disk_bytes", "bytes on disk", False),
    ("W6", "broker_rss_mb", "broker peak RSS MB", False),
]

SYSTEM_ORDER = ["eventbus", "eventbus block", "eventbus mux", "nats", "redis",
                "nats-raw", "raw-fdatasync-256", "raw-fdatasync-1", "tokio clone",
                "tokio arc", "tokio clone-yield64", "tokio arc-yield64"]


def column(row):
    if row["system"] == "tokio-broadcast":
        return "tokio " + row.get("variant", "?")
    if row["system"] == "eventbus" and row.get("overflow", "drop-oldest") != "drop-oldest":
        return "eventbus " + row["overflow"]  # W1's lossless row
    if (row["system"] == "eventbus" and row.get("workload") == "W4" and
            row.get("streams", row.get("subscribers")) != row.get("subscribers")):
        return "eventbus mux"  # W4 --multiplexed: subscriptions share streams
    return row["system"]


def value(row, metric):
    if metric == "cpu_total_s":
        if "broker_cpu_s" in row and "client_cpu_s" in row:
            return row["broker_cpu_s"] + row["client_cpu_s"]
        return None
    if metric == "stalled_outcome" and metric in row:
        outcome = row[metric]
        if row["system"] == "eventbus":
            return "%s (read %s, lost %s)" % (outcome, row.get(
                "stalled_received"), row.get("stalled_missed"))
        return "%s (read %s)" % (outcome, row.get("stalled_received"))
    return row.get(metric)


def fmt(v):
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if abs(v) >= 1e6:
        return "%.2fM" % (v / 1e6)
    if abs(v) >= 1e4:
        return "%.0fk" % (v / 1e3)
    if abs(v) >= 100 or float(v).is_integer():
        return "%.0f" % v
    return "%.2f" % v


def ratio(ours, others, higher):
    nums = [v for v in others if isinstance(v, (int, float)) and v is not None]
    if not isinstance(ours, (int, float)) or not nums or higher is None:
        return ""
    best = max(nums) if higher else min(nums)
    if higher:
        return "%.2fx" % (ours / best) if best > 0 else ""
    if ours == 0:
        return "even" if best == 0 else "inf"
    return "%.2fx" % (best / ours)


def main():
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    cells = {}  # (workload, S) -> column -> row
    for row in rows:
        if "error" in row or "workload" not in row:
            continue
        key = (row["workload"], row.get("subscribers"))
        cells.setdefault(key, {})[column(row)] = row
    present = {c for per in cells.values() for c in per}
    systems = [s for s in SYSTEM_ORDER if s in present]
    systems += sorted(present - set(systems))
    ours_columns = [s for s in systems if s.startswith("eventbus")]
    # raw-fdatasync-N is the disk's own limit (no broker), not a peer.
    others = [s for s in systems
              if not s.startswith("eventbus") and not s.startswith("raw-")]

    header = (["workload", "S", "metric"] + systems +
              [s + " vs best" for s in ours_columns])
    lines = ["| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for key in sorted(cells, key=lambda k: (k[0], k[1] or 0)):
        workload, subs = key
        per = cells[key]
        first = True
        for w, metric, label, higher in METRICS:
            if w != workload:
                continue
            values = {s: value(per[s], metric) for s in systems if s in per}
            if all(v is None for v in values.values()):
                continue
            ratios = [ratio(values.get(ours), [values.get(s) for s in others],
                            higher) for ours in ours_columns]
            arrow = "" if higher is None else (" (higher better)" if higher
                                               else " (lower better)")
            lines.append("| " + " | ".join(
                [workload if first else "", str(subs) if first else "",
                 label + arrow] + [fmt(values.get(s)) for s in systems] +
                ratios) + " |")
            first = False
    print("\n".join(lines))
    noisy = [(r.get("host_other_cpu_s"), column(r), r["workload"],
              r.get("subscribers")) for r in rows
             if isinstance(r.get("host_other_cpu_s"), (int, float))]
    if noisy:
        worst = max(noisy)
        total = sum(n[0] for n in noisy)
        print("\nOther load on the host during the cases (host_other_cpu_s):"
              " %.1f CPU-s in all, at most %.1f in one case (%s %s S=%s)."
              % ((total,) + worst))
    missing = [r for r in rows if "error" in r]
    for r in missing:
        print("\nFAILED: %s %s S=%s: %s" % (r.get("system"), r.get(
            "workload"), r.get("subscribers"), r.get("error")))


if __name__ == "__main__":
    main()
