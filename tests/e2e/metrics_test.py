#!/usr/bin/python3
"""The Prometheus endpoint of the real eventbusd, read with a real HTTP
client (urllib) and checked with Debian's promtool.

  - the published, refused, delivered and missed totals equal what the test
    did, exactly: a named subscriber that stops reading is lapped for real,
    and one that starts from sequence 1 after the ring moved on is told of
    the range it lost; the latency histogram counts every delivery but
    replays;
    `promtool check metrics` finds nothing to say;
  - a cancelled subscriber is counted as ended (cancelled);
  - /healthz is 200 while serving and 503 while draining;
  - an unknown path is 404, a POST 405 (Allow: GET), oversized headers are
    refused and a request that never finishes is cut off;
  - with the durable log, the storage families appear and fsyncs are timed;
  - a metrics.address that cannot be bound exits with status 2 naming it.

Environment: EVENTBUSD (required), EVENTBUS_PY_OUT (stub scratch directory).
Run: /usr/bin/python3 tests/e2e/metrics_test.py [-v] [Class.test]
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_client_test as lib  # noqa: E402  (Daemon, stubs, helpers)

METRICS_LINE = re.compile(r"metrics on http://(\S+)/metrics")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def setUpModule():
    lib.setUpModule()
    if shutil.which("promtool") is None:
        raise unittest.SkipTest("promtool (Debian's prometheus) is not installed; "
                                "scripts/install-deps --test installs it")


def parse_samples(text):
    """{'name{labels}': value} of every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, "not a sample line: %r" % line
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


class MetricsCase(lib.EventBusTestCase):

    DAEMON_ARGS = ("--capacity", "8", "--metrics-address", "127.0.0.1:0",
                   "--drain-timeout", "3s")

    def setUp(self):
        super().setUp()
        self.http = METRICS_LINE.search(self.daemon.wait_for_log(METRICS_LINE.pattern)).group(1)

    def get(self, path):
        """(status, headers, body) of GET http://metrics/path."""
        try:
            with urllib.request.urlopen("http://%s%s" % (self.http, path),
                                        timeout=lib.DEADLINE) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def scrape(self):
        status, headers, body = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        return body, parse_samples(body)

    def wait_for_sample(self, name, value):
        deadline = time.monotonic() + lib.DEADLINE
        while True:
            _, samples = self.scrape()
            if samples.get(name) == value:
                return samples
            if time.monotonic() > deadline:
                self.fail("%s is %s, not %s" % (name, samples.get(name), value))
            time.sleep(0.05)  # polling a remote counter: there is no signal to wait on

    def promtool_check(self, text):
        checked = subprocess.run(["promtool", "check", "metrics"], input=text,
                                 capture_output=True, text=True, timeout=lib.DEADLINE)
        self.assertEqual((checked.returncode, checked.stdout + checked.stderr), (0, ""))


