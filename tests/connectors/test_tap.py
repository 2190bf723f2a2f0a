"""The TAP connector against the local DaCHS."""

from __future__ import annotations

import time

import numpy as np
import pytest

from connectors.exceptions import QueryError, ServiceError, ServiceUnavailableError
from connectors.tap import TAPConnector


@pytest.fixture
def tap(service) -> TAPConnector:
    return service("dachs-tap").connector()


def test_health_reads_vosi_availability(tap: TAPConnector) -> None:
    health = tap.health()
    assert health.up, health.detail
    assert health.url.endswith("/tap/availability")


def test_finds_the_crab_in_openngc(tap: TAPConnector) -> None:
    table = tap.run_sync(
        "SELECT name, messier, raj2000, dej2000 FROM ongc.main "
        "WHERE 1=CONTAINS(POINT('ICRS', raj2000, dej2000), CIRCLE('ICRS', 83.633, 22.014, 0.1))")
    assert list(table["name"]) == ["NGC1952"]
    assert table["messier"][0] == "M1"
    assert table["raj2000"][0] == pytest.approx(83.633, abs=0.01)
    assert table.meta["truncated"] is False


def test_publishes_all_of_hipparcos_and_openngc(tap: TAPConnector) -> None:
    hip = tap.run_sync("SELECT COUNT(*) AS n FROM hipparcos.main")
    ngc = tap.run_sync("SELECT COUNT(*) AS n FROM ongc.main")
    assert (int(hip["n"][0]), int(ngc["n"][0])) == (117955, 14033)


def test_obscore_lists_the_images_and_spectra_with_footprints(tap: TAPConnector) -> None:
    table = tap.run_sync("SELECT obs_title, access_url, s_region, dataproduct_type "
                         "FROM ivoa.obscore ORDER BY obs_title")
    kinds = list(table["dataproduct_type"])
    assert (kinds.count("image"), kinds.count("spectrum"), len(kinds)) == (7, 5, 12)
    assert all(str(url).startswith(tap.url.removesuffix("/tap")) for url in table["access_url"])
    assert all(str(region).strip() for region in table["s_region"])


def test_truncation_at_maxrec_is_flagged(tap: TAPConnector) -> None:
    table = tap.run_sync("SELECT hip FROM hipparcos.main", maxrec=10)
    assert len(table) == 10
    assert table.meta["truncated"] is True


def test_adql_syntax_error_keeps_the_services_message(tap: TAPConnector) -> None:
    with pytest.raises(QueryError) as err:
        tap.run_sync("SELEKT * FROM ongc.main")
    assert "Could not parse your query" in err.value.reason
    assert "line:1, col:1" in err.value.reason
    assert err.value.url == tap.url


def test_unknown_table_is_a_query_error(tap: TAPConnector) -> None:
    with pytest.raises(ServiceError, match=r"(?i)no_such_table|not found|could not"):
        tap.run_sync("SELECT * FROM no_such_table")


def test_tables_lists_the_published_schemas(tap: TAPConnector) -> None:
    names = set(tap.tables()["table_name"])
    assert {"ongc.main", "hipparcos.main", "ivoa.obscore", "rr.resource"} <= names


def test_connection_refused_is_unavailable(dead_url: str) -> None:
    tap = TAPConnector(dead_url + "/tap", timeout=3)
    with pytest.raises(ServiceUnavailableError):
        tap.run_sync("SELECT 1 FROM ongc.main")
    assert not tap.health().up


def test_hung_service_costs_one_timeout(hung_server: str) -> None:
    tap = TAPConnector(hung_server + "/tap", timeout=1.5)
    start = time.perf_counter()
    health = tap.health()
    with pytest.raises(ServiceUnavailableError):
        tap.run_sync("SELECT 1 FROM ongc.main")
    assert not health.up
    assert "no answer" in health.detail
    assert time.perf_counter() - start < 8


