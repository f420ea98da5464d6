#!/usr/bin/python3
"""End-to-end tests of eventbusd from an independent Python gRPC client.

Every test starts a real eventbusd (on 127.0.0.1:0, or a Unix socket), talks
to it with stubs generated from the repository's proto (by Debian's protoc
and grpc_python_plugin), and stops it with SIGTERM, expecting exit
status 0. Nothing waits on a fixed sleep: every wait polls the real signal
under a deadline.

Environment:
  EVENTBUSD        path to the eventbusd binary (required)
  EVENTBUS_PY_OUT  scratch directory for the generated stubs (default: a
                   temporary directory)

Run: /usr/bin/python3 tests/e2e/python_client_test.py [-v] [Class.test]
(Debian's python3-grpcio and python3-protobuf.)
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import grpc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_DIR = os.path.join(REPO, "proto")
GRPC_PROTO_DIR = "/usr/share/grpc-proto/grpc"
SERVICE = "eventbus.v1.EventBusService"
INSTANCE_KEY = "eventbus-instance"

# How long to wait for anything that should happen "at once".
DEADLINE = 10.0

pb = None  # eventbus_pb2
pb_grpc = None  # eventbus_pb2_grpc
health_pb2 = None
health_pb2_grpc = None
reflection_pb2 = None
reflection_pb2_grpc = None


def _protoc_command(gen):
    """Debian's protoc 3.21 with grpc_python_plugin. (bookworm's
    python3-grpc-tools bundles protoc 3.5, which cannot parse proto3
    `optional`.) health and reflection are generated relative to .../grpc, so
    that their modules (health.v1, reflection.v1alpha) do not shadow the grpc
    package."""
    return ["/usr/bin/protoc",
            "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
            "-I", "/usr/include", "-I", PROTO_DIR, "-I", GRPC_PROTO_DIR,
            "--python_out", gen, "--grpc_python_out", gen,
            "eventbus/v1/eventbus.proto",
            "health/v1/health.proto",
            "reflection/v1alpha/reflection.proto"]


def setUpModule():
    global pb, pb_grpc, health_pb2, health_pb2_grpc
    global reflection_pb2, reflection_pb2_grpc
    if not os.environ.get("EVENTBUSD"):
        raise RuntimeError("set EVENTBUSD to the eventbusd binary")
    if not os.access(os.environ["EVENTBUSD"], os.X_OK):
        raise RuntimeError("EVENTBUSD=%s is not executable" % os.environ["EVENTBUSD"])
    out = os.environ.get("EVENTBUS_PY_OUT")
    if not out:
        # Removed after the last test, also when setUpModule fails later on.
        tmp = tempfile.TemporaryDirectory(prefix="eventbus-py-")
        unittest.addModuleCleanup(tmp.cleanup)
        out = tmp.name
    gen = os.path.join(os.path.abspath(out), "gen")
    shutil.rmtree(gen, ignore_errors=True)
    os.makedirs(gen)
    result = subprocess.run(_protoc_command(gen), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("cannot generate the Python stubs: " + result.stderr)
    sys.path.insert(0, gen)
    from eventbus.v1 import eventbus_pb2, eventbus_pb2_grpc
    from health.v1 import health_pb2 as h, health_pb2_grpc as hg
    from reflection.v1alpha import reflection_pb2 as r, reflection_pb2_grpc as rg

    pb, pb_grpc = eventbus_pb2, eventbus_pb2_grpc
    health_pb2, health_pb2_grpc = h, hg
    reflection_pb2, reflection_pb2_grpc = r, rg


def wait_for(predicate, timeout, what):
    """Polls predicate() until it returns a true value or timeout passes."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


