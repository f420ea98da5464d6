#!/usr/bin/python3
"""Checks the deployment files against each other, the README and the real
binaries.

None of Docker, Compose, Kubernetes or systemd runs here, so the files are
checked for what each of them would need: every YAML file under deploy/
parses; the Kubernetes pod runs eventbusd as a native sidecar with gRPC
probes, resources and a locked-down securityContext, and the real eventbusd
accepts its ConfigMap; the Dockerfile installs packages only through
scripts/install-deps (the README's one package list), builds and ships both
binaries, runs as a non-root user with a HEALTHCHECK; the commands of the
Compose services and of the image's HEALTHCHECK work against a real
eventbusd; the fleet compose file's services run on loopback (Debian's
nats-server for its NATS nodes); the systemd unit is Type=notify with its hardening (and, where
systemd-analyze exists, passes `verify` and rates OK in `security`).

Environment:
  EVENTBUSD     path to the eventbusd binary (required)
  EVENTBUS_CLI  path to the eventbus CLI binary (required)

Run: /usr/bin/python3 tests/deploy/deploy_files_test.py [-v]
(Debian's python3-yaml.)
"""

import glob
import json
import os
import re
import shlex
import shutil
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(REPO, "deploy")
DEADLINE = 15.0

CONFIG_PATH = "/etc/eventbus/eventbus.yaml"  # the documented path
IMAGE_EVENTBUSD = "/usr/local/bin/eventbusd"
IMAGE_EVENTBUS = "/usr/local/bin/eventbus"


def read(*parts):
    with open(os.path.join(REPO, *parts), encoding="utf-8") as f:
        return f.read()


def binary(name):
    path = os.environ.get(name)
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("set %s to the built binary (got %r)" % (name, path))
    return os.path.abspath(path)


def parse_duration(text):
    """Seconds of an eventbusd duration: "5s", "500ms", "1m", "1h"."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(text).strip())
    if not match:
        raise ValueError("not a duration: %r" % text)
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    return float(match.group(1)) * scale


def parse_size(text):
    """Bytes of an eventbusd size: 1048576, "64B", "512KiB", "1MiB"."""
    match = re.fullmatch(r"(\d+)\s*(B|KiB|MiB)?", str(text).strip())
    if not match:
        raise ValueError("not a size: %r" % text)
    return int(match.group(1)) * {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20}[match.group(2)]


def parse_quantity(text):
    """Bytes of a Kubernetes memory quantity: "64Mi", "2Gi", "512M"."""
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi|K|M|G)?", str(text))
    if not match:
        raise ValueError("not a quantity: %r" % text)
    return int(match.group(1)) * {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30,
                                  "K": 10**3, "M": 10**6, "G": 10**9}[match.group(2)]


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
    """A real eventbusd; its stderr is collected by a thread."""

    LISTENING = re.compile(r"listening on (\S+) \((.*)\)$")

    def __init__(self, *args, env=None):
        self.proc = subprocess.Popen(
            [binary("EVENTBUSD"), *args], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            errors="replace", env=env)
        self.lines = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        match = self._await(self.LISTENING)
        if not match:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("eventbusd %s did not start (exit %s):\n%s"
                                 % (args, self.proc.returncode, self.log()))
        self.address, self.settings = match.group(1), match.group(2)

    def _drain(self):
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _await(self, regex):
        deadline = time.monotonic() + DEADLINE
        with self._cond:
            while True:
                for line in self.lines:
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def log(self):
        with self._cond:
            return "\n".join(self.lines)

    def stop(self):
        """SIGTERM; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("eventbusd did not exit after SIGTERM:\n" + self.log())
        self._reader.join(DEADLINE)
        if not self._reader.is_alive():
            self.proc.stderr.close()
        return code


def dockerfile_instructions(text):
    """[(stage, INSTRUCTION, arguments)] of a Dockerfile, continuation lines
    joined and comments dropped; stage counts FROM lines from 0."""
    instructions = []
    stage = -1
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, arguments = full.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append((stage, keyword, arguments.strip()))
    return instructions


def exec_form(arguments):
    """The argv of a JSON exec form (["a", "b"]), or None for shell form."""
    arguments = arguments.strip()
    if arguments.startswith("["):
        return json.loads(arguments)
    return None


def runtime_packages():
    packages = []
    for line in read("scripts", "packages.txt").splitlines():
        fields = line.split()
        if fields and fields[0] == "runtime":
            packages.append(fields[1])
    return packages


