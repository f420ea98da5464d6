#!/usr/bin/python3
"""Publishes audit events to eventbusd, as OpsML's audit middleware would.

    PYTHONPATH=/tmp/eventbus-py python3 client/examples/publisher.py \
        --server 127.0.0.1:50051 --username alice --operation read --count 3

Prints one JSON line per event with what the bus assigned:
{"sequence":"1","id":"...","subscribers":2}. The stubs are generated from
proto/eventbus/v1/eventbus.proto (see client/examples/README.md); needs
Debian's python3-grpcio and python3-protobuf.

Exit status: 0 on success, 2 on a usage error, 64 + the gRPC status code
when a publish fails (as the `eventbus` CLI and grpcurl do).
"""

import argparse
import json
import os
import sys

import grpc
from google.protobuf import json_format

try:
    from eventbus.v1 import eventbus_pb2 as pb
    from eventbus.v1 import eventbus_pb2_grpc as pb_grpc
except ImportError:
    sys.exit("publisher.py: cannot import eventbus.v1.eventbus_pb2: generate the stubs and put "
             "them on PYTHONPATH (see client/examples/README.md)")

DEFAULT_SERVER = "127.0.0.1:50051"


def enum_value(enum, prefix, name):
    """pb.Operation, "OPERATION_", "read" -> pb.OPERATION_READ."""
    name = name.upper().replace("-", "_")
    if not name.startswith(prefix):
        name = prefix + name
    try:
        return enum.Value(name)
    except ValueError:
        choices = ", ".join(n[len(prefix):].lower() for n in enum.keys()[1:])
        raise argparse.ArgumentTypeError("unknown value %r; one of %s" % (name, choices))


def audit_event(args, n):
    event = pb.Event(
        source=args.source,
        audit=pb.AuditEvent(
            username=args.username,
            client_ip=args.client_ip,
            operation=enum_value(pb.Operation, "OPERATION_", args.operation),
            resource_type=enum_value(pb.ResourceType, "RESOURCE_TYPE_", args.resource_type),
            resource_id=args.resource_id,
            status=enum_value(pb.AuditStatus, "AUDIT_STATUS_", args.status),
            registry_type=enum_value(pb.RegistryType, "REGISTRY_TYPE_", args.registry_type),
            route=args.route,
        ))
    for pair in args.attr:
        key, _, value = pair.partition("=")
        event.attributes[key] = value
    if args.count > 1:
        event.attributes["n"] = str(n)
    return event


def auth_metadata():
    """The bearer token of $EVENTBUS_TOKEN as call metadata (daemon with auth on)."""
    token = os.environ.get("EVENTBUS_TOKEN", "").strip()
    return (("authorization", "Bearer " + token),) if token else ()


def main():
    parser = argparse.ArgumentParser(description="Publish audit events to eventbusd.")
    parser.add_argument("--server", default=os.environ.get("EVENTBUS_SERVER") or DEFAULT_SERVER,
                        help="host:port or unix:PATH (default $EVENTBUS_SERVER, else %s)"
                        % DEFAULT_SERVER)
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="deadline of each publish, in seconds (default 5)")
    parser.add_argument("--count", type=int, default=1, help="events to publish (default 1)")
    parser.add_argument("--source", default="python-example")
    parser.add_argument("--username", default="")
    parser.add_argument("--client-ip", default="")
    parser.add_argument("--operation", default="read", help="read, create, delete, ...")
    parser.add_argument("--resource-type", default="card", help="file, database, card, drift")
    parser.add_argument("--resource-id", default="")
    parser.add_argument("--status", default="success", help="success, failed, denied")
    parser.add_argument("--registry-type", default="model", help="data, model, experiment, ...")
    parser.add_argument("--route", default="")
    parser.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE",
                        help="an attribute; repeatable")
    args = parser.parse_args()
    if args.count < 1:
        parser.error("--count must be at least 1")
    try:
        events = [audit_event(args, n) for n in range(1, args.count + 1)]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))

    with grpc.insecure_channel(args.server) as channel:
        stub = pb_grpc.EventBusServiceStub(channel)
        for event in events:
            try:
                # A deadline on every call: a publisher must never hang on
                # the bus. For fire-and-forget use stub.Publish.future(...)
                # and log failures in a done-callback.
                response = stub.Publish(pb.PublishRequest(event=event), timeout=args.timeout,
                                        metadata=auth_metadata())
            except grpc.RpcError as error:
                print("publisher.py: publish failed: %s: %s" % (error.code().name, error.details()),
                      file=sys.stderr)
                return 64 + error.code().value[0]
            print(json.dumps(json_format.MessageToDict(response, including_default_value_fields=True),
                             separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
