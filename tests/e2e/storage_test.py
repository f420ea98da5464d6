#!/usr/bin/python3
"""The durable log (storage.*) against the real eventbusd, through grpcio.

Each case starts its own eventbusd over a directory of its own:
  - a restart over the same directory keeps the instance id and every
    event byte for byte, and numbering goes on;
  - SIGKILL during a full-rate PublishStream with fsync always: after the
    restart every acknowledged event is there, with its id, without gaps;
  - capacity 16 with a paused subscriber and 5,000 events: it receives all
    of them, from disk, without a Lagged;
  - a torn tail is cut off at start and logged; numbering goes on;
  - retention by events and by bytes removes the oldest whole segments and
    a reader from sequence 1 gets the exact Lagged range, then the rest;
  - a full disk (a small tmpfs; skipped when mount is refused) refuses
    publishes with UNAVAILABLE while subscribers are served, and publishing
    resumes by itself once there is room;
  - bad storage settings: exit status 2 naming the key.

Environment: EVENTBUSD (required), EVENTBUS_PY_OUT (stub scratch directory).
Run: /usr/bin/python3 tests/e2e/storage_test.py [-v] [Class.test]
"""

import glob
import os
import subprocess
import sys
import tempfile
import threading
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_client_test as lib  # noqa: E402  (Daemon, stubs, helpers)


def setUpModule():
    lib.setUpModule()


class StorageCase(lib.EventBusTestCase):
    """A daemon over self.dir (created per test, removed after)."""

    EXTRA_ARGS = ()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="eventbus-storage-")
        self.addCleanup(self.tmp.cleanup)
        self.dir = os.path.join(self.tmp.name, "log")
        super().setUp()

    @property
    def DAEMON_ARGS(self):  # noqa: N802 (the base class's name)
        return ("--storage-path", self.dir, *self.EXTRA_ARGS)

    def restart(self, *extra, kill=False):
        """Stops the daemon (SIGKILL with `kill`) and starts another over
        the same directory; returns it (self.stub follows it)."""
        if kill:
            self.daemon.proc.kill()
            self.daemon.wait()
            self.daemon.stop = lambda *args, **kwargs: 0  # killed on purpose
        else:
            self.assertEqual(self.daemon.stop(), 0, self.daemon.log())
        self.daemon = self.start_daemon(*self.DAEMON_ARGS, *extra)
        self.channel = self.open_channel(self.daemon)
        self.stub = lib.pb_grpc.EventBusServiceStub(self.channel)
        return self.daemon

    def earliest(self, count):
        """The first `count` events from the oldest kept, and any lags."""
        call, metadata = self.subscribe(from_earliest=True)
        events, lags = [], []
        while len(events) < count:
            response = next(call)
            if response.HasField("lagged"):
                lags.append((response.lagged, len(events)))
            events.extend(response.events)
        call.cancel()
        return events[:count], lags, metadata


class RestartTest(StorageCase):

    def test_restart_keeps_instance_events_and_numbering(self):
        sent = [self.publish(lib.audit_event(id="ev-%d" % i)) for i in range(50)]
        self.assertEqual([r.sequence for r in sent], list(range(1, 51)))
        before, _, metadata = self.earliest(50)
        instance = metadata[lib.INSTANCE_KEY]
        self.daemon.wait_for_log(r"storage: created ")
        self.restart()
        self.daemon.wait_for_log(r"storage: recovered .* sequences 1\.\.50")
        after, lags, metadata = self.earliest(50)
        self.assertEqual(metadata[lib.INSTANCE_KEY], instance)
        self.assertEqual(lags, [])
        self.assertEqual([e.SerializeToString() for e in after],
                         [e.SerializeToString() for e in before])
        self.assertEqual(self.publish(lib.audit_event()).sequence, 51)

    def test_a_torn_tail_is_cut_off_and_numbering_goes_on(self):
        for _ in range(10):
            self.publish(lib.audit_event())
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log())
        segment = sorted(glob.glob(os.path.join(self.dir, "*.log")))[-1]
        with open(segment, "ab") as out:
            out.write(b"\x40\x00\x00\x00torn")
        self.restart()
        self.daemon.wait_for_log(r"warning storage: torn tail cut off: .* 8 bytes dropped")
        events, lags, _ = self.earliest(10)
        self.assertEqual([e.sequence for e in events], list(range(1, 11)))
        self.assertEqual(self.publish(lib.audit_event()).sequence, 11)


