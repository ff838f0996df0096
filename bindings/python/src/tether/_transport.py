"""The connection to tetherd: a gRPC channel over its Unix socket, opened after the trust check
(and autostart), and the version handshake that every connection makes first.

Every channel sets `grpc.default_authority` to `localhost`: without it grpcio sends the socket
path as the HTTP/2 :authority, which tonic rejects (the call fails with RST_STREAM).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from . import _autostart, _locate
from ._version import __version__
from ._wire import convert, schema
from ._wire.schema import Method, Pb
from .errors import DaemonUnavailable, IncompatibleDaemon, TetherError, from_rpc

CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.default_authority", "localhost"),
    # After a daemon restart, reconnect within a second rather than grpc's default minute.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
)

HANDSHAKE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Settings:
    """How a client finds the daemon, resolved once from its arguments and the environment."""

    socket: str
    autostart: bool
    daemon_bin: str
    # Deadline of calls that return at once (everything but waits and streams), in seconds.
    timeout: float

    @classmethod
    def resolve(
        cls,
        socket: str | os.PathLike[str] | None,
        autostart: bool,
        daemon_bin: str | os.PathLike[str] | None,
        timeout: float,
    ) -> Settings:
        return cls(
            socket=_locate.socket_path(os.fspath(socket) if socket is not None else None),
            autostart=autostart,
            daemon_bin=_locate.daemon_bin(os.fspath(daemon_bin) if daemon_bin else None),
            timeout=timeout,
        )


def target(socket: str) -> str:
    return f"unix:{socket}"


def check_handshake(answer: Pb, socket: str) -> str:
    """The daemon's version, or IncompatibleDaemon when it speaks another API major."""
    if not answer.compatible or answer.api_major != convert.API_MAJOR:
        advice = answer.message or "restart it with `tether daemon stop`, or upgrade tether-k8s"
        raise IncompatibleDaemon(
            f"tetherd {answer.daemon_version} (API {answer.api_major}) at {socket} is not "
            f"compatible with tether-k8s {__version__} (API {convert.API_MAJOR}): {advice}",
            daemon_version=answer.daemon_version,
            client_version=__version__,
            daemon_api_major=answer.api_major,
            client_api_major=convert.API_MAJOR,
        )
    return answer.daemon_version  # type: ignore[no-any-return]


def not_running(socket: str) -> DaemonUnavailable:
    return DaemonUnavailable(
        f"tetherd is not running (nothing answers at {socket}); start it with "
        "`tether daemon start`, or create the client with autostart=True"
    )


def prepare(settings: Settings) -> None:
    """The trust check, then autostart when nothing answers. Blocks (up to 10 s to start)."""
    _locate.check_trusted(settings.socket)
    if _autostart.answers(settings.socket):
        return
    if not settings.autostart:
        raise not_running(settings.socket)
    _autostart.ensure_running(settings.socket, settings.daemon_bin)


class Errors:
    """Turns failed calls on one socket into TetherErrors (through `errors.from_rpc`)."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def of(self, error: grpc.RpcError, action: str) -> TetherError:
        return from_rpc(error, action, self.socket, lambda: _autostart.answers(self.socket))


class SyncConnection(Errors):
    """A handshaken channel for the blocking client."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.socket)
        prepare(settings)
        self.channel = grpc.insecure_channel(target(settings.socket), options=CHANNEL_OPTIONS)
        try:
            answer = self.unary(
                schema.HANDSHAKE,
                convert.handshake_request(__version__),
                "talk to tetherd",
                HANDSHAKE_TIMEOUT,
            )
            self.daemon_version = check_handshake(answer, settings.socket)
        except BaseException:
            self.channel.close()
            raise

    def unary(self, method: Method, request: Pb, action: str, timeout: float | None) -> Pb:
        call = self.channel.unary_unary(method.path, method.serialize, method.deserialize)
        try:
            return call(request, timeout=timeout)
        except grpc.RpcError as e:
            raise self.of(e, action) from e

    def server_stream(self, method: Method) -> Callable[..., Any]:
        return self.channel.unary_stream(method.path, method.serialize, method.deserialize)

    def bidi(self, method: Method) -> Callable[..., Any]:
        return self.channel.stream_stream(method.path, method.serialize, method.deserialize)

    def close(self) -> None:
        self.channel.close()


class AsyncConnection(Errors):
    """A handshaken `grpc.aio` channel, bound to the event loop it was made in."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.socket)
        self.loop = asyncio.get_running_loop()
        self.channel = grpc.aio.insecure_channel(target(settings.socket), options=CHANNEL_OPTIONS)
        # From the handshake, once `open` has made it.
        self.daemon_version = ""

    @classmethod
    async def open(cls, settings: Settings) -> AsyncConnection:
        await asyncio.get_running_loop().run_in_executor(None, prepare, settings)
        conn = cls(settings)
        try:
            answer = await conn.unary(
                schema.HANDSHAKE,
                convert.handshake_request(__version__),
                "talk to tetherd",
                HANDSHAKE_TIMEOUT,
            )
            conn.daemon_version = check_handshake(answer, settings.socket)
        except BaseException:
            await conn.channel.close(None)
            raise
        return conn

    async def unary(self, method: Method, request: Pb, action: str, timeout: float | None) -> Pb:
        call = self.channel.unary_unary(method.path, method.serialize, method.deserialize)
        try:
            return await call(request, timeout=timeout)
        except grpc.RpcError as e:
            raise self.of(e, action) from e

    def server_stream(self, method: Method) -> Callable[..., Any]:
        return self.channel.unary_stream(method.path, method.serialize, method.deserialize)

    def bidi(self, method: Method) -> Callable[..., Any]:
        return self.channel.stream_stream(method.path, method.serialize, method.deserialize)

    async def close(self) -> None:
        await self.channel.close(None)
