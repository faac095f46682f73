"""GET /pulse/v1/stream and the ack endpoint over a real server, fed by a real capture worker."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from django.core.cache import cache

from console.audit import Actor
from projects.services import api_key_create
from pulse.client import PulseStreamError, stream
from pulse.models import PulseStream
from pulse.stream.app import lease_key
from tests.factories import ProjectFactory
from tests.pulse.capture_helpers import events, wait_for
from tests.pulse.conftest import Live, RawStream, TcpProxy, run_sql
from usage.models import UsageCounter

pytestmark = pytest.mark.django_db(transaction=True)


def ack(live: Live, name: str, event_id: Any) -> tuple[int, dict[str, Any]]:
    parts = urlsplit(live.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request(
        "POST",
        f"/pulse/v1/streams/{name}/ack",
        body=json.dumps({"id": event_id}),
        headers={"Authorization": f"Bearer {live.key}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    return response.status, body


def test_events_are_server_sent_events_in_the_documented_shape_from_the_present_on(live):
    live.insert(1)
    events(live.project, 1)  # captured before the stream opens: not sent
    raw = RawStream(live.url, live.key, model="orders")
    assert raw.response.status == 200
    assert (raw.response.getheader("content-type") or "").startswith("text/event-stream")
    assert raw.frame() == {"comment": "connected"}
    run_sql(live.source, "INSERT INTO orders VALUES (2, 'hi')", "UPDATE orders SET note = 'ho' WHERE id = 2")
    run_sql(live.source, "DELETE FROM orders WHERE id = 2")
    created, updated, deleted = raw.event(), raw.event(), raw.event()
    raw.close()
    assert created["event"] == "create" and created["id"] == str(created["data"]["id"])
    data = created["data"]
    assert list(data) == ["id", "modelName", "action", "created", "lsn", "committedAt"]
    assert (data["modelName"], data["action"], data["created"]) == (
        "orders",
        "create",
        {"id": 2, "note": "hi"},
    )
    assert "/" in data["lsn"] and data["committedAt"].endswith("Z")
    assert list(updated["data"]) == ["id", "modelName", "action", "after", "before", "lsn", "committedAt"]
    assert updated["data"]["after"] == {"id": 2, "note": "ho"}
    assert deleted["event"] == "delete" and deleted["data"]["deleted"] == {"id": 2}
    assert int(created["id"]) < int(updated["id"]) < int(deleted["id"])


def test_only_the_model_and_actions_asked_for_are_sent(live):
    raw = RawStream(live.url, live.key, model="orders", actions="delete,update")
    raw.frame()
    live.insert(1)
    live.insert(5, table="customers")
    run_sql(live.source, "DELETE FROM customers", "UPDATE orders SET note = 'x'", "DELETE FROM orders")
    first, second = raw.event(), raw.event()
    raw.close()
    assert [(e["data"]["modelName"], e["event"]) for e in (first, second)] == [
        ("orders", "update"),
        ("orders", "delete"),
    ]


def test_idle_streams_get_heartbeat_comments(live):
    raw = RawStream(live.url, live.key, model="orders")
    assert raw.frame() == {"comment": "connected"}
    assert raw.frame() == {"comment": "heartbeat"}  # the test server beats every half second
    raw.close()


@pytest.mark.parametrize(
    ("query", "key", "status", "code"),
    [
        ({"model": "orders"}, None, 401, "P6002"),
        ({"model": "orders"}, "dpk_not-a-real-key", 401, "P6002"),
        ({}, "KEY", 400, "P6005"),
        ({"model": "orders", "actions": "create,upsert"}, "KEY", 400, "P6005"),
        ({"model": "orders", "name": "no spaces please"}, "KEY", 400, "P6005"),
    ],
)
def test_bad_requests_get_a_json_error_before_any_stream(live, query, key, status, code):
    raw = RawStream(live.url, live.key if key == "KEY" else key, **query)
    assert raw.response.status == status
    assert raw.json()["error"]["code"] == code


def test_an_unknown_model_is_refused_with_the_captured_tables(live):
    wait_for(
        lambda: (
            live.project.pulse_config.__class__.objects.get(pk=live.project.pulse_config.pk).captured_models
        )
    )
    raw = RawStream(live.url, live.key, model="invoices")
    assert raw.response.status == 400
    error = raw.json()["error"]
    assert (error["code"], error["models"]) == ("P6005", ["customers", "orders"])
    assert "invoices" in error["message"]


def test_a_project_without_pulse_is_refused_with_P6010(live, organization):
    other = ProjectFactory(organization=organization)
    _, key = api_key_create(project=other, name="other", actor=Actor.command("test"))
    raw = RawStream(live.url, key, model="orders")
    assert raw.response.status == 403
    assert raw.json()["error"]["code"] == "P6010"


def test_last_event_id_resumes_right_after_that_event(live):
    live.insert(1, 2, 3)
    first, second, third = events(live.project, 3)
    raw = RawStream(live.url, live.key, headers={"Last-Event-ID": str(_id(live, 0))}, model="orders")
    assert [raw.event()["data"]["created"]["id"] for _ in range(2)] == [2, 3]
    live.insert(4)
    assert raw.event()["data"]["created"]["id"] == 4
    raw.close()


def _id(live: Live, index: int) -> int:
    return list(live.project.pulse_events.order_by("seq").values_list("seq", flat=True))[index]


def test_a_named_stream_resumes_after_its_last_acknowledged_event_after_a_disconnect(live):
    live.insert(1)
    events(live.project, 1)
    raw = RawStream(live.url, live.key, model="orders", name="billing")
    raw.frame()
    live.insert(2, 3)
    two, three = raw.event(), raw.event()
    status, body = ack(live, "billing", int(two["id"]))
    assert (status, body["name"], body["acknowledged"]) == (200, "billing", int(two["id"]))
    raw.close()
    live.insert(4)
    events(live.project, 4)
    again = wait_for(lambda: _open_when_free(live, "billing"))
    resumed = [again.event()["data"]["created"]["id"] for _ in range(2)]
    again.close()
    # At least once: 3 was sent but not acknowledged, so it comes again; 1 (before the name
    # existed) and 2 (acknowledged) do not.
    assert resumed == [3, 4]
    assert three["data"]["created"]["id"] == 3
    assert PulseStream.objects.get(project=live.project, name="billing").acknowledged_id == int(two["id"])


def _open_when_free(live: Live, name: str) -> RawStream | None:
    raw = RawStream(live.url, live.key, model="orders", name=name)
    if raw.response.status == 409:
        raw.close()
        return None
    return raw


def test_a_second_connection_to_an_open_named_stream_gets_409_until_the_first_closes(live):
    first = RawStream(live.url, live.key, model="orders", name="single")
    first.frame()
    second = RawStream(live.url, live.key, model="orders", name="single")
    assert second.response.status == 409
    error = second.json()["error"]
    assert error["code"] == "P6011" and "single" in error["message"]
    other_name = RawStream(live.url, live.key, model="orders", name="another")
    assert other_name.response.status == 200
    other_name.close()
    first.close()
    reopened = wait_for(lambda: _open_when_free(live, "single"), timeout=3)
    reopened.close()


def test_acknowledgements_only_move_forward_and_are_validated(live):
    live.insert(*range(1, 11))
    events(live.project, 10)
    assert ack(live, "jobs", 10)[1]["acknowledged"] == 10
    assert ack(live, "jobs", 4)[1]["acknowledged"] == 10
    status, body = ack(live, "jobs", "ten")
    assert (status, body["error"]["code"]) == (400, "P6005")
    # Past the project's newest event: it would skip whatever comes next, so it is refused.
    status, body = ack(live, "jobs", 11)
    assert (status, body["error"]["code"]) == (400, "P6005")
    assert "newest event is 10" in body["error"]["message"]


def test_a_resumed_stream_reads_a_long_backlog_in_order_then_follows_live(live):
    run_sql(live.source, "INSERT INTO orders (id) SELECT generate_series(1, 1200)")
    events(live.project, 1200)
    raw = RawStream(live.url, live.key, headers={"Last-Event-ID": "0"}, model="orders")
    live.insert(1201)
    received = [raw.event()["data"]["created"]["id"] for _ in range(1201)]
    raw.close()
    assert received == list(range(1, 1202))


def test_hundreds_of_idle_streams_in_one_process_all_get_the_event(live):
    port = urlsplit(live.url).port
    sockets = []
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        request = f"GET /pulse/v1/stream?model=orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {live.key}"
        sock.sendall(f"{request}\r\n\r\n".encode())
        sockets.append(sock)
    for sock in sockets:
        _read_until(sock, b": connected")
    live.insert(42)
    for sock in sockets:
        _read_until(sock, b"event: create")
        sock.close()


def _read_until(sock: socket.socket, needle: bytes) -> None:
    seen = b""
    while needle not in seen:
        chunk = sock.recv(65536)
        assert chunk, "the stream ended"
        seen += chunk


def test_the_python_client_yields_typed_events_acknowledges_and_reconnects(live, stream_server):
    port = urlsplit(live.url).port
    proxy = TcpProxy(port)
    proxy.start()
    url = f"http://127.0.0.1:{proxy.port}/pulse/v1/stream"
    ack(live, "client", 0)  # the name exists from the start: nothing the test inserts is before it
    try:
        with stream("orders", name="client", url=url, api_key=live.key, ack_interval=0) as changes:
            live.insert(1)
            first = next(changes)
            assert (first.model_name, first.action, first.created) == (
                "orders",
                "create",
                {"id": 1, "note": None},
            )
            assert first.committed_at.tzinfo is not None
            proxy.stop()  # the connection drops; the client reconnects with Last-Event-ID
            live.insert(2)
            events(live.project, 2)
            proxy.start()
            second = next(changes)
            assert second.created == {"id": 2, "note": None}
        assert PulseStream.objects.get(project=live.project, name="client").acknowledged_id == second.id
    finally:
        proxy.stop()
    with pytest.raises(PulseStreamError) as refused:
        next(iter(stream("nope", url=live.url, api_key=live.key)))
    assert (refused.value.status, refused.value.code) == (400, "P6005")
    assert refused.value.details["models"] == ["customers", "orders"]


def test_events_captured_and_delivered_are_metered(live, stream_server):
    raw = RawStream(live.url, live.key, model="orders")
    raw.frame()
    live.insert(1, 2)
    raw.event()
    raw.event()
    raw.close()

    def counted() -> dict[str, int]:
        stream_server.service.meter.flush()
        return dict(UsageCounter.objects.filter(project_id=live.project.pk).values_list("metric", "value"))

    wait_for(lambda: counted() == {"events_captured": 2, "events_delivered": 2}, message=str(counted()))


def test_a_named_stream_whose_client_resets_the_connection_can_be_reopened_at_once(live):
    first = RawStream(live.url, live.key, model="orders", name="reset")
    assert first.response.status == 200
    first.frame()
    # An abrupt close (RST), as when a client process dies or a network path drops.
    first.connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    first.close()
    reopened = wait_for(lambda: _open_when_free(live, "reset"), timeout=2)
    assert reopened.response.status == 200
    reopened.close()


def test_a_named_stream_closed_while_events_flow_can_be_reopened_at_once(live):
    # Closing while events arrive is when a stream's end races with its wake-up: the stream must
    # still end, not live on holding the name.
    stop = threading.Event()

    def write() -> None:
        with psycopg.connect(live.source, autocommit=True) as connection:
            next_id = 1000
            while not stop.is_set():
                connection.execute("INSERT INTO orders (id) VALUES (%s)", [next_id])
                next_id += 1
                time.sleep(0.002)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        events(live.project, 50)  # events flow now
        for _ in range(15):
            raw = wait_for(lambda: _open_when_free(live, "busy"), timeout=2, message="the name stayed taken")
            raw.event()
            raw.close()
    finally:
        stop.set()
        writer.join()


def test_a_stopping_server_ends_its_open_streams_and_frees_their_names(live, stream_server, caplog):
    lease = lease_key(live.project.pk, "until-shutdown")
    raw = RawStream(live.url, live.key, model="orders", name="until-shutdown")
    assert raw.frame() == {"comment": "connected"}
    assert cache.get(lease) is not None
    stream_server.stop()  # like SIGTERM: the stream is ended after the graceful-shutdown timeout
    while raw.response.readline():  # heartbeats until then, and then the end of the stream
        pass
    raw.close()
    assert cache.get(lease) is None
    # A normal end: not reported as an application error.
    assert not [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "ASGI" in r.getMessage()]
