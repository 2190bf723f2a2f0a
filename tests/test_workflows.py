"""Workflows next to the data: the registry, runs on the real gateway and locally, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table, vstack
from prov.model import ProvDocument

from esap_dash.core.cart import Cart
from esap_dash.core.config import Profile
from esap_dash.core.provenance import Provenance
from esap_dash.core.store import store_for
from esap_dash.ui.pages.jobs import JobsPage
from esap_dash.work.workflows import (
    PROCESS,
    GatewayEngine,
    LocalEngine,
    Outcome,
    Run,
    Runner,
    Sweeper,
    Workflow,
    WorkflowError,
    load_workflows,
)

from .conftest import run_coroutine

PACKAGE = Path(__file__).with_name("example_workflow")


@pytest.fixture
def private(profile: Profile, tmp_path) -> Profile:
    return replace(profile, database=f"sqlite:///{tmp_path}/workflows.db")


@pytest.fixture(scope="module")
def cluster(profile: Profile) -> Iterator[tuple[object, str]]:
    """A cluster of two one-core workers on the local gateway, for the module."""
    gateway = profile.by_role("gateway")[0].connector()
    name = start_running(gateway, 2)
    yield gateway, name
    gateway.stop_cluster(name)


def start_running(gateway, workers: int) -> str:
    """A new cluster of one-core workers, once ``workers`` of them have joined."""
    name = gateway.start_cluster(worker_cores=1, worker_memory=1.0)
    deadline = time.monotonic() + 60
    while gateway.cluster(name)["status"] != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.5)
    gateway.scale(name, workers)
    client = gateway.dask_client(name)
    client.wait_for_workers(workers, timeout=60)
    client.close()
    return name


@pytest.fixture(scope="module")
def hipparcos(profile: Profile) -> Table:
    return profile.service("dachs-tap").connector().positions(
        "hipparcos.main", "ra_icrs", "de_icrs", "hip")


def positions_cart(profile: Profile, hipparcos: Table, n: int = 3000) -> Table:
    """Cart-like rows: Hipparcos stars moved by up to ~1 arcsec, and random sky positions."""
    rng = np.random.default_rng(7)
    pick = rng.choice(len(hipparcos), n, replace=False)
    ra = np.concatenate([np.asarray(hipparcos["ra"])[pick] + rng.normal(0, 2e-4, n),
                         rng.uniform(0, 360, n // 3)])
    dec = np.concatenate([np.asarray(hipparcos["dec"])[pick],
                          np.degrees(np.arcsin(rng.uniform(-1, 1, n // 3)))])
    total = len(ra)
    return Table({"archive": ["Hipparcos-2"] * total, "item_id": [f"s{i}" for i in range(total)],
                  "title": [f"source {i}" for i in range(total)], "ra": ra, "dec": dec,
                  "kind": ["row"] * total, "product_type": [""] * total,
                  "access_url": [""] * total})


def astropy_pairs(items: Table, hipparcos: Table,
                  radius_arcsec: float) -> tuple[set[tuple[str, str]], dict[str, float]]:
    """astropy's nearest-star pairs within the radius, and each matched row's separation."""
    ref = SkyCoord(np.asarray(hipparcos["ra"]), np.asarray(hipparcos["dec"]), unit="deg")
    nearest, sep, _ = SkyCoord(items["ra"], items["dec"], unit="deg").match_to_catalog_sky(ref)
    hit = sep.arcsec <= radius_arcsec
    ids = np.asarray(items["item_id"])[hit]
    pairs = set(zip(ids, np.asarray(hipparcos["id"]).astype(str)[nearest[hit]], strict=True))
    return pairs, dict(zip(ids, sep.arcsec[hit], strict=True))


def wait_state(store, user: str, job_id: int, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record = next(r for r in store.jobs(user) if r["id"] == job_id)
        status = Runner.shared().status(record)
        if status["state"] not in {"QUEUED", "RUNNING"}:
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {status['state']} after {seconds} s")


# ------------------------------------------------------------------ registry
def test_builtin_workflows_are_entry_points_with_typed_forms() -> None:
    flows, problems = load_workflows()
    assert {"crossmatch", "image-statistics"} <= set(flows)
    assert problems == {}
    cross = flows["crossmatch"]
    assert cross.inputs == "positions"
    assert cross.defaults() == {"radius_arcsec": 1.0, "reference": "hipparcos.main",
                                "chunk_size": 2500, "error_column": "", "error_unit": "arcsec",
                                "find": "best", "match_on": "workers"}
    assert cross.check({"radius_arcsec": 2})["radius_arcsec"] == 2


@pytest.mark.parametrize("values, message", [
    ({"radius_arcsec": -1.0}, "radius_arcsec' must be greater than 0"),
    ({"radius_arcsec": "wide"}, "radius_arcsec' only takes numeric values"),
    ({"chunk_size": 5}, "chunk_size' must be at least 100"),
    ({"radius": 1.0}, "unknown parameters ['radius']"),
    ({"error_unit": "furlong"}, "error_unit"),
    ({"find": "several"}, "find"),
])
def test_wrong_parameters_are_refused_with_the_forms_message(values, message) -> None:
    flows, _ = load_workflows()
    with pytest.raises(WorkflowError) as info:
        flows["crossmatch"].check(values)
    assert message in str(info.value)
    assert "Parameters." not in str(info.value)


def test_a_plain_function_with_typed_defaults_is_a_workflow() -> None:
    def photometry(items, run, aperture: float = 3.0, band: str = "V", n: int = 2,
                   keep: bool = False):
        """Aperture photometry of each image."""

    flow = Workflow.from_function("photometry", photometry)
    assert flow.title == "Aperture photometry of each image"  # a title: no full stop
    assert flow.defaults() == {"aperture": 3.0, "band": "V", "n": 2, "keep": False}
    with pytest.raises(WorkflowError, match="'band' only takes a string value"):
        flow.check({"band": 3})

    def untyped(items, run, threshold):
        """No default."""

    with pytest.raises(WorkflowError, match="'threshold' needs a default"):
        Workflow.from_function("untyped", untyped)


@pytest.fixture
def installed_steering() -> Iterator[None]:
    """The example package on sys.path, as an installed distribution would be (the local
    cluster's workers start again to see it)."""
    sys.path.insert(0, str(PACKAGE))
    LocalEngine.restart()
    yield
    sys.path.remove(str(PACKAGE))
    sys.modules.pop("example_steering", None)


def test_an_installed_package_adds_a_workflow_and_a_broken_one_is_named(
        installed_steering, profile) -> None:
    flows, problems = load_workflows()
    assert flows["declination-bands"].defaults() == {"width_deg": 10.0}
    assert "broken-flow" in problems and "does_not_exist" in problems["broken-flow"]
    import example_steering

    cloudpickle.register_pickle_by_value(example_steering)
    try:
        items = Table({"archive": ["a", "a", "b"], "dec": [1.0, 15.0, -3.0]})
        client = LocalEngine().client()
        try:
            table = flows["declination-bands"].func(items, Run(client, profile), width_deg=10.0)
        finally:
            client.close()
    finally:
        cloudpickle.unregister_pickle_by_value(example_steering)
    assert [tuple(r) for r in table] == [("a", 0.0, 1), ("a", 10.0, 1), ("b", -10.0, 1)]


# --------------------------------------------------------------- the workflows
def test_crossmatch_on_the_gateway_gives_astropys_match_set(cluster, profile,
                                                            hipparcos) -> None:
    gateway, name = cluster
    items = positions_cart(profile, hipparcos)
    flows, _ = load_workflows()
    client = GatewayEngine(gateway, name).client()
    try:
        run = Run(client, profile)
        outcome = flows["crossmatch"].func(items, run, radius_arcsec=1.5, chunk_size=1000)
        # A later run (another client, as another session's) reads no reference: the
        # cluster keeps the first run's copy, wherever its tasks land.
        again = Run(GatewayEngine(gateway, name).client(), profile)
        try:
            second = flows["crossmatch"].func(items, again, radius_arcsec=1.5,
                                              chunk_size=1000).table
        finally:
            again.client.close()
    finally:
        client.close()
    assert run.total == 5 and run.done == 5  # the reference, then four chunks
    assert again.total == 4 and again.done == 4  # four chunks only
    result = outcome.table
    expected, astropy_sep = astropy_pairs(items, hipparcos, 1.5)
    assert set(zip(result["item_id"], result["ref_id"], strict=True)) == expected
    assert set(zip(second["item_id"], second["ref_id"], strict=True)) == expected
    assert outcome.note == f"{len(expected)} of {len(items)} rows matched."
    assert len(expected) >= 2900
    assert np.allclose(result["separation_arcsec"],
                       [astropy_sep[i] for i in result["item_id"]], atol=1e-6)
    assert result["separation_arcsec"].max() <= 1.5
    assert "hipparcos.main" in result.meta["reference"]


def _rows_near(ra: np.ndarray, dec: np.ndarray, rng: np.random.Generator) -> Table:
    """Cart rows near reference stars: a few arcsec off in a random direction, each with
    its own 95 % error radius (some reach their star, some do not)."""
    n = len(ra)
    moved = SkyCoord(ra, dec, unit="deg").directional_offset_by(
        rng.uniform(0, 2 * np.pi, n) * u.rad, rng.uniform(0.3, 4.0, n) * u.arcsec)
    return Table({"ra": moved.ra.deg, "dec": moved.dec.deg, "err95": rng.uniform(0.5, 5.0, n)})


def _stilts_pairs(rows: Table, hipparcos: Table, find: str, tmp_path) -> set[tuple[str, str]]:
    """STILTS ``tmatch2``: the sky matcher out to the largest radius, then each row's own."""
    rows[["item_id", "ra", "dec", "radius"]].write(tmp_path / "rows.xml", format="votable",
                                                   overwrite=True)
    ref = tmp_path / "ref.xml"
    if not ref.exists():
        Table({"hip": np.asarray(hipparcos["id"]).astype(str), "ra": hipparcos["ra"],
               "dec": hipparcos["dec"]}).write(ref, format="votable")
    subprocess.run(["stilts", "tmatch2", f"in1={tmp_path / 'rows.xml'}", f"in2={ref}",
                    "matcher=sky", "values1=ra dec", "values2=ra dec",
                    f"params={float(np.max(rows['radius'])):.3f}", f"find={find}",
                    "join=1and2", "ocmd=select Separation<=radius",
                    f"out={tmp_path / 'pairs.csv'}", "ofmt=csv"], check=True,
                   capture_output=True, timeout=120)
    pairs = Table.read(tmp_path / "pairs.csv", format="ascii.csv")
    return set(zip(pairs["item_id"].astype(str), pairs["hip"].astype(str), strict=True))


def test_a_per_row_radius_crossmatch_finds_the_nearest_or_every_pair_like_stilts(
        profile, hipparcos, tmp_path) -> None:
    rng = np.random.default_rng(11)
    ra, dec = np.asarray(hipparcos["ra"], float), np.asarray(hipparcos["dec"], float)
    stars = SkyCoord(ra, dec, unit="deg")
    # The stars nearest the RA = 0/360 meridian, each with a row moved across it.
    to_meridian = np.minimum(ra, 360 - ra) * np.cos(np.radians(dec)) * 3600  # arcsec
    closest = np.argsort(to_meridian)[:8]
    across = stars[closest].directional_offset_by(
        np.where(ra[closest] < 180, -90, 90) * u.deg,
        (to_meridian[closest] + rng.uniform(1.0, 5.0, 8)) * u.arcsec)
    straddling = Table({"ra": across.ra.deg, "dec": across.dec.deg,
                        "err95": across.separation(stars[closest]).arcsec + 1.0})
    near_zero = np.flatnonzero((ra < 0.5) | (ra > 359.5))
    polar = np.flatnonzero(np.abs(dec) > 87.5)
    # Close pairs of stars, a row between each two whose radius reaches both.
    first, second, sep, _ = stars.search_around_sky(stars, 20 * u.arcsec)
    pair = np.flatnonzero(first < second)[:10]
    middle = stars[first[pair]].directional_offset_by(
        stars[first[pair]].position_angle(stars[second[pair]]), sep[pair] / 2)
    between = Table({"ra": middle.ra.deg, "dec": middle.dec.deg,
                     "err95": sep[pair].arcsec / 2 + 0.5})
    # Rows without a radius of their own, 0.2 arcsec off a star: the fixed 1 arcsec.
    plain = stars[[100, 2000, 30_000]].directional_offset_by(0 * u.deg, 0.2 * u.arcsec)
    no_radius = Table({"ra": plain.ra.deg, "dec": plain.dec.deg, "err95": [np.nan] * 3})
    rows = vstack([straddling, _rows_near(ra[near_zero], dec[near_zero], rng),
                   _rows_near(ra[polar], dec[polar], rng), between, no_radius])
    rows["item_id"] = [f"r{i}" for i in range(len(rows))]
    rows["record"] = [json.dumps({"err95": float(e)} if np.isfinite(e) else {})
                      for e in rows["err95"]]
    rows["archive"], rows["kind"] = "mine", "row"
    rows["radius"] = np.where(np.isfinite(rows["err95"]), rows["err95"], 1.0)
    flows, _ = load_workflows()
    found = {}
    client = LocalEngine().client()
    try:
        for find in ("best", "all"):
            found["workers", find] = flows["crossmatch"].func(
                rows["item_id", "ra", "dec", "record", "archive", "kind"],
                Run(client, profile), radius_arcsec=1.0, error_column="err95",
                chunk_size=100, find=find)
    finally:
        client.close()
    for find in ("best", "all"):
        found["archive", find] = flows["crossmatch"].func(
            rows["item_id", "ra", "dec", "record", "archive", "kind"], Run(None, profile),
            radius_arcsec=1.0, error_column="err95", match_on="archive", find=find)
    pairs = {key: set(zip(o.table["item_id"], np.asarray(o.table["ref_id"]).astype(str),
                          strict=True)) for key, o in found.items()}
    for find, stilts_find in (("best", "best1"), ("all", "all")):
        theirs = _stilts_pairs(rows, hipparcos, stilts_find, tmp_path)
        assert pairs["workers", find] == pairs["archive", find] == theirs
    best, every = found["workers", "best"].table, found["workers", "all"].table
    assert len(pairs["workers", "all"]) >= len(pairs["workers", "best"]) + len(pair)
    assert found["archive", "all"].table.meta["matched_on"] == "the archive (TAP upload)"
    by_row = dict(pairs["workers", "best"])
    assert all(by_row.get(f"r{i}") == str(hipparcos["id"][k]) for i, k in enumerate(closest))
    assert (np.asarray(best["separation_arcsec"]) <= np.asarray(best["radius_arcsec"])).all()
    polar_rows = {f"r{i}" for i in range(8 + len(near_zero), 8 + len(near_zero) + len(polar))}
    assert polar_rows & set(by_row) and polar_rows - set(by_row)  # radii that reach, and not
    # Each row between two stars: both, nearest first, each pair counting its row's two.
    between_ids = [f"r{i}" for i in range(len(rows) - 3 - len(pair), len(rows) - 3)]
    for item in between_ids:
        mine = every[every["item_id"] == item]
        assert len(mine) >= 2 and set(mine["n_matches"]) == {len(mine)}
        assert list(mine["separation_arcsec"]) == sorted(mine["separation_arcsec"])
    # The rows without a radius matched within the fixed one, and the note says so.
    assert {f"r{i}" for i in range(len(rows) - 3, len(rows))} <= set(by_row)
    for outcome in found.values():
        assert "3 rows have no usable 'err95' and took the fixed radius of 1 arcsec" \
            in outcome.note
    assert found["workers", "all"].note.startswith(f"{len(every)} pairs for ")


def test_crossmatch_in_the_archive_by_tap_upload_gives_astropys_match_set(
        profile, hipparcos) -> None:
    items = positions_cart(profile, hipparcos)
    flows, _ = load_workflows()
    run = Run(None, profile)  # no Dask: the archive does the work
    result = flows["crossmatch"].func(items, run, radius_arcsec=1.5, match_on="archive").table
    expected, astropy_sep = astropy_pairs(items, hipparcos, 1.5)
    assert set(zip(result["item_id"], result["ref_id"], strict=True)) == expected
    assert len(expected) >= 2900 and (run.total, run.done) == (1, 1)
    assert np.allclose(result["separation_arcsec"],
                       [astropy_sep[i] for i in result["item_id"]], atol=1e-4)


def test_crossmatch_names_an_unknown_reference(profile) -> None:
    flows, _ = load_workflows()
    with pytest.raises(WorkflowError, match=r"'nope\.main' is not a table with positions"):
        flows["crossmatch"].func(Table({"ra": [1.0], "dec": [2.0]}), Run(None, profile),
                                 reference="nope.main")


def test_image_statistics_reads_lake_replicas_and_archive_urls_on_the_workers(
        private, cluster) -> None:
    gateway, name = cluster
    sia = private.service("images").connector()
    from connectors.query import SkyQuery

    images = sia.search_sky(SkyQuery(83.633, 22.0145, 0.5))
    assert len(images)
    cart = Cart.open("images", user="local", profile=private)
    cart.add_rows(images[:1])
    from esap_dash.core.cart import record_rows

    cart.add_rows(record_rows("Rucio data lake", "", [{"did": "esap:crab_images",
                                                        "name": "crab_images"}],
                              id="did", title="name"), kind="did")
    flows, _ = load_workflows()
    client = GatewayEngine(gateway, name).client()
    try:
        outcome = flows["image-statistics"].func(
            cart.to_table(), Run(client, private, private_resolver(private),
                                 lake=private.by_role("rucio")[0].connector()),
            target="M1", cutout_arcmin=3.0)
    finally:
        client.close()
    table = outcome.table
    assert set(table["file"]) >= {"poss_m1.fits", "ukidss_crab_k.fits"}
    lake = table[table["archive"] == "Rucio data lake"]
    assert len(lake) == 2 and all(lake["error"] == "")
    assert all(np.isfinite(lake["median"])) and all(lake["std"] > 0)
    assert all("×" in c for c in lake["cutout"])
    data, header = outcome.image
    assert data.ndim == 2 and "CTYPE1" in header


def test_a_cutout_reports_the_pixels_the_image_has_not_those_asked_beyond_it() -> None:
    import astroquery

    from esap_dash.work.flows import image_summary

    # The POSS-I E plate scan of Messier 1 that astroquery ships (177×177 pixels, 5.1′).
    poss = str(Path(astroquery.__file__).parent / "ipac/ned/tests/data/query_images.fits")
    inside, cut = image_summary([poss], (83.633, 22.0145), 2.0, 3.0)
    assert inside["shape"] == "177×177" and inside["cutout"] == "71×71"
    assert cut[0].shape == (71, 71) and np.isfinite(cut[0]).all()
    beyond, cut = image_summary([poss], (83.633, 22.0145), 60.0, 3.0)
    assert beyond["cutout"].startswith("177×177 (the image ends there: ")
    assert cut[0].shape == (177, 177)  # no padding of blank pixels
    # A URL is read through the connectors' door: a local one only if the deployment
    # serves it (trusted), never another (an internal service named by a row).
    refused, cut = image_summary(["http://127.0.0.1:9/secret.fits"], None, 2.0, 3.0)
    assert "fetches only public addresses" in refused["error"] and cut is None


def private_resolver(profile: Profile):
    from connectors.resolver import NameResolver

    return NameResolver(profile.service(profile.resolver["tap"]).connector()).resolve


# ----------------------------------------------------------- runs and the page
def test_a_run_is_recorded_followed_and_its_result_reaches_the_cart(private,
                                                                     hipparcos) -> None:
    cart = Cart.open("stars", user="local", profile=private)
    rows = positions_cart(private, hipparcos, n=300)
    rows.rename_column("item_id", "id")
    cart.add_rows(rows)
    page = JobsPage(profile=replace(private, services=tuple(
        s for s in private.services if s.role != "gateway")), refresh_period=0)
    assert "local Dask cluster inside the dashboard server" in page.runs_where
    run_coroutine(page.load_carts())
    page.cart_name = "stars"
    page.workflow = "crossmatch"
    page.form.radius_arcsec = 2.0
    page.form.chunk_size = 100
    job_id = run_coroutine(page.run_workflow())
    assert job_id is not None, page.notice.text
    status = wait_state(page.store, "local", job_id)
    assert status["state"] == "COMPLETED", status
    run_coroutine(page.refresh())
    job = next(j for j in page.jobs if j["id"] == job_id)
    # Four chunks, and the reading of the reference unless the cluster holds it already.
    assert job["kind"] == "dask" and job["progress"] in {"5/5 (100 %)", "4/4 (100 %)"}
    assert job["owner"] == "local" and job["duration"].endswith(" s")
    assert page.run_progress == 100
    page.job_list.select(job_id)
    run_coroutine(page.job_list.open_result())
    result = page.job_list.result.table
    assert len(result) >= 290 and "ref_id" in result.colnames
    page.job_list.cart_name = "stars"
    run_coroutine(page.job_list.result_to_cart())
    assert "Added" in page.notice.text
    results = [i for i in Cart.open("stars", user="local", profile=private).items()
               if i.kind == "result"]
    assert len(results) == len(result)
    assert results[0].archive == f"workflow job {job_id}"
    # Each result item says which run made it, from exactly which cart items.
    record = Provenance.from_json(results[0].query)
    assert (record.activity, record.job, record.user) == ("result", job_id, "local")
    assert record.query["workflow"] == "crossmatch" and record.query["cart"] == "stars"
    stars = {i.key for i in Cart.open("stars", user="local", profile=private).items()
             if i.kind != "result"}
    assert len(record.inputs) == job["detail"]["inputs"] and set(record.inputs) <= stars
    # The result's provenance from the Jobs page: the run used exactly those items.
    doc = ProvDocument.deserialize(content=run_coroutine(page.job_list.result_provenance()),
                                   format="json")
    used = {str(r.get_attribute("prov:entity").pop()) for r in doc.get_records()
            if r.get_type().localpart == "Usage"}
    assert used == {f"esap:item/{k}" for k in record.inputs}
    assert f"activity(esap:job/{job_id}" in run_coroutine(
        page.job_list.result_provenance("prov-n"))
    # The same record after a restart of the dashboard: the result is kept with the job.
    again = JobsPage(profile=page.profile, refresh_period=0)
    run_coroutine(again.refresh())
    assert next(j for j in again.jobs if j["id"] == job_id)["state"] == "COMPLETED"
    page.job_list.select(job_id)
    run_coroutine(page.job_list.retry())
    assert "started" in page.notice.text


def test_wrong_parameters_from_the_page_are_refused_and_nothing_is_recorded(private) -> None:
    Cart.open("default", user="local", profile=private).add_rows(Table(
        {"archive": ["a"], "id": ["1"], "ra": [10.0], "dec": [20.0]}))
    page = JobsPage(profile=replace(private, services=tuple(
        s for s in private.services if s.role != "gateway")), refresh_period=0)
    page.workflow = "crossmatch"
    job = run_coroutine(page.run_workflow(values={"radius_arcsec": -2.0}))
    assert job is None and page.notice.kind == "danger"
    assert "must be greater than 0" in page.notice.text
    assert page.store.jobs("local") == []


def test_a_workflow_that_raises_shows_its_traceback_summary(private) -> None:
    def explode(values):
        raise ZeroDivisionError("flux calibration failed for band K")

    def calibrate(items, run, band: str = "K"):
        """Calibrate."""
        return run.map(explode, [1, 2])

    flow = Workflow.from_function("calibrate", calibrate)
    store = store_for(private.database)
    job = Runner.shared().start(store, "local", flow, Table({"kind": ["row"]}), {}, LocalEngine(),
                                private, cart="default")
    status = wait_state(store, "local", job)
    assert status["state"] == "FAILED"
    assert status["error"].startswith("ZeroDivisionError: flux calibration failed for band K")
    assert "in explode" in status["error"]
    assert store.result("local", job) is None


def test_a_result_with_an_image_is_shown_and_goes_back_to_its_cart(private) -> None:
    """Image statistics' first cutout: the result's image is drawn, its cart chosen."""
    from astropy.io import fits

    from esap_dash.core.actor import Actor
    from esap_dash.ui.components.job_list import JobList

    header = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 83.63,
                          "CRVAL2": 22.01, "CRPIX1": 8, "CRPIX2": 8, "CDELT1": -1e-3,
                          "CDELT2": 1e-3})

    def cutout(items, run):
        """Cut out."""
        return Outcome(Table({"file": ["m1.fits"]}),
                       image=(np.arange(256.0).reshape(16, 16), header))

    store = store_for(private.database)
    job = Runner.shared().start(store, "local", Workflow.from_function("cutout", cutout),
                                Table({"kind": ["row"]}), {}, LocalEngine(), private,
                                cart="images")
    assert wait_state(store, "local", job)["state"] == "COMPLETED"
    jobs = JobList(Actor(private, "local"), kind="dask", refresh_period=0, watch_period=0)
    run_coroutine(jobs.refresh())
    jobs.select(job)
    run_coroutine(jobs.open_result())
    assert jobs.result is not None and jobs.result.image is not None
    assert jobs.cart_name == "images"


