"""The esap-dash command."""

from __future__ import annotations

import os
import subprocess
import sys

from esap_dash.cli import main


def test_profiles_lists_the_shipped_profiles(capsys) -> None:
    assert main(["profiles"]) == 0
    assert capsys.readouterr().out.split() == ["local", "local-oidc", "public"]


def test_check_reports_all_local_services_up(profile, capsys) -> None:
    assert main(["check", "--profile", "local"]) == 0
    out = capsys.readouterr().out
    assert out.count("up  ") == len(profile.services)


def test_check_fails_when_a_service_is_down(profile, dead_url, capsys) -> None:
    assert main(["check", "--set", f"rucio.url={dead_url}"]) == 1
    assert "DOWN  Rucio data lake" in capsys.readouterr().out


def test_bad_profile_is_a_clear_error_not_a_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "esap_dash.cli", "serve", "--profile",
                           "/no/such/profile.toml"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "esap-dash: profile file /no/such/profile.toml does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_set_syntax_is_refused(capsys) -> None:
    assert main(["check", "--set", "no-equals-sign"]) == 2
    assert "expected section.key=value" in capsys.readouterr().err


def test_a_profile_without_logins_is_served_beyond_loopback_only_when_said(
        profile, monkeypatch, capsys) -> None:
    served = []
    monkeypatch.setattr("esap_dash.app.serve", lambda profile, **kw: served.append(kw))
    monkeypatch.setenv("PYTHONMALLOC", "malloc")  # else serve starts itself again with it
    for address in ("0.0.0.0", "192.0.2.7", "::", "esap.example.org"):
        assert main(["serve", "--profile", "local", "--address", address]) == 2
        assert "has no logins" in capsys.readouterr().err
    assert served == []
    assert main(["serve", "--profile", "local", "--address", "0.0.0.0", "--allow-open"]) == 0
    assert "WARNING" in capsys.readouterr().err
    assert main(["serve", "--profile", "local", "--address", "::1"]) == 0
    assert [kw["address"] for kw in served] == ["0.0.0.0", "::1"]


def test_serve_starts_itself_again_with_the_allocator_that_gives_memory_back(
        profile, monkeypatch) -> None:
    started, served = [], []
    monkeypatch.delenv("PYTHONMALLOC", raising=False)
    monkeypatch.setattr("esap_dash.cli.os.execve",
                        lambda path, args, env: started.append((path, args, env)))
    monkeypatch.setattr("esap_dash.app.serve", lambda profile, **kw: served.append(kw))
    assert main(["serve", "--profile", "local", "--port", "5107"]) == 0
    [(path, args, env)] = started
    assert (path, args) == (sys.executable, [sys.executable, "-m", "esap_dash.cli", "serve",
                                              "--profile", "local", "--port", "5107"])
    assert env["PYTHONMALLOC"] == "malloc" and env["PATH"] == os.environ["PATH"]
