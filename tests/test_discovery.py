"""The one-form search: query validation, the resolver, and the page against the real stack."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import param
import pytest
from astropy.table import Table

from connectors.exceptions import QueryError
from connectors.query import SkyQuery, adql_string, common_table
from connectors.resolver import NameResolver, parse_coordinates
from connectors.tap import TAPConnector
from esap_dash.core.config import Profile
from esap_dash.core.provenance import Provenance
from esap_dash.ui.pages.discovery import DiscoveryPage

from .conftest import run_coroutine

CRAB = (83.633, 22.0145)


@pytest.mark.parametrize("kwargs, message", [
    ({"radius": -1}, "radius must be at least 0.001 arcsec"),
    ({"radius": 0}, "radius must be at least 0.001 arcsec"),
    ({"radius": 1e-300}, "radius must be at least 0.001 arcsec"),
    ({"radius": 45}, "at most 10"),
    ({"radius": float("nan")}, "finite"),
    ({"ra": 400}, "outside 0..360"),
    ({"dec": -91}, "outside -90"),
    ({"waveband": "ultraviolet-ish"}, "unknown waveband"),
    ({"product_type": "movie"}, "unknown product type"),
    ({"keywords": ("x' OR 'a'='a",)}, "keyword"),
    ({"keywords": ("a" * 81,)}, "at most 80"),
    ({"keywords": ("_",)}, "not _ or %"),
    ({"keywords": ("crab%",)}, "not _ or %"),
    ({"keywords": ("...",)}, "keyword"),
    ({"time_min": float("nan")}, "not an MJD between"),
    ({"time_max": float("inf")}, "not an MJD between"),
    ({"time_min": 1e308}, "not an MJD between"),
    ({"time_max": 2973483.0}, "years 1585 to 2132"),  # 9999-12-31
    ({"time_min": 60000.0, "time_max": 50000.0}, "ends before it starts"),
])
def test_bad_query_values_are_refused(kwargs, message) -> None:
    base = {"ra": 10.0, "dec": 20.0, "radius": 0.1}
    with pytest.raises(QueryError, match=message):
        SkyQuery(**{**base, **kwargs})


def test_an_over_long_keyword_is_quoted_short() -> None:
    with pytest.raises(QueryError) as err:
        SkyQuery(10.0, 20.0, 0.1, keywords=("a" * 10_000,))
    assert len(str(err.value)) < 250 and "10,000 characters" in str(err.value)


@pytest.mark.parametrize("text", ["9999-12-31", "nan", "inf", "1e308"])
def test_odd_time_bounds_get_one_clear_message_and_reach_no_archive(profile, text) -> None:
    page = DiscoveryPage(profile=profile, target="M 1", radius=0.1, time_from=text)
    run_coroutine(page.search())
    assert "not an MJD between" in str(page.notice.text)
    assert len(page.merged) == 0


def test_adql_strings_stay_one_literal() -> None:
    assert adql_string("x' OR 'a'='a") == "'x'' OR ''a''=''a'"
    with pytest.raises(QueryError):
        adql_string("line\nbreak")


def test_a_quote_in_a_name_cannot_widen_a_query(service) -> None:
    """`x' OR 'a'='a` returned every row in ESAP; here it is one literal."""
    tap: TAPConnector = service("dachs-tap").connector()
    rows = tap.run_sync("SELECT name FROM ongc.main WHERE name = " + adql_string("x' OR 'a'='a"))
    assert len(rows) == 0
    resolver = NameResolver(tap)
    with pytest.raises(QueryError, match="neither coordinates nor a name"):
        resolver.resolve("O'Brien's nebula")


@pytest.mark.parametrize("text, source, ra, dec", [
    ("M 1", "OpenNGC NGC1952", 83.633, 22.014),
    ("messier 31", "OpenNGC NGC0224", 10.685, 41.269),
    ("NGC 224", "OpenNGC NGC0224", 10.685, 41.269),
    ("IC 434", "OpenNGC IC0434", 85.254, -2.454),
    ("Crab Nebula", "OpenNGC NGC1952", 83.633, 22.014),
    ("HIP 32349", "Hipparcos HIP 32349", 101.289, -16.713),
    ("10.68 41.27", "coordinates (icrs)", 10.68, 41.27),
    ("00h42m44s +41d16m", "coordinates (icrs)", 10.683, 41.267),
    ("00:42:44 +41:16:09", "coordinates (icrs)", 10.683, 41.269),
])
def test_resolver_offline(service, text, source, ra, dec) -> None:
    pos = NameResolver(service("dachs-tap").connector()).resolve(text)
    assert pos.source == source
    assert (pos.ra, pos.dec) == pytest.approx((ra, dec), abs=2e-3)


def test_galactic_coordinates_are_converted_to_icrs() -> None:
    pos = parse_coordinates("184.5575 -5.7843", "galactic")
    assert (pos.ra, pos.dec) == pytest.approx(CRAB, abs=2e-3)


@pytest.mark.parametrize("text, message", [
    ("ra=abc", "cannot read 'ra=abc'"),
    ("400 95", "cannot read '400 95' as icrs coordinates"),
    # astropy wraps longitudes: 400 would silently become RA 40
    ("400 10", "RA 400 is outside 0 to 360 deg"),
    ("-10 20", "RA -10 is outside 0 to 360 deg"),
    ("25h00m00s +10d", "RA 25 is outside 0 to 24h"),
    ("No Such Object Anywhere", "neither coordinates nor a name found in the local"),
])
def test_resolver_gives_clear_messages(service, text, message) -> None:
    with pytest.raises(QueryError, match=message):
        NameResolver(service("dachs-tap").connector()).resolve(text)


def test_resolver_without_catalogues_says_so() -> None:
    with pytest.raises(QueryError, match="no resolver configured"):
        NameResolver().resolve("M 1")


def test_obscore_tap_translates_waveband_and_product_type(service) -> None:
    tap = service("dachs-tap").connector()
    radio = tap.search_sky(SkyQuery(272.2, -19.85, 0.5, waveband="radio"))
    assert [t for t in radio["title"]] == ["MAGPIS 20 cm, G10.5+0.0"]
    optical = tap.search_sky(SkyQuery(*CRAB, 0.1, waveband="optical"))
    assert list(optical["title"]) == ["POSS-I E plate scan, Messier 1"]
    assert "em_min <=" in optical.meta["adql"]
    assert len(tap.search_sky(SkyQuery(*CRAB, 0.1, product_type="spectrum"))) == 0


def test_catalogues_say_why_they_have_nothing_for_a_product_type(service) -> None:
    table = service("ongc").connector().search_sky(SkyQuery(*CRAB, 0.1, product_type="image"))
    assert len(table) == 0 and "catalogue" in table.meta["note"]


def test_common_columns_keep_the_full_record(service) -> None:
    table = service("ongc").connector().search_sky(SkyQuery(*CRAB, 0.1))
    row = table[table["id"] == "NGC1952"][0]
    assert row["product_type"] == "source"
    assert '"common_names": "Crab Nebula"' in row["record"]
    assert row["distance"] < 0.01


def test_titles_name_objects_as_astronomers_do_and_carry_their_other_names(service) -> None:
    """Hipparcos rows were titled "26159", and the Crab only "NGC1952" although its
    record holds M1 and Crab Nebula, so looking for "crab" missed it."""
    crab = service("ongc").connector().search_sky(SkyQuery(*CRAB, 0.1, keywords=("crab",)))
    assert list(crab["title"]) == ["NGC1952 (Crab Nebula, M1, IRAS 05315+2158, LBN 833)"]
    assert list(crab["id"]) == ["NGC1952"]
    stars = service("hipparcos").connector().search_sky(SkyQuery(*CRAB, 0.5))
    assert "HIP 26159" in set(stars["title"]) and "26159" in set(stars["id"])
    hipparcos = service("hipparcos")
    wrong = replace(hipparcos, options={**hipparcos.options, "columns": {"title": "HIP {hp}"}})
    with pytest.raises(QueryError, match="names columns the archive does not give: hp"):
        wrong.connector().search_sky(SkyQuery(*CRAB, 0.5))


def test_sources_carry_their_main_magnitude_and_its_band(service) -> None:
    """Hipparcos rows had no magnitude in the merged table: the magnitude is the
    archive's own column marked by UCD (V before other bands), with its band."""
    crab = service("ongc").connector().search_sky(SkyQuery(*CRAB, 0.1, keywords=("crab",)))
    record = json.loads(crab["record"][0])
    assert (crab["mag"][0], crab["band"][0]) == (record["vmag"], "V")
    stars = service("hipparcos").connector().search_sky(SkyQuery(*CRAB, 0.5))
    assert set(stars["band"]) == {"hpmag"}
    assert list(stars["mag"]) == [json.loads(r)["hpmag"] for r in stars["record"]]
    images = service("dachs-tap").connector().search_sky(SkyQuery(*CRAB, 0.1))
    assert np.isnan(images["mag"]).all() and set(images["band"]) == {""}


