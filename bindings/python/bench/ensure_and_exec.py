#!/usr/bin/env python3
"""Times, in one run against one emulated cluster, what a script pays per call:

- "forward ready": make a forward to svc/web usable. Tether: `tc.forward(...)` against the
  forward the daemon already holds (the ensure call). kubernetes: what a script must do each
  time, since the forward lives in its process: resolve the service to a Ready pod, open
  `portforward(...)` and get its socket.
- "forward + GET": the same, then one HTTP GET through it.
- "exec true": one `exec` of `true` in the toolbox pod. Tether: `tc.exec(...)`. kubernetes:
  `stream(connect_get_namespaced_pod_exec, ...)` until the exit code is known.

It starts its own tether-testkit and tetherd (from TETHER_BIN_DIR), prints a Markdown table
of medians and 90th percentiles, and stops both. From bindings/python, after `cargo build`:

    pip install -e '.[bench]'
    TETHER_BIN_DIR=../../target/debug python bench/ensure_and_exec.py --runs 200
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes.stream import portforward, stream

import tether

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))
from harness import bin_dir, new_daemon, start_cluster, stop  # noqa: E402

GET = b"GET / HTTP/1.0\r\nHost: web\r\n\r\n"


def timed(runs: int, call: Callable[[], object]) -> list[float]:
    call()  # warm up: connections, caches
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> str:
    p90 = statistics.quantiles(samples, n=10)[-1]
    return f"{statistics.median(samples):.2f} ms | {p90:.2f} ms"


def http_get(sock: object) -> bytes:
    """One GET; the answer ends after Content-Length bytes (the server keeps the connection)."""
    sock.sendall(GET)  # type: ignore[attr-defined]
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)  # type: ignore[attr-defined]
        if not chunk:
            raise RuntimeError(f"the answer ended early: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)  # type: ignore[attr-defined]
        if not chunk:
            raise RuntimeError("the body ended early")
        body += chunk
    return head + b"\r\n\r\n" + body


class Kube:
    """The official client, as a script uses it for the same jobs."""

    def __init__(self, kubeconfig: Path) -> None:
        kconfig.load_kube_config(config_file=str(kubeconfig))
        self.api = kclient.CoreV1Api()

    def ready_web_pod(self) -> str:
        pods = self.api.list_namespaced_pod("default", label_selector="app=web").items
        for pod in pods:
            conditions = pod.status.conditions or []
            if any(c.type == "Ready" and c.status == "True" for c in conditions):
                return str(pod.metadata.name)
        raise RuntimeError("no Ready web pod")

    def forward(self) -> object:
        pf = portforward(
            self.api.connect_get_namespaced_pod_portforward,
            self.ready_web_pod(),
            "default",
            ports="8080",
        )
        sock = pf.socket(8080)
        sock.setblocking(True)
        return sock

    def forward_and_get(self) -> bytes:
        sock = self.forward()
        try:
            return http_get(sock)
        finally:
            sock.close()  # type: ignore[attr-defined]

    def exec_true(self) -> int:
        resp = stream(
            self.api.connect_get_namespaced_pod_exec,
            "toolbox",
            "default",
            command=["true"],
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
        )
        resp.run_forever(timeout=30)
        code = resp.returncode
        resp.close()
        return int(code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    bins = bin_dir()
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        folder = Path(tmp)
        cluster = start_cluster(bins, folder)
        daemon = new_daemon(bins, folder).start()
        try:
            rows = measure(args.runs, cluster.kubeconfig, daemon.socket)
        finally:
            daemon.stop()
            stop(cluster.process)
    print(
        f"{args.runs} runs each, after one warm-up call; {platform.python_version()}, "
        f"tether-k8s {tether.__version__}, {os.cpu_count()} cores\n"
    )
    print("| operation | Tether median | Tether p90 | kubernetes median | kubernetes p90 |")
    print("|---|---|---|---|---|")
    for operation, ours, theirs in rows:
        print(f"| {operation} | {ours} | {theirs} |")
    return 0


def measure(runs: int, kubeconfig: Path, socket: Path) -> list[tuple[str, str, str]]:
    os.environ["KUBECONFIG"] = str(kubeconfig)
    kube = Kube(kubeconfig)
    with tether.Client(socket, autostart=False) as tc:
        fwd = tc.forward("svc/web", ":80", wait=True, timeout=30)

        def tether_forward_and_get() -> bytes:
            port = tc.forward("svc/web", ":80").local_port
            import socket as so

            with so.create_connection(("127.0.0.1", port), timeout=30) as sock:
                return http_get(sock)

        assert b"200" in tether_forward_and_get() and b"200" in kube.forward_and_get()
        assert tc.exec("toolbox", ["true"]).exit_code == 0 and kube.exec_true() == 0
        rows = [
            (
                "forward ready (ensure)",
                summary(timed(runs, lambda: tc.forward("svc/web", ":80"))),
                summary(timed(runs, lambda: kube.forward().close())),  # type: ignore[attr-defined]
            ),
            (
                "forward + one GET",
                summary(timed(runs, tether_forward_and_get)),
                summary(timed(runs, kube.forward_and_get)),
            ),
            (
                "exec `true`",
                summary(timed(runs, lambda: tc.exec("toolbox", ["true"]))),
                summary(timed(runs, kube.exec_true)),
            ),
        ]
        tc.remove(fwd.name)
    return rows


if __name__ == "__main__":
    sys.exit(main())