def test_a_whole_catalogues_positions_come_as_numbers_with_string_ids(tap) -> None:
    stars = tap.positions("hipparcos.main", "ra_icrs", "de_icrs", "hip")
    assert len(stars) == 117_955 and not stars.meta["truncated"]
    assert stars["ra"].dtype.kind == "f" and stars["id"].dtype.kind == "U"
    assert stars["ra"].min() >= 0 and stars["ra"].max() < 360
    few = tap.positions("ongc.main", "raj2000", "dej2000", maxrec=10)
    assert few.colnames == ["ra", "dec"] and len(few) == 10 and few.meta["truncated"]
    science = tap.positions("hipparcos.main", "ra_icrs", "de_icrs", "hip",
                            columns=["hpmag", "b_v", "plx", "hip"], maxrec=1000)
    assert science.colnames == ["id", "ra", "dec", "hpmag", "b_v", "plx"]
    assert all(science[c].dtype.kind == "f" for c in ("hpmag", "b_v", "plx"))
    assert 2 < float(np.nanmedian(science["hpmag"])) < 13


def test_positions_of_a_column_the_service_does_not_know_give_its_message(tap) -> None:
    with pytest.raises(QueryError, match="nope"):
        tap.positions("hipparcos.main", "nope", "de_icrs")
    with pytest.raises(QueryError, match="is not a column name"):
        tap.positions("hipparcos.main", "ra_icrs; DROP", "de_icrs")
    with pytest.raises(QueryError, match="is not a column name"):
        tap.positions("hipparcos.main", "ra_icrs", "de_icrs", columns=["hpmag, 1/0"])


def test_a_catalogue_table_finds_its_columns_by_ucd_and_the_profile_overrides(
        service) -> None:
    from dataclasses import replace

    from connectors.query import SkyQuery

    tap = service("dachs-tap")
    hip = replace(tap, options={**tap.options, "table": "hipparcos.main"}).connector()
    mapping = hip.column_mapping()
    assert (mapping["ra"], mapping["dec"], mapping["id"]) == ("ra_icrs", "de_icrs", "hip")
    rows = hip.search_sky(SkyQuery(101.287, -16.716, 0.05))  # Sirius, HIP 32349
    assert "32349" in list(rows["id"])
    named = replace(tap, options={**tap.options, "table": "hipparcos.main",
                                  "columns": {"title": "hip"}}).connector()
    assert named.column_mapping()["title"] == "hip"
    assert named.column_mapping()["ra"] == "ra_icrs"


def test_an_answer_of_exactly_maxrec_rows_is_not_flagged_truncated(service) -> None:
    tap = service("dachs-tap").connector()
    adql = "SELECT hip FROM hipparcos.main WHERE hip <= 10"
    every = tap.run_sync(adql, maxrec=1000)
    assert not every.meta["truncated"]
    exact = tap.run_sync(adql, maxrec=len(every))
    assert len(exact) == len(every) and not exact.meta["truncated"]
    cut = tap.run_sync(adql, maxrec=len(every) - 1)
    assert len(cut) == len(every) - 1 and cut.meta["truncated"]


def test_a_rows_record_keeps_single_precision_as_written_and_units_in_vounit(
        service) -> None:
    import json
    from dataclasses import replace

    from connectors.query import SkyQuery

    tap = service("dachs-tap")
    hip = replace(tap, options={**tap.options, "table": "hipparcos.main"}).connector()
    rows = hip.search_sky(SkyQuery(101.287, -16.716, 0.05))  # Sirius, HIP 32349
    sirius = json.loads(rows["record"][list(rows["id"]).index("32349")])
    # Hipparcos-2 gives Sirius Hp = -1.0876 and a parallax of 379.21 mas (float32 columns).
    assert (sirius["hpmag"], sirius["plx"]) == (-1.0876, 379.21)
    (columns,) = rows.meta["columns"].values()  # the one archive's
    units = {name: meta["unit"] for name, meta in columns.items()}
    assert units["pmra"] == "mas.yr**-1" and units["hpmag"] == "mag"
