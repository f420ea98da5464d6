#!/usr/bin/python3
"""AdminService of the real eventbusd, through Python's grpcio (a client
independent of our C++ stubs), as `eventbus subscribers`, `info` and `top`
and other clients meet it:

  - GetBusInfo: head, oldest, capacity, published, missed, delivered and
    the subscriber count equal what the test did; `instance` equals the
    `eventbus-instance` header; uptime grows;
  - ListSubscribers: each open stream with its name, peer, start time,
    filter, overflow, next sequence, behind, received and missed, exact
    for a stream that lost events for real (from_sequence before the ring);
    a cancelled stream leaves the list;
  - with authentication on: the `admin` grant is needed (PERMISSION_DENIED
    for a publish,subscribe token, UNAUTHENTICATED without a token), and
    combines with the others.

Environment: EVENTBUSD (required), EVENTBUS_PY_OUT (stub scratch directory).
Run: /usr/bin/python3 tests/e2e/admin_test.py [-v] [Class.test]
"""

import os
import sys
import tempfile
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_client_test as lib  # noqa: E402  (Daemon, stubs, helpers)

PUBLISHER = "publisher-0123456789abcdef"
OPERATOR = "operator-0123456789abcdef"
EVERYTHING = "everything-0123456789abcdef"


def setUpModule():
    lib.setUpModule()


def bearer(token):
    return [("authorization", "Bearer " + token)]


class AdminTest(lib.EventBusTestCase):

    DAEMON_ARGS = ("--capacity", "4")

    def setUp(self):
        super().setUp()
        self.admin = lib.pb_grpc.AdminServiceStub(self.channel)

    def subscribers(self):
        response = self.admin.ListSubscribers(lib.pb.ListSubscribersRequest(),
                                              timeout=lib.DEADLINE)
        return {s.name: s for s in response.subscribers}

    def test_bus_info_counts_what_happened(self):
        info, call = self.admin.GetBusInfo.with_call(lib.pb.GetBusInfoRequest(),
                                                     timeout=lib.DEADLINE)
        self.assertEqual(info.instance, dict(call.initial_metadata())["eventbus-instance"])
        self.assertEqual(info.head_sequence, 0)
        self.assertEqual(info.oldest_sequence, 1)
        self.assertEqual(info.capacity, 3 * 4)  # three lanes
        self.assertEqual((info.subscribers, info.published, info.missed), (0, 0, 0))
        first_uptime = info.uptime.ToTimedelta()

        live, _ = self.subscribe(name="live")
        for _ in range(6):
            self.publish_ok()
        self.read(live, 6)
        # Resuming from 1 with a 4-event ring: 1..2 are lost for real.
        late, _ = self.subscribe(name="late", from_sequence=1)
        got, lags = self.read(late, 4)
        self.assertEqual([lag.missed for lag, _ in lags], [2])

        info = self.admin.GetBusInfo(lib.pb.GetBusInfoRequest(), timeout=lib.DEADLINE)
        self.assertEqual(info.head_sequence, 6)
        self.assertEqual(info.oldest_sequence, 3)
        self.assertEqual(info.ring_events, 4)
        self.assertEqual(info.subscribers, 2)
        self.assertEqual(info.published, 6)
        self.assertEqual(info.missed, 2)
        self.assertEqual(info.delivered, 6 + 4)
        self.assertEqual(info.blocked_publishers, 0)
        self.assertGreater(info.uptime.ToTimedelta(), first_uptime)

    def test_subscribers_are_listed_with_their_numbers(self):
        self.assertEqual(self.subscribers(), {})
        before = time.time()
        audit = lib.pb.EventFilter(types=[lib.pb.EVENT_TYPE_SPACE_NAME],
                                   attributes={"team": "ml"})
        monitor, _ = self.subscribe(name="audit-monitor", filter=audit,
                                    overflow=lib.pb.OVERFLOW_BLOCK)
        anonymous, _ = self.subscribe()
        for _ in range(3):
            self.publish_ok()  # no "team" attribute: the monitor skips them
        self.read(anonymous, 3)
        late, _ = self.subscribe(name="late", from_sequence=1,
                                 overflow=lib.pb.OVERFLOW_DISCONNECT)
        # The ring still holds 1..3: the DISCONNECT stream loses nothing.
        self.read(late, 3)

        listed = self.subscribers()
        self.assertEqual(set(listed), {"audit-monitor", "", "late"})
        m = listed["audit-monitor"]
        self.assertTrue(m.peer.startswith("ipv4:127.0.0.1:"), m.peer)
        self.assertGreaterEqual(m.start_time.ToNanoseconds(), int(before * 1e9) - 10**9)
        self.assertLessEqual(m.start_time.ToNanoseconds(), int(time.time() * 1e9))
        self.assertEqual(m.filter, audit)
        self.assertEqual(m.overflow, lib.pb.OVERFLOW_BLOCK)
        # It has read past all three (its filter passed none of them) or is
        # about to: never beyond the head, and what it has not read is behind.
        self.assertEqual(m.next_sequence + m.behind, 4)
        self.assertEqual((m.received, m.missed), (0, 0))
        a = listed[""]
        self.assertEqual(a.overflow, lib.pb.OVERFLOW_DROP_OLDEST)  # the default
        self.assertEqual((a.next_sequence, a.behind, a.received, a.missed), (4, 0, 3, 0))
        self.assertEqual(listed["late"].overflow, lib.pb.OVERFLOW_DISCONNECT)

        anonymous.cancel()
        lib.wait_for(lambda: "" not in self.subscribers(), lib.DEADLINE,
                     "the cancelled stream to leave the list")

    def test_lost_events_are_reported_per_subscriber(self):
        for _ in range(6):
            self.publish_ok()
        late, _ = self.subscribe(name="late", from_sequence=1)
        got, lags = self.read(late, 4)
        self.assertEqual([e.sequence for e in got], [3, 4, 5, 6])
        s = self.subscribers()["late"]
        self.assertEqual((s.next_sequence, s.behind, s.received, s.missed), (7, 0, 4, 2))


