#!/usr/bin/python3
"""Overflow policies against the real eventbusd, through Debian's grpcio.

Each case starts its own eventbusd with --capacity 16. Events carry 4 KiB so
that a subscriber that stops reading fills gRPC's flow-control windows within
a few thousand events: from then on the daemon cannot write to it, its
cursor stops, and the ring overflows it for real.

  - BLOCK, reading slowly: gets all 5,000 events in order without a Lagged,
    while a DROP_OLDEST subscriber beside it that did not read is told of
    its loss (so the ring did overflow);
  - BLOCK, stalled: publishers wait, then after --max-block the stream ends
    with RESOURCE_EXHAUSTED naming the next sequence; publishing goes on,
    and resuming from there reports the loss as a Lagged notice;
  - BLOCK holding a unary Publish past its deadline: DEADLINE_EXCEEDED, no
    sequence consumed; cancelling the subscriber releases publishing at once;
  - BLOCK holding a PublishStream: every event is acknowledged, in order,
    after the hold;
  - DISCONNECT: never slows publishing; ends with RESOURCE_EXHAUSTED naming
    the next sequence;
  - an unknown Overflow value: INVALID_ARGUMENT; --max-block out of range:
    exit status 2 naming the key.

Environment: EVENTBUSD (required), EVENTBUS_PY_OUT (stub scratch directory).
Run: /usr/bin/python3 tests/e2e/overflow_test.py [-v] [Class.test]
"""

import os
import re
import sys
import tempfile
import threading
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_client_test as lib  # noqa: E402  (Daemon, stubs, helpers)

CAPACITY = 16
PAYLOAD = "x" * 4096
RESUME = re.compile(r"resume from sequence (\d+)$")


def setUpModule():
    lib.setUpModule()


def big_event(i):
    event = lib.space_name_event(name="e-%d" % i)
    event.source = PAYLOAD
    return event


class OverflowCase(lib.EventBusTestCase):

    MAX_BLOCK = "10s"

    @property
    def DAEMON_ARGS(self):  # noqa: N802 (the base class's name)
        return ("--capacity", str(CAPACITY), "--max-block", self.MAX_BLOCK)

    def subscribe_overflow(self, overflow, **fields):
        return self.subscribe(overflow=overflow, timeout=60, **fields)

    def read_until_end(self, call):
        """Reads a stream to its end. Returns (events, lags, error)."""
        events, lags = [], []
        try:
            for response in call:
                if response.HasField("lagged"):
                    lags.append(response.lagged)
                events.extend(response.events)
        except grpc.RpcError as error:
            return events, lags, error
        return events, lags, None

    def assert_resume_point(self, error, events, first=1):
        """The stream ended RESOURCE_EXHAUSTED right after its last event,
        naming the sequence after it; returns that sequence."""
        self.assertIsNotNone(error, "the stream did not end")
        self.assertEqual(error.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, error.details())
        match = RESUME.search(error.details())
        self.assertIsNotNone(match, error.details())
        resume = int(match.group(1))
        self.assertEqual([e.sequence for e in events], list(range(first, resume)))
        return resume


class BlockTest(OverflowCase):

    def test_slow_reader_gets_every_event_without_lag(self):
        total = 5000
        block, _ = self.subscribe_overflow(lib.pb.OVERFLOW_BLOCK, name="slow-block")
        drop, _ = self.subscribe_overflow(lib.pb.OVERFLOW_DROP_OLDEST, name="idle-drop")
        sequences = []

        def publish():
            for i in range(total):
                sequences.append(self.publish(big_event(i)).sequence)

        publisher = threading.Thread(target=publish)
        publisher.start()
        got, lags = [], []
        for response in block:
            if response.HasField("lagged"):
                lags.append(response.lagged)
            got.extend(response.events)
            if len(got) % 100 < len(response.events):
                time.sleep(0.002)  # a slow reader
            if len(got) >= total:
                break
        publisher.join(timeout=60)
        self.assertFalse(publisher.is_alive())
        self.assertEqual(sequences, list(range(1, total + 1)))
        self.assertEqual(lags, [])
        self.assertEqual([e.sequence for e in got], list(range(1, total + 1)))
        self.assertEqual(got[-1].space_name.name, "e-%d" % (total - 1))
        # The subscriber that did not read loses events: the ring overflowed.
        lagged = next((r.lagged for r in drop if r.HasField("lagged")), None)
        self.assertIsNotNone(lagged, "the idle DROP_OLDEST subscriber saw no Lagged")


