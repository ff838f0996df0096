"""An independent client: the Python `kubernetes` package's exec and port-forward against the testkit.

Usage: python3 client_check.py KUBECONFIG
Prints one line per check and exits non-zero on the first failure.
"""

import sys

from kubernetes import client, config
from kubernetes.stream import portforward, stream


def main() -> int:
    config.load_kube_config(config_file=sys.argv[1])
    api = client.CoreV1Api()

    out = stream(api.connect_get_namespaced_pod_exec, "toolbox", "default",
                 command=["sh", "-c", "echo py-out; echo py-err >&2"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert "py-out" in out and "py-err" in out, repr(out)
    print("exec output ok")

    resp = stream(api.connect_get_namespaced_pod_exec, "toolbox", "default",
                  command=["sh", "-c", "exit 7"], stderr=True, stdin=False, stdout=True,
                  tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 7, resp.returncode
    print("exec exit code ok")

    resp = stream(api.connect_get_namespaced_pod_exec, "toolbox", "default", command=["cat"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    resp.write_stdin("typed by python\n")
    got = ""
    for _ in range(50):
        resp.update(timeout=0.2)
        got += resp.read_stdout()
        if "typed by python" in got:
            break
    resp.close()
    assert "typed by python" in got, repr(got)
    print("exec stdin ok")

    pods = api.list_namespaced_pod("default", label_selector="app=web").items
    name = pods[0].metadata.name
    pf = portforward(api.connect_get_namespaced_pod_portforward, name, "default", ports="8080")
    sock = pf.socket(8080)
    sock.setblocking(True)
    sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.0 200") and name.encode() in data, data[:200]
    assert pf.error(8080) is None, pf.error(8080)
    print("port-forward ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
