"""Deployment profiles: shipped profiles, precedence, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from esap_dash.core.config import ProfileError, available_profiles, load_profile

ENV = {"ESAP_DASH_VAR": "/nonexistent", "ESAP_DASH_RUCIO_PASSWORD": "r",
       "ESAP_DASH_GATEWAY_PASSWORD": "g", "ESAP_DASH_DIRACX_EXCHANGE_KEY": "d"}


def write(tmp_path: Path, text: str, name: str = "site.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_profiles_load() -> None:
    assert {"local", "public"} <= set(available_profiles())
    local = load_profile("local", environ=ENV)
    assert [s.role for s in local.services].count("archive") == 5
    assert {s.kind for s in local.services} == {"tap", "conesearch", "sia2", "registry", "rucio",
                                                "dask-gateway", "zenodo", "hips", "ssa",
                                                "diracx"}
    assert [(s.kind, s.id) for s in local.by_role("survey")] == [
        ("hips", "hipparcos-stars"), ("hips", "hipparcos-density"), ("hips", "plates")]
    public = load_profile("public", environ=ENV)
    assert all(s.url.startswith("https://") for s in public.services)
    assert {s.name for s in public.by_role("survey")} == {
        "DSS2 colour (CDS)", "2MASS colour (CDS)", "Mellinger colour (CDS)"}


def test_precedence_cli_over_environment_over_file() -> None:
    env = {**ENV, "ESAP_DASH__RUCIO__URL": "http://from-env:1",
           "ESAP_DASH__ARCHIVES__DACHS_TAP__MAXREC": "7"}
    prof = load_profile("local", environ=env)
    assert prof.service("rucio").url == "http://from-env:1"
    assert prof.service("dachs-tap").options["maxrec"] == 7
    prof = load_profile("local", environ=env, overrides={"rucio.url": "http://from-cli:2"})
    assert prof.service("rucio").url == "http://from-cli:2"
    assert load_profile("local", environ=ENV).service("rucio").url.startswith("http://127.0.0.1")


def test_profile_chosen_by_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[deployment]\ntitle = "Site X"\n')
    assert load_profile(environ={"ESAP_DASH_PROFILE": str(path)}).title == "Site X"


def test_variables_come_from_environment_then_secrets_file(tmp_path: Path) -> None:
    secrets = write(tmp_path, "TOKEN=from-file\nPORT=9\n", "secrets.env")
    path = write(tmp_path, f'''
[deployment]
secrets_file = "{secrets}"
[rucio]
url = "http://127.0.0.1:${{PORT}}"
account = "a"
username = "u"
password = "${{TOKEN}}"
''')
    assert load_profile(str(path), environ={}).service("rucio").options["password"] == "from-file"
    prof = load_profile(str(path), environ={"TOKEN": "from-env"})
    assert prof.service("rucio").options["password"] == "from-env"
    assert prof.service("rucio").url == "http://127.0.0.1:9"
    assert prof.service("rucio").public_options()["password"] == "***"


def test_yaml_profiles_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, "deployment: {title: YAML site}\narchives:\n"
                 "  - {id: t, kind: tap, url: 'http://127.0.0.1:1/tap'}\n", "site.yaml")
    prof = load_profile(str(path), environ={})
    assert prof.title == "YAML site" and prof.service("t").kind == "tap"


@pytest.mark.parametrize("text, message", [
    ('[[archives]]\nid = "x"\nkind = "tap"\n', r"\[\[archives\]\] #1: url: missing"),
    ('[[archives]]\nid = "x"\nurl = "http://h"\n', r"#1: kind: missing"),
    ('[[archives]]\nid = "x"\nkind = "ftp"\nurl = "http://h"\n', "no connector of kind 'ftp'"),
    ('[[archives]]\nkind = "tap"\nurl = "http://h"\nmaxrecs = 3\n', "unknown setting.*maxrecs"),
    ('[rucio]\nurl = "${NOT_SET_ANYWHERE}"\n',
     r"\[rucio\]\.url: \$\{NOT_SET_ANYWHERE\} is not set"),
    ('[deployment]\ncolour = "red"\n', r"\[deployment\] unknown setting.*colour"),
    ('[deployment]\nusers = "everyone"\n', "users"),
    ("this is = not toml [", "cannot read profile"),
])
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError, match=message) as err:
        load_profile(str(path), environ={})
    assert str(path) in str(err.value)


def test_unknown_profile_lists_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match=r"available: .*local.*public"):
        load_profile("no-such-profile", environ={})


def test_override_of_unknown_archive_is_refused() -> None:
    with pytest.raises(ProfileError, match="no archive 'nope'"):
        load_profile("local", environ=ENV, overrides={"archives.nope.url": "http://x"})


def test_disabled_services_are_left_out(tmp_path: Path) -> None:
    path = write(tmp_path, '[gateway]\nurl = "http://h"\nenabled = false\n')
    assert load_profile(str(path), environ={}).services == ()


def test_secrets_stay_out_of_reprs() -> None:
    prof = load_profile("local", environ={**ENV, "ESAP_DASH_RUCIO_PASSWORD": "s3cr3t-value"})
    assert "s3cr3t-value" not in repr(prof)
    assert "s3cr3t-value" not in repr(prof.service("rucio").connector())


@pytest.mark.parametrize(("entry", "message"), [
    ('kind = "binderhub"\nurl = "https://b.example"', "id: missing"),
    ('id = "b"\nkind = "lab"\nurl = "https://b.example"', "kind: 'lab' is not one of"),
    ('id = "b"\nkind = "binderhub"\nurl = "https://b.example"', "repo: a BinderHub needs"),
    ('id = "b"\nkind = "jupyterhub"\nurl = "javascript:alert(1)"', "not an http"),
    ('id = "b"\nkind = "jupyterhub"\nurl = "https://h.example"\nport = 1', "unknown setting"),
])
def test_bad_facilities_are_named(tmp_path, entry: str, message: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(f"[[facilities]]\n{entry}\n")
    with pytest.raises(ProfileError, match=message):
        load_profile(str(path))


def test_facilities_and_public_url(tmp_path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('[deployment]\npublic_url = "https://dash.example/"\n[[facilities]]\n'
                    'id = "hub"\nkind = "jupyterhub"\nurl = "https://hub.example"\n')
    profile = load_profile(str(path))
    assert profile.public_url == "https://dash.example"
    assert [(f.id, f.name, f.kind) for f in profile.facilities] == [("hub", "hub", "jupyterhub")]


def test_extending_a_profile_adds_archives_and_keeps_the_base_ones(tmp_path) -> None:
    path = write(tmp_path, 'extends = "local"\n[[archives]]\nid = "site-tap"\nkind = "tap"\n'
                 'url = "https://tap.example/tap"\n')
    prof = load_profile(str(path), environ=ENV)
    archives = [s.id for s in prof.by_role("archive")]
    assert archives[-1] == "site-tap" and "dachs-tap" in archives and len(archives) == 6
    assert prof.resolver["tap"] == "dachs-tap"


def test_extending_a_profile_changes_or_removes_archives_by_id(tmp_path) -> None:
    path = write(tmp_path, 'extends = "local"\n[[archives]]\nid = "ongc"\ntimeout = 5\n'
                 '[[archives]]\nid = "hipparcos"\nremove = true\n')
    prof = load_profile(str(path), environ=ENV)
    assert prof.service("ongc").options["timeout"] == 5
    assert prof.service("ongc").url.endswith("/ongc/q/cone/scs.xml")
    assert "hipparcos" not in [s.id for s in prof.services]
    bad = write(tmp_path, 'extends = "local"\n[[archives]]\nid = "nope"\nremove = true\n',
                "bad.toml")
    with pytest.raises(ProfileError, match=r"\[\[archives\]\] #1: remove: .*id = 'nope'"):
        load_profile(str(bad), environ=ENV)


@pytest.mark.parametrize("text, message", [
    ('[deployment]\nhealth_period = -1\n', r"health_period: -1 s is not between"),
    ('[deployment]\nhealth_period = "often"\n', r"health_period: not a number"),
    ('[deployment]\ndatabase = "not a url"\n', r"database: 'not a url' is not a database URL"),
    ('[deployment]\nlogo = "../../../etc/passwd"\n', r"logo: .* leaves the assets folder"),
    ('[deployment]\nlogo = "/etc/passwd"\n', r"logo: .* is not an image file"),
    ('[deployment]\ntitle = "' + "x" * 300 + '"\n', r"title: must be plain text"),
    ('[deployment]\npublic_url = "javascript:alert(1)"\n', r"public_url: .* not an http"),
    ('[[archives]]\nid = "t"\nkind = "tap"\nurl = "file:///etc"\n', r"'t'.*url: .* not an http"),
    ('[[archives]]\nid = "t"\nkind = "tap"\nurl = "http://h"\ntimeout = -3\n',
     r"timeout: -3 is not a positive number"),
    ('[[archives]]\nid = "t"\nkind = "tap"\nurl = "http://h"\nmaxrec = 2.5\n',
     r"maxrec: 2.5 is not a positive whole number"),
])
def test_bad_values_are_refused_when_the_profile_loads(tmp_path, text, message) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError, match=message) as err:
        load_profile(str(path), environ={})
    assert str(path) in str(err.value)


def test_places_work_runs_declare_engine_storage_and_limits() -> None:
    local = load_profile("local", environ=ENV)
    gateways = local.by_role("gateway")
    assert [g.id for g in gateways] == ["gateway", "slurm"]  # [gateway] stays the first
    assert dict(gateways[1].placement) == {"engine": "slurm", "queue": "esap",
                                           "rses": ["LOCAL_B"], "cores": 2, "memory_gib": 4.0}
    assert "rses" not in gateways[1].options  # not a connector setting
    changed = load_profile("local", environ={**ENV, "ESAP_DASH__GATEWAYS__SLURM__CORES": "8"})
    assert changed.service("slurm").placement["cores"] == 8


@pytest.mark.parametrize(("entry", "message"), [
    ('rses = "LOCAL_A"', r"rses: 'LOCAL_A' is not a list of names"),
    ("cores = 0", "cores: 0 is not a positive whole number"),
    ("cores = 1.5", "cores: 1.5 is not a positive whole number"),
    ("memory_gib = true", "memory_gib: True is not a positive number"),
    ("engine = 3", "engine: 3 is not text"),
])
def test_bad_placement_settings_are_named(tmp_path, entry: str, message: str) -> None:
    path = write(tmp_path, f'[[gateways]]\nid = "hpc"\nurl = "https://g.example"\n'
                           f'username = "u"\n{entry}\n')
    with pytest.raises(ProfileError, match=message):
        load_profile(str(path), environ={})


def test_only_places_work_runs_declare_placement(tmp_path) -> None:
    path = write(tmp_path, '[[archives]]\nid = "a"\nkind = "tap"\nurl = "https://t.example"\n'
                           'rses = ["X"]\n')
    with pytest.raises(ProfileError, match="only places work runs"):
        load_profile(str(path), environ={})
