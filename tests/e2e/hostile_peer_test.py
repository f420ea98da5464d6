#!/usr/bin/python3
"""Hostile peers against the real eventbusd: raw gRPC framing and raw HTTP/2.

Each case starts its own eventbusd on 127.0.0.1:0 and sends what no
well-behaved client sends: requests that do not parse, length prefixes and
compressed messages far over the limits, header blocks that never end, ping
floods, oversized metadata, forged log lines, files that are not files. It
asserts the status the peer gets, that the daemon keeps serving other
clients, and, for the floods, that the daemon's RSS stays within
RSS_BOUND_MB of its baseline and is back near it soon after the attacker
disconnects, with its open fds back to baseline.

The cheap cases run by default (scripts/test). The floods, which move
hundreds of megabytes, run with EVENTBUS_HOSTILE_FLOODS=1
(scripts/fault-tests hostile); each prints one JSON line of figures.

Environment: EVENTBUSD (required), EVENTBUS_PY_OUT (stub scratch directory),
EVENTBUS_HOSTILE_FLOODS=1 (the floods too).
Run: /usr/bin/python3 tests/e2e/hostile_peer_test.py [-v] [Class.test]
(Debian's python3-grpcio, python3-protobuf and python3-h2.)
"""

import json
import os
import re
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

import grpc
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import hyperframe.frame

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_client_test as lib  # noqa: E402  (Daemon, stubs, wait_for)

FLOODS = os.environ.get("EVENTBUS_HOSTILE_FLOODS") == "1"
# RSS may grow by at most this much over the baseline during an attack...
RSS_BOUND_MB = 64
# ...and must be back within RECOVERY_MB of it this soon after the attacker
# disconnects.
RECOVERY_SECONDS = 5.0
RECOVERY_MB = 16
PUBLISH = "/eventbus.v1.EventBusService/Publish"
SUBSCRIBE = "/eventbus.v1.EventBusService/Subscribe"
PUBLISH_STREAM = "/eventbus.v1.EventBusService/PublishStream"


def setUpModule():
    lib.setUpModule()


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS for pid %d" % pid)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class RssSampler:
    """Samples a process's RSS every 10 ms on a thread; keeps the peak."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.01):
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, AssertionError):
                return

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def grpc_frame(payload, compressed=False):
    return struct.pack(">BI", 1 if compressed else 0, len(payload)) + payload


def request_headers(path, extra=()):
    return [(":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", "127.0.0.1"), ("content-type", "application/grpc"),
            ("te", "trailers"), *extra]


class RawH2:
    """One raw HTTP/2 connection, driven by hand (python3-h2)."""

    def __init__(self, port, ack_settings=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=lib.DEADLINE)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())
        self.ack_settings = ack_settings
        self.closed = False
        self.goaway = None
        self.trailers = {}
        self.reset = {}
        self.ping_acks = 0

    def pump(self, timeout=lib.DEADLINE):
        """Reads once; returns False when the connection is closed."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return False
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.TrailersReceived):
                self.trailers[event.stream_id] = dict(event.headers)
            elif isinstance(event, h2.events.ResponseReceived):
                headers = dict(event.headers)
                if "grpc-status" in headers:  # trailers-only response
                    self.trailers[event.stream_id] = headers
            elif isinstance(event, h2.events.StreamReset):
                self.reset[event.stream_id] = event.error_code
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = event
            elif isinstance(event, h2.events.PingAckReceived):
                self.ping_acks += 1
        out = self.conn.data_to_send()
        if out:
            try:
                self.sock.sendall(out)
            except (BrokenPipeError, ConnectionResetError):
                self.closed = True
                return False
        return True

    def status_of(self, stream_id, timeout=lib.DEADLINE):
        """Waits for the stream's grpc-status; None if the connection or the
        stream ended without one."""
        deadline = time.monotonic() + timeout
        while stream_id not in self.trailers and stream_id not in self.reset:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no status for stream %d" % stream_id)
            try:
                if not self.pump(remaining):
                    return None
            except socket.timeout:
                continue
        trailers = self.trailers.get(stream_id)
        if trailers is None:
            return None
        return int(trailers["grpc-status"]), trailers.get("grpc-message", "")

    def send_body(self, stream_id, chunks):
        """Sends byte chunks as flow control allows; stops early when the
        server ends the stream or the connection. Returns bytes sent."""
        sent = 0
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                if (self.closed or stream_id in self.trailers
                        or stream_id in self.reset):
                    return sent
                window = min(self.conn.local_flow_control_window(stream_id),
                             self.conn.max_outbound_frame_size)
                if window <= 0:
                    try:
                        self.pump(lib.DEADLINE)
                    except socket.timeout:
                        return sent
                    continue
                piece = view[:window]
                try:
                    self.conn.send_data(stream_id, piece.tobytes())
                    self.sock.sendall(self.conn.data_to_send())
                except (BrokenPipeError, ConnectionResetError,
                        h2.exceptions.StreamClosedError):
                    self.closed = True
                    return sent
                sent += len(piece)
                view = view[len(piece):]
        return sent

    def close(self):
        self.sock.close()


