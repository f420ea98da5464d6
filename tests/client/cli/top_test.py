#!/usr/bin/python3
"""`eventbus top` in a real terminal: tmux runs it against the real
eventbusd, and the test reads the screen (tmux capture-pane) as a user
would see it:

  - the view redraws about once a second: the head it shows follows the
    events published meanwhile, and the publish rate is that of the
    publisher running in the background;
  - subscribers are sorted by how far behind they are: a stalled
    subscriber (it reads nothing while 900 KiB events arrive) comes before
    one that keeps up, with its BEHIND larger than 0;
  - the table is cut to the window's height, saying how many rows are left
    out;
  - Ctrl-C ends it with exit status 130.

Environment: EVENTBUSD, EVENTBUS_CLI (required), EVENTBUS_PY_OUT.
Run: /usr/bin/python3 tests/client/cli/top_test.py [-v]
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "e2e"))
import python_client_test as lib  # noqa: E402  (Daemon, stubs, helpers)

CLI = os.environ.get("EVENTBUS_CLI", "")


def setUpModule():
    lib.setUpModule()
    if not shutil.which("tmux"):
        raise unittest.SkipTest("tmux is not installed (scripts/install-deps --test)")
    # tmux needs pseudo-terminals: a chroot with /dev bound but not /dev/pts
    # (../shared/tools/fresh-debian-ci) has none, and every case would fail
    # in tmux's new-session rather than in `eventbus top`.
    try:
        primary, secondary = os.openpty()
    except OSError as error:
        raise unittest.SkipTest("no pseudo-terminal can be opened here (%s): is /dev/pts "
                                "mounted?" % error)
    os.close(primary)
    os.close(secondary)


class TopTest(lib.EventBusTestCase):

    DAEMON_ARGS = ("--capacity", "100000", "--max-event-bytes", "1MiB")

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.TemporaryDirectory(prefix="eventbus-top-")
        self.addCleanup(self.tmp.cleanup)
        # A tmux server of its own (-S socket in the test's directory).
        self.socket = os.path.join(self.tmp.name, "tmux.sock")
        self.status_file = os.path.join(self.tmp.name, "status")
        self.addCleanup(self.tmux_quiet, "kill-server")

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.socket] + list(args), check=True,
                              capture_output=True, text=True, timeout=lib.DEADLINE).stdout

    def tmux_quiet(self, *args):
        subprocess.run(["tmux", "-S", self.socket] + list(args),
                       capture_output=True, timeout=lib.DEADLINE)

    def start_top(self, rows):
        # bash goes on after a foreground command that handled SIGINT and
        # exited (it does not die with it, as dash does): the status is saved.
        command = "%s --server %s top; echo $? > %s; sleep 60" % (
            CLI, self.daemon.target, self.status_file)
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", "150", "-y", str(rows),
                  "bash", "-c", command)

    def exit_status(self):
        """What the shell saved after top exited, or None before."""
        try:
            with open(self.status_file) as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    def screen(self):
        return self.tmux("capture-pane", "-p")

    def wait_for_screen(self, accept, what, timeout=lib.DEADLINE):
        """Returns the first screen `accept` takes, within `timeout`."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if accept(screen):
                return screen
            time.sleep(0.05)
        self.fail("no screen showed %s within %ss; the last:\n%s" % (what, timeout, screen))

    @staticmethod
    def head(screen):
        match = re.search(r"head (\d+)", screen)
        return int(match.group(1)) if match else None

    def test_live_view_sorted_by_behind(self):
        stalled, _ = self.subscribe(name="stalled")  # never read
        keeping_up, _ = self.subscribe(name="keeping-up")
        big = lib.space_name_event(name="x" * (900 * 1024))
        reader = threading.Thread(target=lambda: self.read(keeping_up, 40), daemon=True)
        reader.start()
        for _ in range(40):
            self.publish(big)
        reader.join(timeout=lib.DEADLINE)
        self.assertFalse(reader.is_alive(), "keeping-up did not read its 40 events")

        self.start_top(rows=40)
        screen = self.wait_for_screen(lambda s: "keeping-up" in s and "stalled" in s,
                                      "both subscribers")
        rows = [line for line in screen.splitlines()
                if line.startswith(("stalled", "keeping-up"))]
        self.assertEqual([r.split()[0] for r in rows], ["stalled", "keeping-up"], screen)
        header = [line for line in screen.splitlines() if line.startswith("NAME")][0].split()
        behind = header.index("BEHIND")
        self.assertGreater(int(rows[0].split()[behind]), 0, screen)
        self.assertEqual(int(rows[1].split()[behind]), 0, screen)

        # A publisher at a steady pace: the view follows it every second.
        stop = threading.Event()

        def publish_steadily():
            while not stop.is_set():
                self.publish(lib.space_name_event())
                time.sleep(0.01)
        publisher = threading.Thread(target=publish_steadily, daemon=True)
        publisher.start()
        self.addCleanup(publisher.join)
        self.addCleanup(stop.set)
        first = self.head(self.wait_for_screen(
            lambda s: self.head(s) is not None, "a whole frame"))
        screen = self.wait_for_screen(
            lambda s: re.search(r"publish ([1-9]\d*\.\d)/s", s) is not None
            and (self.head(s) or 0) > first, "a publish rate above 0 and a newer head")
        before = self.head(screen)
        # Redrawn every second: the head moves again (the deadline leaves
        # room for a loaded machine).
        self.wait_for_screen(lambda s: (self.head(s) or 0) > before, "the next frame")
        stop.set()

        self.tmux("send-keys", "C-c")
        lib.wait_for(lambda: self.exit_status() is not None, lib.DEADLINE, "top to exit")
        self.assertEqual(self.exit_status(), "130")

    def test_rows_are_cut_to_the_window(self):
        for i in range(12):
            self.subscribe(name="sub-%02d" % i)
        self.start_top(rows=10)
        screen = self.wait_for_screen(lambda s: "more" in s, "the cut table")
        lines = screen.splitlines()
        # 10 lines: title, rates, blank, header, 4 rows, "more", one spare.
        self.assertTrue(lines[0].startswith("eventbus top"), screen)
        self.assertEqual(len([l for l in lines if l.startswith("sub-")]), 4, screen)
        self.assertIn("... and 8 more", screen)

    def test_names_cannot_send_terminal_escapes(self):
        self.subscribe(name="evil\x1b]0;pwned\x07 name")
        self.start_top(rows=20)
        screen = self.wait_for_screen(lambda s: "evil" in s, "the subscriber")
        self.assertIn("evil\\x1b]0;pwned\\x07\\x20name", screen)


if __name__ == "__main__":
    unittest.main()