class CrashTest(StorageCase):

    def test_sigkill_during_publish_stream_loses_no_acknowledged_event(self):
        acked = {}
        stop = threading.Event()
        enough = threading.Event()  # 3,000 acknowledged, or the stream ended

        def requests():
            i = 0
            while not stop.is_set():
                yield lib.pb.PublishStreamRequest(events=[
                    lib.space_name_event(name="n-%d" % (i + k)) for k in range(16)])
                i += 16

        def read_acks():
            try:
                for response in self.stub.PublishStream(requests(), timeout=60):
                    for ack in response.acks:
                        acked[ack.sequence] = ack.id
                    if len(acked) >= 3000:
                        enough.set()
                    if len(acked) >= 20000:
                        stop.set()
            except grpc.RpcError:
                pass  # the daemon was killed
            enough.set()
        reader = threading.Thread(target=read_acks, daemon=True)
        reader.start()
        enough.wait(lib.DEADLINE)
        self.assertGreaterEqual(len(acked), 3000, "too few acknowledgements")
        self.restart(kill=True)
        stop.set()
        reader.join(lib.DEADLINE)
        kept = self.publish(lib.audit_event()).sequence - 1
        self.assertGreaterEqual(kept, max(acked))
        events, lags, _ = self.earliest(kept)
        self.assertEqual(lags, [])
        self.assertEqual([e.sequence for e in events], list(range(1, kept + 1)))
        ids = {e.sequence: e.id for e in events}
        for sequence, event_id in acked.items():
            self.assertEqual(ids[sequence], event_id, sequence)


class BehindTheRingTest(StorageCase):

    EXTRA_ARGS = ("--capacity", "16")

    def test_a_paused_subscriber_gets_everything_from_disk(self):
        call, _ = self.subscribe(timeout=120)
        # 4 KiB each: the paused stream's flow-control windows fill, so the
        # daemon's cursor for it stops and the ring laps it.
        for i in range(0, 5000, 100):
            batch = [lib.space_name_event(name="p-%d" % (i + k), source="x" * 4096)
                     for k in range(100)]
            acks = list(self.stub.PublishStream(
                iter([lib.pb.PublishStreamRequest(events=batch)]), timeout=lib.DEADLINE))
            self.assertEqual(sum(len(r.acks) for r in acks), 100)
        events, lags = self.read(call, 5000)
        self.assertEqual(lags, [])
        self.assertEqual([e.sequence for e in events], list(range(1, 5001)))


class RetentionCase(StorageCase):
    """Retention over 64 KiB segments of 4 KiB events (15 to a segment):
    the oldest closed segments go while the log is over its limit, and a
    reader from sequence 1 is told exactly which sequences went. The ring
    holds 16 events: what it still caches is served from memory."""

    EVENTS = 300

    def fill_and_await_retention(self):
        for i in range(0, self.EVENTS, 50):
            batch = [lib.space_name_event(name="r-%d" % (i + k), source="x" * 4096)
                     for k in range(50)]
            acks = list(self.stub.PublishStream(
                iter([lib.pb.PublishStreamRequest(events=batch)]), timeout=lib.DEADLINE))
            self.assertEqual(sum(len(r.acks) for r in acks), 50)
        # Retention runs once a second and logs what it removed; a pass
        # during the fill may be followed by another: wait for the one that
        # brought the log within its limit.
        match = self.daemon.wait_for_last_match(
            r"storage: retention removed \d+ segments; the log starts at "
            r"sequence (\d+)", lambda m: self.within_limit(int(m.group(1))))
        return int(match.group(1))

    def read_from_one(self, oldest):
        """Subscribes from sequence 1; checks that it is told of the removed
        range 1..oldest-1 first, then gets every later event."""
        call, _ = self.subscribe(from_sequence=1)
        first = next(call)
        self.assertTrue(first.HasField("lagged"), "no Lagged first: %s" % first)
        lagged = first.lagged
        self.assertEqual((lagged.first_sequence, lagged.last_sequence, lagged.missed),
                         (1, oldest - 1, oldest - 1))
        events = list(first.events)
        while len(events) < self.EVENTS - oldest + 1:
            response = next(call)
            self.assertFalse(response.HasField("lagged"), response.lagged)
            events.extend(response.events)
        call.cancel()
        self.assertEqual([e.sequence for e in events],
                         list(range(oldest, self.EVENTS + 1)))


