#!/usr/bin/python3
"""Follows eventbusd's stream, printing one JSON line per event, and keeps
following it across disconnects and daemon restarts.

    PYTHONPATH=/tmp/eventbus-py python3 client/examples/subscriber.py \
        --server 127.0.0.1:50051 --from-earliest

stdout, one JSON object per line (the protobuf JSON mapping, as the
`eventbus subscribe` CLI prints):
  an event                {"sequence":"7","publishTime":"...","audit":{...}}
  events lost for good    {"lagged":{"missed":"5","firstSequence":"3","lastSequence":"7"}}
  the daemon restarted    {"instanceChanged":{"previousInstance":"...","instance":"...",
                           "lostFromSequence":"12"}}
stderr: connection changes.

How it recovers:
  - it remembers the sequence after the last event (or lag range) it
    printed; when the stream breaks (network blip, daemon draining or
    killed) it reconnects with exponential backoff and asks for
    `from_sequence` = that number, so nothing the daemon's ring still holds
    is lost, and what the ring no longer holds arrives as a Lagged notice;
  - every response carries the `eventbus-instance` header; when it changes,
    the daemon restarted and its numbering began again: the old sequence
    means nothing there, so it reports instanceChanged and starts again from
    the oldest event the new instance retains.

Exit status: 0 after --count events, 2 on a usage error, 64 + the gRPC
status code on an error a retry cannot fix (a bad filter), 130 on SIGINT or
SIGTERM.
"""

import argparse
import json
import os
import signal
import sys
import threading

import grpc
from google.protobuf import json_format

try:
    from eventbus.v1 import eventbus_pb2 as pb
    from eventbus.v1 import eventbus_pb2_grpc as pb_grpc
except ImportError:
    sys.exit("subscriber.py: cannot import eventbus.v1.eventbus_pb2: generate the stubs and put "
             "them on PYTHONPATH (see client/examples/README.md)")

DEFAULT_SERVER = "127.0.0.1:50051"
INSTANCE_KEY = "eventbus-instance"
START_SEQUENCE_KEY = "eventbus-start-sequence"
# Errors that retrying the same request cannot fix.
PERMANENT = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED,
             grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}


def print_line(obj):
    print(json.dumps(obj, separators=(",", ":")), flush=True)


def log(message):
    print("subscriber.py: " + message, file=sys.stderr, flush=True)


class Backoff:
    """Exponential: initial, x2 each failure, at most maximum; reset once a
    stream opens."""

    def __init__(self, initial, maximum):
        self.initial, self.maximum = initial, maximum
        self.reset()

    def reset(self):
        self.delay = self.initial

    def next(self):
        delay = self.delay
        self.delay = min(self.delay * 2, self.maximum)
        return delay


