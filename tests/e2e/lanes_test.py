#!/usr/bin/python3
"""Priority lanes against the real eventbusd, through Debian's grpcio.

  - a flood of LOW events does not push a HIGH one out: a subscriber from
    sequence 1 gets the HIGH and every NORMAL event, and is told of the LOW
    losses with Lagged.priority = PRIORITY_LOW; received plus missed tile
    every lane exactly;
  - a subscriber far behind gets the HIGH events first (4:2:1), ascending
    within each lane, and nothing is lost;
  - a subscriber that keeps up gets every event in sequence order;
  - a lane capacity out of range in the config file: exit status 2 naming
    the key and its line.

Environment: EVENTBUSD (required), EVENTBUS_PY_OUT (stub scratch directory).
Run: /usr/bin/python3 tests/e2e/lanes_test.py [-v] [Class.test]
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_client_test as lib  # noqa: E402  (Daemon, stubs, helpers)

pb = None  # set by setUpModule
HIGH = NORMAL = LOW = None


def setUpModule():
    global pb, HIGH, NORMAL, LOW
    lib.setUpModule()
    pb = lib.pb
    HIGH, NORMAL, LOW = pb.PRIORITY_HIGH, pb.PRIORITY_NORMAL, pb.PRIORITY_LOW


def event(priority, name):
    e = lib.space_name_event(name=name)
    e.priority = priority
    return e


class LanesCase(lib.EventBusTestCase):

    def publish_all(self, priorities):
        """Publishes one event per priority in one PublishStream; returns
        {sequence: priority}."""
        batch = [event(p, "e-%d" % i) for i, p in enumerate(priorities)]
        lanes = {}
        for response in self.stub.PublishStream(
                iter([pb.PublishStreamRequest(events=batch)]), timeout=lib.DEADLINE):
            for ack in response.acks:
                lanes[ack.sequence] = priorities[len(lanes)]
        self.assertEqual(len(lanes), len(priorities))
        return lanes

    def read_until(self, call, total):
        """Reads until received plus missed reach `total`: (events, lags)."""
        events, lags, missed = [], [], 0
        while len(events) + missed < total:
            response = next(call)
            if response.HasField("lagged"):
                lags.append(response.lagged)
                missed += response.lagged.missed
            events.extend(response.events)
        return events, lags

    def assert_tiles(self, lanes, events, lags):
        """Each lane's events are received once or inside one of its lags,
        and every lag's count is exact; ascending within each lane."""
        got = [e.sequence for e in events]
        self.assertEqual(len(set(got)), len(got), "a duplicate")
        received = set(got)
        for lag in lags:
            lost = [s for s, p in lanes.items()
                    if lag.first_sequence <= s <= lag.last_sequence
                    and (lag.priority == pb.PRIORITY_UNSPECIFIED or p == lag.priority)]
            self.assertEqual(lag.missed, len(lost), lag)
            self.assertFalse(received & set(lost), lag)
            received |= set(lost)
        self.assertEqual(received, set(lanes))
        for priority in (HIGH, NORMAL, LOW):
            lane = [s for s in got if lanes[s] == priority]
            self.assertEqual(lane, sorted(lane), pb.Priority.Name(priority))


class FloodTest(LanesCase):

    DAEMON_ARGS = ("--capacity", "8", "--lane-high-capacity", "4",
                   "--lane-low-capacity", "16")

    def test_a_flood_of_low_keeps_high_and_tells_each_lane(self):
        priorities = [HIGH] + [NORMAL] * 3 + [LOW] * 500 + [NORMAL]
        lanes = self.publish_all(priorities)
        call, _ = self.subscribe(from_sequence=1)
        events, lags = self.read_until(call, len(lanes))
        call.cancel()
        self.assert_tiles(lanes, events, lags)
        got = {e.sequence for e in events}
        self.assertIn(1, got, "the HIGH event was evicted")
        self.assertTrue({s for s, p in lanes.items() if p == NORMAL} <= got)
        self.assertEqual([lag.priority for lag in lags], [LOW])
        self.assertEqual(lags[0].missed, 500 - 16)
        self.assertEqual(sum(1 for s in got if lanes[s] == LOW), 16)


class BehindTest(LanesCase):

    DAEMON_ARGS = ("--capacity", "8192")

    def test_far_behind_gets_high_first(self):
        lanes = self.publish_all([LOW] * 3000 + [NORMAL] * 500 + [HIGH] * 10)
        call, _ = self.subscribe(from_sequence=1)
        events, lags = self.read_until(call, len(lanes))
        call.cancel()
        self.assertEqual(lags, [])
        self.assert_tiles(lanes, events, lags)
        # 4:2:1: the ten HIGH events come within the first 20 events.
        first = [lanes[e.sequence] for e in events[:20]]
        self.assertEqual(first.count(HIGH), 10, first)
        self.assertEqual(lanes[events[0].sequence], HIGH)

    def test_keeping_up_is_in_sequence_order(self):
        call, _ = self.subscribe()
        published = []
        for i in range(60):
            published.append(self.publish(event((HIGH, NORMAL, LOW)[i % 3], "k-%d" % i)).sequence)
        events, lags = self.read(call, 60)
        self.assertEqual(lags, [])
        self.assertEqual([e.sequence for e in events], published)


class LaneConfigTest(unittest.TestCase):

    def test_a_lane_capacity_out_of_range_names_the_key_and_line(self):
        directory = tempfile.mkdtemp(prefix="eventbus-lanes-")
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "eventbus.yaml")
        with open(path, "w") as f:
            f.write("bus:\n  lanes:\n    high:\n      capacity: 99999999\n")
        result = subprocess.run([os.environ["EVENTBUSD"], "--config", path],
                                capture_output=True, text=True, timeout=lib.DEADLINE)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("eventbus.yaml:4: bus.lanes.high.capacity: must be between 0 and "
                      "16777216, got 99999999", result.stderr)


if __name__ == "__main__":
    unittest.main()