def test_the_main_magnitude_is_the_one_the_archive_marks_main() -> None:
    table = Table({"e_jmag": [0.1], "kmag": [9.0], "jmag": [10.0]})
    table["e_jmag"].meta["ucd"] = "stat.error;phot.mag;em.IR.J"
    table["kmag"].meta["ucd"] = "phot.mag;em.IR.K"
    table["jmag"].meta["ucd"] = "phot.mag;em.IR.J;meta.main"
    rows = common_table(table, "2MASS", {}, product_type="source")
    assert (rows["mag"][0], rows["band"][0]) == (10.0, "J")
    table["jmag"].meta["ucd"] = "phot.mag;em.IR.J"
    assert common_table(table, "2MASS", {})["band"][0] == "K"


def test_page_searches_every_archive(profile: Profile) -> None:
    page = DiscoveryPage(profile=profile, target="M 1", radius=0.5)
    # Nothing shown before it means something: no archive "waiting", no empty filters.
    assert {state for _, state, _ in page.status.rows} <= {"ready", "not asked"}
    assert not any(s.visible for s in page.table.range_filters.values())
    run_coroutine(page.search())
    assert page.table.range_filters["distance"].visible
    assert {r.state for r in page.results.values()} == {"done"}
    counts = {name: len(r.table) for name, r in page.results.items()}
    assert counts["OpenNGC (cone search)"] == 1
    assert counts["Hipparcos-2 (cone search)"] >= 1
    assert counts["Local images (SIA v2)"] == 2
    assert counts["Local DaCHS ObsCore (TAP)"] == 2
    # The two images both image services return are one row each.
    assert len(page.merged) == sum(counts.values()) - 2
    assert page.merged["id"][0] == "NGC1952" or page.merged["distance"][0] < 0.001
    assert "OpenNGC NGC1952" in page.resolved
    assert len(page.table.visible_rows) == len(page.merged)


