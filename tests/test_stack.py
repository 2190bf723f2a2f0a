"""The local stack scripts, and the app while one real service is stopped."""

from __future__ import annotations

import subprocess

from esap_dash.app import EsapDash
from esap_dash.components import ServiceStatus
from esap_dash.config import Profile

from .conftest import STACK, run_coroutine, stack


def test_status_lists_the_three_services_up(local_stack: None) -> None:
    out = stack("status").stdout
    for name in ("dachs", "rucio", "gateway"):
        assert f"{name:<7} up" in out


def test_start_is_idempotent(local_stack: None) -> None:
    out = stack("start").stdout
    assert "dachs   up" in out and "rucio   up" in out and "gateway up" in out


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
        assert app.current_page.__panel__() is app._content.objects[0]
    finally:
        stack("start", "gateway")
    run_coroutine(status.refresh(max_age=0))
    assert status.health[gateway.name].up
