"""A real Ray cluster of two nodes on this machine, on loopback only, for the tests that need one.

Both nodes are started with Ray's own ``ray start`` (the head, then a second node joining it), each
with one CPU and ports of its own, and stopped by process group and by their session folder: nothing
of another Ray on the machine is touched. On Linux Ray rewrites a loopback address to the machine's
routable one (``ray._private.services.resolve_ip_for_localhost``), unless
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (:data:`DRIVER_ENV`), which also refuses a second node. So
``ray start`` runs here with that variable set for the processes it starts, the rewrite off and the
second node allowed in its own process: every node listens on 127.0.0.1 only, and a driver given
:data:`DRIVER_ENV` keeps 127.0.0.1 too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DRIVER_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
"""What a driver (``qgym train --ray-address 127.0.0.1:PORT``) needs to reach the loopback cluster."""
_RAY_START = (
    "import sys, ray._private.ray_constants as constants, ray._private.services as services; "
    "constants.ENABLE_RAY_CLUSTER = True; "  # the variable below would refuse a second node
    "services.resolve_ip_for_localhost = lambda host: host; "
    "from ray.scripts.scripts import main; sys.argv = ['ray', 'start', *sys.argv[1:]]; main()"
)


@dataclass
class LocalCluster:
    """Two Ray nodes on 127.0.0.1: ``address`` is the head's GCS ``host:port``."""

    address: str
    temp_dir: Path
    client_port: int
    """The head's Ray Client server: ``ray://127.0.0.1:<client_port>``."""
    groups: list[int] = field(default_factory=list)

    def processes(self) -> dict[int, str]:
        """The cluster's live processes (pid: command line): those of its process groups or naming its
        session folder, and their descendants (the workers a raylet starts)."""
        table = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if stat[0] != "Z":
                table[int(entry.name)] = (int(stat[1]), int(stat[2]), command.strip())
        ours = str(self.temp_dir)
        found = {pid for pid, (_, group, command) in table.items() if group in self.groups or ours in command}
        while grown := {pid for pid, (parent, _, _) in table.items() if parent in found} - found:
            found |= grown
        return {pid: table[pid][2] for pid in found}

    def workers_running(self, prefix: str) -> dict[int, str]:
        """Worker processes whose title starts with ``prefix`` (Ray titles a busy worker ``ray::<task>``)."""
        return {pid: title for pid, title in self.processes().items() if title.startswith(prefix)}

    def stop(self) -> None:
        """SIGTERM to every process of the cluster, SIGKILL to those left after a few seconds."""
        for sig, wait in ((signal.SIGTERM, 8.0), (signal.SIGKILL, 5.0)):
            for group in self.groups:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, sig)
            for pid in self.processes():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.2)
            if not self.processes():
                return


def start_cluster(cpus_per_node: int = 1) -> LocalCluster:
    """Start the head and a second node; a RuntimeError with Ray's output if either fails."""
    temp_dir = Path(tempfile.mkdtemp(prefix="qgym-ray-", dir="/tmp"))  # short: Ray's socket paths
    port = _free_port()
    cluster = LocalCluster(f"127.0.0.1:{port}", temp_dir, _free_port())
    env = {**os.environ, **DRIVER_ENV}  # the nodes' own processes (Ray Client's servers) keep loopback
    common = [f"--num-cpus={cpus_per_node}", "--num-gpus=0", "--object-store-memory=100000000"]
    common += ["--disable-usage-stats", "--include-log-monitor=false", "--node-ip-address=127.0.0.1"]
    head = ["--head", f"--port={port}", f"--temp-dir={temp_dir}", "--include-dashboard=false"]
    head += [f"--ray-client-server-port={cluster.client_port}", f"--dashboard-port={_free_port()}"]
    nodes = [head, [f"--address={cluster.address}"]]
    try:
        for options in nodes:
            start = subprocess.Popen(
                [sys.executable, "-c", _RAY_START, *options, *common, *_node_ports()],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # the node's daemons keep this process group: stopped by it
            )
            cluster.groups.append(start.pid)
            out, _ = start.communicate(timeout=180)
            if start.returncode != 0:
                raise RuntimeError(f"ray start {' '.join(options)} failed:\n{out[-3000:]}")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _node_ports() -> list[str]:
    """Ports of one node's own servers, so that two nodes on one machine do not collide. Ray refuses a
    node whose worker-port range holds one of its other ports, so the range is drawn last, clear of
    every port drawn so far and of the other nodes' ranges, and later draws stay out of it."""
    servers = [
        f"--node-manager-port={_free_port()}",
        f"--object-manager-port={_free_port()}",
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--dashboard-agent-grpc-port={_free_port()}",
        f"--runtime-env-agent-port={_free_port()}",
        f"--metrics-export-port={_free_port()}",
    ]
    while True:
        first = _free_port()
        last = min(first + 100, 65535)
        holds_a_port = any(first <= port <= last for port in _DRAWN if port != first)
        if not holds_a_port and not any(first <= high and low <= last for low, high in _WORKER_RANGES):
            break
    _WORKER_RANGES.append((first, last))
    return [*servers, f"--min-worker-port={first}", f"--max-worker-port={last}"]


_DRAWN: set[int] = set()
"""Every port drawn in this process: no two of the clusters' servers get the same one."""
_WORKER_RANGES: list[tuple[int, int]] = []
"""The nodes' worker-port ranges, which no later draw may fall in."""


def _free_port() -> int:
    """A port free on loopback now, not drawn before and outside every worker range."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _DRAWN and not any(low <= port <= high for low, high in _WORKER_RANGES):
            _DRAWN.add(port)
            return port