def hpack_int(value, prefix_bits, first_byte=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte | value])
    out = bytearray([first_byte | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name, value):
    """A literal header field without indexing, no Huffman coding."""
    return (b"\x00" + hpack_int(len(name), 7) + name
            + hpack_int(len(value), 7) + value)


class HostileCase(unittest.TestCase):
    """Starts a daemon per test and checks afterwards that it still serves."""

    daemon_args = ()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="eventbus-hostile-")
        self.addCleanup(self.tmp.cleanup)
        self.daemon = lib.Daemon(*self.daemon_args)
        self.addCleanup(self._stop_daemon)
        self.port = int(self.daemon.target.rsplit(":", 1)[1])
        self.channel = grpc.insecure_channel(self.daemon.target)
        self.addCleanup(self.channel.close)
        self.stub = lib.pb_grpc.EventBusServiceStub(self.channel)
        self.publish_ok()  # warm: the baseline includes one served call
        self.baseline_rss = rss_mb(self.daemon.proc.pid)
        self.baseline_fds = fd_count(self.daemon.proc.pid)

    def _stop_daemon(self):
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log())

    def publish_ok(self):
        response = self.stub.Publish(
            lib.pb.PublishRequest(event=lib.audit_event()), timeout=lib.DEADLINE)
        self.assertGreater(response.sequence, 0)
        return response.sequence

    def assert_still_serving(self):
        self.publish_ok()
        health = lib.health_pb2_grpc.HealthStub(self.channel)
        self.assertEqual(
            health.Check(lib.health_pb2.HealthCheckRequest(), timeout=lib.DEADLINE).status,
            lib.health_pb2.HealthCheckResponse.SERVING)

    def raw_call(self, method, request_bytes):
        """Calls `method` with raw request bytes; returns (code, details)."""
        call = self.channel.unary_unary(method)
        try:
            call(request_bytes, timeout=lib.DEADLINE)
        except grpc.RpcError as error:
            return error.code(), error.details()
        return grpc.StatusCode.OK, ""


