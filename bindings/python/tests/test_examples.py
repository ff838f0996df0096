"""The example scripts run as documented, against the test cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import Cluster, Daemon

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_the_database_example_loses_no_query_while_a_pod_is_deleted(
    cluster: Cluster, daemon: Daemon
):
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "TETHER_SOCKET": str(daemon.socket)}
    script = EXAMPLES / "db_during_pod_deletion.py"
    run = subprocess.run(
        [sys.executable, str(script), "--testkit", str(cluster.testkit), "--queries", "80"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    summary = run.stdout.strip().splitlines()[-1]
    assert summary.startswith("80 queries, 0 failed"), run.stdout
    assert "deleted pod db-" in run.stdout
    assert "(same)" in summary