class AdminAuthTest(lib.EventBusTestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="eventbus-admin-")
        self.addCleanup(self.tmp.cleanup)
        self.tokens = os.path.join(self.tmp.name, "tokens")
        with open(self.tokens, "w") as f:
            f.write("%s publish,subscribe opsml\n" % PUBLISHER)
            f.write("%s admin ops\n" % OPERATOR)
            f.write("%s publish,subscribe,admin all\n" % EVERYTHING)
        super().setUp()
        self.admin = lib.pb_grpc.AdminServiceStub(self.channel)

    @property
    def DAEMON_ARGS(self):  # noqa: N802 (the base class's name)
        return ("--auth-tokens-file", self.tokens)

    def call(self, method, token=None):
        request = (lib.pb.ListSubscribersRequest() if method == "ListSubscribers"
                   else lib.pb.GetBusInfoRequest())
        return getattr(self.admin, method)(
            request, timeout=lib.DEADLINE, metadata=bearer(token) if token else None)

    def test_admin_needs_its_grant(self):
        for method in ("ListSubscribers", "GetBusInfo"):
            with self.subTest(method=method):
                with self.assertRaises(grpc.RpcError) as caught:
                    self.call(method, PUBLISHER)
                self.assertEqual(caught.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
                self.assertEqual(caught.exception.details(),
                                 "token opsml may not administer (it grants publish,subscribe)")
                with self.assertRaises(grpc.RpcError) as caught:
                    self.call(method)
                self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
                with self.assertRaises(grpc.RpcError) as caught:
                    self.call(method, "unknown-0123456789abcdef")
                self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
                self.call(method, OPERATOR)
                self.call(method, EVERYTHING)

    def test_admin_alone_may_not_publish_and_combines(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.Publish(lib.pb.PublishRequest(event=lib.space_name_event()),
                              timeout=lib.DEADLINE, metadata=bearer(OPERATOR))
        self.assertEqual(caught.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        response = self.stub.Publish(lib.pb.PublishRequest(event=lib.space_name_event()),
                                     timeout=lib.DEADLINE, metadata=bearer(EVERYTHING))
        self.assertEqual(response.sequence, 1)
        self.assertEqual(self.call("GetBusInfo", EVERYTHING).head_sequence, 1)


if __name__ == "__main__":
    unittest.main()