def test_a_run_cut_by_a_server_restart_is_failed_not_running_forever(private) -> None:
    store = store_for(private.database)
    job = store.add_job("local", "dask", "x", "run-1", {
        "state": "RUNNING", "done": 3, "total": 8, "process": "elsewhere:1:x",
        "beat": "2026-01-01T00:00:00+00:00"})
    record = store.jobs("local")[0]
    status = Runner().status(record)
    assert status["state"] == "FAILED"
    assert "server process running it stopped before the run ended (last sign of life " \
        "2026-01-01T00:00:00+00:00)" in status["error"]
    assert job == record["id"] and store.job("local", job)["detail"]["state"] == "RUNNING"
    sweeper = Sweeper(Runner(), store, period=0.2)  # as every server runs one
    try:
        wait_until(lambda: store.job("local", job)["detail"]["state"] == "FAILED", 10)
    finally:
        sweeper.stop()
    assert "stopped before the run ended" in store.job("local", job)["detail"]["error"]


def test_a_run_of_another_server_process_with_a_recent_sign_of_life_is_running(
        private) -> None:
    from datetime import UTC, datetime

    store = store_for(private.database)
    store.add_job("local", "dask", "x", "run-2", {
        "state": "RUNNING", "done": 3, "total": 8, "process": "elsewhere:1:x",
        "beat": datetime.now(UTC).isoformat(timespec="seconds")})
    status = Runner().status(store.jobs("local")[0])
    assert (status["state"], status["done"], status["total"]) == ("RUNNING", 3, 8)