def test_dead_and_hung_archives_cost_only_themselves(profile: Profile, dead_url: str,
                                                     hung_server: str) -> None:
    ongc = profile.service("ongc")
    services = [*profile.services,
                replace(ongc, id="dead", name="Dead archive", url=dead_url + "/scs.xml",
                        options={**ongc.options, "availability": None, "timeout": 3}),
                replace(ongc, id="hung", name="Hung archive", url=hung_server + "/scs.xml",
                        options={**ongc.options, "availability": None, "timeout": 2})]
    page = DiscoveryPage(profile=replace(profile, services=tuple(services)), target="M 1",
                         radius=0.5)
    start = time.perf_counter()
    run_coroutine(page.search())
    assert time.perf_counter() - start < 8
    assert page.results["Dead archive"].state == "error"
    assert "connection refused" in page.results["Dead archive"].message
    assert page.results["Hung archive"].state == "error"
    assert "no answer" in page.results["Hung archive"].message
    assert page.results["OpenNGC (cone search)"].state == "done"
    assert len(page.merged) >= 6
    status = {name: message for name, _, message in page.status.rows}
    assert "connection refused" in status["Dead archive"]
    assert "no answer" in status["Hung archive"]


@pytest.mark.parametrize("params, message", [
    ({"target": ""}, "Type a target"),
    ({"target": "No Such Object Anywhere"}, "neither coordinates nor a name"),
    ({"target": "ra=abc"}, "cannot read"),
    ({"target": "M 1", "archives": []}, "Tick at least one archive"),
])
def test_page_shows_bad_input_inline(profile: Profile, params, message) -> None:
    page = DiscoveryPage(profile=profile, **params)
    if "archives" in params:
        page.archives = []
    run_coroutine(page.search())
    assert message in page.notice.text
    assert page.results == {}


def test_hostile_text_in_the_target_is_shown_escaped(profile: Profile) -> None:
    page = DiscoveryPage(profile=profile, target="<img src=x onerror=alert(1)>")
    run_coroutine(page.search())
    assert "<img" in page.notice.text  # said as text: the line shows it escaped
    assert "&lt;img" in page.notice.__panel__().object


