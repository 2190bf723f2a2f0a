"""The persistent cart: per user, transactional, exports that validators accept."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from astropy.io.votable import parse
from astropy.table import Table

from esap_dash.core.cart import Cart, CartError
from esap_dash.core.config import Profile
from esap_dash.core.runtime import current_runtime
from esap_dash.core.store import StoreError, store_for
from esap_dash.ui.pages.cart import CartPage
from esap_dash.ui.pages.discovery import DiscoveryPage

from .conftest import (
    add_dataset_to_cart,
    readme_python,
    run_coroutine,
    send_table_to_esap_dash,
)


@pytest.fixture
def private(profile: Profile, tmp_path: Path) -> Profile:
    """The local profile with a database of this test's own."""
    return replace(profile, database=f"sqlite:///{tmp_path}/carts.db")


@pytest.fixture(scope="module")
def m1_rows(profile: Profile) -> Table:
    page = DiscoveryPage(profile=profile, target="M 1", radius=0.5)
    run_coroutine(page.search())
    page.selection = list(range(len(page.merged)))
    return page.selected_rows()


def votlint_errors(path: Path) -> list[str]:
    """ERROR lines of STILTS votlint (it exits 0 even when it reports errors)."""
    out = subprocess.run(["stilts", "votlint", f"votable={path}"], capture_output=True,
                         text=True, timeout=120)
    return [line for line in (out.stdout + out.stderr).splitlines() if "ERROR" in line]


def test_rows_from_two_archives_persist_and_are_not_duplicated(private, m1_rows) -> None:
    cart = Cart.open("M1 study", profile=private)
    assert cart.add_rows(m1_rows) == len(m1_rows)
    assert cart.add_rows(m1_rows) == 0
    reopened = Cart.open("M1 study", profile=private)
    assert len(reopened) == len(m1_rows)
    archives = {i.archive for i in reopened.items()}
    assert {"OpenNGC (cone search)", "Local DaCHS ObsCore (TAP)"} <= archives
    item = reopened.items(archive="OpenNGC (cone search)")[0]
    assert item.fields["common_names"] == "Crab Nebula"
    assert '"target": "M 1"' in item.query and item.service_url.endswith("scs.xml")


def test_users_never_see_each_others_carts(private, m1_rows) -> None:
    Cart.open("M1 study", user="alice", profile=private).add_rows(m1_rows)
    bob = Cart.open("M1 study", user="bob", profile=private)
    assert len(bob) == 0
    assert Cart.names(user="bob", profile=private) == ["M1 study"]
    assert Cart.names(user="carol", profile=private) == []
    with pytest.raises(CartError, match="no cart named"):
        Cart.open("M1 study", user="carol", profile=private, create=False)


def test_a_deployment_with_users_needs_an_identity(private) -> None:
    with pytest.raises(PermissionError, match="has users"):
        Cart.open("x", profile=replace(private, users="oidc"))


@pytest.mark.parametrize("name", ["M1 study", "calibration", "Crab (2024) v2.1", "Überblick"])
def test_good_cart_names(private, name) -> None:
    assert Cart.open(name, profile=private).name == name


@pytest.mark.parametrize("name", ["", "../etc/passwd", "<script>", "a" * 101, "x;DROP"])
def test_odd_cart_names_are_refused_clearly(private, name) -> None:
    with pytest.raises(CartError, match="cart name"):
        Cart.open(name, profile=private)


def test_remove_undo_notes_and_missing_items(private, m1_rows) -> None:
    cart = Cart.open("edit", profile=private)
    cart.add_rows(m1_rows)
    first = cart.items()[0]
    removed = cart.remove([first.key])
    assert [i.key for i in removed] == [first.key] and len(cart) == len(m1_rows) - 1
    assert cart.remove([first.key]) == []
    with pytest.raises(CartError, match="not in the cart"):
        cart.annotate(first.key, note="gone")
    assert cart.restore(removed) == 1
    cart.annotate(first.key, note="best seeing", tags="K band")
    again = {i.key: i for i in cart.items()}[first.key]
    assert (again.note, again.tags) == ("best seeing", "K band")