def test_a_hung_gateway_stops_the_run_as_stalled_not_running_forever(
        private, profile, monkeypatch) -> None:
    import esap_dash.work.workflows as workflows

    monkeypatch.setattr(workflows, "BEAT_SECONDS", 2.0)
    monkeypatch.setattr(workflows, "STALL_SECONDS", 6.0)
    gateway = profile.by_role("gateway")[0].connector()
    name = start_running(gateway, 1)
    hung = gateway_processes()
    try:
        store = store_for(private.database)
        job = Runner.shared().start(store, "local", Workflow.from_function("sleepy", sleepy),
                                    Table({"kind": ["row"]}), {"tasks": 6, "seconds": 3.0},
                                    GatewayEngine(gateway, name), private)
        wait_until(lambda: store.jobs("local")[0]["detail"]["state"] == "RUNNING", 30)
        for pid in hung:
            os.kill(pid, signal.SIGSTOP)
        status = wait_state(store, "local", job, seconds=60)
        assert status["state"] == "FAILED"
        assert "scheduler has not answered for" in status["error"]
        assert "the gateway or the cluster hangs" in status["error"]
    finally:
        for pid in hung:
            os.kill(pid, signal.SIGCONT)
        gateway.stop_cluster(name)


def gateway_processes() -> list[int]:
    """The gateway server and its proxy (SIGSTOP makes them hang, SIGCONT resumes them)."""
    out = subprocess.run(["pgrep", "-f", "dask-gateway-server|dask-gateway-proxy"],
                         capture_output=True, text=True, check=True).stdout
    return [int(p) for p in out.split()]


