"""``esap-dash serve --workers N``: nginx's configuration, checked by nginx itself."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from esap_dash.cli import main
from esap_dash.serving import free_ports, nginx_conf


def test_nginx_accepts_the_configuration_and_routes_each_browser_to_its_worker(
        tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is missing: ./run install installs Debian's nginx")
    (tmp_path / "tmp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf("127.0.0.1", 7000, [7001, 7002], tmp_path))
    checked = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp_path)],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    text = conf.read_text()
    # Each worker's own route falls back on the other; new browsers are balanced.
    assert '"127.0.0.1:7001" esap_worker_7001;' in text
    assert "server 127.0.0.1:7002 backup;" in text and "least_conn;" in text


def test_zero_workers_is_refused(capsys) -> None:
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers must be 1 or more" in capsys.readouterr().err


def test_free_ports_are_a_span_that_can_be_bound_and_no_connection_takes() -> None:
    port = free_ports(3)
    # Below the ports the system gives outgoing connections: none of them can take
    # a worker's port while the worker starts.
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    assert port + 2 < int(ephemeral[0])
    for p in range(port, port + 3):  # nginx's port and its two workers'
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", p))