def test_two_tabs_adding_at_once_keep_both(private, m1_rows) -> None:
    halves = (m1_rows[: len(m1_rows) // 2], m1_rows[len(m1_rows) // 2:])
    # two sessions of one server: their calls run in threads of the server's runtime
    runtime = current_runtime()
    threads = [runtime.run_in_thread(lambda rows=rows: Cart.open(
        "shared", profile=private).add_rows(rows), name=f"tab-{n}")
        for n, rows in enumerate(halves)]
    for t in threads:
        t.join()
    assert len(Cart.open("shared", profile=private)) == len(m1_rows)


def test_exports_are_valid_also_when_empty(private, m1_rows, tmp_path) -> None:
    cart = Cart.open("export", profile=private)
    cart.add_rows(m1_rows)
    for name, target in (("full", cart), ("empty", Cart.open("nothing", profile=private))):
        vot = target.export(tmp_path / f"{name}.xml", "votable")
        assert votlint_errors(vot) == [], name
        ecsv = Table.read(target.export(tmp_path / f"{name}.ecsv", "ecsv"))
        csv = Table.read(target.export(tmp_path / f"{name}.csv", "csv"), format="ascii.csv")
        rows = sum(len(t.to_table()) for t in parse(str(vot)).iter_tables())
        assert rows == len(ecsv) == len(target)
        assert len(csv) == len(target)
    assert Table.read(tmp_path / "full.ecsv")["ra"].unit == "deg"
    with pytest.raises(CartError, match="unknown format"):
        cart.export(tmp_path / "x", "fits")


def test_votable_export_marks_positions_with_ucds_and_icrs(private, m1_rows, tmp_path) -> None:
    cart = Cart.open("ucds", profile=private)
    cart.add_rows(m1_rows)
    path = cart.export(tmp_path / "ucds.xml", "votable")
    assert votlint_errors(path) == []
    votable = parse(str(path))
    fields = {f.name: f for f in votable.get_first_table().fields}
    assert fields["ra"].ucd == "pos.eq.ra;meta.main" and fields["ra"].unit == "deg"
    assert fields["dec"].ucd == "pos.eq.dec;meta.main"
    coosys = votable.resources[0].coordinate_systems[0]
    assert coosys.system == "ICRS" and fields["ra"].ref == coosys.ID == fields["dec"].ref


def test_exports_carry_each_archives_own_columns_with_units_and_ucds(private, m1_rows,
                                                                       tmp_path) -> None:
    cart = Cart.open("own columns", profile=private)
    cart.add_rows(m1_rows)
    path = cart.export(tmp_path / "own.xml", "votable")
    assert votlint_errors(path) == []
    # One TABLE: astropy (and TOPCAT) read every archive's rows from it.
    [table] = list(parse(str(path)).iter_tables())
    assert set(table.array["archive"]) == {i.archive for i in cart.items()}
    assert len(Table.read(path)) == len(cart)
    fields = {f.name: f for f in table.fields}
    assert {"hip", "hpmag", "plx"} <= set(fields)
    assert fields["plx"].unit == "mas" and fields["hpmag"].ucd
    assert table.array["hpmag"].dtype.kind == "f"
    assert "record" not in fields
    wide = Table.read(cart.export(tmp_path / "own.ecsv", "ecsv"))
    assert {"hpmag", "common_names"} <= set(wide.colnames) and len(wide) == len(cart)
    assert wide["plx"].unit == "mas"


def test_archives_that_type_or_measure_a_column_differently_export_whole(private,
                                                                          tmp_path) -> None:
    """A cone search's id as text and a TAP query's as a number; magnitudes in two
    units: every format writes every row, nothing is cast wrongly."""
    cart = Cart.open("mixed", profile=private)
    for archive, hips, mags, unit in (
            ("Hipparcos-2 (cone search)", ["HIP 1", "HIP 2"], [5.5, 6.5], "mag"),
            ("Local TAP", [4295806720000000001, 4], [1e-3, 2e-3], "Jy")):
        rows = Table({"archive": [archive] * 2, "id": [f"{archive} {h}" for h in hips],
                      "ra": [1.0, 2.0], "dec": [3.0, 4.0],
                      "record": [json.dumps({"hip": h, "mag": m})
                                 for h, m in zip(hips, mags, strict=True)]})
        rows.meta["columns"] = {archive: {"mag": {"unit": unit}}}
        cart.add_rows(rows)
    for fmt, ext in (("votable", "xml"), ("ecsv", "ecsv"), ("csv", "csv")):
        path = cart.export(tmp_path / f"mixed.{ext}", fmt)
        table = Table.read(path, format="ascii.csv" if fmt == "csv" else None)
        assert len(table) == 4, fmt
        assert sorted(str(v) for v in table["hip"]) == ["4", "4295806720000000001",
                                                        "HIP 1", "HIP 2"], fmt
        assert {"mag_hipparcos_2_cone_search", "mag_local_tap"} <= set(table.colnames)
    table = Table.read(tmp_path / "mixed.xml")
    assert str(table["mag_local_tap"].unit) == "Jy"
    assert votlint_errors(tmp_path / "mixed.xml") == []


def test_a_services_nan_in_a_text_column_exports_as_empty_not_nan(private, tmp_path) -> None:
    cart = Cart.open("nan", profile=private)
    rows = Table({"archive": ["SAMP"] * 3, "id": ["a", "b", "c"], "ra": [1.0, 2.0, 3.0],
                  "dec": [3.0, 4.0, 5.0],
                  "record": [json.dumps({"sptype": "G2V", "v": 1.5}),
                             json.dumps({"sptype": float("nan"), "v": float("nan")}),
                             json.dumps({"sptype": None, "v": 2.5})]})
    cart.add_rows(rows)
    text = cart.export(tmp_path / "nan.csv", "csv").read_text()
    assert "nan" not in text.lower(), text
    table = Table.read(tmp_path / "nan.csv", format="ascii.csv")
    assert list(table["sptype"].filled("")) == ["G2V", "", ""]
    assert table["v"].dtype.kind == "f" and table["v"].mask.tolist() == [False, True, False]


def test_votlint_errors_are_counted(tmp_path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text('<?xml version="1.0"?><VOTABLE version="1.4" '
                   'xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE><TABLE>'
                   '<FIELD name="a" datatype="nonsense"/></TABLE></RESOURCE></VOTABLE>')
    assert votlint_errors(bad)


def test_a_corrupted_database_is_reported_and_left_alone(tmp_path) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not SQLite at all" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a usable esap-dash database"):
        store_for(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_carts_in_postgresql(profile, m1_rows, secrets) -> None:
    pg = replace(profile, database=secrets["ESAP_DASH_PG_URL"])
    name = f"pg test {threading.get_ident()}"
    cart = Cart.open(name, user="pg-user", profile=pg)
    cart.remove([i.key for i in cart.items()])
    assert cart.add_rows(m1_rows) == len(m1_rows)
    assert cart.add_rows(m1_rows) == 0
    listing = cart.listing(["title", "added"])
    assert list(listing["key"]) == [i.key for i in cart.items()] and listing["added"].notna().all()
    assert len(Cart.open(name, user="pg-user", profile=pg)) == len(m1_rows)
    assert len(Cart.open(name, user="someone else", profile=pg)) == 0
    store_for(pg.database).engine.dispose()  # close the pooled connections now


def test_cart_page_lists_edits_removes_and_exports(private, m1_rows) -> None:
    Cart.open("default", profile=private).add_rows(m1_rows)
    page = CartPage(profile=private)
    assert len(page.listing) == len(m1_rows)
    assert page.summary["count"] == len(m1_rows)
    run_coroutine(page.annotate(0, "note", "check <b>this</b>"))
    assert page.cart.items()[0].note == "check <b>this</b>"
    page.selection = [0, 1]
    run_coroutine(page.remove_selected())
    assert len(page.cart) == len(m1_rows) - 2
    run_coroutine(page.undo())
    assert len(page.cart) == len(m1_rows)
    assert page.cart.export_bytes("votable").startswith(b"<?xml")
    page.new_name = "../bad"
    run_coroutine(page.create())
    assert page.notice.kind == "danger"
    page.new_name = "calibration"
    run_coroutine(page.create())
    assert page.cart_name == "calibration" and len(page.listing) == 0


def test_discovery_adds_selected_rows_to_the_named_cart(private) -> None:
    page = DiscoveryPage(profile=private, target="M 1", radius=0.5, cart_name="M1 study")
    run_coroutine(page.search())
    page.selection = [0, 1, 2]
    run_coroutine(page.add_to_cart())
    assert "Added 3 rows to cart" in page.notice.text
    run_coroutine(page.add_to_cart())
    assert "Added 0 rows" in page.notice.text and "3 were already" in page.notice.text
    assert len(Cart.open("M1 study", profile=private)) == 3


def test_fetch_downloads_an_image(private, m1_rows, tmp_path) -> None:
    from astropy.io import fits

    cart = Cart.open("fetch", profile=private)
    cart.add_rows(m1_rows)
    image = next(i for i in cart.items() if i.product_type == "image")
    path = cart.fetch(image, tmp_path / "data")
    with fits.open(path) as hdul:
        assert hdul[0].header["NAXIS"] >= 0
    source = next(i for i in cart.items() if i.product_type == "source")
    with pytest.raises(CartError, match="no downloadable access URL"):
        cart.fetch(source, tmp_path)


def test_cart_page_sends_and_receives_through_a_real_samp_hub(private, m1_rows, tmp_path,
                                                             topcat) -> None:
    client, received = topcat
    Cart.open("default", profile=private).add_rows(m1_rows)
    page = CartPage(profile=private)
    run_coroutine(page.samp.send())
    assert f"Sent {len(m1_rows)} items to topcat-like" in page.notice.text
    assert set(received[0]["title"]) == set(m1_rows["title"])
    run_coroutine(page.samp.receive(True))
    sent = tmp_path / "from-topcat.xml"
    Table({"name": ["NGC1952", "NGC0224"], "ra": [83.633, 10.685],
           "dec": [22.0145, 41.269]}).write(sent, format="votable")
    reply = send_table_to_esap_dash(client, sent.as_uri(), "selection")
    assert reply["samp.status"] == "samp.ok"
    samp_items = [i for i in page.cart.items() if i.kind == "samp"]
    assert len(samp_items) == 2 and samp_items[0].archive == "SAMP: topcat-like"
    assert {i.fields["name"] for i in samp_items} == {"NGC1952", "NGC0224"}
    run_coroutine(page.samp.receive(False))


def test_cart_page_shows_replicas_and_makes_data_available_at_an_rse(private) -> None:
    discovery = DiscoveryPage(profile=private, cart_name="staging")
    assert "Added 1 item to cart" in add_dataset_to_cart(discovery, "radio*")
    page = CartPage(profile=private, refresh_period=0)
    page.cart_name = "staging"
    lake = page.lake
    run_coroutine(lake.show_replicas())
    assert set(lake.replicas["name"]) == {"magpis_g10.5_20cm.fits",
                                          "first_j105007p304037.fits"}
    assert "LOCAL_A" in lake.notice.text
    assert lake.param.rse.objects == ["LOCAL_A", "LOCAL_B", "LOCAL_SCRATCHDISK",
                                      "QOS=CHEAP-ANALYSIS", "QOS=FAST", "QOS=SAFE"]
    assert "any FAST storage (LOCAL_B)" in lake.param.rse.names
    # The local profile acts as Rucio's root account, which has no quota.
    used = r"[\d.]+ (bytes|kB|MB|GB) used \(no limit\)"
    assert re.fullmatch(f"Quota of Rucio account root: LOCAL_A {used}; LOCAL_B {used}; "
                        f"LOCAL_SCRATCHDISK {used}\\.",
                        lake.quota), lake.quota
    lake.rse = "LOCAL_B"
    run_coroutine(lake.make_available())
    assert "Asked for esap:radio_20cm at LOCAL_B" in lake.notice.text
    deadline = time.monotonic() + 120
    while lake.rules[0]["state"] == "REPLICATING" and time.monotonic() < deadline:
        time.sleep(2)
        run_coroutine(lake.refresh_rules())
    assert [(r["did"], r["rse"], r["state"], r["done"]) for r in lake.rules] == [
        ("esap:radio_20cm", "LOCAL_B", "OK", "2 of 2 files, 380.2 kB of 380.2 kB")]
    run_coroutine(lake.make_available())  # asking again follows the same rule
    assert len(page.store.jobs("local", "rucio-rule")) == 1
    # A storage class instead of an RSE, for a week: the rule says where it put the copy.
    lake.param.update(rse="QOS=SAFE", lifetime_days=7)
    run_coroutine(lake.make_available())
    assert [(r["rse"], r["at"]) for r in lake.rules if r["rse"] == "QOS=SAFE"] == [
        ("QOS=SAFE", "LOCAL_A")]
    assert next(r for r in lake.rules if r["rse"] == "QOS=SAFE")["expires"]
    assert page.store.jobs("someone-else", "rucio-rule") == []


def test_shared_links_open_only_with_a_live_token(private) -> None:
    from esap_dash.core.config import Facility
    from esap_dash.core.launch import launch_url

    cart = Cart.open("shared", profile=private)
    token = cart.share(days=1)
    assert Cart.from_share(token, profile=private).name == "shared"
    for bad in ("not-a-token-at-all-xxxxxxxx", token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(CartError, match="unknown, revoked or expired"):
            Cart.from_share(bad, profile=private)
    expired = cart.share(days=-1)
    with pytest.raises(CartError):
        Cart.from_share(expired, profile=private)
    assert cart.revoke_shares() == 2
    with pytest.raises(CartError):
        Cart.from_share(token, profile=private)
    link = "http://dash.example/cart-share/T0k3n/cart.ipynb"
    binder = Facility("b", "Binder", "binderhub", "https://mybinder.org/",
                      "https://github.com/org/env", "main", "start.ipynb")
    assert launch_url(binder, link) == (
        "https://mybinder.org/v2/git/https%3A%2F%2Fgithub.com%2Forg%2Fenv/main?urlpath="
        "lab%2Ftree%2Fstart.ipynb%3FfromURL%3Dhttp%253A%252F%252Fdash.example%252Fcart-share"
        "%252FT0k3n%252Fcart.ipynb")
    hub = Facility("h", "Hub", "jupyterhub", "https://hub.example")
    assert launch_url(hub, link) == ("https://hub.example/hub/user-redirect/lab?fromURL="
                                     "http%3A%2F%2Fdash.example%2Fcart-share%2FT0k3n%2Fcart.ipynb")
    # In the cart's own JupyterLab workspace (a Binder starts a new JupyterLab anyway).
    assert launch_url(hub, link, "Crab & M1").startswith(
        "https://hub.example/hub/user-redirect/lab/workspaces/Crab_M1?fromURL=")
    assert "workspaces" not in launch_url(binder, link, "Crab & M1")


def test_a_shared_cart_s_files_are_named_after_the_cart_and_nothing_else_is_served() -> None:
    from esap_dash.core.launch import file_stem, share_links, shared_file

    assert file_stem("Crab & Pleiades (2026)") == "Crab_Pleiades_2026"
    assert file_stem("../../etc/passwd") == "etc_passwd"
    assert file_stem("Плеяды") == "cart"
    links = share_links("https://dash.example/", "T0k3n", "Crab & Pleiades")
    assert links == {
        "notebook": "https://dash.example/cart-share/T0k3n/Crab_Pleiades.ipynb",
        "votable": "https://dash.example/cart-share/T0k3n/Crab_Pleiades.xml",
        "prov-json": "https://dash.example/cart-share/T0k3n/Crab_Pleiades.prov.json"}
    assert shared_file("Crab_Pleiades.prov.json") == ("prov-json", "application/json")
    assert shared_file("cart.ipynb")[0] == "notebook"  # links made before carry on
    for other in ("cart.json", ".ipynb", "a b.xml", "..xml", "cart.ipynb.html"):
        assert shared_file(other) is None, other


def test_cart_page_builds_the_launch_address_from_the_profile(private) -> None:
    from esap_dash.core.config import Facility

    binder = Facility("b", "Binder", "binderhub", "https://binder.example",
                      "https://github.com/org/env", "main", "start.ipynb")
    page = CartPage(profile=replace(private, facilities=(binder,),
                                    public_url="https://dash.example"))
    Cart.open("default", profile=private)
    run_coroutine(page.sharing.share())
    assert page.sharing.links["notebook"].startswith("https://dash.example/cart-share/")
    # Named after the cart: a notebook server saves the files under these names.
    assert page.sharing.links["notebook"].endswith("/default.ipynb")
    assert page.sharing.links["prov-json"].endswith("/default.prov.json")
    assert page.sharing.links["launch"].startswith("https://binder.example/v2/git/")
    assert 'rel="noopener noreferrer"' in page.sharing.shown
    run_coroutine(page.sharing.revoke())
    assert "1 link revoked" in page.sharing.shown


def test_a_hub_that_does_not_answer_is_said_and_its_link_is_still_made(private) -> None:
    from esap_dash.core.config import Facility
    from esap_dash.serving import free_ports

    # A profile's names are text: the page shows them, never runs them.
    dead = Facility("dead", "Dead hub <img src=x onerror=alert(1)>", "jupyterhub",
                    f"http://127.0.0.1:{free_ports(1)}")
    live = next(f for f in private.facilities if f.id == "local-hub")  # the stack's hub
    page = CartPage(profile=replace(private, facilities=(dead, live)))
    Cart.open("default", profile=private)
    run_coroutine(page.sharing.share())
    said = page.sharing.notice.text
    assert said.startswith(f"{dead.name} does not answer now (") and "refused" in said, said
    assert page.sharing.links["launch"].startswith(dead.url + "/hub/user-redirect/")
    assert "<img" not in page.sharing.shown and "Open in Dead hub &lt;img" in page.sharing.shown
    page.sharing.facility = live.name
    run_coroutine(page.sharing.share())
    assert page.sharing.notice.text == ""
    assert page.sharing.links["launch"].startswith(live.url)


def test_the_sqlite_database_is_private_to_its_owner(tmp_path) -> None:
    from esap_dash.core.store import store_for

    path = tmp_path / "records.db"
    store_for(f"sqlite:///{path}")
    assert path.stat().st_mode & 0o777 == 0o600
    shared = tmp_path / "shared.db"
    shared.touch(mode=0o644)
    store_for(f"sqlite:///{shared}")
    assert shared.stat().st_mode & 0o777 == 0o600


def test_the_readmes_notebook_example_runs_as_written(private, m1_rows, tmp_path) -> None:
    Cart.open("M1 study", profile=private).add_rows(m1_rows)
    script = tmp_path / "example.py"
    script.write_text(readme_python("In a\nnotebook:") + "print(path)\n")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300,
        cwd=tmp_path, env={**os.environ, "ESAP_DASH_PROFILE": "local",
                           "ESAP_DASH__DEPLOYMENT__DATABASE": private.database})
    assert done.returncode == 0, done.stderr
    fetched = tmp_path / done.stdout.split()[-1]
    assert fetched.suffix == ".fits" and fetched.stat().st_size > 2880
    assert (tmp_path / "m1.ipynb").exists()


def test_the_provenance_drawing_is_readable_and_zooms(private, m1_rows) -> None:
    import re

    Cart.open("drawn", profile=private).add_rows(m1_rows)
    page = CartPage(profile=private)
    page.cart_name = "drawn"
    run_coroutine(page.provenance.draw())
    picture = page.provenance.picture
    svg = picture.svg
    assert "NGC1952" in svg and "search OpenNGC (cone search)" in svg
    # Shown zoomed out to about a page's width at most, never so far that Graphviz's
    # names (14 pt) get smaller than 11 px; the box scrolls for the rest.
    width, height = picture.size_px
    points = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert width <= 1200 or picture.zoom == 60
    assert picture.size_px == pytest.approx(
        (float(points.group(1)) * 4 / 3 * picture.zoom / 100,
         float(points.group(2)) * 4 / 3 * picture.zoom / 100))
    names_pt = max(float(f) for f in re.findall(r'font-size="([\d.]+)"', svg))
    assert names_pt * width / float(points.group(1)) >= 11  # in px
    # Items are drawn one under the other: taller than a strip, as wide as it needs.
    assert height > width / 8
    first = picture.zoom
    picture.zoom = 200
    assert picture.size_px == pytest.approx((width * 200 / first, height * 200 / first))