def wait_until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def sleepy(items, run, tasks: int = 8, seconds: float = 1.0):
    """Sleep on the workers (``time.sleep`` is importable on every worker)."""
    run.map(time.sleep, [seconds] * tasks)
    return Table({"slept": [seconds] * tasks})


def test_abort_cancels_a_run(private) -> None:
    store = store_for(private.database)
    job = Runner.shared().start(store, "local", Workflow.from_function("sleepy", sleepy),
                                Table({"kind": ["row"]}), {"tasks": 20}, LocalEngine(),
                                private)
    time.sleep(1.5)
    assert Runner.shared().cancel(job)
    status = wait_state(store, "local", job, seconds=20)
    assert status["state"] == "ABORTED"
    assert not Runner.shared().cancel(job)


# ------------------------------------------------------------------ faults
def test_a_worker_killed_mid_run_ends_completed_or_failed_with_the_reason(private,
                                                                          cluster) -> None:
    gateway, name = cluster
    store = store_for(private.database)
    job = Runner.shared().start(store, "local", Workflow.from_function("sleepy", sleepy),
                                Table({"kind": ["row"]}), {"tasks": 8, "seconds": 1.0},
                                GatewayEngine(gateway, name), private)
    client = gateway.dask_client(name)
    try:
        deadline = time.monotonic() + 30
        while not client.processing() or not any(client.processing().values()):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        busy = next(w for w, tasks in client.processing().items() if tasks)
        pid = client.run(os.getpid, workers=[busy])[busy]
        os.kill(pid, signal.SIGKILL)
        status = wait_state(store, "local", job, seconds=60)
    finally:
        client.close()
    assert status["state"] in {"COMPLETED", "FAILED"}
    if status["state"] == "FAILED":
        assert "workers died" in status["error"]
    else:
        assert status["done"] == status["total"] == 8


