"""The parts without I/O: where the daemon is looked for, the error table, the backoff of
resubscription, and the schema loaded without protoc."""

from __future__ import annotations

import os

import grpc
import pytest

import tether
from tether import _locate, _resubscribe
from tether._wire import convert, schema
from tether.errors import from_rpc


def test_the_socket_follows_the_rust_clients_rules():
    home = os.path.expanduser("~")
    default = os.path.join(home, ".local/state/tether/run/tetherd.sock")
    assert _locate.socket_path(env={}) == default
    in_home = "/home/u/.local/state/tether/run/tetherd.sock"
    assert _locate.socket_path(env={"HOME": "/home/u"}) == in_home
    assert _locate.socket_path(env={"XDG_STATE_HOME": "/s", "HOME": "/home/u"}) == (
        "/s/tether/run/tetherd.sock"
    )
    # A relative XDG_STATE_HOME is ignored, as the XDG spec (and the Rust client) say.
    assert _locate.socket_path(env={"XDG_STATE_HOME": "s", "HOME": "/home/u"}) == in_home
    assert _locate.socket_path(env={"XDG_RUNTIME_DIR": "/run/user/7"}) == (
        "/run/user/7/tether/tetherd.sock"
    )
    assert _locate.socket_path(env={"TETHER_SOCKET": "/x/s.sock", "XDG_RUNTIME_DIR": "/r"}) == (
        "/x/s.sock"
    )
    assert _locate.socket_path("/given.sock", env={"TETHER_SOCKET": "/x"}) == "/given.sock"
    assert _locate.daemon_bin(env={}) == "tetherd"
    assert _locate.daemon_bin(env={"TETHER_DAEMON_BIN": "/opt/tetherd"}) == "/opt/tetherd"


def test_paths_are_made_absolute_as_rust_does(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir("/tmp")
    real = os.getcwd()
    assert _locate.absolute("a/./b") == f"{real}/a/b"
    assert _locate.absolute("../x") == f"{real}/../x"
    assert _locate.absolute("/abs//path/") == "/abs/path/"
    env = {"KUBECONFIG": f"kc{os.pathsep}{os.pathsep}/etc/kc"}
    assert _locate.kubeconfig_list(None, env) == f"{real}/kc{os.pathsep}/etc/kc"
    assert _locate.kubeconfig_list(None, {}) == ""
    assert _locate.kubeconfig_list("mine", env) == f"{real}/mine"


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def error(code: grpc.StatusCode, details: str, answers: bool = True) -> tether.TetherError:
    return from_rpc(FakeRpcError(code, details), "do it", "/s.sock", lambda: answers)


@pytest.mark.parametrize(
    ("code", "answers", "kind"),
    [
        (grpc.StatusCode.NOT_FOUND, True, tether.NotFound),
        (grpc.StatusCode.ALREADY_EXISTS, True, tether.AlreadyExists),
        (grpc.StatusCode.INVALID_ARGUMENT, True, tether.InvalidArgument),
        (grpc.StatusCode.OUT_OF_RANGE, True, tether.InvalidArgument),
        (grpc.StatusCode.DEADLINE_EXCEEDED, True, tether.Timeout),
        (grpc.StatusCode.UNAVAILABLE, False, tether.DaemonUnavailable),
        (grpc.StatusCode.UNAVAILABLE, True, tether.ClusterError),
        (grpc.StatusCode.PERMISSION_DENIED, True, tether.ClusterError),
        (grpc.StatusCode.INTERNAL, True, tether.TetherError),
    ],
)
def test_one_table_maps_status_codes(code: grpc.StatusCode, answers: bool, kind: type):
    mapped = error(code, "spec.target: bad", answers)
    assert type(mapped) is kind
    assert mapped.code == code.name
    assert "<" not in str(mapped) and "StatusCode" not in str(mapped)


def test_invalid_argument_names_the_field():
    mapped = error(grpc.StatusCode.INVALID_ARGUMENT, 'spec.ports[1]: invalid port "x"')
    assert isinstance(mapped, tether.InvalidArgument)
    assert mapped.field == "spec.ports[1]"
    no_field = error(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be open")
    assert isinstance(no_field, tether.InvalidArgument) and no_field.field is None


def test_the_exceptions_are_also_the_builtin_kinds():
    assert issubclass(tether.Timeout, TimeoutError)
    assert issubclass(tether.DaemonUnavailable, ConnectionError)
    assert issubclass(tether.NotFound, LookupError)
    assert issubclass(tether.InvalidArgument, ValueError)
    for kind in (tether.NotFound, tether.ClusterError, tether.IncompatibleDaemon):
        assert issubclass(kind, tether.TetherError)


def test_resubscription_backs_off_up_to_a_second_then_gives_up():
    backoff = _resubscribe.Backoff(now=0.0, deadline=None)
    lost = tether.DaemonUnavailable("gone")
    delays = [backoff.next_delay(0.0, lost) for _ in range(8)]
    assert delays[:3] == [0.05, 0.1, 0.2] and max(delays) == 1.0
    with pytest.raises(tether.DaemonUnavailable):
        backoff.next_delay(_resubscribe.WINDOW, lost)
    backoff.reset(now=100.0)
    assert backoff.next_delay(100.0, lost) == 0.05


def test_resubscription_stops_at_the_callers_deadline():
    backoff = _resubscribe.Backoff(now=0.0, deadline=0.12)
    assert backoff.next_delay(0.1, tether.DaemonUnavailable("gone")) == pytest.approx(0.02)
    with pytest.raises(tether.Timeout):
        backoff.next_delay(0.12, tether.DaemonUnavailable("gone"))


def test_only_a_lost_daemon_is_worth_resubscribing():
    assert _resubscribe.is_loss(tether.DaemonUnavailable("gone"))
    assert _resubscribe.is_loss(tether.TetherError("ended", code="UNAVAILABLE"))
    assert not _resubscribe.is_loss(tether.InvalidArgument("names: bad", code="INVALID_ARGUMENT"))
    untrusted = tether.UntrustedSocket("no", path="/d", owner_uid=1, mode=0o777)
    assert not _resubscribe.is_loss(untrusted)


def test_the_schema_builds_every_method_without_protoc():
    assert schema.CREATE_FORWARD.path == "/tether.v1.ForwardService/CreateForward"
    request = convert.handshake_request("1.2.3")
    decoded = schema.HANDSHAKE.request.FromString(schema.HANDSHAKE.serialize(request))
    assert (decoded.client_name, decoded.api_major, decoded.client_version) == (
        "python",
        1,
        "1.2.3",
    )


def test_values_from_a_newer_daemon_do_not_break_conversion():
    status = schema.message("ForwardStatus")(phase=3, reason_kind=0)
    assert convert.forward_status(status).phase is tether.Phase.READY
    unknown = schema.message("ForwardStatus")(phase=99, reason_kind=99)
    assert convert.forward_status(unknown).phase is tether.Phase.UNSPECIFIED
    assert convert.event(schema.message("Event")(time_unix_ms=1)) is None
