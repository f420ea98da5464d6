#!/usr/bin/python3
"""deploy/prometheus and deploy/grafana, checked with Debian's promtool and
against the real eventbusd:

  - the alert rules pass `promtool check rules` and their unit tests
    (`promtool test rules`);
  - the dashboard is valid JSON, and every panel's PromQL parses (promtool
    checks each as a recording rule);
  - every eventbus_* and process_* name the rules and the dashboard use is
    one that the real eventbusd (durable log on) serves on /metrics.

Environment: EVENTBUSD (required).
Run: /usr/bin/python3 tests/deploy/monitoring_test.py [-v]
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import python_client_test as lib  # noqa: E402  (Daemon)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RULES = os.path.join(ROOT, "deploy", "prometheus", "eventbus-rules.yaml")
RULE_TESTS = os.path.join(ROOT, "deploy", "prometheus", "eventbus-rules.test.yaml")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "eventbus-dashboard.json")
NAME = re.compile(r"\b((?:eventbus|process)_[a-z_]+)")
SUFFIXES = ("_bucket", "_sum", "_count")


def setUpModule():
    if shutil.which("promtool") is None:
        raise unittest.SkipTest("promtool (Debian's prometheus) is not installed; "
                                "scripts/install-deps --test installs it")


def promtool(*args):
    result = subprocess.run(["promtool", *args], capture_output=True, text=True,
                            timeout=lib.DEADLINE)
    return result.returncode, result.stdout + result.stderr


def dashboard_exprs():
    with open(DASHBOARD, encoding="utf-8") as f:
        dashboard = json.load(f)
    return dashboard, [(panel["title"], target["expr"])
                       for panel in dashboard["panels"] for target in panel["targets"]]


def rule_exprs():
    with open(RULES, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    return [(rule["alert"], rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


class MonitoringTest(unittest.TestCase):

    def test_rules_check_and_unit_tests(self):
        self.assertEqual(promtool("check", "rules", RULES)[0], 0, promtool("check", "rules", RULES)[1])
        code, output = promtool("test", "rules", RULE_TESTS)
        self.assertEqual(code, 0, output)
        self.assertIn("SUCCESS", output)

    def test_every_alert_is_unit_tested(self):
        with open(RULE_TESTS, encoding="utf-8") as f:
            tests = yaml.safe_load(f)
        tested = {case["alertname"] for test in tests["tests"]
                  for case in test.get("alert_rule_test", [])}
        self.assertEqual(tested, {name for name, _ in rule_exprs()})

    def test_dashboard_parses_and_every_query_parses(self):
        dashboard, exprs = dashboard_exprs()
        self.assertEqual(dashboard["uid"], "eventbus")
        self.assertGreaterEqual(len(exprs), 10)
        # Grafana's $__rate_interval is not PromQL: give it a value.
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": "dashboard:panel_%d" % i,
             "expr": expr.replace("$__rate_interval", "5m")}
            for i, (_, expr) in enumerate(exprs)]}]}
        with tempfile.TemporaryDirectory(prefix="eventbus-dashboard-") as tmp:
            path = os.path.join(tmp, "dashboard-rules.yaml")
            with open(path, "w", encoding="utf-8") as f:
                yaml.safe_dump(rules, f)
            code, output = promtool("check", "rules", path)
        self.assertEqual(code, 0, output)

    def test_every_name_used_is_served(self):
        with tempfile.TemporaryDirectory(prefix="eventbus-monitoring-") as tmp:
            daemon = lib.Daemon("--metrics-address", "127.0.0.1:0",
                                "--storage-path", os.path.join(tmp, "log"))
            try:
                address = re.search(r"metrics on http://(\S+)/metrics",
                                    daemon.wait_for_log("metrics on")).group(1)
                with urllib.request.urlopen("http://%s/metrics" % address,
                                            timeout=lib.DEADLINE) as response:
                    page = response.read().decode()
            finally:
                self.assertEqual(daemon.stop(), 0, daemon.log())
        served = set(re.findall(r"^# TYPE (\S+) ", page, re.M))
        used = set()
        for _, expr in rule_exprs() + dashboard_exprs()[1]:
            for name in NAME.findall(expr):
                for suffix in SUFFIXES:
                    if name.endswith(suffix) and name[:-len(suffix)] in served:
                        name = name[:-len(suffix)]
                used.add(name)
        self.assertEqual(used - served, set())


if __name__ == "__main__":
    unittest.main()