class Daemon:
    """One eventbusd process; its stderr is drained by a thread."""

    LISTENING = re.compile(r"listening on (\S+)")

    def __init__(self, *args):
        self.args = [os.environ["EVENTBUSD"], *args]
        if "--address" not in args:
            self.args += ["--address", "127.0.0.1:0"]
        self.lines = []
        self._cond = threading.Condition()
        self._eof = False
        # Its runtime directory (TLS's private copies) is the test's own.
        self.runtime = tempfile.mkdtemp(prefix="eventbusd-runtime-")
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, errors="replace",
            env=dict(os.environ, RUNTIME_DIRECTORY=self.runtime))
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self.target = self._await_address()

    def _drain(self):
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _await_address(self):
        deadline = time.monotonic() + DEADLINE
        with self._cond:
            while True:
                for line in self.lines:
                    match = self.LISTENING.search(line)
                    if match:
                        return match.group(1)
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    break
                self._cond.wait(remaining)
        self.proc.kill()
        self.proc.wait()
        self._reader.join(DEADLINE)
        shutil.rmtree(self.runtime, ignore_errors=True)
        raise AssertionError("eventbusd %s did not report its address (exit %s):\n%s"
                             % (self.args[1:], self.proc.returncode, self.log()))

    def log(self):
        with self._cond:
            return "\n".join(self.lines)

    def wait_for_log(self, pattern, timeout=DEADLINE):
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if regex.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    raise AssertionError("no log line matching %r in:\n%s"
                                         % (pattern, "\n".join(self.lines)))
                self._cond.wait(remaining)

    def wait_for_last_match(self, pattern, accept, timeout=DEADLINE):
        """Waits until the last log line matching `pattern` gives a match
        that `accept` takes; returns that match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matches = [m for m in map(regex.search, self.lines) if m]
                if matches and accept(matches[-1]):
                    return matches[-1]
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    raise AssertionError("no accepted log line matching %r in:\n%s"
                                         % (pattern, "\n".join(self.lines)))
                self._cond.wait(remaining)

    def terminate(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout=DEADLINE):
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("eventbusd did not exit within %.1fs of SIGTERM:\n%s"
                                 % (timeout, self.log()))
        self._reader.join(DEADLINE)
        if not self._reader.is_alive():
            self.proc.stderr.close()
        shutil.rmtree(self.runtime, ignore_errors=True)
        return code

    def stop(self, timeout=DEADLINE):
        """SIGTERM, then waits; returns the exit status."""
        self.terminate()
        return self.wait(timeout)


def audit_event(**overrides):
    """An Event with an AuditEvent payload and every field set."""
    audit = pb.AuditEvent(
        username="alice",
        client_ip="192.0.2.7",
        user_agent="opsml-client/2.1 (python)",
        operation=pb.OPERATION_DECRYPT,
        resource_type=pb.RESOURCE_TYPE_CARD,
        resource_id="card-0001",
        access_location="s3://bucket/path/to/card",
        status=pb.AUDIT_STATUS_FAILED,
        error_message="permission denied: key rotated",
        metadata='{"uid": "b5f6", "version": "1.2.3", "unicode": "\u00e9\u4e2d"}',
        registry_type=pb.REGISTRY_TYPE_MODEL,
        route="/opsml/api/card/decrypt",
    )
    event = pb.Event(
        id="audit-7f3e",
        source="opsml-server",
        attributes={"env": "prod", "team": "ml-platform", "empty": ""},
        audit=audit,
    )
    for key, value in overrides.items():
        if key == "attributes":
            event.attributes.clear()
            event.attributes.update(value)
        else:
            setattr(event, key, value)
    return event


def space_name_event(space="ml", name="churn", registry=None,
                     attributes=None, source="opsml-server"):
    return pb.Event(
        source=source,
        attributes=attributes or {},
        space_name=pb.SpaceNameEvent(
            space=space, name=name,
            registry_type=pb.REGISTRY_TYPE_DATA if registry is None else registry),
    )


class EventBusTestCase(unittest.TestCase):
    """Starts a daemon (with DAEMON_ARGS) per test, and stops it after."""

    DAEMON_ARGS = ()

    def setUp(self):
        self.daemon = self.start_daemon(*self.DAEMON_ARGS)
        self.channel = self.open_channel(self.daemon)
        self.stub = pb_grpc.EventBusServiceStub(self.channel)

    def start_daemon(self, *args):
        daemon = Daemon(*args)
        self.addCleanup(self._stop_daemon, daemon)
        return daemon

    def open_channel(self, daemon):
        channel = grpc.insecure_channel(daemon.target)
        # Cleanups run last-in first-out: the channel closes before SIGTERM.
        self.addCleanup(channel.close)
        grpc.channel_ready_future(channel).result(timeout=DEADLINE)
        return channel

    def _stop_daemon(self, daemon):
        code = daemon.stop()
        self.assertEqual(code, 0, "eventbusd exited %s:\n%s" % (code, daemon.log()))

    # --- helpers -------------------------------------------------------

    def publish(self, event, stub=None):
        return (stub or self.stub).Publish(pb.PublishRequest(event=event), timeout=DEADLINE)

    def publish_ok(self):
        """Publishes a small event: the daemon still serves."""
        response = self.publish(space_name_event(name="still-serving"))
        self.assertGreaterEqual(response.sequence, 1)
        return response

    def assert_publish_error(self, request, code, *fragments):
        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.Publish(request, timeout=DEADLINE)
        error = caught.exception
        self.assertEqual(error.code(), code, error.details())
        for fragment in fragments:
            self.assertIn(fragment, error.details())
        return error

    def subscribe(self, stub=None, timeout=DEADLINE, **fields):
        """Opens a Subscribe stream and waits for its headers (the daemon
        has registered the subscriber by then). Returns (call, metadata)."""
        call = (stub or self.stub).Subscribe(pb.SubscribeRequest(**fields), timeout=timeout)
        self.addCleanup(call.cancel)
        metadata = dict(call.initial_metadata())
        return call, metadata

    def assert_subscribe_error(self, code, *fragments, **fields):
        call = self.stub.Subscribe(pb.SubscribeRequest(**fields), timeout=DEADLINE)
        with self.assertRaises(grpc.RpcError) as caught:
            next(call)
        self.assertEqual(call.code(), code, call.details())
        for fragment in fragments:
            self.assertIn(fragment, call.details())
        return caught.exception

    def read(self, call, events):
        """Reads responses until `events` events arrived. Returns
        (events, lags) where lags is a list of (lag, index of the first
        event after it)."""
        got, lags = [], []
        while len(got) < events:
            try:
                response = next(call)
            except grpc.RpcError as error:
                raise AssertionError(
                    "stream ended with %s (%s) after %d of %d events: sequences %s, lags %s"
                    % (error.code(), error.details(), len(got), events,
                       [e.sequence for e in got], [str(lag) for lag, _ in lags])) from None
            if response.HasField("lagged"):
                lags.append((response.lagged, len(got)))
            got.extend(response.events)
        self.assertEqual(len(got), events, "more events than expected")
        return got, lags


class PublishSubscribeTest(EventBusTestCase):

    def test_sequence_numbers_start_at_one_and_ids(self):
        responses = [self.publish(space_name_event(name="n%d" % i)) for i in range(3)]
        self.assertEqual([r.sequence for r in responses], [1, 2, 3])
        for response in responses:
            self.assertEqual(uuid.UUID(response.id).version, 4, response.id)
            self.assertEqual(str(uuid.UUID(response.id)), response.id)
        self.assertEqual(len({r.id for r in responses}), 3)
        kept = self.publish(audit_event(id="my-id"))
        self.assertEqual((kept.sequence, kept.id), (4, "my-id"))

    def test_round_trip_every_field(self):
        call, _ = self.subscribe(name="round-trip")
        audit = audit_event()
        # Values the bus must overwrite.
        audit.sequence = 999
        audit.publish_time.seconds = 12345
        audit.publish_time.nanos = 6789
        space = space_name_event(space="team-a", name="model-x",
                                 registry=pb.REGISTRY_TYPE_SUB_AGENT,
                                 attributes={"k": "v"})
        before = time.time()
        first = self.publish(audit)
        second = self.publish(space)
        after = time.time()
        self.assertEqual((first.sequence, second.sequence), (1, 2))
        self.assertEqual(first.id, "audit-7f3e")
        self.assertEqual(uuid.UUID(second.id).version, 4)

        events, lags = self.read(call, 2)
        self.assertEqual(lags, [])
        for sent, response, got in ((audit, first, events[0]), (space, second, events[1])):
            self.assertEqual(got.sequence, response.sequence)
            self.assertEqual(got.id, response.id)
            self.assertTrue(got.HasField("publish_time"))
            stamp = got.publish_time.seconds + got.publish_time.nanos / 1e9
            self.assertGreaterEqual(stamp, before - 1.0)
            self.assertLessEqual(stamp, after + 1.0)
            expected = pb.Event()
            expected.CopyFrom(sent)
            expected.sequence = response.sequence
            expected.id = response.id
            expected.publish_time.CopyFrom(got.publish_time)
            self.assertEqual(got, expected)
        self.assertEqual(events[0].WhichOneof("payload"), "audit")
        self.assertTrue(events[0].audit.HasField("access_location"))
        self.assertTrue(events[0].audit.HasField("error_message"))
        self.assertEqual(events[0].audit.operation, pb.OPERATION_DECRYPT)
        self.assertEqual(events[0].attributes["empty"], "")
        self.assertEqual(events[1].WhichOneof("payload"), "space_name")
        self.assertLessEqual(
            (events[0].publish_time.seconds, events[0].publish_time.nanos),
            (events[1].publish_time.seconds, events[1].publish_time.nanos))

    def test_optional_fields_left_unset_stay_unset(self):
        call, _ = self.subscribe()
        event = audit_event()
        event.audit.ClearField("access_location")
        event.audit.ClearField("error_message")
        self.publish(event)
        (got,), _ = self.read(call, 1)
        self.assertFalse(got.audit.HasField("access_location"))
        self.assertFalse(got.audit.HasField("error_message"))
        self.assertEqual(got.audit.username, "alice")

    def test_publish_response_counts_subscribers(self):
        self.assertEqual(self.publish_ok().subscribers, 0)
        first, _ = self.subscribe(name="one")
        self.assertEqual(self.publish_ok().subscribers, 1)
        second, _ = self.subscribe(name="two")
        response = self.publish_ok()
        self.assertEqual(response.subscribers, 2)
        # Both received the last event.
        for call in (first, second):
            events, _ = self.read(call, 2 if call is first else 1)
            self.assertEqual(events[-1].sequence, response.sequence)

    def test_instance_metadata(self):
        _, headers = self.subscribe()
        instance = headers.get(INSTANCE_KEY)
        self.assertTrue(instance, "no %s in Subscribe headers %r" % (INSTANCE_KEY, headers))
        _, publish_call = self.stub.Publish.with_call(
            pb.PublishRequest(event=space_name_event()), timeout=DEADLINE)
        self.assertEqual(dict(publish_call.initial_metadata()).get(INSTANCE_KEY), instance)
        # The daemon logs the same id.
        self.assertIn(instance, self.daemon.log())

        other = self.start_daemon()
        other_stub = pb_grpc.EventBusServiceStub(self.open_channel(other))
        _, other_headers = self.subscribe(stub=other_stub)
        self.assertTrue(other_headers.get(INSTANCE_KEY))
        self.assertNotEqual(other_headers[INSTANCE_KEY], instance)

    def test_instance_metadata_on_errors(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.Publish(pb.PublishRequest(), timeout=DEADLINE)
        instance = dict(caught.exception.initial_metadata()).get(INSTANCE_KEY)
        self.assertTrue(instance)
        error = self.assert_subscribe_error(grpc.StatusCode.INVALID_ARGUMENT, from_sequence=0)
        self.assertEqual(dict(error.initial_metadata()).get(INSTANCE_KEY), instance)

    def test_filters(self):
        spaces, _ = self.subscribe(filter=pb.EventFilter(types=[pb.EVENT_TYPE_SPACE_NAME]))
        audits, _ = self.subscribe(filter=pb.EventFilter(types=[pb.EVENT_TYPE_AUDIT]))
        both, _ = self.subscribe(filter=pb.EventFilter(
            types=[pb.EVENT_TYPE_AUDIT, pb.EVENT_TYPE_SPACE_NAME]))
        prod, _ = self.subscribe(filter=pb.EventFilter(attributes={"env": "prod"}))
        prod_a_audit, _ = self.subscribe(filter=pb.EventFilter(
            types=[pb.EVENT_TYPE_AUDIT], attributes={"env": "prod", "team": "a"}))

        published = [
            audit_event(attributes={"env": "prod", "team": "a"}),         # 1
            space_name_event(attributes={"env": "prod"}),                 # 2
            audit_event(attributes={"env": "dev", "team": "a"}),          # 3
            space_name_event(attributes={"env": "dev"}),                  # 4
            audit_event(attributes={"env": "prod"}),                      # 5
            audit_event(attributes={"env": "PROD", "team": "a"}),         # 6
            space_name_event(attributes={"env": "prod", "team": "a"}),    # 7
            audit_event(attributes={"env": "prod", "team": "a", "x": "y"}),  # 8
        ]
        for event in published:
            self.publish(event)
        # Two last events that together pass every filter (9 an audit, 10 a
        # space_name) mark the end of each stream.
        self.publish(audit_event(attributes={"env": "prod", "team": "a"}))
        self.publish(space_name_event(attributes={"env": "prod", "team": "a"}))
        expected = {
            "spaces": (spaces, [2, 4, 7, 10]),
            "audits": (audits, [1, 3, 5, 6, 8, 9]),
            "both": (both, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
            "prod": (prod, [1, 2, 5, 7, 8, 9, 10]),
            "prod_a_audit": (prod_a_audit, [1, 8, 9]),
        }
        for name, (call, sequences) in expected.items():
            events, lags = self.read(call, len(sequences))
            self.assertEqual(lags, [], name)
            self.assertEqual([e.sequence for e in events], sequences, name)
        # Nothing else was delivered: the next event each stream gets is the
        # first of 11 (space_name, env=dev) and 12 (audit, env=prod, team=a)
        # that passes its filter.
        self.publish(space_name_event(attributes={"env": "dev"}))
        self.publish(audit_event(attributes={"env": "prod", "team": "a"}))
        for name, call, sequence in (("spaces", spaces, 11), ("both", both, 11),
                                     ("audits", audits, 12), ("prod", prod, 12),
                                     ("prod_a_audit", prod_a_audit, 12)):
            # 11 and 12 may share a response (batched delivery): the first
            # event after 10 is what counts.
            response = next(call)
            self.assertFalse(response.HasField("lagged"), name)
            self.assertEqual(response.events[0].sequence, sequence, name)

    def test_from_earliest_and_resume(self):
        for i in range(5):
            self.publish(space_name_event(name="e%d" % i))
        earliest, _ = self.subscribe(from_earliest=True)
        events, lags = self.read(earliest, 5)
        self.assertEqual([e.sequence for e in events], [1, 2, 3, 4, 5])
        self.assertEqual([e.space_name.name for e in events], ["e%d" % i for i in range(5)])
        self.assertEqual(lags, [])
        earliest.cancel()

        # Resume as a client that last saw 3: 4, 5, then new events.
        resumed, _ = self.subscribe(from_sequence=4)
        self.publish(space_name_event(name="e5"))
        events, lags = self.read(resumed, 3)
        self.assertEqual([e.sequence for e in events], [4, 5, 6])
        self.assertEqual(lags, [])

        # from_sequence equal to the next sequence: only new events.
        upcoming, _ = self.subscribe(from_sequence=7)
        self.publish(space_name_event(name="e6"))
        events, _ = self.read(upcoming, 1)
        self.assertEqual(events[0].sequence, 7)

        # from_earliest=false is the default start: the next event.
        latest, _ = self.subscribe(from_earliest=False)
        self.publish(space_name_event(name="e7"))
        events, _ = self.read(latest, 1)
        self.assertEqual(events[0].sequence, 8)

    def test_cancelled_subscriber_leaves_within_a_second(self):
        call, _ = self.subscribe(name="to-cancel")
        self.assertEqual(self.publish_ok().subscribers, 1)
        self.read(call, 1)
        call.cancel()
        wait_for(lambda: self.publish_ok().subscribers == 0, 1.0,
                 "the cancelled subscriber to leave the bus")

    def test_health(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        for service in ("", SERVICE):
            response = health.Check(health_pb2.HealthCheckRequest(service=service),
                                    timeout=DEADLINE)
            self.assertEqual(response.status, health_pb2.HealthCheckResponse.SERVING, service)
        with self.assertRaises(grpc.RpcError) as caught:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"),
                         timeout=DEADLINE)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_reflection(self):
        from google.protobuf import descriptor_pb2

        reflection = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        requests = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE),
        ]
        responses = list(reflection.ServerReflectionInfo(iter(requests), timeout=DEADLINE))
        self.assertEqual(len(responses), 2)
        listed = [s.name for s in responses[0].list_services_response.service]
        self.assertIn(SERVICE, listed)
        self.assertIn("grpc.health.v1.Health", listed)
        self.assertIn("eventbus.v1.AdminService", listed)

        files = responses[1].file_descriptor_response.file_descriptor_proto
        self.assertTrue(files, responses[1])
        descriptors = []
        for raw in files:
            descriptor = descriptor_pb2.FileDescriptorProto()
            descriptor.ParseFromString(raw)
            descriptors.append(descriptor)
        main = [d for d in descriptors if d.package == "eventbus.v1"]
        self.assertEqual(len(main), 1, [d.name for d in descriptors])
        self.assertEqual(main[0].name, "eventbus/v1/eventbus.proto")
        services = {s.name: {m.name for m in s.method} for s in main[0].service}
        self.assertEqual(services, {
            "EventBusService": {"Publish", "Subscribe", "PublishStream",
                                "SubscribeStream"},
            "AdminService": {"ListSubscribers", "GetBusInfo"}})
        # The descriptor is the one the client was generated from.
        self.assertEqual(
            {m.name for m in main[0].message_type},
            {m.name for m in pb.DESCRIPTOR.message_types_by_name.values()})


class ErrorTest(EventBusTestCase):

    DAEMON_ARGS = ("--max-event-bytes", "1KiB")

    def test_publish_invalid_argument(self):
        invalid = grpc.StatusCode.INVALID_ARGUMENT
        cases = [
            (pb.PublishRequest(), ("event",)),
            (pb.PublishRequest(event=pb.Event(source="s", attributes={"a": "b"})),
             ("payload", "audit", "space_name")),
            (pb.PublishRequest(event=audit_event()), None),  # control: accepted
        ]
        bad_enums = [
            ("operation", "audit.operation", "eventbus.v1.Operation"),
            ("resource_type", "audit.resource_type", "eventbus.v1.ResourceType"),
            ("status", "audit.status", "eventbus.v1.AuditStatus"),
            ("registry_type", "audit.registry_type", "eventbus.v1.RegistryType"),
        ]
        for field, path, enum in bad_enums:
            event = audit_event()
            setattr(event.audit, field, 99)
            cases.append((pb.PublishRequest(event=event), (path, "99", enum)))
        event = space_name_event()
        event.space_name.registry_type = 99
        cases.append((pb.PublishRequest(event=event),
                      ("space_name.registry_type", "99", "eventbus.v1.RegistryType")))
        event = audit_event()
        event.audit.operation = -1
        cases.append((pb.PublishRequest(event=event), ("audit.operation", "-1")))

        accepted = 0
        for request, fragments in cases:
            with self.subTest(request=str(request)[:80]):
                if fragments is None:
                    self.stub.Publish(request, timeout=DEADLINE)
                    accepted += 1
                    continue
                self.assert_publish_error(request, invalid, *fragments)
                response = self.publish_ok()
                accepted += 1
                # A rejected publish consumes no sequence number.
                self.assertEqual(response.sequence, accepted)

    @staticmethod
    def event_of_size(size):
        """An audit event whose client-side encoding is exactly `size` bytes."""
        event = audit_event()
        event.audit.metadata = ""
        base = event.ByteSize()
        for padding in range(size - base, max(size - base - 8, 0) - 1, -1):
            event.audit.metadata = "m" * padding
            if event.ByteSize() == size:
                return event
        raise AssertionError("cannot build an event of %d bytes" % size)

    def test_publish_over_max_event_bytes(self):
        # The limit counts the event as the client encodes it: far over and
        # one byte over are refused with the size the client sent; exactly
        # at the limit is accepted, though the bus adds sequence, time and id.
        for size in (4096, 1025):
            with self.subTest(size=size):
                event = self.event_of_size(size)
                error = self.assert_publish_error(
                    pb.PublishRequest(event=event), grpc.StatusCode.INVALID_ARGUMENT,
                    "bus.max_event_bytes", "1024")
                reported = int(re.search(r"event is (\d+) bytes", error.details()).group(1))
                self.assertEqual(reported, size)
        call, _ = self.subscribe()
        event = self.event_of_size(1024)
        self.assertEqual(self.publish(event).sequence, 1)
        (got,), _ = self.read(call, 1)
        self.assertEqual(got.audit.metadata, event.audit.metadata)
        self.assertGreater(got.ByteSize(), 1024)

    def test_subscribe_errors(self):
        self.publish_ok()
        self.publish_ok()  # next sequence: 3
        self.assert_subscribe_error(grpc.StatusCode.INVALID_ARGUMENT, "from_sequence",
                                    from_sequence=0)
        self.publish_ok()  # next: 4
        self.assert_subscribe_error(grpc.StatusCode.OUT_OF_RANGE, "from_sequence", "5",
                                    from_sequence=5)
        self.publish_ok()  # next: 5
        self.assert_subscribe_error(grpc.StatusCode.OUT_OF_RANGE, "from_sequence",
                                    from_sequence=2**64 - 1)
        self.publish_ok()  # next: 6
        for types in ([7], [0], [pb.EVENT_TYPE_AUDIT, 3]):  # publishes 6, 7, 8
            with self.subTest(types=types):
                self.assert_subscribe_error(grpc.StatusCode.INVALID_ARGUMENT, "filter.types",
                                            filter=pb.EventFilter(types=types))
                self.publish_ok()
        # None of the refused subscribers stayed registered.
        self.assertEqual(self.publish_ok().subscribers, 0)  # 9
        # And a valid subscriber still works.
        call, _ = self.subscribe(from_sequence=5)
        events, _ = self.read(call, 5)
        self.assertEqual([e.sequence for e in events], [5, 6, 7, 8, 9])


class MaxSubscribersTest(EventBusTestCase):

    DAEMON_ARGS = ("--max-subscribers", "1")

    def test_second_subscriber_is_refused(self):
        first, _ = self.subscribe(name="first")
        self.assert_subscribe_error(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                    "server.max_subscribers", name="second")
        response = self.publish_ok()
        self.assertEqual(response.subscribers, 1)
        events, _ = self.read(first, 1)
        self.assertEqual(events[0].sequence, response.sequence)
        # Once the first leaves, a new subscriber is admitted.
        first.cancel()
        wait_for(lambda: self.publish_ok().subscribers == 0, 1.0, "the first to leave")
        third, _ = self.subscribe(name="third")
        self.assertEqual(self.publish_ok().subscribers, 1)


class LagTest(EventBusTestCase):

    DAEMON_ARGS = ("--capacity", "8")

    def assert_exact_cover(self, events, lags, first, last):
        """Events and lag ranges cover first..last exactly, in order, each
        lag directly followed by the event after its range."""
        expected_next = first
        lag_at = {index: lag for lag, index in lags}
        self.assertEqual(len(lag_at), len(lags))
        for index in range(len(events) + 1):
            lag = lag_at.get(index)
            if lag is not None:
                self.assertEqual(lag.first_sequence, expected_next, lag)
                self.assertEqual(lag.missed, lag.last_sequence - lag.first_sequence + 1, lag)
                self.assertGreaterEqual(lag.missed, 1)
                expected_next = lag.last_sequence + 1
            if index < len(events):
                self.assertEqual(events[index].sequence, expected_next)
                expected_next += 1
        self.assertEqual(expected_next, last + 1)

    def test_slow_subscriber_gets_exact_lag(self):
        # Events large enough that the unread stream fills gRPC's flow
        # control windows, so the daemon cannot keep writing and the
        # subscriber falls behind the 8 retained events.
        call, _ = self.subscribe(name="slow", timeout=30)
        big = "x" * (900 * 1024)
        for i in range(50):
            event = space_name_event(name="lag-%d" % i)
            event.source = big
            response = self.publish(event)
            self.assertEqual(response.sequence, i + 1)
            self.assertEqual(response.subscribers, 1)
        got, lags = [], []
        missed = 0
        while len(got) + missed < 50:
            response = next(call)
            if response.HasField("lagged"):
                lags.append((response.lagged, len(got)))
                missed += response.lagged.missed
            got.extend(response.events)
        self.assertEqual(len(got) + missed, 50)
        self.assertGreaterEqual(len(lags), 1, "no Lagged notice")
        if os.environ.get("EVENTBUS_PY_DEBUG"):
            print("lag: received %d, lags %s" % (len(got), [
                (lag.first_sequence, lag.last_sequence, index) for lag, index in lags]),
                file=sys.stderr)
        self.assertEqual(got[-1].sequence, 50)
        self.assertEqual(got[-1].space_name.name, "lag-49")
        self.assert_exact_cover(got, lags, 1, 50)
        # At most `capacity` events can follow the last lag.
        self.assertLessEqual(len(got) - lags[-1][1], 8)
        # The stream goes on after lag.
        self.publish_ok()
        events, _ = self.read(call, 1)
        self.assertEqual(events[0].sequence, 51)

    def test_from_sequence_no_longer_retained(self):
        for i in range(20):
            self.publish(space_name_event(name="e%d" % i))
        call, _ = self.subscribe(from_sequence=5)
        response = next(call)
        self.assertTrue(response.HasField("lagged"), response)
        self.assertEqual((response.lagged.first_sequence, response.lagged.last_sequence,
                          response.lagged.missed), (5, 12, 8))
        events = list(response.events)
        while len(events) < 8:
            events.extend(self.read(call, 8 - len(events))[0])
        self.assertEqual([e.sequence for e in events], list(range(13, 21)))

    def test_from_earliest_starts_at_oldest_retained(self):
        for i in range(20):
            self.publish(space_name_event(name="e%d" % i))
        call, _ = self.subscribe(from_earliest=True)
        events, lags = self.read(call, 8)
        self.assertEqual(lags, [])
        self.assertEqual([e.sequence for e in events], list(range(13, 21)))


class DrainTest(EventBusTestCase):

    DAEMON_ARGS = ("--drain-timeout", "3s")

    def test_sigterm_delivers_every_event_then_ok(self):
        call, _ = self.subscribe(name="drained", timeout=20)
        # 100 events of 64 KiB: more than gRPC buffers for a stream nobody
        # reads, so part of them is still on the bus when SIGTERM arrives.
        pad = "p" * (64 * 1024)
        for i in range(100):
            event = space_name_event(name="d%d" % i)
            event.source = pad
            self.assertEqual(self.publish(event).sequence, i + 1)
        self.daemon.terminate()
        self.daemon.wait_for_log(r"draining: 1 subscribers")
        # Iteration ends without an exception: the stream ended with OK.
        received = []
        for response in call:
            self.assertFalse(response.HasField("lagged"), response.lagged)
            received.extend(response.events)
        self.assertEqual(call.code(), grpc.StatusCode.OK, call.details())
        self.assertEqual([e.sequence for e in received], list(range(1, 101)))
        self.assertEqual([e.space_name.name for e in received],
                         ["d%d" % i for i in range(100)])
        self.assertTrue(all(e.source == pad for e in received))
        self.assertEqual(self.daemon.wait(), 0, self.daemon.log())
        self.daemon.wait_for_log(r"stopped after sequence 100")
        self.assertNotIn("drain timeout", self.daemon.log())

    def test_sigterm_with_a_concurrent_reader(self):
        call, _ = self.subscribe(name="reader", timeout=20)
        received = []
        outcome = {}

        def consume():
            try:
                for response in call:
                    received.extend(response.events)
                outcome["code"] = call.code()
            except grpc.RpcError as error:
                outcome["error"] = (error.code(), error.details())

        reader = threading.Thread(target=consume)
        reader.start()
        for i in range(100):
            self.assertEqual(self.publish(space_name_event(name="d%d" % i)).sequence, i + 1)
        self.daemon.terminate()
        reader.join(DEADLINE)
        self.assertFalse(reader.is_alive(), "the stream did not end after SIGTERM")
        self.assertNotIn("error", outcome)
        self.assertEqual(outcome.get("code"), grpc.StatusCode.OK)
        self.assertEqual([e.sequence for e in received], list(range(1, 101)))
        self.assertEqual(self.daemon.wait(), 0, self.daemon.log())

    def test_publish_while_draining_is_unavailable(self):
        # A subscriber that never reads, behind more data than the flow
        # control windows hold, keeps the daemon draining for 3 s.
        stuck, _ = self.subscribe(name="stuck", timeout=30)
        big = "x" * (900 * 1024)
        for i in range(40):
            event = space_name_event(name="s%d" % i)
            event.source = big
            self.publish(event)
        accepted = 40
        self.daemon.terminate()
        self.daemon.wait_for_log(r"draining: 1 subscribers")

        def refused():
            nonlocal accepted
            try:
                response = self.publish(space_name_event(name="late"))
            except grpc.RpcError as error:
                return error
            # Accepted before the bus closed: it must be the next sequence.
            accepted += 1
            self.assertEqual(response.sequence, accepted)
            return None

        error = wait_for(refused, 2.0, "Publish to be refused while draining")
        self.assertEqual(error.code(), grpc.StatusCode.UNAVAILABLE, error.details())
        self.assertIn("draining", error.details())
        # It stays refused, and so are new subscribers.
        self.assert_publish_error(pb.PublishRequest(event=space_name_event()),
                                  grpc.StatusCode.UNAVAILABLE)
        self.assert_subscribe_error(grpc.StatusCode.UNAVAILABLE, "draining")
        health = health_pb2_grpc.HealthStub(self.channel)
        for service in ("", SERVICE):
            response = health.Check(health_pb2.HealthCheckRequest(service=service),
                                    timeout=DEADLINE)
            self.assertEqual(response.status, health_pb2.HealthCheckResponse.NOT_SERVING,
                             service)
        self.assertIsNone(self.daemon.proc.poll(), "exited before the drain timeout")
        # The drain timeout ends the stuck stream; the daemon still exits 0.
        started = time.monotonic()
        self.assertEqual(self.daemon.wait(timeout=DEADLINE), 0, self.daemon.log())
        self.assertLess(time.monotonic() - started, 3.0 + 2.0)
        self.daemon.wait_for_log(r"drain timeout")
        with self.assertRaises(grpc.RpcError):
            for _ in stuck:
                pass


class UnixSocketTest(EventBusTestCase):

    def setUp(self):
        # Under /tmp rather than $TMPDIR: a unix socket path has at most 107
        # bytes. Removed after the daemon stopped (cleanups run last first).
        directory = tempfile.TemporaryDirectory(prefix="eb-", dir="/tmp")
        self.addCleanup(directory.cleanup)
        self.socket = os.path.join(directory.name, "eb.sock")
        self.DAEMON_ARGS = ("--address", "unix:" + self.socket)
        super().setUp()

    def test_publish_and_subscribe(self):
        self.assertEqual(self.daemon.target, "unix:" + self.socket)
        self.assertTrue(os.path.exists(self.socket))
        call, headers = self.subscribe()
        self.assertTrue(headers.get(INSTANCE_KEY))
        sent = audit_event()
        response = self.publish(sent)
        self.assertEqual((response.sequence, response.subscribers), (1, 1))
        (got,), _ = self.read(call, 1)
        self.assertEqual(got.audit, sent.audit)
        self.assertEqual(got.id, sent.id)


class ConfigTest(unittest.TestCase):
    """Bad configuration: exit status 2 and a message naming the key."""

    def run_daemon(self, *args, env=None):
        return subprocess.run(
            [os.environ["EVENTBUSD"], "--address", "127.0.0.1:0", *args],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=DEADLINE,
            env=dict(os.environ, **(env or {})))

    def test_bad_configuration_exits_2_naming_the_key(self):
        tmp = tempfile.TemporaryDirectory(prefix="eb-config-")
        self.addCleanup(tmp.cleanup)
        directory = tmp.name
        unknown = os.path.join(directory, "unknown.yaml")
        with open(unknown, "w") as f:
            f.write("bus:\n  capacityy: 3\n")
        out_of_range = os.path.join(directory, "range.yaml")
        with open(out_of_range, "w") as f:
            f.write("server:\n  max_subscribers: 0\n")
        cases = [
            (["--capacity", "0"], None, "capacity"),
            (["--max-event-bytes", "10"], None, "max-event-bytes"),
            (["--drain-timeout", "2h"], None, "drain-timeout"),
            (["--config", unknown], None, "bus.capacityy"),
            (["--config", out_of_range], None, "server.max_subscribers"),
            ([], {"EVENTBUS_BUS_CAPACITY": "abc"}, "bus.capacity"),
        ]
        for args, env, key in cases:
            with self.subTest(args=args, env=env):
                result = self.run_daemon(*args, env=env)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(key, result.stderr)
                self.assertNotIn("listening on", result.stderr)


if __name__ == "__main__":
    unittest.main()