def read_unit(path):
    """{section: {key: [values]}} of a systemd unit (keys may repeat)."""
    sections = {}
    section = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = sections.setdefault(line[1:-1], {})
                continue
            key, sep, value = line.partition("=")
            if not sep or section is None:
                raise AssertionError("%s: not KEY=VALUE: %r" % (path, line))
            section.setdefault(key.strip(), []).append(value.strip())
    return sections


def default_drain_timeout():
    return parse_duration(yaml.safe_load(read("config", "eventbus.yaml"))["server"]["drain_timeout"])


class YamlFilesTest(unittest.TestCase):
    def test_every_yaml_file_under_deploy_parses(self):
        files = sorted(glob.glob(os.path.join(DEPLOY, "**", "*.yaml"), recursive=True)
                       + glob.glob(os.path.join(DEPLOY, "**", "*.yml"), recursive=True))
        self.assertGreaterEqual(len(files), 5, files)
        for path in files:
            with self.subTest(path=os.path.relpath(path, REPO)):
                with open(path, encoding="utf-8") as f:
                    documents = [d for d in yaml.safe_load_all(f) if d is not None]
                self.assertTrue(documents, "no document")
                for document in documents:
                    self.assertIsInstance(document, dict)


class KubernetesTest(unittest.TestCase):
    DIR = os.path.join(DEPLOY, "kubernetes")

    @classmethod
    def setUpClass(cls):
        cls.objects = {}
        for path in sorted(glob.glob(os.path.join(cls.DIR, "*.yaml"))):
            with open(path, encoding="utf-8") as f:
                for document in yaml.safe_load_all(f):
                    if document:
                        cls.objects[(document["kind"], document.get("metadata", {}).get("name"))] = document
        deployments = [o for (kind, _), o in cls.objects.items() if kind == "Deployment"]
        assert len(deployments) == 1, "expected one Deployment"
        cls.deployment = deployments[0]
        cls.pod = cls.deployment["spec"]["template"]["spec"]
        sidecars = [c for c in cls.pod.get("initContainers", []) if c["name"] == "eventbusd"]
        assert len(sidecars) == 1, "no eventbusd init container"
        cls.sidecar = sidecars[0]
        config_maps = [o for (kind, _), o in cls.objects.items() if kind == "ConfigMap"]
        assert len(config_maps) == 1, "expected one ConfigMap"
        cls.config_map = config_maps[0]
        cls.config_text = cls.config_map["data"]["eventbus.yaml"]
        cls.config = yaml.safe_load(cls.config_text)

    def test_kustomization_lists_every_manifest(self):
        with open(os.path.join(self.DIR, "kustomization.yaml"), encoding="utf-8") as f:
            kustomization = yaml.safe_load(f)
        manifests = sorted(os.path.basename(p) for p in glob.glob(os.path.join(self.DIR, "*.yaml"))
                           if not p.endswith("kustomization.yaml"))
        self.assertEqual(sorted(kustomization["resources"]), manifests)

    def test_eventbusd_is_a_native_sidecar(self):
        self.assertEqual(self.sidecar.get("restartPolicy"), "Always")
        names = [c["name"] for c in self.pod["containers"]]
        self.assertIn("opsml", names)
        self.assertNotIn("eventbusd", names)
        self.assertDeploymentSelectsItsPods()

    def assertDeploymentSelectsItsPods(self):
        labels = self.deployment["spec"]["template"]["metadata"]["labels"]
        for key, value in self.deployment["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(key), value)

    def grpc_port(self):
        return int(self.config["server"]["address"].rsplit(":", 1)[1])

    def test_grpc_probes_on_the_configured_port(self):
        port = self.grpc_port()
        self.assertIn(port, [p["containerPort"] for p in self.sidecar["ports"]])
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            with self.subTest(probe=probe):
                self.assertIn(probe, self.sidecar)
                self.assertEqual(self.sidecar[probe]["grpc"]["port"], port)
        # The kubelet probes the pod IP, not loopback.
        host = self.config["server"]["address"].rsplit(":", 1)[0]
        self.assertIn(host, ("0.0.0.0", "[::]"))

    def test_opsml_reaches_the_bus_on_loopback(self):
        opsml = next(c for c in self.pod["containers"] if c["name"] == "opsml")
        env = {e["name"]: e.get("value") for e in opsml.get("env", [])}
        self.assertEqual(env.get("EVENTBUS_SERVER"), "127.0.0.1:%d" % self.grpc_port())

    def test_resources(self):
        resources = self.sidecar["resources"]
        self.assertIn("cpu", resources["requests"])
        self.assertIn("memory", resources["requests"])
        limit = parse_quantity(resources["limits"]["memory"])
        # The ring alone may hold capacity x max_event_bytes.
        ring = self.config["bus"]["capacity"] * parse_size(self.config["bus"]["max_event_bytes"])
        self.assertGreaterEqual(limit, 2 * ring)
        for container in self.pod["containers"]:
            self.assertIn("requests", container.get("resources", {}), container["name"])

    def test_security_context(self):
        context = self.sidecar["securityContext"]
        self.assertIs(context["runAsNonRoot"], True)
        self.assertIs(context["readOnlyRootFilesystem"], True)
        self.assertIs(context["allowPrivilegeEscalation"], False)
        self.assertEqual(context["capabilities"]["drop"], ["ALL"])
        # The uid the image's USER names.
        user = [a for _, k, a in dockerfile_instructions(read("Dockerfile")) if k == "USER"][-1]
        self.assertEqual(str(context["runAsUser"]), user.split(":")[0])
        self.assertEqual(self.pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault")

    def test_grace_period_covers_the_drain(self):
        drain = parse_duration(self.config["server"]["drain_timeout"])
        self.assertGreater(self.pod["terminationGracePeriodSeconds"], drain + 5)

    def test_config_map_is_mounted_where_the_image_reads_it(self):
        mount = next(m for m in self.sidecar["volumeMounts"] if m["mountPath"] == os.path.dirname(CONFIG_PATH))
        volume = next(v for v in self.pod["volumes"] if v["name"] == mount["name"])
        self.assertEqual(volume["configMap"]["name"], self.config_map["metadata"]["name"])
        self.assertIn(os.path.basename(CONFIG_PATH), self.config_map["data"])
        entrypoint = [a for _, k, a in dockerfile_instructions(read("Dockerfile")) if k == "ENTRYPOINT"][-1]
        self.assertEqual(exec_form(entrypoint), [IMAGE_EVENTBUSD, "--config", CONFIG_PATH])
        self.assertNotIn("command", self.sidecar)  # the entrypoint stays

    def test_prometheus_scrapes_the_metrics_port(self):
        port = int(self.config["metrics"]["address"].rsplit(":", 1)[1])
        self.assertEqual(self.config["metrics"]["address"].rsplit(":", 1)[0], "0.0.0.0")
        self.assertNotEqual(port, 3001)  # OpsML's own metrics (its port + 1)
        annotations = self.deployment["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(annotations["prometheus.io/scrape"], "true")
        self.assertEqual(annotations["prometheus.io/port"], str(port))
        self.assertEqual(annotations["prometheus.io/path"], "/metrics")
        self.assertIn(port, [p["containerPort"] for p in self.sidecar["ports"]])
        policy = next(o for (kind, _), o in self.objects.items() if kind == "NetworkPolicy")
        allowed = [p["port"] for rule in policy["spec"]["ingress"] for p in rule.get("ports", [])]
        self.assertIn(port, allowed)

    def test_network_policy_keeps_the_bus_in_the_pod(self):
        policy = next(o for (kind, _), o in self.objects.items() if kind == "NetworkPolicy")
        labels = self.deployment["spec"]["template"]["metadata"]["labels"]
        for key, value in policy["spec"]["podSelector"]["matchLabels"].items():
            self.assertEqual(labels.get(key), value)
        allowed = [p["port"] for rule in policy["spec"]["ingress"] for p in rule.get("ports", [])]
        self.assertTrue(allowed, "an ingress rule without ports would admit every port")
        self.assertNotIn(self.grpc_port(), allowed)

    def test_eventbusd_accepts_the_config_map(self):
        with tempfile.TemporaryDirectory(prefix="eventbus-deploy-") as tmp:
            path = os.path.join(tmp, "eventbus.yaml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.config_text)
            # Flags override the file's addresses only: free loopback ports.
            daemon = Daemon("--config", path, "--address", "127.0.0.1:0",
                            "--metrics-address", "127.0.0.1:0")
            try:
                settings = daemon.settings
                self.assertIn("capacity %d" % self.config["bus"]["capacity"], settings)
                self.assertIn("max_event_bytes %d" % parse_size(self.config["bus"]["max_event_bytes"]),
                              settings)
                self.assertIn("max_subscribers %d" % self.config["server"]["max_subscribers"], settings)
            finally:
                self.assertEqual(daemon.stop(), 0, daemon.log())


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.instructions = dockerfile_instructions(read("Dockerfile"))
        cls.stages = max(stage for stage, _, _ in cls.instructions) + 1

    def of(self, keyword, stage=None):
        return [a for s, k, a in self.instructions if k == keyword and (stage is None or s == stage)]

    def test_two_stages_on_bookworm(self):
        self.assertEqual(self.stages, 2)
        self.assertEqual(self.of("FROM")[0].split()[0], "debian:bookworm")
        self.assertEqual(self.of("FROM")[1].split()[0], "debian:bookworm-slim")

    def test_packages_come_only_from_install_deps(self):
        """The README's set-up (scripts/run, scripts/test) and both stages
        install from the one list, scripts/packages.txt, via install-deps."""
        for run in self.of("RUN"):
            with self.subTest(run=run):
                self.assertNotRegex(run, r"\bapt(-get)?\s+(-\S+\s+)*install\b")
                self.assertNotRegex(run, r"\bdpkg\s+-i\b")
                self.assertNotRegex(run, r"\bpip3?\s+install\b")
        build = [r for r in self.of("RUN", 0) if "install-deps" in r]
        runtime = [r for r in self.of("RUN", 1) if "install-deps" in r]
        self.assertEqual(len(build), 1)
        self.assertRegex(build[0], r"(^|\s)scripts/install-deps(\s|&&|$)")  # runtime + build
        self.assertEqual(len(runtime), 1)
        self.assertIn("install-deps --runtime", runtime[0])
        for stage in (0, 1):
            copies = " ".join(self.of("COPY", stage))
            self.assertIn("scripts/install-deps", copies)
            self.assertIn("scripts/packages.txt", copies)
        for script in ("run", "test"):
            self.assertIn("scripts/install-deps", read("scripts", script))
        self.assertIn("scripts/packages.txt", read("README.md"))

    def test_builds_and_ships_both_binaries(self):
        build = " ".join(self.of("RUN", 0))
        match = re.search(r"cmake --build \S+ --target ((?:[\w-]+ ?)+)", build)
        self.assertTrue(match, build)
        self.assertEqual(set(match.group(1).split()), {"eventbusd", "eventbus"})
        self.assertIn("-DEVENTBUS_BUILD_TESTS=OFF", build)
        copies = self.of("COPY", 1)
        self.assertIn("--from=build /build/server/eventbusd " + IMAGE_EVENTBUSD, copies)
        self.assertIn("--from=build /build/client/eventbus " + IMAGE_EVENTBUS, copies)

    def test_copies_every_source_directory_the_build_needs(self):
        """Every add_subdirectory of the top CMakeLists.txt is COPY'd, unless
        an option that the image's cmake command leaves OFF guards it."""
        copied = {a.split()[0] for a in self.of("COPY", 0)}
        text = read("CMakeLists.txt")
        defaults = dict(re.findall(r'option\((\w+)\s+"[^"]*"\s+(ON|OFF)\)', text))
        flags = dict(re.findall(r"-D(\w+)=(\w+)", " ".join(self.of("RUN", 0))))
        guard = None
        directories = []
        for line in text.splitlines():
            if re.match(r"\s*if\((\w+)\)", line):
                guard = re.match(r"\s*if\((\w+)\)", line).group(1)
            elif re.match(r"\s*endif\(", line):
                guard = None
            for directory in re.findall(r"add_subdirectory\((\w+)\)", line):
                directories.append(directory)
                on = guard is None or flags.get(guard, defaults.get(guard, "ON")) == "ON"
                with self.subTest(directory=directory, option=guard):
                    if on:
                        self.assertIn(directory, copied)
                    else:
                        self.assertNotIn(directory, copied)
        self.assertIn("server", directories)
        self.assertEqual(flags.get("EVENTBUS_BUILD_TESTS"), "OFF")

    def test_runs_as_a_non_root_user(self):
        user = self.of("USER", 1)[-1]
        uid = user.split(":")[0]
        self.assertNotIn(uid, ("0", "root"))
        self.assertRegex(" ".join(self.of("RUN", 1)), r"useradd .*--uid %s\b" % uid)

    def test_config_at_the_documented_path(self):
        self.assertIn("config/eventbus.yaml " + CONFIG_PATH, self.of("COPY", 1))
        self.assertEqual(exec_form(self.of("ENTRYPOINT")[-1]), [IMAGE_EVENTBUSD, "--config", CONFIG_PATH])
        self.assertIn(CONFIG_PATH, read("README.md"))

    def test_healthcheck_command_works(self):
        healthcheck = self.of("HEALTHCHECK", 1)
        self.assertEqual(len(healthcheck), 1)
        command = re.search(r"\bCMD\s+(.*)$", healthcheck[0]).group(1)
        argv = exec_form(command)
        self.assertEqual(argv[0], IMAGE_EVENTBUS)
        self.assertEqual(argv[-1], "health")
        # The image's CLI reads EVENTBUS_SERVER: run the same command, with
        # this tree's binary, against a real eventbusd.
        daemon = Daemon("--address", "127.0.0.1:0")
        try:
            env = dict(os.environ, EVENTBUS_SERVER=daemon.address)
            result = subprocess.run([binary("EVENTBUS_CLI"), *argv[1:]], env=env,
                                    capture_output=True, text=True, timeout=DEADLINE)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout.strip(), "SERVING")
        finally:
            self.assertEqual(daemon.stop(), 0, daemon.log())

    def test_runtime_packages_provide_every_shared_library(self):
        """ldd of both binaries: each library's package must be a runtime
        package of scripts/packages.txt, one of their dependencies, or part
        of every Debian system (Priority: required)."""
        if not shutil.which("ldd") or not shutil.which("dpkg-query"):
            self.skipTest("needs ldd and dpkg-query")

        def query(*args):
            return subprocess.run(["dpkg-query", *args], capture_output=True, text=True).stdout

        closure = set()
        todo = set(runtime_packages())
        while todo:
            closure |= todo
            depends = query("-W", "-f=${Depends}\n", *sorted(todo))
            todo = {alternative.strip().split(" ")[0].split(":")[0]
                    for alternative in re.split(r"[,|\n]", depends)} - closure - {""}
        libraries = set()
        for name in ("EVENTBUSD", "EVENTBUS_CLI"):
            ldd = subprocess.run(["ldd", binary(name)], capture_output=True, text=True, check=True)
            libraries |= {os.path.realpath(path) for path in re.findall(r"=> (/\S+)", ldd.stdout)}
        self.assertTrue(libraries)
        # Merged /usr: dpkg may have registered /lib/... for /usr/lib/....
        def forms(path):
            return [path, path[len("/usr"):]] if path.startswith("/usr/") else [path]

        # One dpkg-query for all: it reads the whole package database each time.
        owners = {}
        for line in query("-S", *sorted(f for path in libraries for f in forms(path))).splitlines():
            package, _, path = line.partition(": ")
            owners[path] = package.split(":")[0]
        priorities = dict(line.split(" ", 1) for line in query(
            "-W", "-f=${Package} ${Priority}\n", *sorted(set(owners.values()))).splitlines())
        for library in sorted(libraries):
            with self.subTest(library=library):
                package = next((owners[f] for f in forms(library) if f in owners), None)
                self.assertTrue(package, "no package owns " + library)
                self.assertTrue(package in closure or priorities.get(package) == "required",
                                "%s comes from %s, which no runtime package brings" % (library, package))


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(DEPLOY, "docker-compose.yaml"), encoding="utf-8") as f:
            cls.compose = yaml.safe_load(f)
        cls.services = cls.compose["services"]

    def test_services_build_the_repository_image(self):
        self.assertEqual(set(self.services), {"eventbusd", "subscriber", "publisher"})
        for name, service in self.services.items():
            with self.subTest(service=name):
                context = os.path.normpath(os.path.join(DEPLOY, service["build"]["context"]))
                self.assertEqual(context, REPO)
                self.assertTrue(os.path.exists(os.path.join(context, service["build"]["dockerfile"])))

    def test_eventbusd_listens_for_the_network_with_a_healthcheck(self):
        eventbusd = self.services["eventbusd"]
        self.assertEqual(eventbusd["environment"]["EVENTBUS_SERVER_ADDRESS"], "0.0.0.0:50051")
        test = eventbusd["healthcheck"]["test"]
        self.assertEqual(test[0], "CMD")
        self.assertEqual(test[1], IMAGE_EVENTBUS)
        self.assertEqual(test[-1], "health")
        stop = parse_duration(eventbusd["stop_grace_period"])
        self.assertGreater(stop, default_drain_timeout())
        for name in ("subscriber", "publisher"):
            self.assertEqual(self.services[name]["depends_on"]["eventbusd"]["condition"], "service_healthy")
            # The image's HEALTHCHECK expects a local eventbusd.
            self.assertIs(self.services[name]["healthcheck"]["disable"], True)

    def subscriber_command(self):
        service = self.services["subscriber"]
        self.assertEqual(service["entrypoint"], ["/bin/sh", "-c"])
        (command,) = service["command"]
        return command

    def publisher_argv(self):
        service = self.services["publisher"]
        return service["entrypoint"] + service["command"]

    def test_commands(self):
        command = self.subscriber_command()
        self.assertRegex(command, r"%s --server eventbusd:50051\s+subscribe --from-earliest\b"
                         % re.escape(IMAGE_EVENTBUS))
        # It appends to a file on a named volume.
        target = re.search(r">>\s*(\S+)", command).group(1)
        volumes = dict(v.split(":")[1::-1] for v in self.services["subscriber"]["volumes"])
        self.assertIn(os.path.dirname(target), volumes)
        self.assertIn(volumes[os.path.dirname(target)], self.compose["volumes"])
        argv = self.publisher_argv()
        self.assertEqual(argv[:4], [IMAGE_EVENTBUS, "--server", "eventbusd:50051", "publish"])

    def test_publisher_and_subscriber_against_a_real_eventbusd(self):
        """Runs both services' commands with this tree's CLI, the daemon's
        address for eventbusd:50051 and a directory for the volume."""
        cli = binary("EVENTBUS_CLI")
        daemon = Daemon("--address", "127.0.0.1:0")
        subscriber = None
        try:
            with tempfile.TemporaryDirectory(prefix="eventbus-compose-") as volume:
                target = re.search(r">>\s*(\S+)", self.subscriber_command()).group(1)
                command = (self.subscriber_command()
                           .replace(IMAGE_EVENTBUS, shlex.quote(cli))
                           .replace("eventbusd:50051", daemon.address)
                           .replace(os.path.dirname(target), volume))
                output = os.path.join(volume, os.path.basename(target))
                subscriber = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                              text=True)
                argv = [cli if a == IMAGE_EVENTBUS else daemon.address if a == "eventbusd:50051" else a
                        for a in self.publisher_argv()]
                published = subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE)
                self.assertEqual(published.returncode, 0, published.stderr)
                receipts = [json.loads(line) for line in published.stdout.splitlines()]
                count = int(argv[argv.index("--count") + 1])
                self.assertEqual([r["sequence"] for r in receipts], [str(i) for i in range(1, count + 1)])

                def lines():
                    if not os.path.exists(output):
                        return None
                    with open(output, encoding="utf-8") as f:
                        text = f.read()
                    complete = text.split("\n")[:-1]
                    return complete if len(complete) >= count else None

                events = [json.loads(line) for line in wait_for(lines, DEADLINE, "the subscriber's file")]
                self.assertEqual([e["sequence"] for e in events], [r["sequence"] for r in receipts])
                self.assertEqual({e["audit"]["username"] for e in events}, {"alice"})
                subscriber.send_signal(signal.SIGTERM)  # sh exec'd the CLI
                self.assertEqual(subscriber.wait(DEADLINE), 130, subscriber.stderr.read())
        finally:
            if subscriber and subscriber.poll() is None:
                subscriber.kill()
                subscriber.wait()
            if subscriber:
                subscriber.stderr.close()
            self.assertEqual(daemon.stop(), 0, daemon.log())


