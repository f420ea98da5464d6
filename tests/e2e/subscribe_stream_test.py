#!/usr/bin/python3
"""SubscribeStream (many subscriptions on one stream) against the real
eventbusd, through Debian's grpcio:

  - add and cancel: SubscriptionStarted first, each subscription's own
    events (its filter), SubscriptionEnded CANCELLED after a cancel, and the
    subscriber list follows;
  - a duplicate id gets INVALID_ARGUMENT and the other goes on; a cancel of
    an id not open NOT_FOUND; refusals carry Subscribe's codes and messages
    (a bad expression, from_sequence beyond the next, max_subscribers);
  - two subscriptions reading the same 3,000-event backlog, one passing
    only its last event: that event arrives long before the other's
    backlog is through;
  - a stream that stops reading: its DISCONNECT subscription ends with
    RESOURCE_EXHAUSTED "resume from sequence N", its DROP_OLDEST one reports
    exactly what it lost, each by its own policy, and the stream goes on;
  - a client that disconnects with 100 subscriptions open: all leave within
    a second; one that adds 3,000 without reading is paused, then served
    in order; adds and cancels in a stream do not starve its events;
  - a request that does not parse, or has no action: INVALID_ARGUMENT; a
    client that half-closes gets OK once its subscriptions end; a drain ends
    each subscription with OK after its events.

Environment: EVENTBUSD (required), EVENTBUS_PY_OUT (stub scratch directory).
Run: /usr/bin/python3 tests/e2e/subscribe_stream_test.py [-v] [Class.test]
"""

import os
import queue
import re
import signal
import sys
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_client_test as lib  # noqa: E402  (Daemon, stubs, helpers)

RESUME = re.compile(r"resume from sequence (\d+)$")


def setUpModule():
    lib.setUpModule()


class Stream:
    """One SubscribeStream call whose requests the test sends one by one."""

    def __init__(self, test, stub, timeout=lib.DEADLINE * 3):
        self.requests = queue.Queue()
        self.call = stub.SubscribeStream(iter(self.requests.get, None),
                                         timeout=timeout)
        test.addCleanup(self.call.cancel)
        test.addCleanup(self.requests.put, None)

    def add(self, subscription_id, **fields):
        self.requests.put(lib.pb.SubscribeStreamRequest(
            add=lib.pb.AddSubscription(
                subscription_id=subscription_id,
                request=lib.pb.SubscribeRequest(**fields))))

    def cancel(self, subscription_id):
        self.requests.put(lib.pb.SubscribeStreamRequest(cancel=subscription_id))

    def send_raw(self, request):
        self.requests.put(request)

    def close(self):
        self.requests.put(None)

    def next(self):
        return next(self.call)

    def read_until(self, done):
        """Reads responses until done(responses) is true; returns them."""
        responses = []
        while not done(responses):
            responses.append(self.next())
        return responses

    def started(self, subscription_id):
        response = self.next()
        assert response.subscription_id == subscription_id, response
        assert response.WhichOneof("kind") == "started", response
        return response.started.start_sequence


def kind(response):
    return response.WhichOneof("kind")


def events_of(responses, subscription_id):
    return [e.sequence for r in responses
            if r.subscription_id == subscription_id and kind(r) == "response"
            for e in r.response.events]


def ended(responses, subscription_id):
    for r in responses:
        if r.subscription_id == subscription_id and kind(r) == "ended":
            return r.ended
    return None


