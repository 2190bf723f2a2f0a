"""Several server workers behind nginx: ``esap-dash serve --workers N``.

Each worker is a single-process Panel server on loopback (ports ``port + 1``
to ``port + N``); nginx listens on ``address:port`` in front of them.  A
browser sticks to the worker that served it last (a cookie nginx sets
names it), so a page and its websocket reach the same session; websockets
are upgraded through the proxy.  Workers share what must be right across them through the
database (carts, jobs and their progress, abort requests, history), one
cookie secret (``ESAP_DASH_COOKIE_SECRET``: session tokens and login
cookies made by one worker are valid on every other) and the profile.

When a worker dies its browsers are served by another one: an open page
shows that it lost its connection (a session lives in one worker; another
worker refuses it, see :mod:`esap_dash.web`), and loaded again it starts a
session there, with everything the user keeps (carts, jobs) in the database.
The worker is started again.  SIGTERM stops
nginx and the workers (each records its runs FAILED, saying so).
"""

from __future__ import annotations

import logging
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .core.errors import EsapError

__all__ = ["ServingError", "free_ports", "nginx_conf", "serve_workers"]

log = logging.getLogger(__name__)

#: Name of the cookie that ties a browser to its worker.
ROUTE_COOKIE = "esap_worker"
#: Seconds a worker may take to answer after it starts.
START_SECONDS = 120.0
#: Seconds between two starts of a worker that keeps dying.
RESTART_SECONDS = 2.0
#: The lowest port :func:`free_ports` draws (ports below are left to services with
#: fixed ones).
PRIVATE_PORTS = 20000


class ServingError(EsapError, RuntimeError):
    """The workers or nginx could not be started (the message says why)."""

    status = 500


def nginx_conf(address: str, port: int, workers: Sequence[int], runtime: Path,
               user: str | None = None) -> str:
    """nginx's configuration for ``workers`` (ports on 127.0.0.1) behind ``address:port``.

    Parameters
    ----------
    address, port : str, int
        Where browsers connect.
    workers : sequence of int
        The workers' ports.
    runtime : Path
        nginx's pid file, logs and temporary files go here.
    user : str, optional
        The account nginx's worker process runs as (when started as root).
    """
    names = {p: f"esap_worker_{p}" for p in workers}
    routes = "\n".join(f'    "127.0.0.1:{p}" {name};' for p, name in names.items())
    balanced = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;"
                         for p in workers)
    own = "\n".join(
        f"  upstream {name} {{\n    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n"
        + "".join(f"    server 127.0.0.1:{q} backup;\n" for q in workers if q != p) + "  }"
        for p, name in names.items())
    temp = runtime / "tmp"
    return f"""# Written by esap-dash serve --workers {len(workers)}; rewritten at every start.
{f"user {user};" if user else ""}
worker_processes 1;
pid {runtime}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  client_max_body_size 512m;
  # A login's cookies hold the provider's tokens, JWTs of a kilobyte or more each
  # (their Set-Cookie headers, and the Cookie header the browser sends back).
  proxy_buffer_size 32k;
  proxy_buffers 4 32k;
  proxy_busy_buffers_size 64k;
  large_client_header_buffers 4 32k;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  # A browser goes to the worker that served it last (its cookie names it);
  # a new browser to the least busy one.  When its worker is down it is
  # served by another, and the cookie then names that one: a page and its
  # websocket always reach the same worker, even once the first is back.
  map $cookie_{ROUTE_COOKIE} $esap_upstream {{
    default esap_any;
{routes}
  }}
  map $upstream_addr $esap_served {{ "~(?<last>[0-9.]+:[0-9]+)$" $last; default ""; }}
  upstream esap_any {{
    least_conn;
{balanced}
  }}
{own}
  server {{
    listen {address}:{port};
    location / {{
      proxy_pass http://$esap_upstream;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_connect_timeout 2s;
      proxy_read_timeout 1d;
      proxy_send_timeout 1d;
      proxy_buffering off;
      proxy_next_upstream error timeout http_502 http_503;
      add_header Set-Cookie "{ROUTE_COOKIE}=$esap_served; Path=/; HttpOnly; SameSite=Lax" always;
      add_header X-Esap-Worker $esap_served always;
    }}
  }}
}}
"""


@dataclass
class _Worker:
    port: int
    command: list[str]
    proc: subprocess.Popen | None = None
    started: float = 0.0
    restarts: int = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command)
        self.started = time.monotonic()
        log.info("worker on 127.0.0.1:%d started (pid %d)", self.port, self.proc.pid)


