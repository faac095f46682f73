"""What @prisma/extension-pulse sends, parsed (pulse/stream/prisma_protocol.py)."""

from __future__ import annotations

import json

import pytest

from pulse.stream.prisma_protocol import (
    CODES,
    MAX_HEADER_CHARS,
    Ack,
    ClientMessageError,
    PulseRefusal,
    enum_list,
    parse_client_message,
    parse_stream,
    parse_subscription,
)
from tests.pulse.prisma_oracle import SUBSCRIPTION_MODEL


def header(**changes) -> str:
    return json.dumps({**SUBSCRIPTION_MODEL, **changes})


def test_the_subscription_header_of_prisma_7_names_fields_types_columns_and_the_table():
    subscription = parse_subscription(header(where={"name": "n", "create": {}}), client_version="7.10.0")
    model = subscription.model
    assert (
        model.name == "Record" and model.table == "pulse_records" and model.log_model_name == "pulse_records"
    )
    assert model.fields["at"].column == "at_ts" and model.fields["text"].column == "text"
    assert model.fields["mood"].value_type == "enum" and model.fields["moods"].is_list is None
    assert [f.name for f in model.scalar_fields][-1] == "ownerId"  # the relation `owner` is not a scalar
    assert subscription.where == {"name": "n", "create": {}}
    assert subscription.client_version == "7.10.0"


def test_a_model_outside_public_or_without_a_map_is_logged_under_its_table():
    unmapped = parse_subscription(json.dumps({"model": {"fields": [], "dbName": None}, "modelName": "Post"}))
    assert unmapped.model.log_model_name == "Post"
    elsewhere = parse_subscription(
        json.dumps({"model": {"fields": [], "dbName": "orders", "schema": "sales"}, "modelName": "Order"})
    )
    assert elsewhere.model.log_model_name == "sales.orders"


@pytest.mark.parametrize(
    ("text", "reason", "words"),
    [
        (None, "missing_subscription_header", "missing"),
        ("", "missing_subscription_header", "missing"),
        ("{", "malformed_subscription_header", "not JSON"),
        ("[]", "malformed_subscription_header", "JSON object"),
        (" " * 10 + "x" * MAX_HEADER_CHARS, "header_too_large", "larger than"),
        (json.dumps({"model": {"fields": []}}), "invalid_subscription", "modelName"),
        (json.dumps({"modelName": "M", "model": {}}), "invalid_subscription", "list of fields"),
        (
            json.dumps({"modelName": "M", "model": {"fields": [1]}}),
            "invalid_subscription",
            "name, kind and type",
        ),
        (
            json.dumps({"modelName": "M", "model": {"fields": [{"name": "a", "kind": "scalar"}]}}),
            "invalid_subscription",
            "type of field 'a'",
        ),
        (
            json.dumps(
                {"modelName": "M", "model": {"fields": [{"name": "a", "kind": "scalar", "type": "Int"}] * 2}}
            ),
            "invalid_subscription",
            "twice",
        ),
        (
            json.dumps(
                {
                    "modelName": "M",
                    "model": {
                        "fields": [
                            {"name": "a", "kind": "scalar", "type": "Int"},
                            {"name": "b", "kind": "scalar", "type": "Int", "dbName": "a"},
                        ]
                    },
                }
            ),
            "invalid_subscription",
            "same column",
        ),
        (header(where=[1]), "invalid_filter", "where must be an object"),
    ],
)
def test_a_malformed_subscription_header_is_refused_with_the_reason(text, reason, words):
    with pytest.raises(PulseRefusal) as refused:
        parse_subscription(text)
    assert refused.value.code == "P6100" and refused.value.status == 400
    assert refused.value.details["reason"] == reason
    assert words in refused.value.message


def test_the_stream_header_names_a_resumable_stream_or_none():
    assert parse_stream('{"name":"billing.v2"}') == "billing.v2"
    assert parse_stream("{}") is None
    assert parse_stream(None) is None
    for bad in ('{"name":""}', '{"name":"a b"}', '{"name":5}', '{"name":"' + "x" * 101 + '"}', "[]"):
        with pytest.raises(PulseRefusal):
            parse_stream(bad)


def test_acks_carry_the_id_as_the_frame_had_it():
    assert parse_client_message('{"type":"ack","id":"1042"}') == Ack(1042)
    assert parse_client_message(b'{"type":"ack","id":1042}') == Ack(1042)
    for bad in (
        "not json",
        "[]",
        '{"type":"nack","id":"1"}',
        '{"type":"ack"}',
        '{"type":"ack","id":"0/16B3748"}',
        '{"type":"ack","id":"-1"}',
        '{"type":"ack","id":0}',
        '{"type":"ack","id":true}',
        '{"type":"ack","id":"١٢"}',
        '{"type":"ack","id":9223372036854775808}',
        '{"type":"ack","id":"1","pad":"' + "x" * 2000 + '"}',
        b"\xff",
    ):
        with pytest.raises(ClientMessageError):
            parse_client_message(bad)


def test_the_refusal_body_is_what_the_extension_reads():
    refusal = PulseRefusal("P6103", "Pulse is not enabled for this project.")
    assert refusal.status == 403
    assert refusal.body("req_1") == {
        "code": "P6103",
        "message": "Pulse is not enabled for this project.",
        "requestId": "req_1",
    }
    assert sorted(CODES) == [f"P610{i}" for i in range(7)]


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("{}", []),
        ("{A}", ["A"]),
        ('{A,"B C",NULL,"NULL","x\\"y\\\\"}', ["A", "B C", None, "NULL", 'x"y\\']),
        ("A", None),
        ("{A,,B}", None),
        ("{{A}}", None),
        ('{"A}', None),
        ('{"A"B}', None),
        (5, None),
    ],
)
def test_enum_arrays_logged_as_text_are_read_back(text, labels):
    assert enum_list(text) == labels
