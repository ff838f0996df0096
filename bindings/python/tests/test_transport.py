"""The connection: the :authority tonic needs, the trust check on the socket's folder, the
handshake, and the words of connection errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

import tether
from harness import Daemon
from tether import _transport
from tether._wire import convert, schema


def handshake(channel: grpc.Channel) -> object:
    call = channel.unary_unary(
        schema.HANDSHAKE.path, schema.HANDSHAKE.serialize, schema.HANDSHAKE.deserialize
    )
    return call(convert.handshake_request("0.0.0-test"), timeout=10)


def test_tonic_needs_the_localhost_authority(daemon: Daemon):
    """grpcio (1.57 on) sends the socket path as :authority unless told otherwise, and tonic
    refuses it. This is why every channel of the package sets grpc.default_authority."""
    target = _transport.target(str(daemon.socket))
    with grpc.insecure_channel(target) as bare, pytest.raises(grpc.RpcError) as refused:
        handshake(bare)
    assert refused.value.code() is not grpc.StatusCode.OK  # type: ignore[attr-defined]

    assert ("grpc.default_authority", "localhost") in _transport.CHANNEL_OPTIONS
    with grpc.insecure_channel(target, options=_transport.CHANNEL_OPTIONS) as channel:
        answer = handshake(channel)
    assert answer.compatible and answer.api_major == 1  # type: ignore[attr-defined]


def test_a_socket_folder_others_can_write_is_refused(tmp_path: Path):
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o777)
    client = tether.Client(folder / "tetherd.sock", daemon_bin="/nonexistent/tetherd")
    with pytest.raises(tether.UntrustedSocket) as refused:
        client.connect()
    error = refused.value
    assert isinstance(error, tether.DaemonUnavailable)
    assert (error.path, error.owner_uid, error.mode) == (str(folder), os.getuid(), 0o777)
    message = str(error)
    assert str(folder) in message and "777" in message and f"uid {os.getuid()}" not in message
    assert "chmod 700" in message
    assert not (folder / "tetherd.sock").exists()


def test_a_group_writable_folder_is_refused_too(tmp_path: Path):
    folder = tmp_path / "group"
    folder.mkdir()
    os.chmod(folder, 0o770)
    with pytest.raises(tether.UntrustedSocket) as refused:
        tether.Client(folder / "s.sock", autostart=False).connect()
    assert "770" in str(refused.value)


def test_a_socket_folder_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    me = os.getuid()
    # Seen from another uid, this private folder belongs to someone else.
    monkeypatch.setattr(os, "getuid", lambda: me + 1)
    with pytest.raises(tether.UntrustedSocket) as refused:
        tether.Client(folder / "s.sock", autostart=False).connect()
    assert refused.value.owner_uid == me
    assert f"uid {me}, not you (uid {me + 1})" in str(refused.value)


def test_no_daemon_and_no_autostart_says_what_to_do(tmp_path: Path):
    folder = tmp_path / "quiet"
    folder.mkdir(mode=0o700)
    with pytest.raises(tether.DaemonUnavailable) as missing:
        tether.Client(folder / "s.sock", autostart=False).info()
    message = str(missing.value)
    assert "not running" in message and str(folder / "s.sock") in message
    assert "tether daemon start" in message and "<" not in message


class FakeDaemon:
    """A gRPC server on a Unix socket that answers Handshake as told."""

    def __init__(self, socket: Path, api_major: int, compatible: bool) -> None:
        def answer(request: object, context: object) -> object:
            return schema.HANDSHAKE.response(
                daemon_version="9.0.0",
                api_major=api_major,
                compatible=compatible,
                message="restart it with `tether daemon stop`",
            )

        handler = grpc.method_handlers_generic_handler(
            "tether.v1.DaemonService",
            {
                "Handshake": grpc.unary_unary_rpc_method_handler(
                    answer,
                    request_deserializer=schema.HANDSHAKE.request.FromString,
                    response_serializer=schema.HANDSHAKE.serialize,
                ),
            },
        )
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self.server.add_generic_rpc_handlers((handler,))
        self.server.add_insecure_port(f"unix:{socket}")
        self.server.start()


@pytest.fixture
def fake_socket(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "fake"
    folder.mkdir(mode=0o700)
    yield folder / "s.sock"


@pytest.mark.parametrize(("api_major", "compatible"), [(2, False), (2, True), (1, False)])
def test_an_incompatible_daemon_raises_with_both_versions(
    fake_socket: Path, api_major: int, compatible: bool
):
    fake = FakeDaemon(fake_socket, api_major, compatible)
    try:
        with pytest.raises(tether.IncompatibleDaemon) as refused:
            tether.Client(fake_socket, autostart=False).connect()
    finally:
        fake.server.stop(grace=None)
    error = refused.value
    assert (error.daemon_version, error.client_version) == ("9.0.0", tether.__version__)
    assert (error.daemon_api_major, error.client_api_major) == (api_major, 1)
    assert "9.0.0" in str(error) and tether.__version__ in str(error)


def test_daemon_errors_are_the_daemons_words_not_a_grpc_dump(tc: tether.Client):
    with pytest.raises(tether.NotFound) as missing:
        tc.get("no-such-forward")
    message = str(missing.value)
    assert message.startswith('failed to find forward "no-such-forward"')
    assert "RpcError" not in message and "debug_error_string" not in message
    assert missing.value.code == "NOT_FOUND"
    assert isinstance(missing.value.__cause__, grpc.RpcError)


def test_a_client_built_outside_a_loop_works_in_several_loops(daemon: Daemon):
    import asyncio

    client = tether.AsyncClient(daemon.socket, autostart=False)

    async def pid() -> int:
        return (await client.info()).pid

    assert asyncio.run(pid()) == asyncio.run(pid())