def test_the_scheduler_killed_fails_the_run_within_seconds(private, profile) -> None:
    gateway = profile.by_role("gateway")[0].connector()
    name = start_running(gateway, 1)
    try:
        client = gateway.dask_client(name)
        scheduler = client.run_on_scheduler(os.getpid)
        client.close()
        store = store_for(private.database)
        job = Runner.shared().start(store, "local", Workflow.from_function("sleepy", sleepy),
                                    Table({"kind": ["row"]}), {"tasks": 6, "seconds": 2.0},
                                    GatewayEngine(gateway, name), private)
        time.sleep(2)
        os.kill(scheduler, signal.SIGKILL)
        killed = time.monotonic()
        status = wait_state(store, "local", job, seconds=30)
        assert time.monotonic() - killed < 10
        assert status["state"] == "FAILED"
        assert "scheduler went away" in status["error"]
    finally:
        gateway.stop_cluster(name)


STOPPED_SERVER = """
import multiprocessing, sys, threading, time
from astropy.table import Table
from tornado.ioloop import IOLoop
from esap_dash.app import install_stop_handler
from esap_dash.core.config import load_profile
from esap_dash.core.runtime import Runtime
from esap_dash.core.store import store_for
from esap_dash.work.workflows import LocalEngine, Runner, Workflow

def sleepy(items, run):
    run.map(time.sleep, [2.0] * 30)
    return Table({"a": [1]})

if __name__ == "__main__":  # the local cluster's workers start this script again
    install_stop_handler(Runtime().enter())
    profile = load_profile("local", overrides={"deployment.database": sys.argv[1]})
    Runner.shared().start(store_for(profile.database), "local",
                          Workflow.from_function("sleepy", sleepy), Table({"kind": ["row"]}),
                          {}, LocalEngine(), profile)
    IOLoop.current().start()
    # (distributed keeps a pool of its own, Dask-Offload, for the life of the process)
    def left():
        return sorted(t.name for t in threading.enumerate() if t is not threading.main_thread()
                      and not t.name.startswith("Dask-Offload"))
    deadline = time.monotonic() + 10  # the closed pools' threads end after their task
    while time.monotonic() < deadline and (left() or multiprocessing.active_children()):
        time.sleep(0.2)
    print("left after SIGTERM:", left(), len(multiprocessing.active_children()), "processes",
          flush=True)
"""