class SubscribeStreamTest(lib.EventBusTestCase):

    DAEMON_ARGS = ("--max-subscribers", "150", "--capacity", "4096")

    def setUp(self):
        super().setUp()
        self.admin = lib.pb_grpc.AdminServiceStub(self.channel)

    def subscriber_names(self):
        response = self.admin.ListSubscribers(lib.pb.ListSubscribersRequest(),
                                              timeout=lib.DEADLINE)
        return sorted(s.name for s in response.subscribers)

    def test_add_and_cancel(self):
        stream = Stream(self, self.stub)
        stream.add(1, name="all")
        self.assertEqual(stream.started(1), 1)
        stream.add(2, name="spaces", filter=lib.pb.EventFilter(
            expression='type == "space_name"'))
        self.assertEqual(stream.started(2), 1)
        self.assertEqual(self.subscriber_names(), ["all", "spaces"])
        self.publish(lib.audit_event())
        self.publish(lib.space_name_event())
        got = stream.read_until(
            lambda rs: len(events_of(rs, 1)) == 2 and len(events_of(rs, 2)) == 1)
        self.assertEqual(events_of(got, 1), [1, 2])
        self.assertEqual(events_of(got, 2), [2])
        stream.cancel(1)
        got = stream.read_until(lambda rs: ended(rs, 1) is not None)
        self.assertEqual(ended(got, 1).code, grpc.StatusCode.CANCELLED.value[0])
        self.assertEqual(ended(got, 1).message, "cancelled by the client")
        lib.wait_for(lambda: self.subscriber_names() == ["spaces"],
                     lib.DEADLINE, "the cancelled subscription to leave")
        self.publish(lib.audit_event())
        self.publish(lib.space_name_event())
        got = stream.read_until(lambda rs: len(events_of(rs, 2)) == 1)
        self.assertEqual(events_of(got, 2), [4])
        self.assertEqual(events_of(got, 1), [])
        # The id is free again, and starts where the bus is now.
        stream.add(1, from_sequence=3)
        self.assertEqual(stream.started(1), 3)
        got = stream.read_until(lambda rs: len(events_of(rs, 1)) == 2)
        self.assertEqual(events_of(got, 1), [3, 4])

    def test_duplicate_id_and_unknown_cancel(self):
        stream = Stream(self, self.stub)
        stream.add(7)
        stream.started(7)
        stream.add(7, name="again")
        response = stream.next()
        self.assertEqual((response.subscription_id, kind(response)), (7, "ended"))
        self.assertEqual(response.ended.code,
                         grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertEqual(
            response.ended.message,
            "AddSubscription.subscription_id 7 is already open on this "
            "stream: cancel it or pick another id")
        stream.cancel(9)
        response = stream.next()
        self.assertEqual((response.subscription_id, kind(response)), (9, "ended"))
        self.assertEqual(response.ended.code, grpc.StatusCode.NOT_FOUND.value[0])
        # The first one goes on.
        self.publish(lib.audit_event())
        got = stream.read_until(lambda rs: len(events_of(rs, 7)) == 1)
        self.assertEqual(events_of(got, 7), [1])

    def test_refusals_carry_subscribes_codes(self):
        stream = Stream(self, self.stub)
        stream.add(1, filter=lib.pb.EventFilter(
            expression='audit.status == "DENIED"'))
        stream.add(2, from_sequence=5)
        stream.add(3, overflow=9)
        stream.add(4)
        got = stream.read_until(lambda rs: len(rs) == 4)
        self.assertEqual([(r.subscription_id, kind(r)) for r in got],
                         [(1, "ended"), (2, "ended"), (3, "ended"), (4, "started")])
        self.assertEqual(got[0].ended.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertTrue(got[0].ended.message.startswith(
            "filter.expression: column 17: expected an eventbus.v1.AuditStatus"),
            got[0].ended.message)
        self.assertEqual(got[1].ended.code, grpc.StatusCode.OUT_OF_RANGE.value[0])
        self.assertEqual(got[2].ended.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertIn("is not a value of eventbus.v1.Overflow", got[2].ended.message)

    def test_a_backlog_does_not_hold_back_a_live_subscription(self):
        backlog = 3000
        payload = "x" * 1024
        for i in range(0, backlog, 500):
            stream_requests = [
                lib.pb.PublishStreamRequest(events=[
                    lib.space_name_event(name="%s-%d" % (payload, j))
                    for j in range(i, min(i + 500, backlog))])]
            for _ in self.stub.PublishStream(iter(stream_requests),
                                             timeout=lib.DEADLINE):
                pass
        stream = Stream(self, self.stub)
        # Both read the same backlog: the first passes only its last event,
        # the second all of it. The first is added first, so its turns come
        # first whenever the second's add is read.
        stream.add(1, name="last-only", from_sequence=1,
                   filter=lib.pb.EventFilter(
                       expression="sequence == %d" % backlog))
        stream.add(2, name="replay", from_sequence=1)
        got = stream.read_until(lambda rs: len(events_of(rs, 1)) == 1)
        self.assertEqual(events_of(got, 1), [backlog])
        # Its one event came after a few of the replay's responses (about 30
        # events each), not after all of them.
        self.assertLess(len(events_of(got, 2)), backlog // 2)
        got += stream.read_until(
            lambda rs: backlog in events_of(got + rs, 2))
        self.assertEqual(events_of(got, 2), list(range(1, backlog + 1)))

    def test_a_client_that_disconnects_leaves_with_every_subscription(self):
        stream = Stream(self, self.stub)
        for i in range(100):
            stream.add(i, name="s%03d" % i)
        got = stream.read_until(lambda rs: len(rs) == 100)
        self.assertEqual(sorted(r.subscription_id for r in got), list(range(100)))
        self.assertEqual(len(self.subscriber_names()), 100)
        stream.call.cancel()
        cancelled = time.monotonic()
        lib.wait_for(lambda: self.subscriber_names() == [], 1.0,
                     "100 subscriptions to leave")
        self.assertLess(time.monotonic() - cancelled, 1.0)
        self.publish_ok()

    def test_subscriber_limits_count_each_subscription(self):
        stream = Stream(self, self.stub)
        for i in range(150):
            stream.add(i)
        stream.read_until(lambda rs: len(rs) == 150)
        stream.add(150)
        response = stream.next()
        self.assertEqual((response.subscription_id, kind(response)), (150, "ended"))
        self.assertEqual(response.ended.code,
                         grpc.StatusCode.RESOURCE_EXHAUSTED.value[0])
        # A plain Subscribe counts against the same limit.
        self.assert_subscribe_error(grpc.StatusCode.RESOURCE_EXHAUSTED)
        stream.cancel(0)
        self.assertEqual(kind(stream.next()), "ended")
        stream.add(150)
        self.assertEqual(stream.started(150), 1)

    def test_a_client_that_writes_without_reading_is_paused_then_served(self):
        # 3,000 adds, more than the 1,024 control responses the daemon
        # queues before it stops reading: reading pauses while the client
        # reads nothing, and resumes as it reads.
        stream = Stream(self, self.stub)
        for i in range(3000):
            stream.add(i)
        self.publish_ok()  # the daemon serves meanwhile
        got = stream.read_until(
            lambda rs: sum(kind(r) in ("started", "ended") for r in rs) == 3000)
        control = [r for r in got if kind(r) in ("started", "ended")]
        self.assertEqual([r.subscription_id for r in control], list(range(3000)))
        self.assertEqual([kind(r) for r in control[:150]], ["started"] * 150)
        self.assertEqual({(kind(r), r.ended.code) for r in control[150:]},
                         {("ended", grpc.StatusCode.RESOURCE_EXHAUSTED.value[0])})

    def test_adds_and_cancels_do_not_starve_events(self):
        for _ in self.stub.PublishStream(iter([lib.pb.PublishStreamRequest(
                events=[lib.space_name_event(name="n-%d" % i)
                        for i in range(2000)])]), timeout=lib.DEADLINE):
            pass
        stream = Stream(self, self.stub)
        stream.add(1, name="backlog", from_sequence=1)
        for i in range(1000):
            stream.add(1000 + i)
            stream.cancel(1000 + i)
        self.assertEqual(stream.started(1), 1)
        # The whole backlog (a few responses of up to 30 KiB) comes long
        # before the 2,000 control responses are through. (The daemon also
        # alternates control and event responses while both wait; this
        # client does not pipeline fast enough to show that on its own.)
        got = stream.read_until(lambda rs: len(events_of(rs, 1)) == 2000)
        self.assertEqual(events_of(got, 1), list(range(1, 2001)))
        self.assertLess(len(got), 100)

    def test_bad_requests_end_the_stream(self):
        for request, message in [
                (lib.pb.SubscribeStreamRequest(),
                 "request 2 of the stream has no action (add or cancel)"),
                (b"\xff\xff",
                 "request 2 of the stream is not a valid "
                 "eventbus.v1.SubscribeStreamRequest")]:
            with self.subTest(message=message):
                raw = self.channel.stream_stream(
                    "/eventbus.v1.EventBusService/SubscribeStream",
                    request_serializer=lambda r: (
                        r if isinstance(r, bytes) else r.SerializeToString()),
                    response_deserializer=lib.pb.SubscribeStreamResponse.FromString)
                requests = queue.Queue()
                call = raw(iter(requests.get, None), timeout=lib.DEADLINE)
                self.addCleanup(call.cancel)
                self.addCleanup(requests.put, None)
                requests.put(lib.pb.SubscribeStreamRequest(
                    add=lib.pb.AddSubscription(subscription_id=1)))
                self.assertEqual(kind(next(call)), "started")
                requests.put(request)
                with self.assertRaises(grpc.RpcError):
                    while True:
                        next(call)
                self.assertEqual(call.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertTrue(call.details().startswith(message), call.details())
        self.publish_ok()

class HalfCloseTest(lib.EventBusTestCase):
    """A client that half-closes: its stream serves on, and ends with OK."""

    # The daemon logs, at debug, when it has seen the half-close: a drain
    # that came before it would rightly end the call UNAVAILABLE.
    DAEMON_ARGS = ("--log-level", "debug")

    def test_half_close_ends_with_ok_once_subscriptions_end(self):
        stream = Stream(self, self.stub)
        stream.add(1)
        stream.started(1)
        stream.close()
        self.publish(lib.audit_event())
        got = stream.read_until(lambda rs: len(events_of(rs, 1)) == 1)
        self.assertEqual(events_of(got, 1), [1])
        # Closing its side cancels nothing: the subscription still serves
        # until the daemon ends it (a drain here), once the daemon has the
        # half-close.
        self.daemon.wait_for_log(r"subscribe stream of .* half-closed")
        self.daemon.proc.send_signal(signal.SIGTERM)
        got = stream.read_until(lambda rs: ended(rs, 1) is not None)
        self.assertEqual(ended(got, 1).code, 0)
        with self.assertRaises(StopIteration):
            stream.next()
        self.assertEqual(stream.call.code(), grpc.StatusCode.OK)


class StalledStreamTest(lib.EventBusTestCase):
    """A stream that stops reading: every subscription on it falls behind,
    and each one's policy decides what happens to it."""

    DAEMON_ARGS = ("--capacity", "16")

    def test_each_subscription_lags_by_its_own_policy(self):
        stream = Stream(self, self.stub)
        stream.add(1, name="drop", overflow=lib.pb.OVERFLOW_DROP_OLDEST)
        stream.add(2, name="disconnect", overflow=lib.pb.OVERFLOW_DISCONNECT)
        stream.started(1)
        stream.started(2)
        payload = "x" * 4096
        published = 3000
        # Not reading: gRPC's windows fill and the ring laps both.
        for start in range(0, published, 250):
            batch = [lib.pb.PublishStreamRequest(events=[
                lib.space_name_event(name="%s-%d" % (payload, i))
                for i in range(start, start + 250)])]
            for _ in self.stub.PublishStream(iter(batch), timeout=lib.DEADLINE):
                pass
        stream.add(3, name="after", from_sequence=published)
        got = stream.read_until(
            lambda rs: ended(rs, 2) is not None and
            published in events_of(rs, 1) and published in events_of(rs, 3))
        # DISCONNECT: ended, naming where to resume; nothing lost silently.
        end = ended(got, 2)
        self.assertEqual(end.code, grpc.StatusCode.RESOURCE_EXHAUSTED.value[0])
        resume = int(RESUME.search(end.message).group(1))
        self.assertEqual(events_of(got, 2), list(range(1, resume)))
        # DROP_OLDEST: received plus reported lost tile 1..published.
        covered = []
        for r in got:
            if r.subscription_id != 1 or kind(r) != "response":
                continue
            if r.response.HasField("lagged"):
                lag = r.response.lagged
                self.assertEqual(lag.missed, lag.last_sequence - lag.first_sequence + 1)
                covered.extend(range(lag.first_sequence, lag.last_sequence + 1))
            covered.extend(e.sequence for e in r.response.events)
        self.assertEqual(covered, list(range(1, published + 1)))
        self.assertLess(len(events_of(got, 1)), published, "the ring never lapped it")
        self.assertEqual(events_of(got, 3), [published])

    def test_cancelling_a_stalled_stream_ends_it(self):
        # The daemon has a write in flight that cannot complete when the
        # client cancels: the call still finishes and its subscriptions
        # leave at once.
        admin = lib.pb_grpc.AdminServiceStub(self.channel)
        stream = Stream(self, self.stub)
        stream.add(1, name="stalled-a")
        stream.add(2, name="stalled-b")
        stream.started(1)
        stream.started(2)
        payload = "x" * 4096
        batch = [lib.pb.PublishStreamRequest(events=[
            lib.space_name_event(name="%s-%d" % (payload, i))
            for i in range(500)])]
        for _ in self.stub.PublishStream(iter(batch), timeout=lib.DEADLINE):
            pass

        def names():
            return sorted(s.name for s in admin.ListSubscribers(
                lib.pb.ListSubscribersRequest(), timeout=lib.DEADLINE).subscribers)
        self.assertEqual(names(), ["stalled-a", "stalled-b"])
        stream.call.cancel()
        lib.wait_for(lambda: names() == [], 1.0, "the stalled stream's subscriptions to leave")
        self.publish_ok()


if __name__ == "__main__":
    unittest.main()
