"""The local stack scripts, and the app while one real service is stopped."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from esap_dash.app import EsapDash
from esap_dash.core.config import Profile
from esap_dash.ui.components import ServiceStatus

from .conftest import STACK, run_coroutine, stack

RSES = ("LOCAL_A", "LOCAL_B", "LOCAL_SCRATCHDISK")  # each with its own qBittorrent
#: The two JupyterHubs' databases and cookie secrets (their account's own folders).
HUB_STATES = (Path(os.environ.get("ESAP_DASH_HUB_STATE", "/var/lib/esap-dash/hub")),
              Path(os.environ.get("ESAP_DASH_HUB_SLURM_STATE", "/var/lib/esap-dash/hub-slurm")))


def test_status_lists_the_services_up(local_stack: None) -> None:
    out = stack("status").stdout
    for name in ("dachs", "rucio", "gateway", "hub"):
        assert f"{name:<7} up" in out


def test_start_is_idempotent(local_stack: None) -> None:
    out = stack("start").stdout
    assert "dachs   up" in out and "rucio   up" in out and "gateway up" in out
    assert "hub     up" in out


def test_unknown_service_is_refused() -> None:
    proc = subprocess.run([str(STACK), "start", "nginx"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "unknown service 'nginx'" in proc.stderr


def test_a_stopped_gateway_shows_down_and_the_rest_keeps_working(profile: Profile) -> None:
    stack("stop", "gateway")
    try:
        status_proc = subprocess.run([str(STACK), "status", "gateway"], capture_output=True,
                                     text=True)
        assert status_proc.returncode == 1 and "gateway down" in status_proc.stdout
        app = EsapDash(profile=profile)
        app.page = "services"
        status: ServiceStatus = app.services.status
        run_coroutine(status.refresh(max_age=0))
        gateway = status.health[profile.service("gateway").name]
        assert gateway is not None and not gateway.up
        assert "connection refused" in gateway.detail
        others = [h for name, h in status.health.items() if name != gateway.name]
        assert all(h is not None and h.up for h in others)
        app.page = "discovery"
        assert app.current_page.__panel__() is app.content
    finally:
        stack("start", "gateway")
    run_coroutine(status.refresh(max_age=0))
    assert status.health[gateway.name].up


def test_files_dachs_reads_have_explicit_modes(local_stack: None) -> None:
    import os
    import stat
    from pathlib import Path

    rc = os.stat("/etc/gavo.rc")
    assert stat.S_IMODE(rc.st_mode) == 0o644 and rc.st_uid == 0
    for path in Path("/var/gavo/inputs/hipparcos").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o004, f"{path} is not readable by DaCHS's user"
    var = Path(os.environ.get("ESAP_DASH_VAR", STACK.parent.parent / "var"))
    for secret in (var / "stack.env", var / "rucio" / "etc" / "rucio.cfg"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret


def test_no_unix_user_of_the_stack_reads_its_secrets(local_stack: None) -> None:
    """alice's Slurm jobs run as Unix alice: she reads no password, token or key of the
    stack (Rucio's configuration and its qBittorrents' credentials, the gateways' and
    DiracX's databases and keys, the provider's signing key, the stack's and DaCHS's
    passwords), and each such file has its mode set explicitly."""
    import os
    import stat
    from pathlib import Path

    var = Path(os.environ.get("ESAP_DASH_VAR", STACK.parent.parent / "var"))
    secrets = [var / "stack.env", var / "rucio" / "etc" / "rucio.cfg",
               var / "rucio" / "etc" / "rse-accounts.cfg",
               var / "rucio" / "etc" / "idpsecrets.json", var / "oidc" / "jwk.json",
               *(var / "qbittorrent" / rse / "qBittorrent" / "config" / "qBittorrent.conf"
                 for rse in RSES),
               var / "gateway" / "gateway.sqlite",
               var / "gateway-slurm" / "gateway.sqlite", var / "diracx" / "env",
               *(var / "diracx" / "db").glob("*.db"), var / "diracx" / "keystore" / "jwks.json",
               *(state / name for state in HUB_STATES
                 for name in ("jupyterhub_cookie_secret", "jupyterhub.sqlite"))]
    for path in secrets:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (var, var / "log", var / "rucio", var / "gateway", var / "diracx", var / "oidc",
                   *(var / "qbittorrent" / rse for rse in RSES), *HUB_STATES):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    # The hubs may start sudospawner and Slurm commands as their users, and nothing
    # else; root's file.
    sudoers = os.stat("/etc/sudoers.d/esap-hub")
    assert stat.S_IMODE(sudoers.st_mode) == 0o440 and sudoers.st_uid == 0
    dachs = [Path("/var/gavo/etc") / f for f in ("dsn", "feed", "trustedquery",
                                                 "untrustedquery")]
    for path in dachs:
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, path
    read = subprocess.run(
        ["runuser", "-u", "alice", "--", "python3", "-c",
         "import sys\nfor p in sys.argv[1:]:\n    try:\n        open(p, 'rb').read(1)\n"
         "        print(p)\n    except OSError:\n        pass",
         *map(str, secrets + dachs)], capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    assert read.stdout == "", f"alice reads: {read.stdout}"


def test_an_unreadable_dachs_configuration_fails_status_naming_the_async_check(
        local_stack: None) -> None:
    """The fault that once left every async TAP job hanging on a fresh machine."""
    import os
    import time

    import requests

    port = os.environ.get("ESAP_DASH_DACHS_PORT", "8091")

    def restart_dachs() -> None:
        subprocess.run(["dachs", "serve", "stop"], capture_output=True, timeout=120)
        subprocess.run(["dachs", "serve", "start"], capture_output=True, timeout=120)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/__system__/tap/run/availability",
                                timeout=3).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)

    os.chmod("/etc/gavo.rc", 0o600)
    try:
        restart_dachs()
        proc = subprocess.run([str(STACK), "status", "dachs"], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 1
        assert "dachs check failed: async TAP" in proc.stderr
        assert "last lines of /var/gavo/logs/dcInfos" in proc.stderr
    finally:
        stack("start", "dachs")  # writes the file 644 again and restarts DaCHS
    assert oct(os.stat("/etc/gavo.rc").st_mode & 0o777) == "0o644"
