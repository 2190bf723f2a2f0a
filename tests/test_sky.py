"""Sky geometry, the map component and the Sky page against the local stack."""

from __future__ import annotations

import io
import json
import time
from dataclasses import replace
from importlib import resources

import astropy.units as u
import numpy as np
import panel as pn
import pytest
from astropy.io import fits
from astropy.table import Table
from bokeh.models import GlyphRenderer
from mocpy import MOC

from esap_dash.core import sky
from esap_dash.core.config import Profile
from esap_dash.ui.components.fits_preview import render_fits
from esap_dash.ui.components.sky_map import SkyMap
from esap_dash.ui.pages.discovery import DiscoveryPage
from esap_dash.ui.pages.sky import CATALOGUE, SkyPage

from .conftest import run_coroutine, sky_catalogue_to_cart


def test_orientation_ra_and_galactic_longitude_increase_to_the_left() -> None:
    # Betelgeuse (RA 88.8) is left of the centre, the galactic centre (RA 266.4) right.
    eq = sky.Projected.of([88.79, 266.40, 0.0], [7.41, -28.94, 0.0], projection="Aitoff",
                          frame="icrs")
    assert eq.x[0] < -80 < 0 < 80 < eq.x[1] and abs(eq.x[2]) < 1e-9
    assert eq.y[0] > 0 > eq.y[1]
    # In galactic coordinates the centre is the middle, and the plane is horizontal.
    gal = sky.Projected.of([266.405, 83.82], [-28.936, -5.39], projection="Mollweide",
                           frame="galactic")
    assert abs(gal.x[0]) < 0.01 and abs(gal.y[0]) < 0.01
    assert gal.x[1] > 0  # Orion, l = 209 deg = -151: right of the centre


def test_rows_without_position_and_bad_regions_are_listed() -> None:
    table = Table({"ra": [83.6, np.nan, 10.0], "dec": [22.0, np.nan, 10.0],
                   "title": ["a", "lost <b>row</b>", "c"], "archive": ["x", "x", "y"],
                   "s_region": ["POLYGON ICRS 83 22 84 22 84 23", "CIRCLE nonsense", ""]})
    skymap = SkyMap(results=table)
    assert "1 rows have no position" in skymap.warnings[0]
    assert "row 1" in skymap.warnings[1] and "unreadable s_region" in skymap.warnings[1]
    assert "&lt;b&gt;" in skymap.__panel__()[1].object
    assert pn.panel(skymap).get_root() is not None


def test_box_and_polygon_selection_and_empty_sky() -> None:
    ra = np.array([80.0, 85.0, 200.0])
    skymap = SkyMap(results=Table({"ra": ra, "dec": [0.0, 5.0, 0.0]}))
    assert skymap.select_box(-90, -10, -75, 10) == [0, 1]
    assert skymap.select_polygon(np.array([-81, -76, -76]), np.array([-5, -5, 5])) == [0]
    empty = SkyMap(results=Table())
    empty.set_layer("coverage", sky.moc_from_points(ra, np.zeros(3)))
    assert empty.layers_shown == ["coverage"] and pn.panel(empty).get_root() is not None


def test_coverage_layers_are_drawn_cell_by_cell_each_in_its_colour() -> None:
    skymap = SkyMap(results=Table())
    half = MOC.from_cone(lon=83.6 * u.deg, lat=22.0 * u.deg, radius=90 * u.deg, max_depth=6)
    skymap.set_layer("half sky", half)
    skymap.set_layer("Crab", sky.moc_from_points(np.array([83.6]), np.array([22.0])))
    root = pn.panel(skymap).get_root()
    drawn = {}
    for glyph in root.select({"type": GlyphRenderer}):
        layer = glyph.data_source.data.get("layer")
        if layer is not None and len(layer):
            drawn[layer[0]] = (len(layer), glyph.glyph.fill_color)
    cells = len(sky.moc_outlines(half, skymap.wcs(), skymap.frame))
    assert drawn["half sky"][0] == cells > 1000 and drawn["Crab"][0] >= 1
    assert drawn["half sky"][1] != drawn["Crab"][1]


def test_mocs_and_their_overlap() -> None:
    moc = sky.moc_from_text("4/1732 1735 5/139")
    assert sky.area_deg2(moc) == pytest.approx(0.00073242 * sky.FULL_SKY_DEG2, rel=1e-4)
    with pytest.raises(ValueError, match="not a MOC"):
        sky.moc_from_text("hello world")
    fp = sky.footprints(["CIRCLE ICRS 10 10 1"])
    circle = sky.moc_from_regions(fp)
    assert sky.area_deg2(circle) == pytest.approx(np.pi, rel=0.05)


def test_fits_without_wcs_shows_pixel_axes(tmp_path) -> None:
    path = tmp_path / "nowcs.fits"
    fits.PrimaryHDU(np.random.default_rng(1).normal(size=(50, 60))).writeto(path)
    png, footprint, note = render_fits(path)
    assert png.startswith(b"\x89PNG") and footprint is None and "no celestial WCS" in note
    (tmp_path / "text.fits").write_text("not fits")
    with pytest.raises(ValueError, match="not a FITS file"):
        render_fits(tmp_path / "text.fits")


