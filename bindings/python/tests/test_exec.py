"""Exec and popen: exit codes, stdin, streamed output, and a missing pod."""

from __future__ import annotations

import pytest

import tether


def test_exec_returns_the_exit_code_and_both_outputs(tc: tether.Client):
    result = tc.exec(
        "toolbox", ["sh", "-c", "echo out; echo err >&2; exit 3"], input=b"", timeout=30
    )
    assert result.exit_code == 3 and not result.ok
    assert (result.stdout, result.stderr) == (b"out\n", b"err\n")
    assert result.error is None and result.pod == "toolbox"


def test_cat_echoes_its_input(tc: tether.Client):
    data = bytes(range(256)) * 4096  # 1 MiB: input and output flow at once
    result = tc.exec("toolbox", ["cat"], input=data, timeout=60)
    assert result.exit_code == 0
    assert result.stdout == data


def test_a_missing_pod_raises_not_found(tc: tether.Client):
    with pytest.raises(tether.NotFound) as missing:
        tc.exec("no-such-pod", ["true"], timeout=30)
    assert "no-such-pod" in str(missing.value)
    assert "_InactiveRpcError" not in str(missing.value)


def test_a_missing_command_is_reported_in_the_result(tc: tether.Client):
    result = tc.exec("toolbox", ["no-such-command-here"], timeout=30)
    assert result.exit_code is None
    assert result.error is not None and "no-such-command-here" in result.error


def test_a_command_must_be_a_list(tc: tether.Client):
    with pytest.raises(TypeError):
        tc.exec("toolbox", "true", timeout=30)


def test_popen_streams_output_and_still_gets_the_exit_code(tc: tether.Client):
    script = "for i in 1 2 3; do echo line $i; done; echo done >&2; exit 7"
    with tc.popen("toolbox", ["sh", "-c", script], timeout=30) as p:
        assert p.pod == "toolbox"
        assert p.stdout.readline() == b"line 1\n"
        assert list(p.stdout) == [b"line 2\n", b"line 3\n"]
        assert p.wait() == 7
        assert p.stderr.read() == b"done\n"
        assert p.returncode == 7


def test_popen_cat_with_stdin(tc: tether.Client):
    with tc.popen("toolbox", ["cat"], stdin=True, timeout=30) as p:
        assert p.stdin is not None
        p.stdin.write(b"hi")
        p.stdin.close()
        assert p.stdout.read() == b"hi"
        assert p.wait() == 0


def test_popen_of_a_missing_pod_raises_not_found(tc: tether.Client):
    with pytest.raises(tether.NotFound):
        tc.popen("no-such-pod", ["true"], timeout=30)