def test_sigterm_closes_the_runtime_and_leaves_no_run_running(private, tmp_path) -> None:
    script, log = tmp_path / "server.py", tmp_path / "server.log"
    script.write_text(STOPPED_SERVER)
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, str(script), private.database],
                                stdout=out, stderr=subprocess.STDOUT, text=True)
    store = store_for(private.database)
    try:
        wait_until(lambda: store.jobs("local") and
                   store.jobs("local")[0]["detail"]["state"] == "RUNNING", 90)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    err = log.read_text()
    assert "SIGTERM: stopping the dashboard server" in err
    assert "stopping: 1 workflow run(s) stopped" in err
    assert "SIGTERM: the server's runtime is closed" in err
    # no thread of its pools, no runner thread, no local cluster's process left
    assert "left after SIGTERM: [] 0 processes" in err, err[-3000:]
    detail = store.jobs("local")[0]["detail"]
    assert detail["state"] == "FAILED"
    assert detail["error"] == "the dashboard server was stopped during the run; retry it"


def _server_with_a_run(private, tmp_path, name: str) -> tuple[subprocess.Popen, Any, int]:
    """Another server process running a 30-task workflow, the store, and the run's job."""
    script = tmp_path / f"{name}.py"
    script.write_text(STOPPED_SERVER)
    with (tmp_path / f"{name}.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, str(script), private.database], stdout=log,
                                stderr=subprocess.STDOUT, text=True)
    store = store_for(private.database)
    wait_until(lambda: any(j["detail"].get("state") == "RUNNING" for j in store.jobs("local")),
               90)
    return proc, store, next(j["id"] for j in store.jobs("local")
                             if j["detail"].get("state") == "RUNNING")