NATS_SERVER = "/usr/sbin/nats-server"  # Debian's nats-server (--test deps)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FleetComposeTest(unittest.TestCase):
    """deploy/fleet/docker-compose.yaml, run on loopback: its NATS nodes'
    commands with Debian's nats-server and the fleet's nats.conf, its
    sidecars' environments with this tree's eventbusd (and the image's
    config file), its publishers' loops and its consumer with this tree's
    CLI. Addresses become loopback ports, volumes temporary directories."""

    FLEET = os.path.join(DEPLOY, "fleet")

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(cls.FLEET, "docker-compose.yaml"), encoding="utf-8") as f:
            cls.compose = yaml.safe_load(f)
        cls.services = cls.compose["services"]

    def test_pods_and_nodes(self):
        self.assertEqual(set(self.services), {
            "nats-1", "nats-2", "nats-3", "sidecar-1", "sidecar-2", "sidecar-3",
            "opsml-1", "opsml-2", "opsml-3", "consumer"})
        for i in (1, 2, 3):
            with self.subTest(pod=i):
                sidecar = self.services["sidecar-%d" % i]
                environment = sidecar["environment"]
                self.assertEqual(environment["EVENTBUS_FORWARD_NATS_URL"].split(","),
                                 ["nats://nats-%d:4222" % n for n in (1, 2, 3)])
                self.assertEqual(environment["EVENTBUS_FORWARD_NATS_REPLICAS"], "3")
                # The log (and the forwarder's cursor) is on the sidecar's own volume.
                mount = dict(v.split(":")[1::-1] for v in sidecar["volumes"])
                self.assertEqual(mount["/var/lib/eventbus"], "sidecar-%d" % i)
                self.assertTrue(environment["EVENTBUS_STORAGE_PATH"].startswith("/var/lib/eventbus/"))
                self.assertGreater(parse_duration(sidecar["stop_grace_period"]), default_drain_timeout())
                self.assertEqual(self.services["opsml-%d" % i]["network_mode"], "service:sidecar-%d" % i)
                node = self.services["nats-%d" % i]
                self.assertIn("./nats.conf:/etc/nats/nats.conf:ro", node["volumes"])
                self.assertIn("nats-%d:/data" % i, node["volumes"])

    def test_the_fleet_runs_on_loopback(self):
        cli = binary("EVENTBUS_CLI")
        processes = []
        daemons = []
        with tempfile.TemporaryDirectory(prefix="eventbus-fleet-") as tmp:
            try:
                nodes = {}
                for i in (1, 2, 3):
                    nodes[i] = {"client": free_port(), "cluster": free_port(), "http": free_port()}
                hosts = {}
                for i, ports in nodes.items():
                    hosts["nats-%d:4222" % i] = "127.0.0.1:%d" % ports["client"]
                    hosts["nats-%d:6222" % i] = "127.0.0.1:%d" % ports["cluster"]

                def local(text):
                    for host, address in hosts.items():
                        text = text.replace(host, address)
                    return text

                logs = {}
                for i, ports in nodes.items():
                    argv = [NATS_SERVER] + [
                        os.path.join(self.FLEET, "nats.conf") if a == "/etc/nats/nats.conf"
                        else os.path.join(tmp, "nats-%d" % i) if a == "/data"
                        else local(a) for a in self.services["nats-%d" % i]["command"]]
                    argv += ["-a", "127.0.0.1", "-p", str(ports["client"]), "-m", str(ports["http"]),
                             "--cluster", "nats://127.0.0.1:%d" % ports["cluster"]]
                    logs[i] = os.path.join(tmp, "nats-%d.log" % i)
                    with open(logs[i], "w") as log:
                        processes.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                                          stdout=log, stderr=log))
                def ready(path):
                    with open(path, encoding="utf-8", errors="replace") as log:
                        return "Server is ready" in log.read()

                for i in nodes:
                    wait_for(lambda: ready(logs[i]), DEADLINE, "nats-%d to be ready" % i)

                sidecars = {}
                for i in (1, 2, 3):
                    environment = dict(os.environ)
                    for key, value in self.services["sidecar-%d" % i]["environment"].items():
                        value = local(str(value)).replace("/var/lib/eventbus", os.path.join(tmp, "sidecar-%d" % i))
                        environment[key] = value
                    # One host: no fixed metrics port; the gRPC address is a flag below.
                    environment["EVENTBUS_METRICS_ADDRESS"] = "127.0.0.1:0"
                    os.makedirs(os.path.join(tmp, "sidecar-%d" % i))
                    sidecars[i] = Daemon("--config", os.path.join(REPO, "config", "eventbus.yaml"),
                                         "--address", "127.0.0.1:0", env=environment)
                    daemons.append(sidecars[i])

                for i in (1, 2, 3):
                    service = self.services["opsml-%d" % i]
                    self.assertEqual(service["entrypoint"], ["/bin/sh", "-c"])
                    (command,) = service["command"]
                    # Compose turns $$ into $; the pod's 127.0.0.1:50051 is its sidecar.
                    command = (command.replace("$$", "$").replace(IMAGE_EVENTBUS, shlex.quote(cli))
                               .replace("127.0.0.1:50051", sidecars[i].address))
                    environment = dict(os.environ, **service["environment"])
                    # A session of its own: the loop's `eventbus publish` or
                    # `sleep` goes with the shell (os.killpg below).
                    processes.append(subprocess.Popen(["/bin/sh", "-c", command], env=environment,
                                                      stdin=subprocess.DEVNULL, start_new_session=True,
                                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

                def streams():
                    url = "http://127.0.0.1:%d/jsz?streams=true&config=true" % nodes[1]["http"]
                    with urllib.request.urlopen(url, timeout=DEADLINE) as response:
                        jsz = json.load(response)
                    return [stream for account in jsz.get("account_details", [])
                            for stream in account.get("stream_detail", [])]

                # The consumer exits 73 while the stream is missing (Compose
                # restarts it): start it once a sidecar has made the stream.
                try:
                    wait_for(lambda: any(s["name"] == "EVENTBUS" for s in streams()), 30,
                             "the sidecars to create the stream")
                except AssertionError as error:
                    raise AssertionError("%s; the sidecars' logs:\n%s"
                                         % (error, "\n".join(d.log() for d in daemons))) from None
                self.assertEqual(self.services["consumer"]["restart"], "unless-stopped")
                consumer = self.services["consumer"]
                self.assertEqual(consumer["entrypoint"], [IMAGE_EVENTBUS])
                argv = [cli] + [local(a) for a in consumer["command"]]
                reader = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)
                processes.append(reader)
                # Each publisher sends one event a second: three of each.
                events = {}
                lines = queue_lines(reader.stdout)

                def three_of_each():
                    while not lines.empty():
                        event = json.loads(lines.get())
                        events.setdefault(event["source"], []).append(int(event["sequence"]))
                    return all(len(events.get("opsml-%d" % i, [])) >= 3 for i in (1, 2, 3))

                wait_for(three_of_each, 30, "three events of each publisher in the merged stream")
                for source, sequences in events.items():
                    # Each sidecar numbers its own events from 1; each is
                    # there once. In order, but for what a failure while the
                    # cluster settles resends (README: no further than
                    # max_in_flight from its place).
                    self.assertEqual(sorted(sequences), list(range(1, len(sequences) + 1)), source)
                # The stream the sidecars made is replicated on the three nodes.
                replicas = [s["config"]["num_replicas"] for s in streams() if s["name"] == "EVENTBUS"]
                self.assertEqual(replicas, [3])
            finally:
                # Publishers and the consumer first, then the sidecars
                # (they drain while NATS is still there), then NATS; each
                # step whatever the previous one did.
                nats_nodes = processes[:len(nodes)]
                for process in processes[len(nodes):]:
                    if process.poll() is None:
                        if process.args[0] == "/bin/sh":
                            os.killpg(process.pid, signal.SIGTERM)
                        else:
                            process.terminate()
                failures = []
                for daemon in daemons:
                    try:
                        daemon.stop()
                    except AssertionError as error:
                        failures.append(str(error))
                for process in nats_nodes:
                    if process.poll() is None:
                        process.terminate()
                for process in processes:
                    try:
                        process.wait(DEADLINE)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
                    for pipe in (process.stdout, process.stderr):
                        if pipe:
                            pipe.close()
                self.assertEqual(failures, [])


def queue_lines(pipe):
    """A queue that a thread fills with the lines of `pipe`."""
    lines = queue.Queue()

    def drain():
        for line in pipe:
            lines.put(line)

    threading.Thread(target=drain, daemon=True).start()
    return lines


class SystemdUnitTest(unittest.TestCase):
    UNIT = os.path.join(DEPLOY, "systemd", "eventbusd.service")

    @classmethod
    def setUpClass(cls):
        cls.unit = read_unit(cls.UNIT)
        cls.service = {k: v[-1] for k, v in cls.unit["Service"].items()}

    def test_type_notify_running_the_installed_daemon(self):
        self.assertEqual(self.service["Type"], "notify")
        self.assertEqual(self.service["ExecStart"], "%s --config %s" % (IMAGE_EVENTBUSD, CONFIG_PATH))
        self.assertEqual(self.service["Restart"], "on-failure")
        self.assertEqual(self.service["RestartPreventExitStatus"], "2")  # bad config
        self.assertIn("WantedBy", self.unit["Install"])

    def test_reload_sends_sighup(self):
        self.assertEqual(self.service["ExecReload"], "/bin/kill -HUP $MAINPID")

    def test_stop_timeout_covers_the_drain(self):
        self.assertEqual(self.service.get("KillSignal", "SIGTERM"), "SIGTERM")
        self.assertGreater(parse_duration(self.service["TimeoutStopSec"]), default_drain_timeout())

    def test_hardening(self):
        expected = {
            "DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
            "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
            "CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
            "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes",
            "RestrictNamespaces": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
            "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
            "ProtectControlGroups": "yes", "SystemCallArchitectures": "native",
        }
        for key, value in expected.items():
            with self.subTest(key=key):
                self.assertEqual(self.service.get(key), value)
        self.assertIn("@system-service", self.unit["Service"]["SystemCallFilter"])

    def test_systemd_analyze(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed")
        with tempfile.TemporaryDirectory(prefix="eventbus-unit-") as tmp:
            # verify checks that ExecStart exists: point it at this build.
            unit = os.path.join(tmp, "eventbusd.service")
            with open(self.UNIT, encoding="utf-8") as f:
                text = f.read().replace("ExecStart=" + IMAGE_EVENTBUSD, "ExecStart=" + binary("EVENTBUSD"))
            with open(unit, "w", encoding="utf-8") as f:
                f.write(text)
            verify = subprocess.run([analyze, "verify", unit], capture_output=True, text=True,
                                    timeout=DEADLINE)
            self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
            self.assertEqual(verify.stdout + verify.stderr, "")
            security = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", unit],
                                      capture_output=True, text=True, timeout=DEADLINE)
            match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security.stdout)
            if security.returncode != 0 and not match:
                self.skipTest("systemd-analyze security --offline is not supported: " + security.stderr)
            self.assertTrue(match, security.stdout + security.stderr)
            self.assertLessEqual(float(match.group(1)), 2.0, security.stdout)


if __name__ == "__main__":
    unittest.main()