class Follower:
    def __init__(self, stub, args):
        self.stub = stub
        self.args = args
        self.next_sequence = args.from_sequence  # None: not resuming yet
        self.from_earliest = args.from_earliest
        self.instance = None
        self.received = 0
        self.answered = False  # the last stream's headers named an instance
        self.backoff = Backoff(0.1, args.max_backoff)
        # stop() from the main thread: set, and the open call cancelled.
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.call = None

    def stop(self):
        self.stopping.set()
        with self.lock:
            call = self.call
        if call is not None:
            call.cancel()

    def request(self):
        request = pb.SubscribeRequest(name=self.args.name)
        if self.next_sequence is not None:
            request.from_sequence = self.next_sequence
        elif self.from_earliest:
            request.from_earliest = True
        for kind in self.args.type:
            request.filter.types.append(pb.EVENT_TYPE_AUDIT if kind == "audit"
                                        else pb.EVENT_TYPE_SPACE_NAME)
        for pair in self.args.attr:
            key, _, value = pair.partition("=")
            request.filter.attributes[key] = value
        return request

    def run(self):
        """Follows the stream until --count events or stop(); returns the
        exit status."""
        while not self.stopping.is_set():
            status = self.stream()
            if isinstance(status, int):
                return status
            if status is None:  # restarted daemon: start over at once
                continue
            code, details = status
            # OUT_OF_RANGE from a daemon whose instance did not change: the
            # start asked for is beyond its numbering; waiting cannot help.
            if code in PERMANENT or (code == grpc.StatusCode.OUT_OF_RANGE and self.answered):
                log("subscribe failed: %s: %s" % (code.name, details))
                return 64 + code.value[0]
            delay = self.backoff.next()
            if self.stopping.is_set():
                break
            log("disconnected (%s: %s); retrying in %.1fs" % (code.name, details, delay))
            self.stopping.wait(delay)
        return 130

    def stream(self):
        """Holds one stream. Returns an exit status, None to resubscribe at
        once, or (code, details) of how the stream ended."""
        request = self.request()
        token = os.environ.get("EVENTBUS_TOKEN", "").strip()
        call = self.stub.Subscribe(
            request, metadata=(("authorization", "Bearer " + token),) if token else ())
        # Either stop() sees this call, or this sees stop() was called.
        with self.lock:
            self.call = call
        if self.stopping.is_set():
            call.cancel()
        try:
            headers = dict(call.initial_metadata() or ())
            instance = headers.get(INSTANCE_KEY)
            self.answered = bool(instance)
            if instance and self.instance and instance != self.instance:
                print_line({"instanceChanged": {
                    "previousInstance": self.instance, "instance": instance,
                    "lostFromSequence": str(self.next_sequence or 0)}})
                self.instance = instance
                if not request.from_earliest:
                    log("daemon restarted (instance %s); starting from its earliest event" % instance)
                    call.cancel()
                    self.next_sequence = None
                    self.from_earliest = True
                    return None
            if instance:
                self.instance = instance
            if START_SEQUENCE_KEY in headers:
                if self.next_sequence is None:
                    self.next_sequence = int(headers[START_SEQUENCE_KEY])
                self.backoff.reset()
                log("subscribed (instance %s, from sequence %d)" % (instance, self.next_sequence))
            for response in call:
                if response.HasField("lagged"):
                    print_line({"lagged": json_format.MessageToDict(response.lagged)})
                    self.next_sequence = response.lagged.last_sequence + 1
                for event in response.events:
                    print_line(json_format.MessageToDict(event))
                    self.next_sequence = event.sequence + 1
                    self.received += 1
                    if self.args.count and self.received >= self.args.count:
                        call.cancel()
                        return 0
            return (grpc.StatusCode.OK, "stream ended (daemon draining)")
        except grpc.RpcError as error:
            return (error.code(), error.details())


def main():
    parser = argparse.ArgumentParser(description="Follow eventbusd's stream as JSON lines.")
    parser.add_argument("--server", default=os.environ.get("EVENTBUS_SERVER") or DEFAULT_SERVER,
                        help="host:port or unix:PATH (default $EVENTBUS_SERVER, else %s)"
                        % DEFAULT_SERVER)
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--from-earliest", action="store_true",
                       help="start at the oldest event the bus retains")
    start.add_argument("--from-sequence", type=int, metavar="N", help="start at sequence N")
    parser.add_argument("--type", action="append", default=[], choices=["audit", "space_name"],
                        help="only this event type; repeatable")
    parser.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE",
                        help="only events with this attribute; repeatable")
    parser.add_argument("--name", default="python-example", help="shown in the daemon's logs")
    parser.add_argument("--count", type=int, default=0, help="exit 0 after N events")
    parser.add_argument("--max-backoff", type=float, default=5.0,
                        help="longest wait between reconnects, in seconds (default 5)")
    args = parser.parse_args()
    if args.from_sequence is not None and args.from_sequence < 1:
        parser.error("--from-sequence must be at least 1")

    # The handler only notes the signal: raising from it could land inside
    # gRPC's or threading's own locking and leave them broken. The main
    # thread then stops the follower, which runs on a thread of its own.
    signals = []

    def interrupt(signum, frame):
        signals.append(signum)

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    # gRPC's own reconnect backoff starts at 1s and grows to 2 minutes; keep
    # it within ours so a restarted daemon is found quickly.
    options = [("grpc.initial_reconnect_backoff_ms", 100),
               ("grpc.min_reconnect_backoff_ms", 100),
               ("grpc.max_reconnect_backoff_ms", int(args.max_backoff * 1000))]
    with grpc.insecure_channel(args.server, options=options) as channel:
        follower = Follower(pb_grpc.EventBusServiceStub(channel), args)
        status = []
        worker = threading.Thread(target=lambda: status.append(follower.run()), daemon=True)
        worker.start()
        while worker.is_alive() and not signals:
            worker.join(0.1)
        if signals:
            follower.stop()
            worker.join(10)
            return 130
        return status[0] if status else 1


if __name__ == "__main__":
    sys.exit(main())