class BadRequestsTest(HostileCase):
    """Rows 1, 2 and 11 of the hostile-peer table, and log forging (row 9)."""

    def test_publish_with_bytes_that_do_not_parse(self):
        truncated = lib.pb.PublishRequest(event=lib.audit_event()).SerializeToString()[:-3]
        bad_utf8 = (b"\x0a\x0e" b"\x22\x03\xff\xfe\xfd"  # event.source
                    b"\x52\x07\x0a\x05alice")             # event.audit.username
        for request in (b"\xff\xff\xff\xff not protobuf", truncated, bad_utf8):
            with self.subTest(request=request[:16]):
                code, details = self.raw_call(PUBLISH, request)
                self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
                self.assertEqual(details,
                                 "the request is not a valid eventbus.v1.PublishRequest")
        self.assert_still_serving()

    def test_publish_stream_bad_request_ends_it_naming_the_request(self):
        good = lib.pb.PublishStreamRequest(event=lib.audit_event()).SerializeToString()
        bad = b"\x0a\x04\x22\x02\xc3\x28"  # event.source = invalid UTF-8
        stream = self.channel.stream_stream(PUBLISH_STREAM)
        before = self.publish_ok()
        for requests, bad_index, acked in (([bad, good], 1, 0),
                                           ([good, bad, good, good], 2, 1),
                                           ([good, good, bad], 3, 2)):
            with self.subTest(bad_index=bad_index):
                call = stream(iter(requests), timeout=lib.DEADLINE)
                acks = []
                with self.assertRaises(grpc.RpcError) as raised:
                    for response in call:
                        acks += lib.pb.PublishStreamResponse.FromString(response).acks
                self.assertEqual(raised.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertEqual(
                    raised.exception.details(),
                    "request %d of the stream is not a valid "
                    "eventbus.v1.PublishStreamRequest" % bad_index)
                self.assertEqual(len(acks), acked)
                # Nothing after the bad request was published.
                after = self.publish_ok()
                self.assertEqual(after, before + acked + 1)
                before = after

    def test_event_at_the_size_limit_as_sent_is_accepted(self):
        event = lib.audit_event()
        event.ClearField("id")
        event.audit.metadata = ""
        limit = 1 << 20
        base = event.ByteSize()
        for padding in range(limit - base, limit - base - 8, -1):
            event.audit.metadata = "m" * padding
            if event.ByteSize() == limit:
                break
        self.assertEqual(event.ByteSize(), limit)
        self.assertGreater(self.stub.Publish(lib.pb.PublishRequest(event=event),
                                             timeout=lib.DEADLINE).sequence, 0)
        event.audit.metadata += "m"
        with self.assertRaises(grpc.RpcError) as raised:
            self.stub.Publish(lib.pb.PublishRequest(event=event), timeout=lib.DEADLINE)
        self.assertIn("event is %d bytes" % (limit + 1), raised.exception.details())

    def test_oversized_metadata_is_refused(self):
        # gRPC's own limit closes the connection (UNAVAILABLE) once the client
        # has acknowledged the setting; before that, Admission refuses the
        # call. Either way the call is not served.
        big = [("x-big", "v" * 20000)]
        refused = (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE)
        # A channel with the same target and options shares its connection
        # with self.channel through gRPC's global subchannel pool; without a
        # pool of its own, the closed connection would fail the next call on
        # self.channel too.
        for call in ("publish", "subscribe"):
            with self.subTest(call=call):
                channel = grpc.insecure_channel(
                    self.daemon.target, options=[("grpc.use_local_subchannel_pool", 1)])
                self.addCleanup(channel.close)
                stub = lib.pb_grpc.EventBusServiceStub(channel)
                with self.assertRaises(grpc.RpcError) as raised:
                    if call == "publish":
                        stub.Publish(lib.pb.PublishRequest(event=lib.audit_event()),
                                     timeout=lib.DEADLINE, metadata=big)
                    else:
                        next(stub.Subscribe(lib.pb.SubscribeRequest(),
                                            timeout=lib.DEADLINE, metadata=big))
                self.assertIn(raised.exception.code(), refused)
        self.assert_still_serving()

    def test_compressed_requests_are_refused_before_inflating(self):
        channel = grpc.insecure_channel(self.daemon.target,
                                        compression=grpc.Compression.Gzip)
        self.addCleanup(channel.close)
        with self.assertRaises(grpc.RpcError) as raised:
            lib.pb_grpc.EventBusServiceStub(channel).Publish(
                lib.pb.PublishRequest(event=lib.audit_event()), timeout=lib.DEADLINE)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        self.assertIn("'gzip' is disabled", raised.exception.details())
        self.assert_still_serving()

    def test_refusal_lines_are_rate_limited(self):
        call = self.channel.unary_stream(SUBSCRIBE)
        request = lib.pb.SubscribeRequest(
            filter=lib.pb.EventFilter(types=[7])).SerializeToString()
        for _ in range(50):
            with self.assertRaises(grpc.RpcError):
                list(call(request, timeout=lib.DEADLINE))
        self.assert_still_serving()
        refused = [line for line in self.daemon.log().splitlines()
                   if "subscribe from" in line]
        self.assertEqual(len(refused), 5, "\n".join(refused))


class ForgedLogTest(HostileCase):
    """Row 9: a subscriber name holding a newline, a fake timestamp and
    terminal escapes is logged as one escaped line (debug logs show it)."""

    daemon_args = ("--log-level", "debug")

    def test_client_strings_cannot_forge_a_line(self):
        fake = "2026-12-02T00:00:00.000000Z error FAKE"
        name = "x\n" + fake + " \x1b[2J"
        call = self.stub.Subscribe(lib.pb.SubscribeRequest(name=name), timeout=lib.DEADLINE)
        # The headers come once the daemon has registered the subscriber, so
        # the event published next is after its start.
        call.initial_metadata()
        event = lib.audit_event(source="src\n" + fake)
        self.stub.Publish(lib.pb.PublishRequest(event=event), timeout=lib.DEADLINE)
        next(call)
        call.cancel()
        line = self.daemon.wait_for_log(r"subscriber 'x\\x0a2026")
        self.assertIn("\\x1b[2J", line)
        self.daemon.wait_for_log(r"source=src\\x0a2026")
        lines = self.daemon.log().splitlines()
        self.assertFalse([line for line in lines if line.startswith(fake)])
        self.assertFalse([line for line in lines if "\x1b" in line])


class FilesAreFilesTest(unittest.TestCase):
    """Row 8 and start-up signals: every file key, against the real binary."""

    def run_daemon(self, *args):
        return subprocess.run([os.environ["EVENTBUSD"], "--address", "127.0.0.1:0", *args],
                              capture_output=True, text=True, timeout=lib.DEADLINE)

    def test_every_file_key_refuses_what_is_not_a_small_regular_file(self):
        with tempfile.TemporaryDirectory(prefix="eventbus-hostile-") as tmp:
            fifo = os.path.join(tmp, "fifo")
            os.mkfifo(fifo)
            big = os.path.join(tmp, "big")
            with open(big, "wb") as out:
                out.truncate((1 << 20) + 1)
            pem = os.path.join(tmp, "cert.pem")
            key = os.path.join(tmp, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                            "-out", pem, "-days", "1", "-subj", "/CN=localhost"],
                           check=True, capture_output=True)
            keys = {"--config": ("--config: cannot read config file", []),
                    "--auth-tokens-file": ("auth.tokens_file: cannot read", []),
                    "--tls-cert-file": ("server.tls.cert_file: cannot read",
                                        ["--tls-key-file", key]),
                    "--tls-key-file": ("server.tls.key_file: cannot read",
                                       ["--tls-cert-file", pem]),
                    "--tls-client-ca-file": ("server.tls.client_ca_file: cannot read",
                                             ["--tls-cert-file", pem, "--tls-key-file", key])}
            files = {fifo: "is a FIFO, not a regular file",
                     "/dev/zero": "is a character device, not a regular file",
                     tmp: "is a directory, not a regular file",
                     big: "is 1048577 bytes, over the limit of 1048576"}
            for flag, (prefix, extra) in keys.items():
                for path, reason in files.items():
                    with self.subTest(flag=flag, path=path):
                        result = self.run_daemon(*extra, flag, path)
                        self.assertEqual(result.returncode, 2, result.stderr)
                        self.assertIn("%s %s: %s" % (prefix, path, reason), result.stderr)

    def test_sigterm_ends_a_start_up_that_hangs(self):
        # The daemon's stderr is a pipe that is already full and that nobody
        # reads: its first log line, written during start-up before it
        # serves, blocks. SIGTERM must still end it.
        read_end, write_end = os.pipe()
        try:
            os.set_blocking(write_end, False)
            try:
                while True:
                    os.write(write_end, b"x" * 65536)
            except BlockingIOError:
                pass
            os.set_blocking(write_end, True)
            proc = subprocess.Popen([os.environ["EVENTBUSD"], "--address", "127.0.0.1:0"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=write_end)
        finally:
            os.close(write_end)
        try:
            def blocked_in_write():
                for task in os.listdir("/proc/%d/task" % proc.pid):
                    try:
                        with open("/proc/%d/task/%s/wchan" % (proc.pid, task)) as wchan:
                            where = wchan.read()
                    except OSError:
                        where = ""
                    if where in ("", "0"):
                        self.skipTest("this kernel does not show wchan")
                    if "pipe_write" in where:
                        return True
                return False
            lib.wait_for(blocked_in_write, lib.DEADLINE, "start-up blocked writing its log")
            proc.send_signal(15)
            self.assertEqual(proc.wait(lib.DEADLINE), -15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(read_end)


class AddressErrorsTest(unittest.TestCase):
    """Row 10: address errors exit 2 naming server.address."""

    def test_unix_paths_that_cannot_work(self):
        with tempfile.TemporaryDirectory(prefix="eventbus-hostile-") as tmp:
            cases = {"unix:/" + "s" * 120: "the unix socket path is 121 bytes",
                     "unix:" + tmp + "/missing/bus.sock": "does not exist"}
            for address, reason in cases.items():
                with self.subTest(address=address[:40]):
                    result = subprocess.run([os.environ["EVENTBUSD"], "--address", address],
                                            capture_output=True, text=True,
                                            timeout=lib.DEADLINE)
                    self.assertEqual(result.returncode, 2, result.stderr)
                    self.assertIn(reason, result.stderr)
                    self.assertRegex(result.stderr, r"(--address|server\.address)")


@unittest.skipUnless(FLOODS, "floods run with EVENTBUS_HOSTILE_FLOODS=1 "
                             "(scripts/fault-tests hostile)")
class FloodTest(HostileCase):
    """Rows 3-7: memory bounded under each flood, and given back after."""

    def measure(self, name, attack, rss_bound_mb=RSS_BOUND_MB,
                subscriber_may_be_cancelled=False):
        """Runs attack() (which returns a dict of what the peer saw) while
        another client publishes and a subscriber reads; prints one JSON
        line. Checks that the daemon serves throughout and afterwards, that
        the subscriber's stream survives (unless gRPC's quota may cancel
        it), that RSS stays within rss_bound_mb of the baseline (None: gRPC
        1.51 cannot bound this case, see README "Security") and comes back
        within RECOVERY_SECONDS, and that the fds come back."""
        pid = self.daemon.proc.pid
        # A subscriber of another client, whose stream must survive.
        subscriber = self.stub.Subscribe(lib.pb.SubscribeRequest(), timeout=600)
        received = []
        subscriber_error = []

        def read_events():
            try:
                for response in subscriber:
                    received.extend(event.sequence for event in response.events)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.CANCELLED:
                    subscriber_error.append(error.code().name)
        reader = threading.Thread(target=read_events, daemon=True)
        reader.start()
        sampler = RssSampler(pid)
        served = []
        stop = threading.Event()

        other_errors = []

        def serve_others():
            while not stop.is_set():
                started = time.monotonic()
                try:
                    self.publish_ok()
                except grpc.RpcError as error:
                    other_errors.append(error.code().name)
                served.append(time.monotonic() - started)
                stop.wait(0.05)
        other = threading.Thread(target=serve_others, daemon=True)
        other.start()
        try:
            seen = attack()
        finally:
            stop.set()
            other.join(lib.DEADLINE)
        peak = sampler.stop()
        disconnected = time.monotonic()
        recovered = None
        while time.monotonic() - disconnected < RECOVERY_SECONDS:
            if rss_mb(pid) <= self.baseline_rss + RECOVERY_MB:
                recovered = time.monotonic() - disconnected
                break
            time.sleep(0.05)
        after = rss_mb(pid)
        last = self.publish_ok()
        lib.wait_for(lambda: subscriber_error or last in received, lib.DEADLINE,
                     "the subscriber to see sequence %d" % last)
        subscriber.cancel()
        reader.join(lib.DEADLINE)
        figures = {"case": name, "baseline_rss_mb": round(self.baseline_rss, 1),
                   "peak_rss_mb": round(peak, 1), "after_rss_mb": round(after, 1),
                   "recovered_s": None if recovered is None else round(recovered, 2),
                   "served_others": len(served),
                   "slowest_other_ms": round(max(served, default=0) * 1000, 1),
                   "subscriber_error": subscriber_error[0] if subscriber_error else None,
                   **seen}
        print(json.dumps(figures), flush=True)
        self.assert_still_serving()
        self.assertFalse(other_errors, figures)
        self.assertTrue(served, figures)
        if subscriber_may_be_cancelled:
            self.assertIn(figures["subscriber_error"], (None, "RESOURCE_EXHAUSTED"), figures)
        else:
            self.assertIsNone(figures["subscriber_error"], figures)
        if rss_bound_mb is not None:
            self.assertLessEqual(peak, self.baseline_rss + rss_bound_mb, figures)
            self.assertIsNotNone(recovered, figures)
        lib.wait_for(lambda: fd_count(pid) <= self.baseline_fds, lib.DEADLINE,
                     "fds back to %d" % self.baseline_fds)
        return figures

    def test_row3_huge_length_prefix(self):
        def attack():
            raw = RawH2(self.port)
            stream = raw.conn.get_next_available_stream_id()
            raw.conn.send_headers(stream, request_headers(PUBLISH))
            raw.sock.sendall(raw.conn.data_to_send())
            body = [struct.pack(">BI", 0, 2 << 30)]
            body += [b"\0" * (1 << 20)] * 300
            sent = raw.send_body(stream, body)
            try:
                status = None if raw.closed else raw.status_of(stream)
            except AssertionError:  # no answer at all
                status = None
            raw.close()
            return {"sent_mb": round(sent / 2**20, 1), "status": status,
                    "goaway": raw.goaway is not None, "reset": stream in raw.reset}
        # gRPC 1.51 buffers a message of any announced length before it checks
        # the size; the resource quota (server.max_memory, 64 MiB) ends it by
        # cancelling streams, which may be another client's.
        self.measure("length_prefix_2GiB", attack, rss_bound_mb=64 + 16,
                     subscriber_may_be_cancelled=True)

    def test_row4_gzip_bomb(self):
        def attack():
            compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip
            zeros = b"\0" * (1 << 20)
            bomb = b"".join(compressor.compress(zeros) for _ in range(200))
            bomb += compressor.flush()
            raw = RawH2(self.port)
            stream = raw.conn.get_next_available_stream_id()
            raw.conn.send_headers(stream, request_headers(PUBLISH, [("grpc-encoding", "gzip")]))
            raw.sock.sendall(raw.conn.data_to_send())
            raw.send_body(stream, [grpc_frame(bomb, compressed=True)])
            try:
                raw.conn.end_stream(stream)
                raw.sock.sendall(raw.conn.data_to_send())
            except h2.exceptions.StreamClosedError:
                pass  # refused already, before the whole body was sent
            status = None if raw.closed else raw.status_of(stream)
            raw.close()
            return {"compressed_kb": len(bomb) // 1024, "status": status}
        figures = self.measure("gzip_bomb_200MB", attack)
        self.assertEqual(figures["status"][0], grpc.StatusCode.UNIMPLEMENTED.value[0])

    def test_row5_continuation_flood(self):
        def attack():
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=lib.DEADLINE)
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                         + hyperframe.frame.SettingsFrame(0).serialize())
            block = b"".join(hpack_literal(k.encode(), v.encode())
                             for k, v in request_headers(SUBSCRIBE))
            sock.sendall(hyperframe.frame.HeadersFrame(1, data=block).serialize())
            pad = hpack_literal(b"x-pad", b"a" * 16000)
            frame = hyperframe.frame.ContinuationFrame(1, data=pad).serialize()
            sent = 0
            try:
                for _ in range(64 * 2**20 // len(frame)):
                    sock.sendall(frame)
                    sent += len(frame)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass
            sock.close()
            return {"sent_mb": round(sent / 2**20, 1)}
        # gRPC 1.51 has no bound on a header block (see README "Security").
        self.measure("continuation_flood_64MB", attack, rss_bound_mb=None)

    def test_row6_ping_flood(self):
        def attack():
            conns = [RawH2(self.port) for _ in range(10)]
            ping = hyperframe.frame.PingFrame(0)
            ping.opaque_data = b"12345678"
            flood = ping.serialize() * 20000
            for raw in conns:
                try:
                    raw.sock.sendall(flood)
                except (BrokenPipeError, ConnectionResetError):
                    raw.closed = True
            acks = 0
            goaways = 0
            ended = 0
            for raw in conns:
                # hyperframe frames sent behind h2's back: count acks by hand.
                raw.sock.settimeout(lib.DEADLINE)
                data = b""
                try:
                    while True:
                        chunk = raw.sock.recv(1 << 20)
                        if not chunk:
                            ended += 1
                            break
                        data += chunk
                except ConnectionResetError:
                    ended += 1  # closed with our pings unread: no GOAWAY seen
                except socket.timeout:
                    pass
                acks += count_frames(data, hyperframe.frame.PingFrame.type, ack=True)
                goaways += count_frames(data, hyperframe.frame.GoAwayFrame.type) > 0
                raw.close()
            return {"connections": 10, "pings_per_connection": 20000,
                    "acked_pings": acks, "goaways_seen": goaways,
                    "connections_ended": ended}
        # gRPC 1.51 acknowledges every PING it parsed before its GOAWAY.
        figures = self.measure("ping_flood_10x20000", attack, rss_bound_mb=None)
        # Every attacking connection is ended by the daemon.
        self.assertEqual(figures["connections_ended"], 10)

    def test_row7_big_metadata_on_many_streams(self):
        def attack():
            channel = grpc.insecure_channel(
                self.daemon.target,
                options=[("grpc.max_metadata_size", 64 << 20)])
            stub = lib.pb_grpc.EventBusServiceStub(channel)
            calls = [stub.Subscribe(lib.pb.SubscribeRequest(), timeout=lib.DEADLINE,
                                    metadata=[("x-big", "v" * (1 << 20))])
                     for _ in range(100)]
            codes = {}
            for call in calls:
                try:
                    next(call)
                    code = grpc.StatusCode.OK
                except grpc.RpcError as error:
                    code = error.code()
                codes[code.name] = codes.get(code.name, 0) + 1
            for call in calls:
                call.cancel()
            channel.close()
            return {"streams": 100, "codes": codes}
        figures = self.measure("metadata_100x1MB", attack)
        self.assertNotIn("OK", figures["codes"])


def count_frames(data, frame_type, ack=None):
    """Counts frames of `frame_type` in raw server bytes (after its preface
    SETTINGS); with ack=True only those with the ACK flag."""
    count = 0
    offset = 0
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset:offset + 3], "big")
        kind = data[offset + 3]
        flags = data[offset + 4]
        if kind == frame_type and (ack is None or bool(flags & 0x1) == ack):
            count += 1
        offset += 9 + length
    return count


if __name__ == "__main__":
    unittest.main()