class StalledBlockTest(OverflowCase):

    MAX_BLOCK = "300ms"

    def test_stalled_reader_is_ended_after_max_block_and_publishing_goes_on(self):
        stalled, _ = self.subscribe_overflow(lib.pb.OVERFLOW_BLOCK, name="stalled")
        total = 3000
        slowest = 0.0
        for i in range(total):
            start = time.monotonic()
            self.assertEqual(self.publish(big_event(i)).sequence, i + 1)
            slowest = max(slowest, time.monotonic() - start)
        self.assertGreaterEqual(slowest, 0.3, "no publish was held back")
        self.assertLess(slowest, 5.0)

        # What the daemon had written before is delivered, then the end.
        events, lags, error = self.read_until_end(stalled)
        self.assertEqual(lags, [])
        resume = self.assert_resume_point(error, events)
        self.assertIn("bus.max_block (300ms)", error.details())
        self.daemon.wait_for_log(r"subscriber 'stalled' .* ended: .*bus\.max_block")

        # Resuming tells of what was lost meanwhile, then goes on.
        again, _ = self.subscribe_overflow(lib.pb.OVERFLOW_BLOCK, from_sequence=resume)
        response = next(again)
        self.assertTrue(response.HasField("lagged"))
        self.assertEqual(response.lagged.first_sequence, resume)
        self.assertEqual(response.lagged.last_sequence, total - CAPACITY)
        self.publish_ok()

    def test_two_stalled_readers_are_both_ended_and_publishing_goes_on(self):
        first, _ = self.subscribe_overflow(lib.pb.OVERFLOW_BLOCK)
        second, _ = self.subscribe_overflow(lib.pb.OVERFLOW_BLOCK)
        start = time.monotonic()
        for i in range(3000):
            self.publish(big_event(i))
        self.assertLess(time.monotonic() - start, 5.0)
        for call in (first, second):
            _, _, error = self.read_until_end(call)
            self.assertEqual(error.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)


class HeldPublishTest(OverflowCase):

    def hold(self):
        """Opens a stalled BLOCK subscriber and publishes until a publish is
        held past a 0.5 s deadline. Returns (call, sequence it would get)."""
        call, _ = self.subscribe_overflow(lib.pb.OVERFLOW_BLOCK, name="holder")
        for i in range(20000):
            try:
                response = self.stub.Publish(lib.pb.PublishRequest(event=big_event(i)),
                                             timeout=0.5)
            except grpc.RpcError as error:
                self.assertEqual(error.code(), grpc.StatusCode.DEADLINE_EXCEEDED,
                                 error.details())
                return call, i + 1
            self.assertEqual(response.sequence, i + 1)
        self.fail("no publish was held back")

    def test_deadline_ends_a_held_publish_without_a_sequence(self):
        call, sequence = self.hold()
        call.cancel()  # releases the publishers at once
        start = time.monotonic()
        self.assertEqual(self.publish(big_event(-1)).sequence, sequence)
        self.assertLess(time.monotonic() - start, 5.0)  # far below max_block 10s

    def test_publish_stream_is_acknowledged_in_order_after_the_hold(self):
        call, sequence = self.hold()
        total = 500
        acks = []

        def requests():
            for i in range(total):
                yield lib.pb.PublishStreamRequest(event=big_event(i))

        stream = self.stub.PublishStream(requests(), timeout=60)

        def read_acks():
            for response in stream:
                acks.extend(response.acks)

        reader = threading.Thread(target=read_acks)
        reader.start()
        # The stalled subscriber holds the stream's first event, until it
        # goes (long before max_block).
        self.assertEqual(acks, [])
        call.cancel()
        reader.join(timeout=30)
        self.assertFalse(reader.is_alive())
        self.assertEqual([a.sequence for a in acks],
                         list(range(sequence, sequence + total)))


class DisconnectTest(OverflowCase):

    def test_disconnect_ends_naming_the_next_sequence_and_never_holds(self):
        call, _ = self.subscribe_overflow(lib.pb.OVERFLOW_DISCONNECT, name="disc")
        start = time.monotonic()
        for i in range(3000):
            self.publish(big_event(i))
        self.assertLess(time.monotonic() - start, 10.0)
        events, lags, error = self.read_until_end(call)
        self.assertEqual(lags, [])
        self.assert_resume_point(error, events)
        self.assertIn("DISCONNECT", error.details())
        self.assertIn("bus.capacity (16)", error.details())


class BadOverflowTest(OverflowCase):

    def test_unknown_overflow_value_is_invalid_argument(self):
        self.assert_subscribe_error(grpc.StatusCode.INVALID_ARGUMENT,
                                    "SubscribeRequest.overflow 7", overflow=7)
        self.publish_ok()

    def test_max_block_out_of_range_exits_2_naming_the_key(self):
        config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        self.addCleanup(os.unlink, config.name)
        config.write("bus:\n  max_block: 0s\n")
        config.close()
        for args, key in ((["--max-block", "2h"], "--max-block"),
                          (["--config", config.name], ":2: bus.max_block")):
            with self.subTest(args=args):
                result = lib.ConfigTest.run_daemon(self, *args)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(key, result.stderr)
                self.assertIn("between 1ms and 1h", result.stderr)


if __name__ == "__main__":
    unittest.main()