@dataclass
class _Supervisor:
    workers: list[_Worker]
    nginx: subprocess.Popen | None = None
    stopping: bool = field(default=False)

    def stop(self, *_: object) -> None:
        self.stopping = True


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _free(address: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def free_ports(count: int = 1, address: str = "127.0.0.1") -> int:
    """A port ``p`` such that ``p`` to ``p + count - 1`` are free on ``address`` now.

    ``esap-dash serve --workers N --port p`` needs ``p`` for nginx and the ``N``
    ports after it for its workers.  The span is drawn below the system's range of
    ephemeral ports: a port from that range, free now, may become the local end of
    any outgoing connection before a worker, still starting, binds it.

    Raises
    ------
    ServingError
        No such span was found in 100 tries.
    """
    low = _ephemeral_low()
    for _ in range(100):
        port = random.randrange(PRIVATE_PORTS, low - count)
        if all(_free(address, port + i) for i in range(count)):
            return port
    raise ServingError(f"no {count} free ports in a row on {address} between "
                       f"{PRIVATE_PORTS} and {low}")


def _ephemeral_low() -> int:
    """The first port of the system's range for outgoing connections (Linux; else
    IANA's 49152)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if found is None:
        raise ServingError("nginx is not installed (Debian: apt-get install nginx; "
                           "`./run install` installs it)")
    return found


def _runtime(user: str | None) -> Path:
    """A private directory for nginx: 0711 (its worker may pass through), with a
    temporary-files directory 0700 owned by the worker's account."""
    runtime = Path(tempfile.mkdtemp(prefix="esap-dash-nginx-"))
    runtime.chmod(0o711)
    temp = runtime / "tmp"
    temp.mkdir(mode=0o700)
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(temp, account.pw_uid, account.pw_gid)
    return runtime


def serve_workers(worker_args: Sequence[str], workers: int, *, port: int,
                  address: str) -> int:
    """Run ``workers`` Panel servers behind nginx until SIGTERM or SIGINT; the exit status.

    Parameters
    ----------
    worker_args : sequence of str
        ``esap-dash serve`` arguments shared by the workers (profile, settings).
    workers : int
        How many.
    port, address : int, str
        Where nginx listens.

    Raises
    ------
    ServingError
        nginx is missing, a port is taken, or a worker never answered.
    """
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    nginx = _nginx()
    ports = [port + 1 + i for i in range(workers)]
    taken = [p for p in (port, *ports) if not _free("127.0.0.1" if p != port else address, p)]
    if taken:
        raise ServingError(f"ports {taken} are in use; --workers {workers} needs {port} "
                           f"and {ports[0]}-{ports[-1]}")
    user = "www-data" if os.geteuid() == 0 else None
    runtime = _runtime(user)
    front = f"{address}:{port}"
    supervisor = _Supervisor([_Worker(p, [
        sys.executable, "-m", "esap_dash.cli", "serve", *worker_args, "--port", str(p),
        "--address", "127.0.0.1", "--front", front]) for p in ports])
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    try:
        for worker in supervisor.workers:
            worker.start()
        deadline = time.monotonic() + START_SECONDS
        while not all(_answers(w.port) for w in supervisor.workers):
            dead = [w for w in supervisor.workers if w.proc and w.proc.poll() is not None]
            if dead:
                raise ServingError(f"the worker on port {dead[0].port} ended at start "
                                   f"(exit {dead[0].proc.returncode}); its output says why")
            if time.monotonic() > deadline or supervisor.stopping:
                raise ServingError(f"the workers did not answer within {START_SECONDS:g} s")
            time.sleep(0.3)
        conf = runtime / "nginx.conf"
        conf.write_text(nginx_conf(address, port, ports, runtime, user))
        conf.chmod(0o644)
        supervisor.nginx = subprocess.Popen([nginx, "-c", str(conf), "-p", str(runtime),
                                             "-g", "daemon off;"])
        print(f"esap-dash: {workers} workers behind nginx at http://{front}/", flush=True)
        return _supervise(supervisor)
    finally:
        _stop(supervisor)
        shutil.rmtree(runtime, ignore_errors=True)


def _supervise(supervisor: _Supervisor) -> int:
    """Start again any worker that ends; end when asked to or when nginx ends."""
    while not supervisor.stopping:
        if supervisor.nginx is not None and supervisor.nginx.poll() is not None:
            log.error("nginx ended (exit %s); stopping the workers",
                      supervisor.nginx.returncode)
            return 1
        for worker in supervisor.workers:
            if worker.proc is not None and worker.proc.poll() is not None and \
                    time.monotonic() - worker.started >= RESTART_SECONDS:
                log.warning("worker on 127.0.0.1:%d ended (exit %s); its browsers go to "
                            "the others; starting it again", worker.port,
                            worker.proc.returncode)
                worker.restarts += 1
                worker.start()
        time.sleep(0.3)
    return 0


def _stop(supervisor: _Supervisor) -> None:
    """nginx first (no new requests), then the workers (each records its runs)."""
    if supervisor.nginx is not None and supervisor.nginx.poll() is None:
        supervisor.nginx.send_signal(signal.SIGQUIT)
    running = [w.proc for w in supervisor.workers if w.proc and w.proc.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for proc in [*running, supervisor.nginx]:
        if proc is None:
            continue
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