def test_another_server_process_follows_and_aborts_a_run_through_the_database(
        private, tmp_path) -> None:
    proc, store, job = _server_with_a_run(private, tmp_path, "a")
    try:
        seen = set()  # the progress, as this other process reads it while the run moves
        wait_until(lambda: seen.add(store.job("local", job)["detail"]["done"]) or len(seen) >= 3,
                   60)
        here = Runner()  # a runner of this process, which does not run the job
        record = store.job("local", job)
        assert here.status(record)["state"] == "RUNNING"
        assert here.sweep(store) == 0  # it gives signs of life
        assert record["detail"]["process"] != PROCESS
        assert here.abort(store, "local", job)
        status = wait_state(store, "local", job, seconds=15)
        assert (status["state"], status["error"]) == ("ABORTED", "aborted by the user")
        assert status["done"] < 30 and store.result("local", job) is None
        assert not here.abort(store, "local", job)  # it is not running any more
        assert not here.abort(store, "someone else", job)
    finally:
        proc.kill()
        proc.wait(30)


def test_a_server_process_killed_mid_run_leaves_it_failed_for_every_process(
        private, tmp_path) -> None:
    proc, store, job = _server_with_a_run(private, tmp_path, "b")
    proc.kill()  # SIGKILL: nothing of the process gets to say anything
    proc.wait(30)
    killed = time.monotonic()
    here = Runner()
    while (status := here.status(store.job("local", job)))["state"] == "RUNNING":
        assert time.monotonic() - killed < 60, "still RUNNING a minute after the kill"
        time.sleep(1)
    assert status["state"] == "FAILED"
    assert "server process running it stopped before the run ended" in status["error"]
    assert store.job("local", job)["detail"]["state"] == "RUNNING"  # reading wrote nothing
    assert here.sweep(store) == 1
    recorded = store.job("local", job)["detail"]  # recorded for every process
    assert recorded["state"] == "FAILED" and "stopped before the run ended" in recorded["error"]
    assert here.sweep(store) == 0