def test_registry_search_adds_a_found_service_to_the_session(profile: Profile) -> None:
    without_ongc = replace(profile, services=tuple(s for s in profile.services
                                                   if s.id != "ongc"))
    page = DiscoveryPage(profile=without_ongc, target="M 1", radius=0.2)
    page.registry.servicetype = "conesearch"
    page.registry.keywords = "openngc"
    run_coroutine(page.registry.search())
    assert list(page.registry.results["title"]) == ["OpenNGC cone search"]
    page.registry.selection = [0]
    assert page.registry.add_selected() == [
        "OpenNGC cone search added to your archives for this session."]
    assert "OpenNGC cone search" in page.archives
    run_coroutine(page.search())
    assert len(page.results["OpenNGC cone search"].table) == 1
    page.registry.selection = [0]
    assert page.registry.add_selected() == ["OpenNGC cone search is already in your archives."]


def test_registry_sky_area_uses_the_last_search(profile: Profile) -> None:
    page = DiscoveryPage(profile=profile, target="M 1", radius=0.5)
    page.registry.near_last_search = True
    run_coroutine(page.registry.search())
    assert "Run a sky search first" in page.registry.notice.text
    run_coroutine(page.search())
    page.registry.servicetype = "conesearch"
    run_coroutine(page.registry.search())
    assert "OpenNGC cone search" in set(page.registry.results["title"])


def test_filters_are_parsed_or_refused() -> None:
    from esap_dash.ui.components.datalake_search import parse_filters

    assert parse_filters("bytes.gt=100000, campaign=crab") == {"bytes.gt": 100000,
                                                              "campaign": "crab"}
    assert parse_filters("") == {}
    with pytest.raises(QueryError, match="key=value"):
        parse_filters("bytes > 3")


def test_data_lake_wildcards_filters_and_replicas(profile: Profile) -> None:
    lake = DiscoveryPage(profile=profile).datalake
    run_coroutine(lake.load_scopes())
    assert lake.scope == "esap"
    lake.pattern, lake.did_type = "*crab*", "all"
    run_coroutine(lake.search())
    assert set(lake.dids["name"]) == {"crab_images", "ukidss_crab_k.fits"}
    lake.pattern, lake.did_type, lake.filters = "*", "file", "bytes.gt=300000"
    run_coroutine(lake.search())
    assert set(lake.dids["name"]) == {"ukidss_crab_k.fits", "magpis_g10.5_20cm.fits"}
    lake.pattern, lake.did_type, lake.filters = "crab_images", "dataset", ""
    run_coroutine(lake.search())
    run_coroutine(lake.show_replicas(0))
    assert set(lake.replicas["name"]) == {"ukidss_crab_k.fits", "poss_m1.fits"}
    assert "LOCAL_A" in set(lake.replicas["rse"])
    lake.filters = "bytes >= 3"
    run_coroutine(lake.search())
    assert lake.notice.kind == "danger" and "key=value" in lake.notice.text


def test_history_records_each_search_per_user_and_reruns(profile: Profile, tmp_path) -> None:
    private = replace(profile, database=f"sqlite:///{tmp_path}/history.db")
    page = DiscoveryPage(profile=private, target="184.5575 -5.7843", frame="galactic",
                         radius=0.2, keywords="")
    run_coroutine(page.search())
    page.param.update(target="M 1", frame="icrs", radius=0.5)
    run_coroutine(page.search())
    entries = page.store.history("local")
    assert [e["query"]["target"] for e in entries] == ["M 1", "184.5575 -5.7843"]
    assert sum(entries[0]["row_counts"].values()) == sum(len(r.table)
                                                         for r in page.results.values())
    assert page.store.history("someone-else") == []
    history = page.history  # the History tab, built when first shown, reads them
    run_coroutine(history.reload())
    run_coroutine(page.search())  # and, once shown, follows each new search
    assert [e["query"]["target"] for e in history.entries] == ["M 1", "M 1",
                                                             "184.5575 -5.7843"]
    run_coroutine(page.rerun(entries[1]))
    assert page.frame == "galactic" and page.radius == 0.2
    assert page.last_query.ra == pytest.approx(CRAB[0], abs=2e-3)
    assert len(page.store.history("local")) == 4


