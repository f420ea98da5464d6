#!/usr/bin/python3
"""Filter expressions (EventFilter.expression) end to end, through Python's
grpcio against the real eventbusd:

  - a table of expressions over a known set of audit and space_name events:
    each subscriber receives exactly the events the table lists, in order
    (a marker event that every subscriber's filter lets through closes each
    read, so an extra event would show);
  - a table of bad expressions: INVALID_ARGUMENT with the exact message,
    the column and what was expected; over limits.max_filter_expression_bytes
    and nesting deeper than 32 too; the daemon keeps serving.

Environment: EVENTBUSD (required), EVENTBUS_PY_OUT (stub scratch directory).
Run: /usr/bin/python3 tests/e2e/filter_test.py [-v] [Class.test]
"""

import os
import sys
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_client_test as lib  # noqa: E402  (Daemon, stubs, helpers)


def setUpModule():
    lib.setUpModule()


def audit(username, operation, status, registry, **fields):
    event = lib.audit_event(
        attributes=fields.pop("attributes", {}),
        source=fields.pop("source", "opsml-server"))
    event.audit.username = username
    event.audit.operation = operation
    event.audit.status = status
    event.audit.registry_type = registry
    for key, value in fields.items():
        setattr(event.audit, key, value)
    return event


def events():
    """Published in this order: sequences 1..6 (lib.pb exists only once
    setUpModule has generated the stubs)."""
    pb = lib.pb
    published = [
        audit("alice", pb.OPERATION_DELETE, pb.AUDIT_STATUS_DENIED,
              pb.REGISTRY_TYPE_MODEL, attributes={"team": "ml"}),
        audit("bob", pb.OPERATION_READ, pb.AUDIT_STATUS_SUCCESS,
              pb.REGISTRY_TYPE_DATA, route="/opsml/api/data/read"),
        audit("alice", pb.OPERATION_WRITE, pb.AUDIT_STATUS_FAILED,
              pb.REGISTRY_TYPE_MODEL, attributes={"team": "ml", "env": "dev"}),
        audit("carol", pb.OPERATION_DELETE, pb.AUDIT_STATUS_SUCCESS,
              pb.REGISTRY_TYPE_EXPERIMENT, source="opsml-worker"),
        lib.space_name_event(space="ml", name="churn",
                             registry=pb.REGISTRY_TYPE_MODEL),
        audit("bob", pb.OPERATION_WRITE, pb.AUDIT_STATUS_DENIED,
              pb.REGISTRY_TYPE_DATA),
    ]
    published[3].audit.ClearField("access_location")
    published[5].priority = pb.PRIORITY_HIGH
    return published


# (expression, the sequences it passes)
CASES = [
    # Denied or failed writes.
    ('audit.status in ["AUDIT_STATUS_DENIED", "AUDIT_STATUS_FAILED"] && '
     'audit.operation in ["OPERATION_CREATE", "OPERATION_WRITE", '
     '"OPERATION_UPDATE", "OPERATION_DELETE"]', [1, 3, 6]),
    # Deletes by one user.
    ('audit.operation == "OPERATION_DELETE" && audit.username == "alice"', [1]),
    # One registry, either payload.
    ('audit.registry_type == "REGISTRY_TYPE_MODEL" || '
     'space_name.registry_type == "REGISTRY_TYPE_MODEL"', [1, 3, 5]),
    ('type == "space_name"', [5]),
    ('source.startsWith("opsml-w")', [4]),
    ('audit.route.endsWith("/read")', [2]),
    ('source.matches("^opsml-(server|worker)$") && sequence >= 4', [4, 5, 6]),
    ('attributes.team == "ml" && !has(attributes.env)', [1]),
    ('attributes.env != "prod"', [3]),
    ('"env" in attributes', [3]),
    ('!has(audit.access_location)', [4, 5]),
    ('priority == "PRIORITY_HIGH"', [6]),
    ('sequence in [2, 4] || (type == "audit" && audit.username.contains("ro"))',
     [2, 4]),
]

MARKER = "attributes.marker == \"end\""


class FilterExpressionTest(lib.EventBusTestCase):

    def test_each_subscriber_receives_what_its_expression_passes(self):
        for event in events():
            self.publish(event)
        marker = self.publish(lib.space_name_event(attributes={"marker": "end"}))
        for expression, expected in CASES:
            with self.subTest(expression=expression):
                call, _ = self.subscribe(
                    from_earliest=True,
                    filter=lib.pb.EventFilter(
                        expression="(%s) || %s" % (expression, MARKER)))
                got, lags = self.read(call, len(expected) + 1)
                call.cancel()
                self.assertEqual(lags, [])
                self.assertEqual([e.sequence for e in got],
                                 expected + [marker.sequence])

    def test_the_expression_is_anded_with_types_and_attributes(self):
        for event in events():
            self.publish(event)
        call, _ = self.subscribe(
            from_earliest=True,
            filter=lib.pb.EventFilter(types=[lib.pb.EVENT_TYPE_AUDIT],
                                      attributes={"team": "ml"},
                                      expression='audit.operation == "OPERATION_WRITE"'))
        got, _ = self.read(call, 1)
        self.assertEqual(got[0].sequence, 3)
        self.assertEqual(got[0].audit.username, "alice")

    def test_bad_expressions_get_invalid_argument_with_the_column(self):
        cases = [
            ('audit.status == "DENIED"',
             'filter.expression: column 17: expected an eventbus.v1.AuditStatus '
             'name in quotes after "==" (AUDIT_STATUS_UNSPECIFIED, '
             'AUDIT_STATUS_SUCCESS, AUDIT_STATUS_FAILED, AUDIT_STATUS_DENIED), '
             'got the string "DENIED"'),
            ('audit.usrname == "x"',
             'filter.expression: column 7: unknown field "usrname" of audit '
             '(expected one of username, client_ip, user_agent, operation, '
             'resource_type, resource_id, access_location, status, '
             'error_message, metadata, registry_type, route)'),
            ('sequence == "1"',
             'filter.expression: column 13: expected an integer after "==", '
             'got the string "1"'),
            ('(source == "a"',
             'filter.expression: column 15: expected ")", got the end of the '
             'expression'),
            ('source.matches("[")',
             'filter.expression: column 16: expected a regular expression '
             '(RE2 syntax), got one with an error: missing ]: ['),
            ("(" * 33 + "true" + ")" * 33,
             "filter.expression: column 33: nesting deeper than 32 levels"),
            ("source == '" + "x" * 4085 + "'",
             "filter.expression is 4097 bytes, over "
             "limits.max_filter_expression_bytes (4096)"),
        ]
        for expression, message in cases:
            with self.subTest(expression=expression[:40]):
                call = self.stub.Subscribe(
                    lib.pb.SubscribeRequest(
                        filter=lib.pb.EventFilter(expression=expression)),
                    timeout=lib.DEADLINE)
                with self.assertRaises(grpc.RpcError):
                    next(call)
                self.assertEqual(call.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertEqual(call.details(), message)
        self.publish_ok()
        # Exactly at the limit is accepted.
        call, _ = self.subscribe(filter=lib.pb.EventFilter(
            expression="source == '" + "x" * 4084 + "'"))
        call.cancel()


if __name__ == "__main__":
    unittest.main()
