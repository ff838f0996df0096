"""Dial: byte streams through a forward's tunnel with no local listener, as a socket-like
object and as a real socket under http.client."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
from collections.abc import Iterator

import pytest

import tether


@pytest.fixture(scope="module")
def db(daemon) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A forward to the echo pods behind svc/db."""
    with daemon.client() as tc, tc.temporary_forward("svc/db", ":5432", timeout=30) as fwd:
        yield fwd.name


@pytest.fixture(scope="module")
def sink(daemon) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with daemon.client() as tc, tc.temporary_forward("pod/sink", ":9000", timeout=30) as fwd:
        yield fwd.name


def read_to_end(stream: tether.DialStream) -> bytes:
    data = bytearray()
    while chunk := stream.recv(65536):
        data.extend(chunk)
    return bytes(data)


def test_dial_to_echo_returns_the_bytes_then_eof_after_shutdown_write(tc: tether.Client, db: str):
    with tc.dial(db, port="5432", timeout=30) as stream:
        assert stream.pod.startswith("db-") and stream.port == 7000
        stream.sendall(b"hello through the tunnel")
        assert stream.recv(5) == b"hello"
        stream.shutdown_write()
        assert read_to_end(stream) == b" through the tunnel"
        assert stream.recv(1) == b""


def test_eight_mib_through_sink_arrive_whole(tc: tether.Client, sink: str):
    payload = os.urandom(8 * 1024 * 1024)
    with tc.dial(sink, timeout=60) as stream:
        stream.sendall(payload)
        stream.shutdown_write()
        answer = read_to_end(stream).decode()
    assert answer == f"{len(payload)} {hashlib.sha256(payload).hexdigest()}\n"


def test_dial_socket_works_under_http_client(tc: tether.Client, name: str):
    fwd = tc.forward("svc/web", ":80", name=name, wait=True, timeout=30)
    sock = tc.dial_socket(fwd.name, timeout=30)
    try:
        assert isinstance(sock, socket.socket)
        connection = http.client.HTTPConnection("web")
        connection.sock = sock
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200
        assert response.read().decode().startswith("web-")
        connection.close()
    finally:
        sock.close()
        tc.remove(name)


def test_dial_socket_passes_a_half_close_on(tc: tether.Client, db: str):
    with tc.dial_socket(db, timeout=30) as sock:
        sock.settimeout(30)
        sock.sendall(b"ping")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data == b"ping"


def test_dialing_a_forward_that_does_not_exist_raises_not_found(tc: tether.Client):
    with pytest.raises(tether.NotFound) as missing:
        tc.dial("no-such-forward", timeout=30)
    assert "no-such-forward" in str(missing.value)


def test_dialing_a_port_the_forward_lacks_names_the_field(tc: tether.Client, db: str):
    with pytest.raises(tether.InvalidArgument) as bad:
        tc.dial(db, port="6543", timeout=30)
    assert bad.value.field == "open.port"
