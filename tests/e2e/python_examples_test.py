#!/usr/bin/python3
"""Runs client/examples/publisher.py and subscriber.py against a real
eventbusd: the publisher's receipts, the subscriber's JSON lines, its resume
after a dropped connection (nothing lost, nothing twice), its report of a
daemon restart, and lag notices.

The stubs are generated the way client/examples/README.md says (Debian's
protoc with grpc_python_plugin). Every wait is bounded by a deadline and
polls a real signal (a line of output, a process exit); nothing sleeps a
fixed time.

Environment:
  EVENTBUSD        path to the eventbusd binary (required)
  EVENTBUS_PY_OUT  scratch directory for the generated stubs (default: a
                   temporary directory)

Run: /usr/bin/python3 tests/e2e/python_examples_test.py [-v]
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "client", "examples")
DEADLINE = 15.0

_gen = None


def setUpModule():
    global _gen
    if not os.access(os.environ.get("EVENTBUSD", ""), os.X_OK):
        raise RuntimeError("set EVENTBUSD to the eventbusd binary")
    out = os.environ.get("EVENTBUS_PY_OUT")
    if not out:
        # Removed after the last test, also when setUpModule fails later on.
        tmp = tempfile.TemporaryDirectory(prefix="eventbus-examples-")
        unittest.addModuleCleanup(tmp.cleanup)
        out = tmp.name
    _gen = os.path.join(os.path.abspath(out), "gen")
    shutil.rmtree(_gen, ignore_errors=True)
    os.makedirs(_gen)
    # The command of client/examples/README.md.
    result = subprocess.run(
        ["/usr/bin/protoc", "-I", os.path.join(REPO, "proto"), "-I", "/usr/include",
         "--python_out", _gen, "--grpc_python_out", _gen,
         "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
         "eventbus/v1/eventbus.proto"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("cannot generate the Python stubs: " + result.stderr)


class Process:
    """A child whose stdout and stderr lines are collected by threads."""

    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors="replace", env=env)
        self.out, self.err = [], []
        self._cond = threading.Condition()
        self._open = 2
        self._readers = [threading.Thread(target=self._read, args=(s, l), daemon=True)
                         for s, l in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, lines):
        for line in stream:
            with self._cond:
                lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        stream.close()
        with self._cond:
            self._open -= 1
            self._cond.notify_all()

    def await_lines(self, lines, predicate, what, timeout=DEADLINE):
        """Waits until predicate(list of lines so far) is true; returns it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(list(lines))
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._open == 0:
                    raise AssertionError("timed out waiting for %s; stdout:\n%s\nstderr:\n%s"
                                         % (what, "\n".join(self.out), "\n".join(self.err)))
                self._cond.wait(remaining)

    def await_stderr(self, pattern, what, start=0):
        regex = re.compile(pattern)
        return self.await_lines(self.err, lambda ls: [l for l in ls[start:] if regex.search(l)], what)

    def wait(self, timeout=DEADLINE):
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("%s did not exit; stderr:\n%s" % (self.proc.args, "\n".join(self.err)))
        for reader in self._readers:
            reader.join(DEADLINE)
        return code

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait()


class Daemon(Process):
    def __init__(self, *args):
        super().__init__([os.environ["EVENTBUSD"], *args])
        line = self.await_stderr(r"listening on \S+ \(", "eventbusd to listen")[0]
        self.address = re.search(r"listening on (\S+)", line).group(1)


class Proxy:
    """A TCP proxy to `target` whose connections the test can cut."""

    def __init__(self, target):
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.sockets = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
                self.accepted += 1
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        """Drops every connection, as a network failure would."""
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.sockets = []

    def close(self):
        self.listener.close()
        self.cut()


def example(name, *args):
    env = dict(os.environ, PYTHONPATH=_gen)
    env.pop("EVENTBUS_SERVER", None)
    # Debian's Python, which has python3-grpcio, as the README says.
    return ["/usr/bin/python3", os.path.join(EXAMPLES, name), *args], env


