#!/usr/bin/python3
"""Operating the real eventbusd: SIGHUP reloads and JSON logs.

  - SIGHUP no longer ends the daemon; a token removed from the tokens file
    gets UNAUTHENTICATED on new calls after the reload, a token added
    works, and a stream opened before the reload keeps receiving;
  - a broken tokens file keeps the old tokens, logs an error naming
    auth.tokens_file and counts a failed reload in the metrics;
  - log.level changes with a reload; a key that needs a restart
    (bus.capacity) is reported as ignored;
  - --log-format json writes one JSON object per line.

Environment: EVENTBUSD (required), EVENTBUS_PY_OUT (stub scratch directory).
Run: /usr/bin/python3 tests/e2e/operations_test.py [-v] [Class.test]
"""

import json
import os
import re
import signal
import sys
import tempfile
import unittest
import urllib.request

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_client_test as lib  # noqa: E402  (Daemon, stubs, helpers)

TOKEN_A = "token-a-0123456789abcdef"
TOKEN_B = "token-b-0123456789abcdef"


def setUpModule():
    lib.setUpModule()


def bearer(token):
    return [("authorization", "Bearer " + token)]


class ReloadTest(lib.EventBusTestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="eventbus-ops-")
        self.addCleanup(self.tmp.cleanup)
        self.tokens = os.path.join(self.tmp.name, "tokens")
        self.config = os.path.join(self.tmp.name, "eventbus.yaml")
        self.write(self.tokens, "%s publish,subscribe alice\n" % TOKEN_A)
        self.write(self.config, "bus:\n  capacity: 64\nlog:\n  level: info\n")
        super().setUp()

    @property
    def DAEMON_ARGS(self):  # noqa: N802 (the base class's name)
        return ("--config", self.config, "--auth-tokens-file", self.tokens,
                "--metrics-address", "127.0.0.1:0")

    @staticmethod
    def write(path, text):
        with open(path + ".new", "w") as f:
            f.write(text)
        os.replace(path + ".new", path)  # as a config manager would

    def reload(self, outcome):
        """SIGHUPs the daemon, waits (2s at most, the promise) for the line
        saying how the reload went, checks it says `outcome`, returns it."""
        pattern = re.compile(r"reload: applied|reload failed")
        before = sum(1 for line in self.daemon.lines if pattern.search(line))
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.daemon.wait_for_last_match(
            pattern.pattern,
            lambda _: sum(1 for line in self.daemon.lines if pattern.search(line)) > before,
            timeout=2)
        line = [line for line in self.daemon.lines if pattern.search(line)][-1]
        self.assertIn(outcome, line)
        return line

    def publish_as(self, token):
        return self.stub.Publish(lib.pb.PublishRequest(event=lib.space_name_event()),
                                 metadata=bearer(token), timeout=lib.DEADLINE)

    def assert_unauthenticated(self, token):
        with self.assertRaises(grpc.RpcError) as caught:
            self.publish_as(token)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

    def metric(self, name):
        address = re.search(r"metrics on http://(\S+)/metrics",
                            self.daemon.wait_for_log("metrics on")).group(1)
        with urllib.request.urlopen("http://%s/metrics" % address,
                                    timeout=lib.DEADLINE) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[-1])
        return None

    def test_a_removed_token_is_refused_and_open_streams_go_on(self):
        self.publish_as(TOKEN_A)
        call = self.stub.Subscribe(lib.pb.SubscribeRequest(), metadata=bearer(TOKEN_A),
                                   timeout=lib.DEADLINE)
        self.addCleanup(call.cancel)
        call.initial_metadata()
        self.write(self.tokens, "%s publish,subscribe bob\n" % TOKEN_B)
        self.reload("reload: applied")
        self.assert_unauthenticated(TOKEN_A)
        published = self.publish_as(TOKEN_B)
        # The stream admitted before the reload keeps receiving.
        response = next(call)
        self.assertEqual(response.events[0].sequence, published.sequence)
        self.assertEqual(self.daemon.proc.poll(), None)
        self.assertEqual(self.metric('eventbus_config_reloads_total{result="applied"}'), 1)

    def test_a_broken_tokens_file_keeps_the_old_tokens(self):
        self.write(self.tokens, "Xq7zk publish\n")
        line = self.reload("reload failed")
        self.assertIn("auth.tokens_file: ", line)
        self.assertNotIn("Xq7zk", self.daemon.log())  # never a token in the log
        self.publish_as(TOKEN_A)
        self.assertEqual(self.metric('eventbus_config_reloads_total{result="failed"}'), 1)

    def test_a_reload_never_turns_authentication_off(self):
        # A daemon whose tokens file comes from its config file alone.
        config = os.path.join(self.tmp.name, "auth.yaml")
        self.write(config, "auth:\n  tokens_file: %s\n" % self.tokens)
        self.daemon = self.start_daemon("--config", config)
        self.stub = lib.pb_grpc.EventBusServiceStub(self.open_channel(self.daemon))
        self.write(config, "bus:\n  capacity: 64\n")
        line = self.reload("reload failed")
        self.assertIn("would turn authentication off", line)
        self.assert_unauthenticated("token-c-0123456789abcdef")
        self.publish_as(TOKEN_A)

    def test_log_level_reloads_and_restart_keys_are_ignored(self):
        self.publish_as(TOKEN_A)
        self.assertNotRegex(self.daemon.log(), r"debug published sequence=1 ")
        self.write(self.config, "bus:\n  capacity: 128\nlog:\n  level: debug\n")
        self.reload("reload: applied")
        self.daemon.wait_for_log(r"bus.capacity changed; it needs a restart")
        self.publish_as(TOKEN_A)
        self.daemon.wait_for_log(r"debug published sequence=2 ")

    def test_a_broken_config_file_keeps_everything(self):
        self.write(self.config, "bus:\n  capacity: 0\n")
        line = self.reload("reload failed")
        self.assertIn("bus.capacity: must be between 1 and", line)
        self.publish_as(TOKEN_A)


class JsonLogTest(lib.EventBusTestCase):

    DAEMON_ARGS = ("--log-format", "json", "--log-level", "debug")

    def test_every_line_is_one_json_object(self):
        self.publish_ok()
        self.daemon.wait_for_log("published sequence=1")
        self.assertEqual(self.daemon.stop(), 0)
        lines = self.daemon.lines
        self.assertGreater(len(lines), 3)
        for line in lines:
            record = json.loads(line)
            self.assertEqual(set(record), {"time", "level", "logger", "thread", "message"})
            self.assertRegex(record["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        messages = [json.loads(line)["message"] for line in lines]
        self.assertTrue(any(m.startswith("eventbusd ") and " listening on " in m
                            for m in messages))
        self.assertIn("info", {json.loads(line)["level"] for line in lines})


if __name__ == "__main__":
    unittest.main()