class RetentionByEventsTest(RetentionCase):

    EXTRA_ARGS = ("--capacity", "16", "--storage-segment-bytes", "64KiB",
                  "--retention-max-bytes", "0", "--retention-max-events", "100")

    def within_limit(self, oldest):
        return self.EVENTS - oldest + 1 <= 100

    def test_the_oldest_segments_go_and_the_reader_is_told(self):
        oldest = self.fill_and_await_retention()
        # Whole segments only: no more than a segment's worth below 100.
        self.assertGreater(self.EVENTS - oldest + 1, 100 - 16)
        self.read_from_one(oldest)


class RetentionByBytesTest(RetentionCase):

    EXTRA_ARGS = ("--capacity", "16", "--storage-segment-bytes", "64KiB",
                  "--retention-max-bytes", "512KiB")

    def on_disk(self):
        return sum(os.path.getsize(path)
                   for path in glob.glob(os.path.join(self.dir, "*.log")))

    def within_limit(self, oldest):
        return self.on_disk() <= 512 * 1024

    def test_the_oldest_segments_go_and_the_reader_is_told(self):
        oldest = self.fill_and_await_retention()
        # Whole segments only: no more than a segment's worth below.
        self.assertGreater(self.on_disk(), 512 * 1024 - 2 * 64 * 1024)
        self.read_from_one(oldest)


class FullDiskTest(lib.EventBusTestCase):
    """A 1 MiB tmpfs as storage.path (needs root; skipped otherwise)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="eventbus-enospc-")
        self.addCleanup(self.tmp.cleanup)
        self.mount = os.path.join(self.tmp.name, "disk")
        os.mkdir(self.mount)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                                  self.mount], capture_output=True, text=True)
        if mounted.returncode != 0:
            self.skipTest("cannot mount a tmpfs: " + mounted.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", self.mount])
        self.DAEMON_ARGS = ("--storage-path", os.path.join(self.mount, "log"),
                            "--storage-segment-bytes", "64KiB",
                            "--retention-max-bytes", "0")
        super().setUp()

    def test_full_disk_refuses_publishes_and_heals(self):
        event = lib.space_name_event(source="z" * 8192)
        sequence = 0
        with self.assertRaises(grpc.RpcError) as caught:
            for _ in range(1000):
                sequence = self.publish(event).sequence
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("No space left on device", caught.exception.details())
        self.assertGreater(sequence, 10)
        # Subscribers are still served, from what was stored.
        events, lags, _ = StorageCase.earliest(self, 5)
        self.assertEqual([e.sequence for e in events], [1, 2, 3, 4, 5])
        subprocess.run(["mount", "-o", "remount,size=4m", self.mount], check=True)
        self.assertEqual(self.publish(event).sequence, sequence + 1)


class ConfigErrorTest(unittest.TestCase):

    def run_daemon(self, *args):
        return subprocess.run([os.environ["EVENTBUSD"], "--address", "127.0.0.1:0", *args],
                              capture_output=True, text=True, timeout=lib.DEADLINE)

    def test_bad_settings_exit_2_naming_the_key(self):
        with tempfile.TemporaryDirectory(prefix="eventbus-storage-config-") as tmp:
            a_file = os.path.join(tmp, "file")
            open(a_file, "w").close()
            cases = [
                (("--storage-fsync", "sometimes"), "--storage-fsync: must be always, never"),
                (("--storage-segment-bytes", "1KiB"), "--storage-segment-bytes"),
                (("--storage-repair", "yes"), "--storage-repair: must be true or false"),
                (("--storage-path", a_file), "storage.path: "),
            ]
            for args, message in cases:
                with self.subTest(args=args):
                    result = self.run_daemon(*args)
                    self.assertEqual(result.returncode, 2, result.stderr)
                    self.assertIn(message, result.stderr)
            yaml = os.path.join(tmp, "eventbus.yaml")
            with open(yaml, "w") as out:
                out.write("storage:\n  path: %s\n  fsync: 0s\n" % tmp)
            result = self.run_daemon("--config", yaml)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn("eventbus.yaml:3: storage.fsync", result.stderr)

    def test_one_daemon_per_directory(self):
        with tempfile.TemporaryDirectory(prefix="eventbus-storage-lock-") as tmp:
            first = lib.Daemon("--storage-path", tmp)
            try:
                result = self.run_daemon("--storage-path", tmp)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn("another eventbusd uses this storage.path", result.stderr)
            finally:
                self.assertEqual(first.stop(), 0)


if __name__ == "__main__":
    unittest.main()
