"""The API schema: message classes built at import from the committed FileDescriptorSet.

`_proto/tether_v1.binpb` is tether-proto's descriptor set, byte for byte (a Rust test fails when
it drifts; `cargo xtask schema` rewrites it). Building classes from it needs no protoc and no
generated `_pb2` module, so any protobuf from 4.21 on works. Messages are untyped (`Any`) here;
`convert` turns them into the package's typed dataclasses, and nothing else sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "tether.v1"
SCHEMA_FILE = "_proto/tether_v1.binpb"

# A protobuf message instance or class built from the schema. protobuf's generated attributes
# are not visible to a type checker, so messages stay `Any` inside this subpackage.
Pb = Any


def _load_pool() -> descriptor_pool.DescriptorPool:
    data = resources.files("tether").joinpath(SCHEMA_FILE).read_bytes()
    files = descriptor_pb2.FileDescriptorSet.FromString(data)
    pool = descriptor_pool.DescriptorPool()
    for proto in files.file:
        pool.Add(proto)
    return pool


_POOL = _load_pool()


def _class_getter() -> Callable[[Any], Pb]:
    """protobuf 4.21+ has `GetMessageClass`; older factories only `GetPrototype`."""
    get = getattr(message_factory, "GetMessageClass", None)
    if get is not None:
        return get  # type: ignore[no-any-return]
    factory = message_factory.MessageFactory(_POOL)
    return factory.GetPrototype  # type: ignore[attr-defined,no-any-return]


_GET_CLASS = _class_getter()


def message(name: str) -> Pb:
    """The class of `tether.v1.<name>`."""
    return _GET_CLASS(_POOL.FindMessageTypeByName(f"{PACKAGE}.{name}"))


def enum_names(name: str) -> dict[int, str]:
    """Value numbers to value names of `tether.v1.<name>`."""
    enum = _POOL.FindEnumTypeByName(f"{PACKAGE}.{name}")
    return {v.number: v.name for v in enum.values}


@dataclass(frozen=True)
class Method:
    """One RPC: its path and how to turn its messages into bytes and back."""

    service: str
    name: str
    request: Pb
    response: Pb

    @property
    def path(self) -> str:
        return f"/{PACKAGE}.{self.service}/{self.name}"

    def serialize(self, message: Pb) -> bytes:
        return message.SerializeToString()  # type: ignore[no-any-return]

    def deserialize(self, data: bytes) -> Pb:
        return self.response.FromString(data)


def _method(service: str, name: str) -> Method:
    rpc = _POOL.FindServiceByName(f"{PACKAGE}.{service}").FindMethodByName(name)
    request = _GET_CLASS(rpc.input_type)
    response = _GET_CLASS(rpc.output_type)
    return Method(service, name, request, response)


HANDSHAKE = _method("DaemonService", "Handshake")
GET_INFO = _method("DaemonService", "GetInfo")
SHUTDOWN = _method("DaemonService", "Shutdown")
CREATE_FORWARD = _method("ForwardService", "CreateForward")
GET_FORWARD = _method("ForwardService", "GetForward")
LIST_FORWARDS = _method("ForwardService", "ListForwards")
DELETE_FORWARD = _method("ForwardService", "DeleteForward")
PAUSE_FORWARD = _method("ForwardService", "PauseForward")
RESUME_FORWARD = _method("ForwardService", "ResumeForward")
WATCH_EVENTS = _method("ForwardService", "WatchEvents")
DIAL = _method("ForwardService", "Dial")
EXEC = _method("SessionService", "Exec")
CREATE_SESSION = _method("SessionService", "CreateSession")
ATTACH_SESSION = _method("SessionService", "AttachSession")
LIST_SESSIONS = _method("SessionService", "ListSessions")
GET_SESSION = _method("SessionService", "GetSession")
KILL_SESSION = _method("SessionService", "KillSession")
