"""Fixtures: one emulated cluster for the run, one shared private tetherd, and a Client to it.

The environment is pointed away from the user's own daemon for the whole run: TETHER_SOCKET
names the private daemon, XDG_RUNTIME_DIR a temporary folder, and KUBECONFIG the testkit's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import tether
from harness import Cluster, Daemon, bin_dir, new_daemon, start_cluster


@pytest.fixture(scope="session")
def bins() -> Path:
    return bin_dir()


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Unix socket paths are short (108 bytes): keep these folders near the root.
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="session")
def cluster(bins: Path, run_dir: Path) -> Iterator[Cluster]:
    folder = run_dir / "cluster"
    folder.mkdir()
    cluster = start_cluster(bins, folder)
    yield cluster
    from harness import stop

    stop(cluster.process)


@pytest.fixture(scope="session")
def daemon(bins: Path, run_dir: Path, cluster: Cluster) -> Iterator[Daemon]:
    folder = run_dir / "daemon"
    folder.mkdir()
    daemon = new_daemon(bins, folder).start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session", autouse=True)
def environment(run_dir: Path, cluster: Cluster, daemon: Daemon) -> Iterator[None]:
    runtime = run_dir / "xdg"
    runtime.mkdir(mode=0o700)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KUBECONFIG", str(cluster.kubeconfig))
        env.setenv("TETHER_SOCKET", str(daemon.socket))
        env.setenv("XDG_RUNTIME_DIR", str(runtime))
        env.delenv("TETHER_DAEMON_BIN", raising=False)
        yield


@pytest.fixture
def tc(daemon: Daemon) -> Iterator[tether.Client]:
    with daemon.client() as client:
        yield client


@pytest.fixture
def name() -> str:
    """A forward name no other test uses."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def own_daemon(bins: Path, tmp_path: Path) -> Iterator[Daemon]:
    """A private daemon for one test (restarts, shutdowns)."""
    folder = Path(os.path.realpath(tmp_path))
    daemon = new_daemon(bins, folder).start()
    yield daemon
    daemon.stop()
