"""The async client: the twins of the forward, dial, exec and events cases. Each runs in its
own `asyncio.run`, bounded by `asyncio.wait_for`."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable
from typing import TypeVar

import tether
from harness import Cluster, Daemon

T = TypeVar("T")
DEADLINE = 60.0


def run(coroutine: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, DEADLINE)

    return asyncio.run(bounded())


async def get(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer.split(b"\r\n\r\n", 1)[1].decode().strip()


def test_async_forward_get_and_pod_deletion(daemon: Daemon, cluster: Cluster, name: str):
    client = tether.AsyncClient(daemon.socket, autostart=False)  # built outside any loop

    async def scenario() -> None:
        async with client as tc:
            fwd = await tc.forward("svc/web", ":80", name=name, wait=True, timeout=30)
            assert fwd.status.pod and await get(fwd.local_port) == fwd.status.pod
            assert (await tc.forward("svc/web", ":80", name=name)).existed
            events = tc.events([name], timeout=40)
            first = await events.__anext__()
            assert isinstance(first, tether.StatusChanged) and first.status.pod == fwd.status.pod
            await asyncio.to_thread(cluster.fault, "delete-pod", fwd.status.pod)
            phases = []
            async for event in events:
                if isinstance(event, tether.StatusChanged):
                    phases.append(event.status.phase)
                    if event.status.phase is tether.Phase.READY:
                        break
            await events.aclose()
            assert tether.Phase.RECONNECTING in phases
            after = await tc.get(name)
            assert after.local_port == fwd.local_port and after.status.pod != fwd.status.pod
            assert await get(after.local_port) == after.status.pod
            await tc.remove(name)

    run(scenario())


def test_async_dial_echo_and_sink(daemon: Daemon):
    payload = os.urandom(8 * 1024 * 1024)

    async def scenario() -> None:
        async with tether.AsyncClient(daemon.socket, autostart=False) as tc:
            async with tc.temporary_forward("svc/db", ":5432", timeout=30) as db:
                async with tc.dial(db.name, timeout=30) as stream:
                    await stream.sendall(b"async echo")
                    await stream.shutdown_write()
                    data = b""
                    while chunk := await stream.recv(65536):
                        data += chunk
                    assert data == b"async echo"
                reader, writer = await tc.open_connection(db.name, 5432, timeout=30)
                writer.write(b"over asyncio streams")
                writer.write_eof()
                assert await reader.read() == b"over asyncio streams"
                writer.close()
            async with tc.temporary_forward("pod/sink", ":9000", timeout=30) as sink:
                stream = await tc.dial(sink.name, timeout=60)
                await stream.sendall(payload)
                await stream.shutdown_write()
                answer = b""
                while chunk := await stream.recv(65536):
                    answer += chunk
                await stream.close()
                digest = hashlib.sha256(payload).hexdigest()
                assert answer.decode() == f"{len(payload)} {digest}\n"

    run(scenario())


def test_async_exec_popen_and_a_missing_pod(daemon: Daemon):
    async def scenario() -> None:
        async with tether.AsyncClient(daemon.socket, autostart=False) as tc:
            result = await tc.exec("toolbox", ["sh", "-c", "exit 3"], input=b"", timeout=30)
            assert result.exit_code == 3
            echoed = await tc.exec("toolbox", ["cat"], input=b"async cat", timeout=30)
            assert echoed.stdout == b"async cat"
            async with tc.popen("toolbox", ["cat"], stdin=True, timeout=30) as p:
                assert p.stdin is not None
                await p.stdin.write(b"hi")
                await p.stdin.close()
                assert await p.stdout.read() == b"hi"
                assert await p.wait() == 0
            try:
                await tc.exec("no-such-pod", ["true"], timeout=30)
            except tether.NotFound as e:
                assert "no-such-pod" in str(e)
            else:
                raise AssertionError("exec in a missing pod did not raise")

    run(scenario())


def test_async_events_resume_across_a_daemon_restart(own_daemon: Daemon):
    async def scenario() -> None:
        async with tether.AsyncClient(own_daemon.socket, autostart=False) as tc:
            fwd = await tc.forward("svc/web", ":80", wait=True, timeout=30)
            events = tc.events([fwd.name], timeout=50)
            first = await events.__anext__()
            assert isinstance(first, tether.StatusChanged)
            assert own_daemon.process is not None
            own_daemon.process.kill()
            await asyncio.to_thread(own_daemon.process.wait, 15)
            loop = asyncio.get_running_loop()
            restart = loop.run_in_executor(None, own_daemon.start)
            async for event in events:
                if (
                    isinstance(event, tether.StatusChanged)
                    and event.status.phase is tether.Phase.READY
                ):
                    break
            await events.aclose()
            await restart
            assert (await tc.get(fwd.name)).local_port == fwd.local_port
            await tc.remove(fwd.name)

    run(scenario())