def wait_for_phase(editor, phase: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_coroutine(editor.job_list.refresh())
        if editor.jobs and editor.jobs[0]["state"] == phase:
            return editor.jobs[0]
        time.sleep(0.3)
    raise AssertionError(f"job did not reach {phase}: {editor.jobs}")


def test_adql_schema_browser_examples_and_sync_run(profile: Profile) -> None:
    editor = DiscoveryPage(profile=profile).adql
    run_coroutine(editor.load_tables())
    assert {"hipparcos.main", "ongc.main", "ivoa.obscore", "tap_schema.columns"} <= set(
        t.lower() for t in editor.param.table_name.objects)

    async def choose() -> None:  # as in a served session: the choice's watcher is async
        editor.table_name = "hipparcos.main"

    run_coroutine(choose())
    run_coroutine(editor.show_table())
    columns = editor.columns
    assert set(columns["column_name"]) >= {"hip", "ra_icrs", "plx"}
    assert columns.set_index("column_name").loc["plx", "unit"] == "mas"
    assert any("CONTAINS" in e for e in editor.param.example.objects)
    editor.adql = "SELECT TOP 3 hip FROM hipparcos.main ORDER BY hip"
    run_coroutine(editor.run_sync())
    assert list(editor.result["hip"]) == [1, 2, 3]
    editor.adql = "SELECT hip FRM hipparcos.main"
    run_coroutine(editor.run_sync())
    assert editor.notice.kind == "danger"
    assert "Could not parse your query" in editor.notice.text


def test_async_job_survives_a_new_page_and_stays_private(profile: Profile, tmp_path) -> None:
    private = replace(profile, database=f"sqlite:///{tmp_path}/jobs.db")
    editor = DiscoveryPage(profile=private).adql
    editor.adql = "SELECT TOP 7 hip, hpmag FROM hipparcos.main ORDER BY hpmag"
    run_coroutine(editor.submit())
    job = wait_for_phase(editor, "COMPLETED")
    assert job["service"] == "Local DaCHS ObsCore (TAP)" and job["ended"]
    reloaded = DiscoveryPage(profile=private).adql
    run_coroutine(reloaded.job_list.refresh())
    assert [j["ref"] for j in reloaded.jobs] == [job["ref"]]
    reloaded.job_list.select(job["id"])
    run_coroutine(reloaded.job_list.open_result())
    assert reloaded.job_list.result.table["hip"][0] == 32349
    assert editor.actor.store.jobs("another-user") == []
    reloaded.adql = "SELECT nonsense FROM nowhere"
    run_coroutine(reloaded.submit())
    failed = wait_for_phase(reloaded, "ERROR")
    assert "nowhere" in failed["error"]
    reloaded.job_list.select(failed["id"])
    run_coroutine(reloaded.job_list.forget())
    assert [j["ref"] for j in reloaded.jobs] == [job["ref"]]
    assert reloaded.job_list.selected is None


def test_selected_rows_carry_what_the_cart_needs(profile: Profile) -> None:
    import json
    from urllib.parse import parse_qs

    page = DiscoveryPage(profile=profile, target="M 1", radius=0.5)
    run_coroutine(page.search())
    page.selection = [0, 1]
    rows = page.selected_rows()
    assert len(rows) == 2
    for row in rows:
        assert row["archive"] and row["service_url"].startswith("http://127.0.0.1")
        assert json.loads(row["record"])
        record = Provenance.from_json(row["query"])
        assert record.activity == "search" and record.user == "local" and record.at
        assert record.query["target"] == "M 1" and record.query["radius"] == 0.5
        assert record.software.startswith("esap-dash ")
        service = record.service(row["archive"])
        assert service.url == row["service_url"]
        # Exactly what each service was asked: the ADQL, or the request URL with its
        # parameters (a cone search's position and radius).
        if service.kind == "tap":
            assert "CONTAINS" in service.asked
        else:
            url, _, params = service.asked.partition("?")
            asked = parse_qs(params)
            assert url == service.url and asked
            if service.kind == "conesearch":
                assert float(asked["SR"][0]) == 0.5 and float(asked["RA"][0]) == \
                    pytest.approx(83.63, abs=0.01)


def test_each_archive_own_columns_on_demand(profile: Profile) -> None:
    page = DiscoveryPage(profile=profile, target="M 1", radius=0.5)
    run_coroutine(page.search())
    page.table.own_columns = "Hipparcos-2 (cone search)"
    assert {"hip", "plx", "hpmag"} <= set(page.table.own_rows.columns)
    # Headers with units; tooltips with the description and UCD from the archive.
    title, tooltip = page.table.own_headers["plx"]
    assert title == "plx (mas)" and "parallax" in tooltip.lower() and "[pos.parallax" in tooltip
    assert page.table.own_headers["hip"][0] == "hip"
    page.table.own_columns = "Local images (SIA v2)"
    assert {"obs_title", "s_region", "em_min"} <= set(page.table.own_rows.columns)
    # A new search: the same archive's own rows are the new ones.
    page.table.own_columns = "Hipparcos-2 (cone search)"
    crab = set(page.table.own_rows["hip"].astype(str))
    page.target = "M 45"
    run_coroutine(page.search())
    assert page.table.own_columns == "Hipparcos-2 (cone search)"
    pleiades = page.search_results.results["Hipparcos-2 (cone search)"].table["id"]
    assert set(page.table.own_rows["hip"].astype(str)) == set(pleiades.astype(str)) != crab


def test_time_range_accepts_dates_and_mjd(profile: Profile) -> None:
    from esap_dash.core.search import parse_time

    assert parse_time("") is None
    assert parse_time("51544") == 51544.0
    assert parse_time("2000-01-01") == pytest.approx(51544.0)
    assert parse_time("2000-01-01T12:00:00") == pytest.approx(51544.5)
    page = DiscoveryPage(profile=profile, target="M 1", time_from="yesterday-ish")
    run_coroutine(page.search())
    assert "yesterday-ish" in page.notice.text and "as a date" in page.notice.text
    page = DiscoveryPage(profile=profile, target="M 1", radius=0.5, time_from="2030-01-01",
                         time_to="2020-01-01")
    run_coroutine(page.search())
    assert "ends before it starts" in page.notice.text


def test_a_hung_resolver_is_named_with_how_long_it_waited(profile, hung_server) -> None:
    from dataclasses import replace

    from connectors.exceptions import ServiceUnavailableError

    hung = replace(profile, services=tuple(
        replace(s, url=hung_server + "/tap") if s.id == "dachs-tap" else s
        for s in profile.services), resolver={**profile.resolver, "timeout": 2})
    page = DiscoveryPage(profile=hung)
    with pytest.raises(ServiceUnavailableError,
                       match=r"name resolver \(Local DaCHS ObsCore \(TAP\)\) failed: no answer "
                             r"within 2 s"):
        page.resolver().resolve("M 1")


def test_one_product_from_two_archives_is_one_row_and_ranges_filter_numbers(
        profile: Profile) -> None:
    page = DiscoveryPage(profile=profile, target="M 1", radius=0.5)
    run_coroutine(page.search())
    merged = page.merged
    urls = [u for u in merged["access_url"] if u]
    assert len(urls) == len(set(urls))
    twice = [r for r in merged if r["also_in"]]
    assert twice and all(r["archive"] == "Local DaCHS ObsCore (TAP)" for r in twice)
    assert {r["also_in"] for r in twice} == {"Local images (SIA v2)"}
    slider = page.table.range_filters["distance"]
    assert slider.value[1] == pytest.approx(float(np.nanmax(merged["distance"])))
    with param.edit_constant(slider):  # as when the user releases the handle
        slider.value_throttled = (0, 0.05)
    shown = page.table.visible_rows
    assert 0 < len(shown) < len(merged)
    assert (shown["distance"].isna() | (shown["distance"] <= 0.05)).all()
    run_coroutine(page.search())  # a new search shows all its rows again
    assert len(page.table.visible_rows) == len(page.merged)


def test_the_adql_job_list_is_read_again_when_the_page_is_shown_again(
        profile: Profile, tmp_path) -> None:
    page = DiscoveryPage(profile=replace(profile, database=f"sqlite:///{tmp_path}/adql.db"))
    page.adql.adql = "SELECT TOP 5 hip FROM hipparcos.main"
    run_coroutine(page.adql.submit())
    job_url = page.adql.jobs[0]["ref"]
    tap = profile.service("dachs-tap").connector()
    deadline = time.monotonic() + 60
    while tap.job_status(job_url)["phase"] != "COMPLETED":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    run_coroutine(page.shown())  # the user comes back from another page
    assert page.adql.jobs[0]["state"] == "COMPLETED"