def events_of(lines):
    return [json.loads(l) for l in lines if l.startswith('{"sequence"')]


class ExamplesTest(unittest.TestCase):
    def setUp(self):
        self.processes = []

    def tearDown(self):
        for process in reversed(self.processes):
            if process.proc.poll() is None:
                process.proc.kill()
            process.wait()

    def start(self, process):
        self.processes.append(process)
        return process

    def daemon(self, *args):
        return self.start(Daemon(*args))

    def subscriber(self, server, *args):
        argv, env = example("subscriber.py", "--server", server, "--max-backoff", "0.2", *args)
        process = self.start(Process(argv, env))
        process.await_stderr(r"subscribed \(instance", "the subscriber to subscribe")
        return process

    def publish(self, server, count, *args):
        argv, env = example("publisher.py", "--server", server, "--count", str(count),
                            "--username", "alice", "--operation", "read", *args)
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 0, result.stderr)
        return [json.loads(line) for line in result.stdout.splitlines()]

    def await_events(self, subscriber, count, what):
        return subscriber.await_lines(
            subscriber.out, lambda ls: events_of(ls) if len(events_of(ls)) >= count else None, what)

    def test_publisher_prints_receipts_and_the_subscriber_the_events(self):
        daemon = self.daemon("--address", "127.0.0.1:0")
        subscriber = self.subscriber(daemon.address)
        receipts = self.publish(daemon.address, 3, "--resource-id", "card-1",
                                "--registry-type", "model", "--attr", "team=ml")
        self.assertEqual([r["sequence"] for r in receipts], ["1", "2", "3"])
        self.assertTrue(all(r["id"] and r["subscribers"] == 1 for r in receipts), receipts)
        events = self.await_events(subscriber, 3, "three events")
        self.assertEqual([e["id"] for e in events], [r["id"] for r in receipts])
        first = events[0]
        self.assertEqual(first["source"], "python-example")
        self.assertEqual(first["attributes"], {"team": "ml", "n": "1"})
        self.assertEqual(first["audit"]["username"], "alice")
        self.assertEqual(first["audit"]["operation"], "OPERATION_READ")
        self.assertEqual(first["audit"]["registryType"], "REGISTRY_TYPE_MODEL")
        self.assertIn("publishTime", first)
        self.assertEqual(subscriber.stop(), 130, "\n".join(subscriber.err))
        self.assertEqual(daemon.stop(), 0)

    def test_subscriber_resumes_after_a_dropped_connection(self):
        daemon = self.daemon("--address", "127.0.0.1:0")
        proxy = Proxy(daemon.address)
        self.addCleanup(proxy.close)
        subscriber = self.subscriber(proxy.address)
        self.publish(daemon.address, 3)
        self.await_events(subscriber, 3, "the first three events")
        mark = len(subscriber.err)
        proxy.cut()
        subscriber.await_stderr(r"disconnected \(UNAVAILABLE", "the disconnect", start=mark)
        # Published while it is away: the ring still holds them.
        self.publish(daemon.address, 2)
        resumed = subscriber.await_stderr(r"subscribed \(instance", "the resume", start=mark)
        self.assertIn("from sequence 4", resumed[0])
        events = self.await_events(subscriber, 5, "all five events")
        self.assertEqual([e["sequence"] for e in events], ["1", "2", "3", "4", "5"])
        self.assertFalse([l for l in subscriber.out if "lagged" in l or "instanceChanged" in l])
        self.assertGreaterEqual(proxy.accepted, 2)
        self.assertEqual(subscriber.stop(), 130, "\n".join(subscriber.err))
        self.assertEqual(daemon.stop(), 0)

    def test_subscriber_reports_a_daemon_restart_and_follows_the_new_one(self):
        daemon = self.daemon("--address", "127.0.0.1:0")
        address = daemon.address
        subscriber = self.subscriber(address, "--from-earliest")
        self.publish(address, 2)
        self.await_events(subscriber, 2, "the first instance's events")
        first_instance = re.search(r"instance (\S+),", subscriber.err[0]).group(1)
        mark = len(subscriber.err)
        daemon.stop(signal.SIGKILL)
        subscriber.await_stderr(r"disconnected \(UNAVAILABLE", "the disconnect", start=mark)
        restarted = self.daemon("--address", address)
        self.publish(address, 1, "--username", "bob")
        lines = subscriber.await_lines(
            subscriber.out, lambda ls: ls if len(events_of(ls)) >= 3 else None,
            "the new instance's event")
        changed = [json.loads(l)["instanceChanged"] for l in lines if "instanceChanged" in l]
        self.assertEqual(len(changed), 1, lines)
        self.assertEqual(changed[0]["previousInstance"], first_instance)
        self.assertNotEqual(changed[0]["instance"], first_instance)
        self.assertEqual(changed[0]["lostFromSequence"], "3")
        events = events_of(lines)
        # The new instance numbers from 1 again; the subscriber starts at its
        # earliest event.
        self.assertEqual([(e["sequence"], e["audit"]["username"]) for e in events],
                         [("1", "alice"), ("2", "alice"), ("1", "bob")])
        self.assertLess(next(i for i, l in enumerate(lines) if "instanceChanged" in l),
                        next(i for i, l in enumerate(lines) if '"username":"bob"' in l))
        self.assertEqual(subscriber.stop(), 130, "\n".join(subscriber.err))
        self.assertEqual(restarted.stop(), 0)

    def test_subscriber_prints_lag_then_the_retained_events(self):
        daemon = self.daemon("--address", "127.0.0.1:0", "--capacity", "4")
        self.publish(daemon.address, 10)
        argv, env = example("subscriber.py", "--server", daemon.address,
                            "--from-sequence", "1", "--count", "4")
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = [json.loads(l) for l in result.stdout.splitlines()]
        self.assertEqual(lines[0], {"lagged": {"missed": "6", "firstSequence": "1", "lastSequence": "6"}})
        self.assertEqual([e["sequence"] for e in lines[1:]], ["7", "8", "9", "10"])
        self.assertEqual(daemon.stop(), 0)

    def test_errors_have_the_documented_exit_status(self):
        daemon = self.daemon("--address", "127.0.0.1:0")
        # OUT_OF_RANGE (11): a start beyond the daemon's numbering.
        argv, env = example("subscriber.py", "--server", daemon.address, "--from-sequence", "100")
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 64 + 11, result.stderr)
        self.assertIn("OUT_OF_RANGE", result.stderr)
        # A usage error.
        argv, env = example("publisher.py", "--server", daemon.address, "--operation", "fly")
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(daemon.stop(), 0)
        # UNAVAILABLE (14): nothing listens any more.
        argv, env = example("publisher.py", "--server", daemon.address, "--timeout", "2")
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 64 + 14, result.stderr)

    def test_examples_send_the_token_of_the_environment(self):
        token = "examples-token-3c1f9e27ab"
        scratch = tempfile.TemporaryDirectory(prefix="eventbus-examples-")
        self.addCleanup(scratch.cleanup)
        tokens = os.path.join(scratch.name, "examples-tokens")
        with open(tokens, "w") as f:
            f.write(token + " publish,subscribe examples\n")
        daemon = self.daemon("--address", "127.0.0.1:0", "--auth-tokens-file", tokens)
        # UNAUTHENTICATED (16) without the token.
        argv, env = example("publisher.py", "--server", daemon.address)
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 64 + 16, result.stderr)
        os.environ["EVENTBUS_TOKEN"] = token
        self.addCleanup(os.environ.pop, "EVENTBUS_TOKEN", None)
        subscriber = self.subscriber(daemon.address)
        self.assertEqual([r["sequence"] for r in self.publish(daemon.address, 2)], ["1", "2"])
        self.assertEqual(len(self.await_events(subscriber, 2, "two events")), 2)
        self.assertEqual(subscriber.stop(), 130, "\n".join(subscriber.err))
        self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
