#!/usr/bin/env python3
"""Query a database-like service through a Tether forward while one of its pods is deleted,
and report how many queries failed (the answer should be 0).

The "database" is any TCP service that answers a query; the test cluster's `svc/db` is two
echo pods behind port 5432, so each query is a line that must come back unchanged. Against
the emulated cluster, from bindings/python after `cargo build`:

    bin=../../target/debug
    $bin/tether-testkit serve --kubeconfig-out /tmp/kc --config tests/fixtures/cluster.yaml &
    export KUBECONFIG=/tmp/kc TETHER_DAEMON_BIN=$bin/tetherd
    python examples/db_during_pod_deletion.py --testkit $bin/tether-testkit

Against a real cluster, point it at your service and it deletes the pod with kubectl:

    python examples/db_during_pod_deletion.py --service svc/my-echo --port 5432 -n dev

Tether (tetherd) is started if it is not running. The forward stays after the script ends;
`tether rm NAME` removes it.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

import tether


def query(port: int, text: bytes, timeout: float) -> bytes:
    """One short connection: send a query, half-close, read the answer to the end."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(text)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def delete_pod(pod: str, namespace: str, testkit: str | None) -> None:
    if testkit:
        kubeconfig = os.environ.get("KUBECONFIG", "")
        command = [testkit, "fault", "--kubeconfig", kubeconfig, "-n", namespace, "delete-pod", pod]
    else:
        command = ["kubectl", "delete", "pod", pod, "-n", namespace, "--wait=false"]
    subprocess.run(command, check=True, timeout=30, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", default="svc/db")
    parser.add_argument("--port", default="5432", help="the service's port")
    parser.add_argument("-n", "--namespace", default="default")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between queries")
    parser.add_argument("--testkit", help="delete the pod with this tether-testkit, not kubectl")
    args = parser.parse_args()

    with tether.Client() as tc:
        fwd = tc.forward(args.service, f":{args.port}", namespace=args.namespace, wait=True)
        first_pod = fwd.status.pod
        print(f"forward {fwd.name}: {fwd.local_addresses[0]} -> {args.service} ({first_pod})")
        failures: list[str] = []
        deleted_at = args.queries // 4
        for n in range(args.queries):
            if n == deleted_at and first_pod:
                delete_pod(first_pod, args.namespace, args.testkit)
                print(f"query {n}: deleted pod {first_pod}")
            text = f"SELECT {n};\n".encode()
            try:
                answer = query(fwd.local_port, text, timeout=30)
                if answer != text:
                    failures.append(f"query {n}: answered {answer!r}")
            except OSError as e:
                failures.append(f"query {n}: {e}")
            time.sleep(args.interval)
        after = tc.get(fwd.name)

    for failure in failures:
        print(failure, file=sys.stderr)
    print(
        f"{args.queries} queries, {len(failures)} failed; pod {first_pod} -> {after.status.pod}, "
        f"{after.stats.reconnects} reconnects, local port {after.local_port} "
        f"({'same' if after.local_port == fwd.local_port else 'changed'})"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