def _bomb_writer(kind: str, path):
    """A writable stream compressing into ``path`` as ``kind``."""
    import bz2
    import gzip
    import lzma
    import zipfile

    if kind == "zip":
        archive = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        stream = archive.open("bomb.fits", "w", force_zip64=True)
        stream.close_archive = archive.close
        return stream
    return {"gzip": lambda: gzip.open(path, "wb", compresslevel=1),
            "bzip2": lambda: bz2.open(path, "wb", compresslevel=1),
            "xz": lambda: lzma.open(path, "wb", preset=0)}[kind]()


def _write_bomb(kind: str, path, megabytes: int) -> None:
    header = fits.Header({"SIMPLE": True, "BITPIX": -64, "NAXIS": 2, "NAXIS1": 30_000,
                          "NAXIS2": 30_000})
    out = _bomb_writer(kind, path)
    out.write(header.tostring().encode())
    zeros = bytes(1 << 20)
    for _ in range(megabytes):  # zero pixels: a few hundred kB on disk
        out.write(zeros)
    out.close()
    if hasattr(out, "close_archive"):
        out.close_archive()


@pytest.mark.parametrize("kind", ["gzip", "zip"])
def test_a_compressed_fits_bomb_is_refused_without_expanding_it(tmp_path, kind) -> None:
    import resource

    path = tmp_path / f"bomb.fits.{kind}"
    _write_bomb(kind, path, 720)
    assert path.stat().st_size < 5_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValueError, match="expands to more than 512 MB"):
        render_fits(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB


@pytest.mark.parametrize("kind", ["bzip2", "xz", "zip"])
def test_every_compression_astropy_opens_is_measured_first(tmp_path, kind) -> None:
    from esap_dash.ui.components.fits_preview import check_decompressed_size

    path = tmp_path / f"bomb.{kind}"
    _write_bomb(kind, path, 20)
    with pytest.raises(ValueError, match="expands to more than 16 MB"):
        check_decompressed_size(path, 16 << 20)
    check_decompressed_size(path, 32 << 20)
    (tmp_path / "old.Z").write_bytes(b"\x1f\x9d\x90" + bytes(100))
    with pytest.raises(ValueError, match="Unix compress"):
        render_fits(tmp_path / "old.Z")


def test_an_image_with_too_many_pixels_is_refused(tmp_path) -> None:
    path = tmp_path / "huge.fits"
    hdu = fits.PrimaryHDU()
    hdu.header.update(BITPIX=8, NAXIS=2, NAXIS1=10_000, NAXIS2=5_000)
    with path.open("wb") as out:
        out.write(hdu.header.tostring().encode())
        out.seek(2880 + 50_000_000 - 1)
        out.write(b"\0")
    with pytest.raises(ValueError, match="50,000,000 pixels; a preview reads at most"):
        render_fits(path)


def test_sky_page_draws_search_results_catalogues_and_cart_coverage(profile: Profile,
                                                                   tmp_path) -> None:
    private = replace(profile, database=f"sqlite:///{tmp_path}/carts.db")
    discovery = DiscoveryPage(profile=private, target="M 1", radius=0.5)
    page = SkyPage(profile=private, discovery=discovery)
    run_coroutine(discovery.search())
    assert len(page.rows) == len(discovery.merged) > 0
    assert page.map.cone == pytest.approx((83.633, 22.0145, 0.5), abs=1e-3)
    run_coroutine(page.service_coverage())
    assert {"OpenNGC (cone search)", "Hipparcos-2 (cone search)"} <= set(page.map.layers)
    page.source = CATALOGUE
    run_coroutine(page.list_catalogues())
    assert page.catalogue.startswith("hipparcos.main")
    run_coroutine(page.load_catalogue())
    assert len(page.rows) == 117_955
    # The search centred the map on M 1 (SIN), and a catalogue keeps the field.
    assert page.map.projection == "Orthographic (SIN)"
    assert page.map.centre == pytest.approx((83.633, 22.0145), abs=1e-3)
    page.map.whole_sky()
    assert page.map.projection == "Aitoff" and page.map.view is None
    selected = page.map.select_box(-90, -10, -75, 10)
    assert page.selection == selected and len(selected) > 100
    page.cart_name = "sky"
    run_coroutine(page.add_to_cart())
    assert "cart sky" in page.map.layers_shown
    assert page.overlaps.overlap is None  # no overlap worked out before B is chosen
    page.overlaps.param.update(overlap_a="cart sky", overlap_b="Hipparcos-2 (cone search)")
    assert page.overlaps.overlap == pytest.approx(sky.area_deg2(page.map.layers["cart sky"]),
                                                  rel=1e-6)
    assert page.selection_moc().sky_fraction > 0
    as_json = json.loads(page.selection_moc_bytes("json"))
    assert set(as_json) <= {str(o) for o in range(30)} and as_json
    fits_path = tmp_path / "selection.fits"
    fits_path.write_bytes(page.selection_moc_bytes("fits"))
    assert MOC.from_fits(str(fits_path)) == page.selection_moc()
    page.zoom.target = "M 42"
    run_coroutine(page.zoom.zoom())
    assert page.map.view is not None and page.map.projection == "Orthographic (SIN)"
    page.zoom.target = "x' OR 'a'='a"
    run_coroutine(page.zoom.zoom())
    assert page.notice.kind == "danger"


def test_one_million_points_reproject_once(profile: Profile) -> None:
    rng = np.random.default_rng(3)
    n = 1_000_000
    skymap = SkyMap(results=Table({"ra": rng.uniform(0, 360, n),
                                   "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n)))}))
    first = skymap.positions()
    started = time.perf_counter()
    assert skymap.positions() is first  # cached per result set and map
    assert time.perf_counter() - started < 0.01


def test_the_catalogue_list_names_each_table_once_and_cart_rows_keep_their_query(
        profile: Profile, tmp_path) -> None:
    from esap_dash.core.cart import Cart
    from esap_dash.core.notebook import cart_notebook
    from esap_dash.core.provenance import Provenance

    tap = profile.service("dachs-tap")
    twice = replace(profile, database=f"sqlite:///{tmp_path}/sky.db", services=(
        *profile.services, replace(tap, id="dachs-tap-2", name="Same TAP again")))
    page = SkyPage(profile=twice)
    sky_catalogue_to_cart(page, "from the sky")
    tables = [name.split(" (")[0] for name in page.param.catalogue.objects]
    assert len(tables) == len(set(tables)) and "hipparcos.main" in tables
    items = Cart.open("from the sky", profile=twice).items()
    assert {i.archive for i in items} == {tap.name}
    # Named as astronomers name them (the profile's designation), not by table.
    assert all(i.title == f"HIP {json.loads(i.record)['hip']}" for i in items)
    record = Provenance.from_json(items[0].query)
    assert record.activity == "catalogue" and record.maxrec == page.row_limit
    service = record.service(tap.name)
    assert (service.kind, service.url, service.table) == ("tap", tap.url, "hipparcos.main")
    assert service.asked.startswith("SELECT hip AS id, ra_icrs AS ra")
    source = "\n".join(c.source for c in cart_notebook(Cart.open("from the sky", profile=twice))
                       .cells)
    assert "FROM hipparcos.main WHERE hip IN" in source


def test_catalogue_rows_are_titled_by_their_designation_and_a_row_without_id_says_so() -> None:
    from esap_dash.core.catalogues import catalogue_rows

    answer = Table({"id": np.ma.MaskedArray([4295806720, 0], mask=[False, True]),
                    "ra": [45.0, 46.0], "dec": [0.1, 0.2]})
    named = catalogue_rows(answer, "TAP", "gaia.main", "http://tap", designation="Gaia DR3")
    assert list(named["title"]) == ["Gaia DR3 4295806720", "gaia.main row without an identifier"]
    assert list(named["id"]) == ["4295806720", ""] and named.meta["catalogue"] == "gaia.main"
    plain = catalogue_rows(answer[:1], "TAP", "gaia.main", "http://tap")
    assert plain["title"][0] == "gaia.main 4295806720"


def test_points_have_the_colour_the_legend_gives_their_archive() -> None:
    import holoviews as hv
    from bokeh.models import CategoricalColorMapper, GlyphRenderer

    from esap_dash.ui.components import SkyMap as ExportedSkyMap

    assert ExportedSkyMap is SkyMap  # as the README shows it
    # Rows met in the other order than the archives' names sort.
    table = Table({"archive": ["OpenNGC", "Hipparcos-2", "OpenNGC"],
                   "title": ["a", "b", "c"], "ra": [56.75, 56.6, 56.9],
                   "dec": [24.1, 24.0, 24.2]})
    skymap = SkyMap(results=table)
    plot = hv.render(skymap.overlay())
    sources = [r.data_source.data for r in plot.select(type=GlyphRenderer)
               if "archive" in r.data_source.data and len(r.data_source.data["archive"])]
    assert sources
    mappers = list(plot.select(type=CategoricalColorMapper))
    drawn = {f: c for m in mappers for f, c in zip(m.factors, m.palette, strict=False)}
    for data in sources:
        archives = list(data["archive"])
        assert sorted(archives) == sorted(table["archive"])
        for archive, value in zip(archives, data["colour"], strict=True):
            assert drawn[value] == skymap.colours[archive]
    legend = skymap.__panel__()[1].object
    for archive, colour in skymap.colours.items():
        assert f'color:{colour}">●</span> {archive}' in legend


def test_a_new_large_result_set_is_drawn_where_its_rows_are_on_the_drawn_map() -> None:
    from esap_dash.ui.components.sky_map import SHADE_FROM

    rng = np.random.default_rng(5)
    n = SHADE_FROM + 5000

    def rows(dec0: float, archive: str) -> Table:
        return Table({"ra": rng.uniform(0, 360, n), "dec": rng.uniform(dec0, dec0 + 20, n),
                      "archive": [archive] * n})

    skymap = SkyMap(results=rows(40, "north"))
    pn.panel(skymap).get_root()  # drawn, as in a session
    plot = next(iter(skymap._pane._plots.values()))[0]
    rgb = next(p for p in plot.subplots.values() if type(p).__name__ == "RGBPlot")

    def drawn_rows() -> tuple[float, float, np.ndarray]:
        data = rgb.handles["source"].data
        image = data["image"][0]
        ys = data["y"][0] + (np.arange(image.shape[0]) + 0.5) * data["dh"][0] / image.shape[0]
        alpha = (image.view(np.uint8).reshape(*image.shape, 4)[..., 3] > 0).any(axis=1)
        return data["x"][0], data["dw"][0], ys[alpha]

    x0, width, ys = drawn_rows()
    assert ys.min() > 30 and x0 < -170 and x0 + width > 170
    skymap.set_results(rows(-60, "south"))
    assert skymap.colours == {"south": skymap.colours["south"]}
    x0, width, ys = drawn_rows()  # the same canvas, all the sky, now the south
    assert ys.max() < -30 and x0 < -170 and x0 + width > 170
    assert "south (" in skymap.__panel__()[1].object and "north" not in skymap.__panel__()[1].object


def test_a_zoom_shades_the_new_window_and_lists_its_points_for_hover() -> None:
    import holoviews as hv
    from bokeh.models import ColumnDataSource

    from esap_dash.ui.components.sky_map import HOVER_LIMIT, SHADE_FROM

    rng = np.random.default_rng(7)
    n = SHADE_FROM + 10_000
    table = Table({"ra": rng.uniform(0, 360, n), "dec": np.degrees(np.arcsin(
        rng.uniform(-1, 1, n))), "archive": ["synthetic"] * n,
                   "title": [f"star {i}" for i in range(n)]})
    skymap = SkyMap(results=table)
    root = pn.panel(skymap).get_root()  # drawn, as in a session
    sources = list(root.select({"type": ColumnDataSource}))
    image = next(s for s in sources if "dw" in s.data)
    hover = next(s for s in sources
                 if set(s.data) == {"x", "y", "archive", "title", "where"})
    # What a zoom in the browser does: the map's range streams move.
    ranges = [s for group in hv.streams.Stream.registry.values() for s in group
              if isinstance(s, hv.streams.RangeXY)
              and any(getattr(f, "__self__", None) is skymap for f in s.subscribers)]
    assert ranges
    for window, heights, listed in (((-60.0, -40.0), (-10.0, 0.0), True),
                                    ((-185.0, 185.0), (-95.0, 95.0), False)):
        for stream in ranges:
            stream.event(x_range=window, y_range=heights)
        assert (image.data["x"][0], image.data["dw"][0]) == (window[0], window[1] - window[0])
        assert (image.data["image"][0] != 0).any()
        pos = skymap.positions()
        inside = ((pos.x >= window[0]) & (pos.x <= window[1]) & (pos.y >= heights[0])
                  & (pos.y <= heights[1]))
        expected = {f"star {i}" for i in np.flatnonzero(inside)}
        assert 0 < len(expected) <= HOVER_LIMIT if listed else len(expected) > HOVER_LIMIT
        assert set(hover.data["title"]) == (expected if listed else set())


def test_a_zoom_on_a_large_column_plot_shades_the_stars_of_the_new_window() -> None:
    import holoviews as hv
    from bokeh.models import ColumnDataSource

    from esap_dash.ui.components.column_plot import SHADE_FROM, ColumnPlot

    rng = np.random.default_rng(3)
    n = SHADE_FROM + 10_000
    columns = Table({"b_v": rng.uniform(-0.3, 2.0, n), "mag": rng.uniform(-5, 15, n)})
    columns["b_v"][:100] = 2.5  # a clump of red supergiants, apart from the rest
    columns["mag"][:100] = -7.0
    columns.meta["units"] = {"mag": "mag"}
    plot = ColumnPlot(columns=columns)
    root = pn.panel(plot).get_root()  # drawn, as in a session
    assert plot.bright_up  # a magnitude along y: bright up
    image = next(s for s in root.select({"type": ColumnDataSource}) if "dw" in s.data)
    ranges = [s for group in hv.streams.Stream.registry.values() for s in group
              if isinstance(s, hv.streams.RangeXY)
              and any(getattr(f, "__self__", None) is plot for f in s.subscribers)]
    assert ranges
    # What a zoom on the clump does in the browser (y from high to low: inverted).
    for stream in ranges:
        stream.event(x_range=(2.45, 2.55), y_range=(-6.95, -7.05))
    data = image.data
    assert (data["x"][0], data["y"][0]) == (2.45, -7.05)
    assert data["dw"][0] == pytest.approx(0.1) and data["dh"][0] == pytest.approx(0.1)
    pixels = data["image"][0].view(np.uint8).reshape(*data["image"][0].shape, 4)
    lit = np.argwhere(pixels[..., 3] > 0)
    assert len(lit) and (np.ptp(lit, axis=0) <= 6).all()  # the clump, in one spot
    assert (np.abs(lit.mean(axis=0) - np.array(pixels.shape[:2]) / 2) < 4).all()  # centred


def test_a_colour_magnitude_diagram_of_search_results_selects_the_same_rows_everywhere(
        profile: Profile) -> None:
    from esap_dash.core.explore import plot_columns

    discovery = DiscoveryPage(profile=profile, target="56.75 24.12", radius=2.0)
    run_coroutine(discovery.search())
    page = SkyPage(profile=profile, discovery=discovery)
    run_coroutine(page.columns.show())
    plot = page.columns.plot
    stars = page.rows["archive"] == "Hipparcos-2 (cone search)"
    assert stars.sum() > 20 and (~stars).sum() > 0  # other archives' rows have no colour
    # The CMD of the Hipparcos stars: B-V against Hp, bright up, units from the archive.
    assert (plot.x, plot.y, plot.bright_up) == ("b_v", "hpmag", True)
    assert (plot.label("b_v"), plot.label("hpmag")) == ("b_v [mag]", "hpmag [mag]")
    columns = plot_columns(page.rows)
    hpmag = np.asarray(columns["hpmag"])
    assert np.isfinite(hpmag[stars]).all() and np.isnan(hpmag[~stars]).all()
    # A lasso around the bright stars on the plot selects them on the map and the table.
    bright = plot.select_polygon(np.array([-1, 3, 3, -1]), np.array([-2, -2, 6, 6]))
    assert bright == np.flatnonzero(stars & (hpmag < 6)).tolist() and bright
    assert page.map.selection == bright and page.selection == bright
    # ... and the other way round, from the map, and from a histogram's bins.
    chosen = page.map.select_box(-200, -100, 200, 100)
    assert plot.selection == chosen == page.selection and len(chosen) == len(page.rows)
    plot.kind = "Histogram"
    plot.x = "hpmag"
    assert plot.select_range(0, 5) == np.flatnonzero(stars & (hpmag <= 5)).tolist()
    assert page.map.selection == plot.selection


def test_whole_hipparcos_gives_its_hr_diagram_and_a_lasso_lists_only_its_stars(
        profile: Profile) -> None:
    """A whole catalogue brought only positions (no HR diagram of Hipparcos), and a
    lasso of a few stars among 117,955 rows jumped to a table page showing two."""
    page = SkyPage(profile=profile, source=CATALOGUE)
    run_coroutine(page.list_catalogues())
    assert page.catalogue.startswith("hipparcos.main")
    run_coroutine(page.load_catalogue())
    assert len(page.rows) == 117_955
    # Magnitudes, colours and parallaxes by UCD, with TAP_SCHEMA's units.
    assert set(page.catalogue_columns) == {"hpmag", "b_v", "v_i", "plx"}
    assert page.rows["plx"].unit == "mas" and page.rows["b_v"].meta["ucd"].startswith("phot.col")
    run_coroutine(page.columns.show())
    plot = page.columns.plot
    assert (plot.x, plot.y) == ("b_v", "hpmag")
    # The absolute magnitude, derived as in TOPCAT, drawn bright up.
    assert plot.add_column("M_Hp = hpmag + 5*log10(plx/100)") == "M_Hp"
    assert (plot.y, plot.bright_up, plot.label("M_Hp")) == ("M_Hp", True, "M_Hp [mag]")
    bv, absolute = (np.asarray(plot.columns[c], float) for c in ("b_v", "M_Hp"))
    plx = np.asarray(page.rows["plx"], float)
    near = plx > 20  # parallaxes good to a few per cent
    # The main sequence: Sun-like colours (B-V 0.6-0.7) at M ~ 4.5-5 ...
    sunlike = near & (bv > 0.6) & (bv < 0.7)
    assert 4.0 < float(np.nanmedian(absolute[sunlike])) < 5.5
    # ... and the giant branch: most stars of B-V 1.0-1.2 are red-clump giants at M ~ 1.
    red = (plx > 5) & (bv > 1.0) & (bv < 1.2)
    assert np.mean(absolute[red] < 2.5) > 0.5
    # A lasso around the brightest giants: only they are listed, and on the map.
    chosen = plot.select_polygon(np.array([1.0, 1.6, 1.6, 1.0]), np.array([-3, -3, -1.5, -1.5]))
    assert 0 < len(chosen) < 2000
    assert page.map.selection == chosen and list(page.table.listed.index) == chosen
    page.map.selection = []
    assert len(page.table.listed) == 117_955
    # A definition that cannot be computed is said; nothing changes.
    assert plot.add_column("M = hpmag + __import__('os')") is None
    assert "not allowed" in plot.notice.text and plot.y == "M_Hp"


def test_gaia_dr3_to_g_10_is_published_with_its_photometry(profile: Profile) -> None:
    """The stack's largest catalogue: Gaia DR3 to G = 10 (the package names its BP and
    RP columns pmra and pmdec), offered on the Sky page with its magnitudes."""
    tap = profile.service("dachs-tap").connector()
    counts = tap.run_sync("SELECT COUNT(*) AS n, COUNT(hip) AS hip FROM gaia.main")
    assert (int(counts["n"][0]), int(counts["hip"][0])) == (482_176, 70)
    barnard = tap.run_sync("SELECT * FROM gaia.main WHERE source_id = 4472832130942575872")
    # Gaia DR3's G, BP and RP of Barnard's star, at its J2016 position.
    assert [float(barnard[c][0]) for c in ("phot_g_mean_mag", "phot_bp_mean_mag",
                                           "phot_rp_mean_mag", "ra", "dec")] == pytest.approx(
        [8.194, 9.792, 6.958, 269.4485, 4.7394], abs=1e-3)
    sirius = tap.run_sync("SELECT * FROM gaia.main WHERE hip = 32349")
    assert np.ma.is_masked(sirius["source_id"][0]) and np.ma.is_masked(sirius["bp_rp"][0])
    page = SkyPage(profile=profile, source=CATALOGUE)
    run_coroutine(page.list_catalogues())
    page.catalogue = next(c for c in page.param.catalogue.objects if c.startswith("gaia.main"))
    run_coroutine(page.list_columns())
    assert set(page.catalogue_columns) == {"phot_g_mean_mag", "phot_bp_mean_mag",
                                           "phot_rp_mean_mag", "bp_rp"}


@pytest.mark.parametrize("frame", ["icrs", "galactic"])
def test_the_local_hips_is_drawn_where_the_plates_wcs_puts_it(profile: Profile,
                                                              frame: str) -> None:
    from astropy.coordinates import SkyCoord
    from astropy.wcs import WCS

    from esap_dash.core.survey import Survey, render

    svc = profile.service("plates")
    survey = Survey.open(svc.name, svc.connector())
    assert (survey.tile_format, survey.frame) == ("fits", "icrs") and survey.coverage
    # A window of 0.4 x 0.2 projected degrees around M1 on the Aitoff map.
    m1 = SkyCoord(83.633, 22.0145, unit="deg").transform_to(frame)
    lon, lat = m1.spherical.lon.deg, m1.spherical.lat.deg
    wcs = sky.sky_wcs("Aitoff", frame)
    x, y = (v[0] for v in sky.project(wcs, np.array([lon]), np.array([lat])))
    window = ((x - 0.2, x + 0.2), (y - 0.1, y + 0.1))
    image, order = render(survey, "Aitoff", frame, window, (400, 200))
    assert 0 < order <= survey.order
    rgba = image.view(np.uint8).reshape(200, 400, 4)
    drawn = rgba[..., 3] > 0
    # Each drawn pixel shows the plate's own pixel at that place on the sky.
    gx, gy = np.meshgrid(x - 0.2 + (np.arange(400) + 0.5) * 0.001,
                         y - 0.1 + (np.arange(200) + 0.5) * 0.001)
    # The POSS-I plate of M1 as astroquery ships it (what the stack's HiPS is made of).
    plate_path = resources.files("astroquery").joinpath("ipac/ned/tests/data/query_images.fits")
    with fits.open(io.BytesIO(plate_path.read_bytes())) as hdul:
        plate, plate_wcs = hdul[0].data.astype(float), WCS(hdul[0].header)
    sky_lon, sky_lat = wcs.wcs_pix2world(gx.ravel(), gy.ravel(), 1)
    px, py = plate_wcs.world_to_pixel(SkyCoord(sky_lon, sky_lat, unit="deg", frame=frame))
    inside = ((px > 1) & (py > 1) & (px < plate.shape[1] - 2) & (py < plate.shape[0] - 2))
    assert drawn.ravel()[inside].mean() > 0.99  # the whole plate is there ...
    assert drawn.ravel()[~inside].mean() < 0.02  # ... and nothing around it
    both = inside & drawn.ravel()
    values = plate[np.round(py[both]).astype(int), np.round(px[both]).astype(int)]
    assert np.corrcoef(values, rgba[..., 0].ravel()[both])[0, 1] > 0.9


def test_the_all_sky_hipparcos_surveys_cover_the_sky_with_its_stars(profile: Profile) -> None:
    from esap_dash.core.survey import Survey, render

    stars = Survey.open("stars", profile.service("hipparcos-stars").connector())
    assert (stars.tile_format, stars.order) == ("png", 3)
    assert stars.coverage.sky_fraction == 1.0
    # The whole Aitoff disc is drawn: no pixel of the sky without background.
    image, order = render(stars, "Aitoff", "icrs", ((-185, 185), (-95, 95)), (740, 380))
    assert order == 0
    rgba = image.view(np.uint8).reshape(380, 740, 4)
    xs, ys = np.meshgrid(-185 + (np.arange(740) + 0.5) / 2, -95 + (np.arange(380) + 0.5) / 2)
    with np.errstate(invalid="ignore"):
        lon, _ = sky.sky_wcs("Aitoff", "icrs").wcs_pix2world(xs.ravel(), ys.ravel(), 1)
    on_sky = np.isfinite(lon).reshape(xs.shape)
    assert (rgba[..., 3][on_sky] == 255).all() and (rgba[..., 3][~on_sky] == 0).all()
    # Betelgeuse (B-V 1.85) is drawn red and Rigel (B-V -0.03) blue, each brighter
    # than the sky around it, where Hipparcos puts them.
    wcs = sky.sky_wcs("Aitoff", "icrs")
    for ra, dec, reddest in ((88.7929, 7.4071, True), (78.6345, -8.2016, False)):
        x, y = (float(v[0]) for v in sky.project(wcs, [ra], [dec]))
        image, order = render(stars, "Aitoff", "icrs", ((x - 1, x + 1), (y - 1, y + 1)),
                              (101, 101))
        assert order == 3
        rgb = image.view(np.uint8).reshape(101, 101, 4)[..., :3].astype(int)
        centre = rgb[50, 50]
        assert centre.sum() > 300 and np.median(rgb.sum(axis=-1)) < 30
        assert (centre[0] > centre[2] + 40) if reddest else (centre[2] > centre[0])
    # Zoomed to 0.2 deg (past the deepest tiles' 1.7' pixels), Betelgeuse is drawn
    # between tile pixels: no step between neighbouring map pixels (blocks of one
    # colour step by 12 levels here).
    image, order = render(stars, "Orthographic (SIN)", "icrs", ((-0.1, 0.1), (-0.1, 0.1)),
                          (200, 200), centre=(88.7929, 7.4071))
    rgb = image.view(np.uint8).reshape(200, 200, 4)[..., :3].astype(int)
    assert order == 3 and rgb.max() > 150
    assert max(np.abs(np.diff(rgb, axis=a)).max() for a in (0, 1)) <= 3
    # The density survey counts every star once: its values times the pixels' areas.
    density = profile.service("hipparcos-density").connector()
    assert density.properties()["hips_tile_format"] == "fits"
    tiles = np.array([density.tile(0, cell) for cell in range(12)])
    pixel_deg2 = sky.FULL_SKY_DEG2 / tiles.size
    assert round(float(tiles.sum(dtype=float)) * pixel_deg2) == 117_955


def test_a_survey_without_a_tile_or_a_server_is_said_plainly(profile: Profile) -> None:
    from connectors.exceptions import ServiceUnavailableError
    from connectors.hips import HiPSConnector

    svc = profile.service("plates")
    assert svc.connector().tile(3, 0, "fits") is None  # outside its coverage
    assert svc.connector().health().up
    skymap = SkyMap()
    from esap_dash.core.survey import Survey

    dead = HiPSConnector("http://127.0.0.1:9/hips", timeout=2)
    with pytest.raises(ServiceUnavailableError):
        Survey.open("dead", dead)
    survey = Survey.open(svc.name, svc.connector())
    survey.connector = dead  # the server went away after the survey was listed
    skymap.set_surveys({"plates": survey})
    skymap.survey = "plates"
    assert skymap.survey_note.startswith("plates: ") and "refused" in skymap.survey_note


def test_a_field_is_drawn_in_sin_centred_on_it_and_kept_across_frames_and_projections(
        ) -> None:
    from astropy.coordinates import SkyCoord
    from astropy.wcs import WCS

    skymap = SkyMap(results=Table({"ra": [83.633], "dec": [22.0145]}))
    skymap.zoom_to(83.633, 22.0145, 2.0)
    assert skymap.projection == "Orthographic (SIN)"
    # The window holds 2 degrees of sky across ("a field of view of 0.15 deg showed
    # about 1 deg").
    x0, x1, y0, y1 = skymap.view
    wcs = skymap.wcs()
    (ra0, ra1), (dec0, dec1) = wcs.wcs_pix2world([x0, x1], [(y0 + y1) / 2] * 2, 1)
    across = SkyCoord(ra0, dec0, unit="deg").separation(SkyCoord(ra1, dec1, unit="deg"))
    assert across.deg == pytest.approx(2.0, rel=0.01)
    # A cone stays round (on the Aitoff map centred on 0h it was an ellipse) ...
    ring = sky.circle(83.633, 22.0145, 0.5)
    for projection_wcs, roundness in ((wcs, 1e-4), (sky.sky_wcs("Aitoff", "icrs"), None)):
        x, y = sky.project(projection_wcs, ring[:, 0], ring[:, 1])
        cx, cy = sky.project(projection_wcs, [83.633], [22.0145])
        r = np.hypot(x - cx[0], y - cy[0])
        if roundness is not None:
            assert np.ptp(r) / r.mean() < roundness
        else:
            assert np.ptp(r) / r.mean() > 0.2
    # ... and the POSS-I plate of M1 a rectangle (right angles, as on the plate).
    plate = resources.files("astroquery").joinpath("ipac/ned/tests/data/query_images.fits")
    with fits.open(io.BytesIO(plate.read_bytes())) as hdul:
        plate_wcs, (ny, nx) = WCS(hdul[0].header), hdul[0].data.shape
    corners = plate_wcs.pixel_to_world([0, nx, nx, 0], [0, 0, ny, ny]).icrs
    x, y = sky.project(wcs, corners.ra.deg, corners.dec.deg)
    edges = np.column_stack([np.roll(x, -1) - x, np.roll(y, -1) - y])
    cosines = [abs(np.dot(edges[i], edges[i - 1])) / np.linalg.norm(edges[i])
               / np.linalg.norm(edges[i - 1]) for i in range(4)]
    assert max(cosines) < 0.01  # within about half a degree of square
    width = x1 - x0
    for projection, frame in (("Orthographic (SIN)", "galactic"), ("Aitoff", "galactic"),
                              ("Mollweide", "icrs"), ("Orthographic (SIN)", "icrs")):
        skymap.param.update(projection=projection, frame=frame)
        x0, x1, y0, y1 = skymap.view
        assert x1 - x0 == pytest.approx(width)
        lon, lat = skymap.wcs().wcs_pix2world([(x0 + x1) / 2], [(y0 + y1) / 2], 1)
        centre = SkyCoord(lon[0], lat[0], unit="deg", frame=frame)
        assert centre.separation(SkyCoord(83.633, 22.0145, unit="deg")).arcsec < 0.01
    assert (x0 + x1) / 2 == pytest.approx(0, abs=1e-9)  # SIN: the field is the centre
    skymap.whole_sky()
    assert (skymap.projection, skymap.view) == ("Mollweide", None)
    # A field wider than a hemisphere is drawn in the all-sky projection, from SIN too.
    skymap.zoom_to(83.633, 22.0145, 1.0)
    skymap.zoom_to(83.633, 22.0145, 120.0)
    assert skymap.projection == "Mollweide"
    x0, x1, y0, y1 = skymap.view
    lon, lat = skymap.wcs().wcs_pix2world([(x0 + x1) / 2], [(y0 + y1) / 2], 1)
    assert SkyCoord(lon[0], lat[0], unit="deg").separation(
        SkyCoord(83.633, 22.0145, unit="deg")).arcsec < 0.01


@pytest.mark.parametrize(("frame", "centre", "fov"),
                         [("icrs", (83.633, 22.0145), 0.2), ("icrs", (83.633, 22.0145), 6),
                          ("icrs", (0.5, -30.0), 20), ("galactic", (0.0, 89.5), 4)])
def test_a_fields_grid_is_labelled_in_sexagesimal_where_its_lines_are(
        frame: str, centre: tuple[float, float], fov: float) -> None:
    from astropy.coordinates import Angle

    wcs = sky.sky_wcs("Orthographic (SIN)", frame, centre)
    window = ((-fov / 2, fov / 2), (-fov / 4, fov / 4))
    lines, labels = sky.field_graticule(wcs, frame, window)
    lons = [t for t in labels if not t[2].startswith(("+", "-"))]
    lats = [t for t in labels if t[2].startswith(("+", "-"))]
    assert 3 <= len(lons) <= 16 and 2 <= len(lats) <= 10 and len(lines) >= len(labels)
    for x, y, text in labels:
        assert -fov / 2 <= x <= fov / 2 and -fov / 4 <= y <= fov / 4
        lon, lat = (float(v[0]) for v in wcs.wcs_pix2world([x], [y], 1))
        if text.startswith(("+", "-")):
            value = Angle(text.replace("′", "m").replace("″", "s").replace("°", "d")).deg
            assert lat == pytest.approx(value, abs=1e-6)
        elif frame == "icrs":
            value = Angle(text, unit="hourangle").deg
            assert (lon - value + 180) % 360 - 180 == pytest.approx(0, abs=1e-6)
        else:
            assert (lon - float(text.rstrip("°")) + 180) % 360 - 180 == pytest.approx(
                0, abs=1e-6)


def test_the_preview_fetches_the_deployments_images_and_no_other_local_address(
        profile: Profile) -> None:
    from urllib.parse import urljoin

    from esap_dash.ui.components.fits_preview import FitsPreview

    page = SkyPage(profile=profile)
    archive = profile.by_role("archive")[0].url  # DaCHS, on this machine
    assert profile.serves(urljoin(archive, "/getproduct/images/data/poss_m1.fits"))
    assert not profile.serves(urljoin(archive, "//127.0.0.1:9/x.fits"))
    # An archive's row naming another local address (an internal service): refused
    # before anything is sent, with the reason; nothing is drawn.
    for url in ("http://127.0.0.1:9/secret.fits", "http://localhost:5432/x.fits",
                "http://169.254.169.254/latest/meta-data"):
        shown = run_coroutine(page.preview.show(url))
        assert shown is False and page.preview.path is None
        said = page.preview.notice.text
        assert "public" in said and "refused" not in said, said
    assert not FitsPreview().trusted(archive)  # alone, a preview trusts nothing local


def test_the_fits_inspector_gives_each_pixels_value_and_sky_position(profile: Profile) -> None:
    """The preview was a static picture: no pan, zoom or pixel values."""
    from urllib.parse import urljoin

    from astropy.coordinates import SkyCoord
    from astropy.wcs import WCS
    from astropy.wcs.utils import proj_plane_pixel_scales

    from esap_dash.ui.components.fits_preview import FitsPreview, pixel_grid

    url = urljoin(profile.by_role("archive")[0].url, "/getproduct/images/data/poss_m1.fits")
    preview = FitsPreview(trusted=profile.serves)
    assert run_coroutine(preview.show(url, title="POSS-I E, Messier 1"))
    image = preview.inspector.object
    assert [d.name for d in image.vdims] == ["value", "ra", "dec"]
    grid = pixel_grid(preview.path)
    step = grid["step"]
    with fits.open(preview.path) as hdul:
        data, wcs = hdul[0].data, WCS(hdul[0].header)
    i, j = grid["value"].shape[0] // 2, grid["value"].shape[1] // 3
    assert grid["value"][i, j] == pytest.approx(float(data[i * step, j * step]))
    ra, dec = wcs.pixel_to_world_values(j * step, i * step)
    here = SkyCoord(float(grid["ra"][i, j]), float(grid["dec"][i, j]), unit="deg")
    assert here.separation(SkyCoord(ra, dec, unit="deg")).arcsec < 0.1
    # M 1 is on the plate: the pixel nearest to it is where the WCS puts it.
    x, y = wcs.world_to_pixel_values(83.633, 22.0145)
    near = (round(float(y) / step), round(float(x) / step))
    m1 = SkyCoord(float(grid["ra"][near]), float(grid["dec"][near]), unit="deg")
    pixel = float(proj_plane_pixel_scales(wcs.celestial).max()) * 3600 * step  # arcsec
    assert m1.separation(SkyCoord(83.633, 22.0145, unit="deg")).arcsec < pixel