class MetricsTest(MetricsCase):

    def test_totals_match_what_happened_exactly(self):
        for _ in range(3):  # no event: INVALID_ARGUMENT, nothing published
            self.assert_publish_error(lib.pb.PublishRequest(),
                                      grpc.StatusCode.INVALID_ARGUMENT)
        # A named subscriber that does not read while 50 large events fill
        # gRPC's windows: the 8-event ring laps it.
        slow, _ = self.subscribe(name="slow", timeout=60)
        big = "x" * (900 * 1024)
        for i in range(50):
            event = lib.space_name_event(name="m-%d" % i)
            event.source = big
            self.publish(event)
        _, samples = self.scrape()
        self.assertGreater(samples['eventbus_subscriber_behind_events{subscriber="slow"}'], 0)
        got, missed = 0, 0
        while got + missed < 50:
            response = next(slow)
            if response.HasField("lagged"):
                missed += response.lagged.missed
            got += len(response.events)
        self.assertGreater(missed, 0, "the slow subscriber was never lapped")
        # One that starts behind what the ring keeps: told 1..42, gets 43..50.
        late, _ = self.subscribe(from_sequence=1)
        first = next(late)
        self.assertEqual((first.lagged.first_sequence, first.lagged.last_sequence), (1, 42))
        events = list(first.events)
        if len(events) < 8:
            events += self.read(late, 8 - len(events))[0]
        self.assertEqual([e.sequence for e in events], list(range(43, 51)))

        text, samples = self.scrape()
        self.assertEqual(samples["eventbus_events_published_total"], 50)
        self.assertEqual(samples['eventbus_publish_rejected_total{code="INVALID_ARGUMENT"}'], 3)
        self.assertEqual(samples["eventbus_events_delivered_total"], got + 8)
        self.assertEqual(samples["eventbus_events_missed_total"], missed + 42)
        # The late subscriber's 8 are a replay (published before it
        # subscribed): not latency.
        self.assertEqual(samples["eventbus_delivery_latency_seconds_count"], got)
        self.assertEqual(samples['eventbus_delivery_latency_seconds_bucket{le="+Inf"}'], got)
        self.assertEqual(samples["eventbus_subscribers"], 2)
        self.assertEqual(samples['eventbus_subscriber_behind_events{subscriber="slow"}'], 0)
        self.assertEqual(samples["eventbus_head_sequence"], 50)
        self.assertEqual(samples["eventbus_oldest_sequence"], 43)
        self.assertEqual(samples["eventbus_ring_events"], 8)
        self.assertEqual(samples["eventbus_ring_capacity"], 3 * 8)  # three lanes
        for lane, held in (("high", 0), ("normal", 8), ("low", 0)):
            self.assertEqual(samples['eventbus_lane_events{priority="%s"}' % lane], held)
            self.assertEqual(samples['eventbus_lane_capacity{priority="%s"}' % lane], 8)
        self.assertEqual(samples['eventbus_build_info{version="0.1.0"}'], 1)
        for family in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                       "process_open_fds", "process_max_fds", "process_start_time_seconds"):
            self.assertIn(family, samples)
        self.assertNotIn("eventbus_storage_bytes", samples)
        self.promtool_check(text)

        late.cancel()
        self.wait_for_sample('eventbus_subscriptions_ended_total{reason="cancelled"}', 1)
        samples = self.wait_for_sample("eventbus_subscribers", 1)
        # What the cancelled one counted stays in the totals.
        self.assertEqual(samples["eventbus_events_delivered_total"], got + 8)

    def test_subscriber_names_are_escaped_and_series_bounded(self):
        call, _ = self.subscribe(name='a "quoted"\nname\\')
        self.publish_ok()
        self.read(call, 1)
        text, samples = self.scrape()
        self.assertIn('eventbus_subscriber_behind_events{subscriber="a \\"quoted\\"\\nname\\\\"} 0',
                      text)
        self.promtool_check(text)
        self.assertEqual(samples["eventbus_subscriber_series_omitted"], 0)

    def test_http_errors(self):
        status, _, body = self.get("/")
        self.assertEqual(status, 404)
        status, _, _ = self.get("/metrics/extra")
        self.assertEqual(status, 404)
        request = urllib.request.Request("http://%s/metrics" % self.http, data=b"x",
                                         method="POST")
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=lib.DEADLINE)
        self.assertEqual(caught.exception.code, 405)
        self.assertEqual(caught.exception.headers["Allow"], "GET")

    def raw(self, data, timeout=lib.DEADLINE):
        """Sends `data`, returns everything the server sent until it closed."""
        host, port = self.http.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=timeout) as conn:
            conn.sendall(data)
            received = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return received
                received += chunk

    def test_oversized_and_unfinished_requests_are_cut_off(self):
        huge = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20000 + b"\r\n\r\n"
        answer = self.raw(huge)
        self.assertNotIn(b" 200 ", answer.split(b"\r\n", 1)[0])
        # Half a request: the server closes within its request timeout (5s).
        start = time.monotonic()
        answer = self.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\n", timeout=15)
        self.assertLess(time.monotonic() - start, 12)
        self.assertNotIn(b" 200 ", answer)
        # And it still serves.
        self.assertEqual(self.get("/healthz")[0], 200)

    def test_healthz_turns_503_while_draining(self):
        status, _, body = self.get("/healthz")
        self.assertEqual((status, body), (200, "serving\n"))
        # A subscriber that does not read keeps the drain going (3s).
        self.subscribe(name="stuck", timeout=30)
        big = "x" * (900 * 1024)
        for i in range(20):
            event = lib.space_name_event(name="d-%d" % i)
            event.source = big
            self.publish(event)
        self.daemon.terminate()
        self.daemon.wait_for_log("draining")
        status, _, body = self.get("/healthz")
        self.assertEqual((status, body), (503, "draining\n"))


class DurableMetricsTest(MetricsCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="eventbus-metrics-")
        self.addCleanup(self.tmp.cleanup)
        super().setUp()

    @property
    def DAEMON_ARGS(self):  # noqa: N802 (the base class's name)
        return (*MetricsCase.DAEMON_ARGS, "--storage-path", os.path.join(self.tmp.name, "log"))

    def test_storage_families(self):
        for _ in range(5):
            self.publish_ok()
        text, samples = self.scrape()
        self.assertGreater(samples["eventbus_storage_bytes"], 0)
        self.assertEqual(samples["eventbus_storage_segments"], 1)
        self.assertGreaterEqual(samples["eventbus_storage_fsync_duration_seconds_count"], 1)
        self.promtool_check(text)


class MetricsConfigTest(unittest.TestCase):

    def run_daemon(self, *args):
        return subprocess.run([os.environ["EVENTBUSD"], "--address", "127.0.0.1:0", *args],
                              capture_output=True, text=True, timeout=lib.DEADLINE)

    def test_address_in_use_exits_2_naming_the_key(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = self.run_daemon("--metrics-address", "127.0.0.1:%d" % port)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("metrics.address: cannot listen on 127.0.0.1:%d" % port, result.stderr)

    def test_bad_address_exits_2_naming_the_key(self):
        result = self.run_daemon("--metrics-address", "localhost:9464")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--metrics-address: expected IPv4:port", result.stderr)


if __name__ == "__main__":
    unittest.main()
