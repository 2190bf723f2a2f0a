"""The Sky page in a real browser: Hipparcos on the all-sky map, zoom, lasso, cart coverage,
and a FITS preview with WCS axes.  Screenshots are kept in var/test-artifacts."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from ..conftest import ARTIFACTS
from .conftest import tick

pytestmark = pytest.mark.browser


def map_canvas(page):
    """The map's plot (the first Bokeh plot of the page)."""
    return page.locator(".bk-Canvas").first


SHADED_WIDTH = """({lo, hi}) => {
    let width = null;  // of the newest datashaded image (models are listed oldest first)
    for (const doc of Bokeh.documents) {
        for (const model of doc._all_models.values()) {
            const data = model.data;
            if (data === undefined || data === null) continue;
            const get = (key) => data instanceof Map ? data.get(key) : data[key];
            if (get("dw") === undefined) continue;
            const image = get("image")[0];
            if (image.shape && image.shape[1] > 1) width = get("dw")[0];
        }
    }
    return width !== null && width >= lo && width <= hi;
}"""


def wait_drawn(page, lo: float = 0.0, hi: float = 1e9) -> None:
    """Wait until the browser has a datashaded image of the map whose window is
    between ``lo`` and ``hi`` projected degrees wide (the server aggregates
    after the plot arrives, and again after each zoom)."""
    page.wait_for_function(SHADED_WIDTH, arg={"lo": lo, "hi": hi}, timeout=60_000)


def sky_after_search(page, served_app: str, query: str, archives: str = r"\d+") -> None:
    """Search on the Discovery page (until rows from ``archives`` are in), then show
    the results on the Sky page."""
    page.goto(served_app + f"?page=discovery&{query}")
    page.get_by_text(re.compile(rf"rows from {archives} archives")).wait_for(timeout=60_000)
    page.get_by_role("button", name="Sky").click()
    page.get_by_text(re.compile(r"\d+ rows on the map")).wait_for(timeout=30_000)


def tick_crab_image(page) -> None:
    """Tick the UKIDSS image of the Crab in the Sky page's table."""
    tick(page.locator(".tabulator-row", has=page.locator(
        ".tabulator-cell", has_text="UKIDSS K-band, Crab Nebula field")).first)


def test_hipparcos_zoom_lasso_and_cart_coverage(served_app: str, page) -> None:
    page.goto(served_app + "?page=sky")
    page.get_by_text("Whole catalogue (TAP)").click()
    page.get_by_role("button", name="Load catalogue").click()
    page.get_by_text("117,955 rows on the map").wait_for(timeout=90_000)
    page.get_by_text("hipparcos.main of Local DaCHS ObsCore (TAP) (117,955)").wait_for(
        timeout=30_000)
    wait_drawn(page)
    canvas = map_canvas(page)
    before = canvas.screenshot(path=str(ARTIFACTS / "sky-hipparcos.png"))
    box = canvas.bounding_box()
    centre = (box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    page.mouse.move(*centre)
    for _ in range(4):
        page.mouse.wheel(0, -300)
        time.sleep(0.3)
    wait_drawn(page, hi=300)  # the server aggregates again for the new window
    zoomed = canvas.screenshot(path=str(ARTIFACTS / "sky-zoomed.png"))
    assert zoomed != before
    page.get_by_role("button", name="Whole sky").click()
    wait_drawn(page, lo=360)
    # Lasso around Orion (RA 5-6h, Dec -10..+10, left of the centre).
    page.locator(".bk-tool-icon-lasso-select").first.click()
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.32, box["y"] + box["height"] * 0.45
    page.mouse.move(x0, y0)
    page.mouse.down()
    for dx, dy in ((40, 0), (40, 40), (0, 40), (0, 0)):
        page.mouse.move(x0 + dx, y0 + dy, steps=5)
    page.mouse.up()
    message = page.get_by_text(re.compile(r"[\d,]+ rows selected on the map"))
    message.wait_for(timeout=30_000)
    selected = int(message.inner_text().split()[0].replace(",", ""))
    assert selected > 10
    page.locator(".tabulator-row.tabulator-selected").first.wait_for(timeout=20_000)
    name = page.get_by_label("Cart", exact=True)
    name.fill("sky test")
    name.press("Enter")
    page.get_by_role("button", name="Add selected rows to cart").click()
    page.get_by_text(f"Added {selected} rows to cart 'sky test'").wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"cart sky test \([\d.,]+ deg²\)")).wait_for(timeout=30_000)
    wait_drawn(page)
    canvas.screenshot(path=str(ARTIFACTS / "sky-cart-coverage.png"))
    page.get_by_label("Frame").select_option(label="Galactic")
    page.get_by_text("galactic longitude increases to the left").wait_for(timeout=60_000)
    wait_drawn(page)
    canvas.screenshot(path=str(ARTIFACTS / "sky-galactic.png"))


def test_zoom_to_target_whole_sky_and_view_switches(served_app: str, page) -> None:
    page.goto(served_app + "?page=sky")
    page.get_by_text("Whole catalogue (TAP)").click()
    page.get_by_role("button", name="Load catalogue").click()
    page.get_by_text("117,955 rows on the map").wait_for(timeout=90_000)
    wait_drawn(page)
    canvas = map_canvas(page)
    whole = canvas.screenshot()
    page.get_by_placeholder("M 1, 83.63 22.01").fill("M 1")
    page.get_by_role("button", name="Zoom to target").click()
    page.get_by_text(re.compile(r"M 1 → RA 83\.6")).wait_for(timeout=30_000)
    wait_drawn(page, hi=30)
    page.screenshot(path=str(ARTIFACTS / "sky-zoom-page.png"), full_page=True)
    zoomed = canvas.screenshot(path=str(ARTIFACTS / "sky-zoom-target.png"))
    assert zoomed != whole
    page.get_by_role("button", name="Whole sky").click()
    wait_drawn(page, lo=360)
    # A wheel zoom after that still draws a new aggregate.
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    for _ in range(3):
        page.mouse.wheel(0, -300)
        time.sleep(0.3)
    wait_drawn(page, hi=300)
    canvas.screenshot(path=str(ARTIFACTS / "sky-zoom-after-whole.png"))
    page.get_by_role("button", name="Mollweide").click()
    wait_drawn(page)
    page.get_by_label("Frame").select_option(label="Galactic")
    page.get_by_text("galactic longitude increases to the left").wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "sky-mollweide-galactic.png"), full_page=True)
    log = (ARTIFACTS / "server.log").read_text()
    assert "Bokeh.stylesheets" not in log, log[-3000:]


#: Where a data point of the map is on the page, and what the pointer readout says.
POINTER = """([x, y]) => {
    const view = Bokeh.index.query_one((v) => v.model.center !== undefined
        && v.model.center.some((r) => r.name === "pointer-readout"));
    if (view === null) return null;
    const rect = view.canvas_view.el.getBoundingClientRect();
    const label = view.model.center.find((r) => r.name === "pointer-readout");
    const degrees_per_pixel = (view.frame.x_range.end - view.frame.x_range.start)
        / view.frame.bbox.width;
    return {left: rect.left + view.frame.x_scale.compute(x),
            top: rect.top + view.frame.y_scale.compute(y), text: label.text,
            pixel: Math.abs(degrees_per_pixel)};
}"""


def test_the_pointer_reads_the_sky_position_it_is_on(served_app: str, page) -> None:
    """Zoomed on M 1, the readout under the pointer on M 1's place is M 1's position
    to better than an arcsecond (and a pixel)."""
    from astropy.coordinates import Angle, SkyCoord

    from esap_dash.core import sky
    from esap_dash.core.config import load_profile
    from esap_dash.ui.pages.base import Page

    m1 = Page(profile=load_profile("local")).resolver().resolve("M 1")
    sky_after_search(page, served_app, "target=M+1&radius=0.1")
    page.get_by_placeholder("M 1, 83.63 22.01").fill("M 1")
    fov = page.get_by_label("Field of view (deg)")
    fov.fill("0.05")
    fov.press("Enter")
    page.get_by_role("button", name="Zoom to target").click()
    # Zoomed to a field, the map is SIN centred on it.
    wcs = sky.sky_wcs("Orthographic (SIN)", "icrs", (m1.ra, m1.dec))
    x, y = (float(v[0]) for v in sky.project(wcs, [m1.ra], [m1.dec]))
    # 0.05 deg of sky across the map: well under an arcsecond per pixel.
    zoomed = f"() => {{ const w = ({POINTER})([{x}, {y}]); return w !== null && w.pixel < 1e-4; }}"
    page.wait_for_function(zoomed, timeout=30_000)
    map_canvas(page).scroll_into_view_if_needed()
    where = page.evaluate(POINTER, [x, y])
    page.mouse.move(where["left"], where["top"])
    page.wait_for_function(f"() => ({POINTER})([{x}, {y}]).text.startsWith('RA ')",
                           timeout=20_000)
    text = page.evaluate(POINTER, [x, y])["text"]
    found = re.fullmatch(r"RA (\S+)  Dec (\S+)  \(ICRS\)", text)
    assert found, text
    read = SkyCoord(Angle(found[1], "hourangle"), Angle(found[2], "deg"))
    error = read.separation(SkyCoord(m1.ra, m1.dec, unit="deg")).arcsec
    assert error < 1.0 + 1.5 * where["pixel"] * 3600, (text, error, where["pixel"] * 3600)
    map_canvas(page).screenshot(path=str(ARTIFACTS / "sky-pointer.png"))


#: The grid labels the map shows (the newest data source with texts) and its x range.
GRID = """() => {
    let labels = null;
    for (const doc of Bokeh.documents) {
        for (const model of doc._all_models.values()) {
            const data = model.data;
            if (data === undefined || data === null) continue;
            const text = data instanceof Map ? data.get("text") : data["text"];
            if (text !== undefined && text.length > 0) labels = Array.from(text);
        }
    }
    const view = Bokeh.index.query_one((v) => v.model.center !== undefined
        && v.model.center.some((r) => r.name === "pointer-readout"));
    if (view === null || labels === null) return null;
    return {labels: labels, x0: view.frame.x_range.start, x1: view.frame.x_range.end};
}"""


def test_a_search_centres_the_map_on_its_target_with_a_labelled_sky_grid(
        served_app: str, page) -> None:
    """After a search for M 1 the map is the orthographic projection centred on it
    (a cone round, a plate rectangular), about five cone radii wide, over the
    all-sky background, with a grid labelled in sexagesimal that follows a zoom."""
    sky_after_search(page, served_app, "target=M+1&radius=0.5")
    expect(page.locator(".bk-btn.bk-active", has_text="Orthographic (SIN)")).to_be_visible(
        timeout=30_000)
    page.get_by_text("Hipparcos stars (all-sky HiPS): Hipparcos-2 stars").wait_for(
        timeout=60_000)
    page.wait_for_function(f"""() => {{ const g = ({GRID})();
        return g !== null && g.labels.includes("+22°00′")
            && g.labels.some((t) => /^05h3[0-9]m/.test(t))
            && Math.abs(g.x0 + g.x1) < 0.01 && Math.abs(g.x1 - g.x0 - 2.5) < 0.1; }}""",
                           timeout=60_000)
    canvas = map_canvas(page)
    canvas.screenshot(path=str(ARTIFACTS / "sky-search-m1-sin.png"))
    before = page.evaluate(GRID)["labels"]
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    for _ in range(4):
        page.mouse.wheel(0, 300)
        time.sleep(0.3)
    # Zoomed out, the grid is drawn again at a coarser step, still in sexagesimal.
    page.wait_for_function("(before) => { const g = (" + GRID + """)();
        const sexagesimal = /^([0-9]{2}h([0-9]{2}m)?|[+-][0-9]+°([0-9]{2}′)?)$/;
        return g !== null && g.x1 - g.x0 > 5 && g.labels.length > 4
            && g.labels.every((t) => sexagesimal.test(t))
            && g.labels.join() !== before.join(); }""", arg=before, timeout=60_000)
    assert page.evaluate(GRID)["labels"] != before
    canvas.screenshot(path=str(ARTIFACTS / "sky-search-m1-sin-out.png"))


#: The fill colour a coverage layer is drawn in (its newest glyph), as rgb().
LAYER_FILL = """(name) => {
    let fill = null;
    for (const doc of Bokeh.documents) {
        for (const model of doc._all_models.values()) {
            if (model.data_source === undefined || model.glyph === undefined) continue;
            const data = model.data_source.data;
            const layer = data instanceof Map ? data.get("layer") : data["layer"];
            if (layer === undefined || !Array.from(layer).includes(name)) continue;
            let value = model.glyph.fill_color;
            if (value !== null && typeof value === "object" && "value" in value) {
                value = value.value;
            }
            fill = typeof value === "string" ? value : "not one colour";
        }
    }
    if (fill === null) return null;
    const probe = document.createElement("span");
    probe.style.color = fill;
    document.body.appendChild(probe);
    const drawn = getComputedStyle(probe).color;
    probe.remove();
    return drawn;
}"""
#: The labels of the ticked boxes of the page (the coverage layers shown, among others).
TICKED_LAYERS = """() => {
    const ticked = [];
    const walk = root => {
        for (const label of root.querySelectorAll(".bk-input-group label")) {
            if (label.querySelector("input:checked")) ticked.push(label.innerText.trim());
        }
        for (const element of root.querySelectorAll("*")) {
            if (element.shadowRoot) walk(element.shadowRoot);
        }
    };
    walk(document);
    return ticked;
}"""
#: The colour of a layer's mark (■; an archive's points have ●) in the map's legend.
LEGEND_MARK = """(legend, name) => {
    for (const span of legend.querySelectorAll("span")) {
        const next = span.nextSibling;
        if (span.textContent !== "■") continue;
        if (next !== null && next.textContent.trim().startsWith(name)) {
            return getComputedStyle(span).color;
        }
    }
    return null;
}"""


def test_coverage_layers_are_drawn_in_their_legends_colours(served_app: str, page) -> None:
    sky_after_search(page, served_app, "target=M+1&radius=0.5")
    page.get_by_role("button", name="Whole sky").click()
    names = ("results", "OpenNGC (cone search)", "Hipparcos-2 (cone search)")
    # Ticked until the ticks hold: a layer that arrives while the page still loads
    # redraws the list, and a tick on its way then is undone in the browser.
    for attempt in range(5):
        for name in names:
            box = page.locator(".bk-input-group label", has_text=name).first
            box.wait_for(timeout=60_000)
            if not box.locator("input").is_checked():
                box.locator("input").check()
        try:
            page.wait_for_function(
                f"(names) => names.every(n => ({TICKED_LAYERS})().includes(n))",
                arg=list(names), timeout=10_000)
            break
        except PlaywrightError:
            if attempt == 4:
                raise AssertionError(("ticks did not hold; ticked:",
                                      page.evaluate(TICKED_LAYERS))) from None
    colours = {}
    legend = page.locator(".esap-sky-legend").first
    for name in names:
        try:
            page.wait_for_function(f"(name) => ({LAYER_FILL})(name) !== null", arg=name,
                                   timeout=60_000)
        except PlaywrightError:  # what the page shows then, to tell why
            page.screenshot(path=str(ARTIFACTS / "sky-layers-failing.png"), full_page=True)
            ticked = page.evaluate(TICKED_LAYERS)
            raise AssertionError((name, "not drawn; ticked:", ticked, "legend:",
                                  legend.inner_text())) from None
        expect(legend).to_contain_text(name, timeout=30_000)
        drawn, mark = page.evaluate(LAYER_FILL, name), legend.evaluate(LEGEND_MARK, name)
        assert drawn == mark, (name, drawn, mark)
        colours[name] = drawn
    assert len(set(colours.values())) == len(names)  # each its own colour
    map_canvas(page).screenshot(path=str(ARTIFACTS / "sky-layers-legend.png"))


def test_fits_preview_with_wcs_axes(served_app: str, page) -> None:
    sky_after_search(page, served_app, "target=M+1&radius=0.5", archives="5")
    tick_crab_image(page)
    page.get_by_role("button", name="Preview image").click()
    page.get_by_text("WCS axes from the file's header").wait_for(timeout=60_000)
    image = page.locator("img[src^='data:image/png']").last
    image.wait_for(timeout=20_000)
    image.screenshot(path=str(ARTIFACTS / "sky-fits-preview.png"))
    page.screenshot(path=str(ARTIFACTS / "sky-search.png"), full_page=True)
    # The pixels: the value and sky position of the one under the pointer.
    plots = page.locator(".bk-Canvas")
    before = plots.count()
    page.locator(".bk-tab", has_text="Inspect pixels").click()
    expect(plots).to_have_count(before + 1, timeout=30_000)
    pixels = plots.last
    pixels.scroll_into_view_if_needed()
    box = pixels.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5)
    page.mouse.move(box["x"] + box["width"] * 0.46, box["y"] + box["height"] * 0.5)
    page.get_by_text("RA (deg)").first.wait_for(timeout=30_000)
    page.get_by_text("value").first.wait_for()
    pixels.screenshot(path=str(ARTIFACTS / "sky-fits-inspector.png"))


def test_a_lasso_on_a_colour_magnitude_diagram_selects_the_stars_on_map_and_table(
        served_app: str, page) -> None:
    sky_after_search(page, served_app, "target=56.75+24.12&radius=2")
    page.get_by_text("Plot columns (scatter, histogram)").click()
    # The Pleiades' colour-magnitude diagram, chosen by the columns' UCDs.
    expect(page.get_by_label("x", exact=True)).to_have_value("b_v", timeout=30_000)
    expect(page.get_by_label("y", exact=True)).to_have_value("hpmag")
    expect(page.locator(".bk-Checkbox", has_text="Magnitudes: bright up").locator("input")
           ).to_be_checked()
    page.locator(".bk-tool-icon-lasso-select").last.click()
    plot = page.locator(".bk-Canvas").last
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    # Around the brightest, bluest stars: the upper left of the diagram (below its tools).
    corners = [(0.08, 0.12), (0.3, 0.12), (0.3, 0.4), (0.08, 0.4), (0.08, 0.12)]
    page.mouse.move(box["x"] + box["width"] * corners[0][0],
                    box["y"] + box["height"] * corners[0][1])
    page.mouse.down()
    for fx, fy in corners[1:]:
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=6)
    page.mouse.up()
    message = page.get_by_text(re.compile(r"[\d,]+ rows selected on the plot"))
    message.wait_for(timeout=30_000)
    selected = int(message.inner_text().split()[0].replace(",", ""))
    assert selected >= 5
    # The table lists only the selected stars (not a page far down with two of them).
    expect(page.locator(".bk-Checkbox", has_text="Selected rows only").locator("input")
           ).to_be_checked(timeout=20_000)
    rows = page.locator(".tabulator").filter(has=page.locator(".tabulator-row.tabulator-selected"))
    expect(rows.locator(".tabulator-row:not(.tabulator-selected)")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "sky-cmd-lasso.png"), full_page=True)
    # The map's selection is the plot's: it is what goes to the cart.
    name = page.get_by_label("Cart", exact=True)
    name.fill("cmd")
    name.press("Enter")
    page.get_by_role("button", name="Add selected rows to cart").click()
    page.get_by_text(f"Added {selected} rows to cart 'cmd'").wait_for(timeout=30_000)
    # The map then draws the cart's coverage as a layer of its own (a canvas made anew).
    page.get_by_text(re.compile(r"cart cmd \([\d.,]+ deg²\)")).wait_for(timeout=30_000)
    wait_drawn(page)
    map_canvas(page).screenshot(path=str(ARTIFACTS / "sky-cmd-on-map.png"))


def test_the_hr_diagram_of_all_of_hipparcos_and_a_lasso_on_its_giants(
        served_app: str, page) -> None:
    page.goto(served_app + "?page=sky")
    page.get_by_text("Whole catalogue (TAP)").click()
    # The catalogue's magnitudes, colours and parallaxes are chosen from its TAP_SCHEMA.
    page.locator(".choices__item", has_text="plx").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Load catalogue").click()
    page.get_by_text("117,955 rows on the map").wait_for(timeout=90_000)
    page.get_by_text("Plot columns (scatter, histogram)").click()
    expect(page.get_by_label("x", exact=True)).to_have_value("b_v", timeout=60_000)
    definition = page.get_by_placeholder("M = hpmag + 5*log10(plx/100)")
    definition.fill("M_Hp = hpmag + 5*log10(plx/100)")
    definition.press("Enter")
    page.get_by_role("button", name="Add column").click()
    page.get_by_text(re.compile(r"M_Hp: [\d,]+ of 117,955 rows have a value")).wait_for(
        timeout=30_000)
    expect(page.get_by_label("y", exact=True)).to_have_value("M_Hp")
    plot = page.locator(".bk-Canvas").last
    plot.scroll_into_view_if_needed()
    time.sleep(2)  # the aggregate is drawn after the plot arrives
    plot.screenshot(path=str(ARTIFACTS / "sky-hr-diagram.png"))
    # A box around the red-clump giants (B-V 0.9-1.2, M about 0-2; bright up, the
    # colours from -0.4 to 5.5 across the plot); the box tool is the active one.
    box = plot.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.26, box["y"] + box["height"] * 0.44)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.31, box["y"] + box["height"] * 0.53, steps=6)
    page.mouse.up()
    message = page.get_by_text(re.compile(r"[\d,]+ rows selected on the plot"))
    message.wait_for(timeout=30_000)
    expect(page.locator(".bk-Checkbox", has_text="Selected rows only").locator("input")
           ).to_be_checked(timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "sky-hr-selected.png"), full_page=True)


def plate_pixels(shot: bytes) -> int:
    """Grey pixels of a screenshot: a photographic plate drawn from the survey (the
    map's own colours are not grey)."""
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(int)
    rgb = rgb[45:-10, 10:-10]  # inside the plot's frame, below its tools
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # Grey (also seen through the layer's opacity) and darker than the sky's disc.
    grey = (abs(r - g) <= 4) & (abs(g - b) <= 4) & (r < 225)
    return int(grey.sum())


def wait_for_plate(canvas, path: str, seconds: float = 60) -> int:
    """Screenshot the map until the survey's plate is on it; return its pixels."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = plate_pixels(canvas.screenshot(path=path))
        except PlaywrightError:  # the map was being drawn again: its canvas was replaced
            found = 0
        if found > 300 or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_the_local_hips_sits_behind_m1_in_both_frames(served_app: str, page) -> None:
    sky_after_search(page, served_app, "target=M+1&radius=0.5")
    page.get_by_label("Survey (HiPS)").select_option(label="Photographic plates (local HiPS)")
    page.get_by_text(re.compile(r"tiles of order \d")).wait_for(timeout=30_000)
    canvas = map_canvas(page)
    for frame, orientation in (("Equatorial (ICRS)", "RA increases to the left"),
                               ("Galactic", "galactic longitude increases to the left")):
        page.get_by_label("Frame").select_option(label=frame)
        page.get_by_text(orientation).wait_for(timeout=30_000)
        page.get_by_placeholder("M 1, 83.63 22.01").fill("M 1")
        page.get_by_role("button", name="Zoom to target").click()
        page.get_by_text(re.compile(r"M 1 → RA 83\.6")).wait_for(timeout=30_000)
        name = "icrs" if frame.startswith("Eq") else "galactic"
        assert wait_for_plate(canvas, str(ARTIFACTS / f"sky-hips-m1-{name}.png")) > 300
    page.get_by_text("Photographic plates (local HiPS) coverage").first.wait_for(timeout=10_000)


def test_a_datalink_cutout_of_the_crab_image_goes_to_the_cart(served_app: str, page) -> None:
    sky_after_search(page, served_app, "target=M+1&radius=0.5")
    tick_crab_image(page)
    page.get_by_role("button", name="Links (DataLink)").click()
    page.get_by_text(re.compile(r"links of UKIDSS K-band, Crab Nebula field")).wait_for(
        timeout=30_000)
    page.get_by_text("(SODA)").wait_for(timeout=10_000)
    radius = page.get_by_label("Cutout radius (arcmin)")
    radius.fill("0.2")
    radius.press("Enter")
    name = page.get_by_label("Cart", exact=True)
    name.fill("crab cutouts")
    name.press("Enter")
    page.get_by_role("button", name="Cutout to cart").click()
    page.get_by_text("Added the cutout 'Cutout 0.20′ of UKIDSS K-band, Crab Nebula field' "
                     "to cart 'crab cutouts'.").wait_for(timeout=30_000)
    page.get_by_text("DataLink: a row's links and cutouts").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "sky-datalink-cutout.png"), full_page=True)
    page.goto(served_app + "?page=cart")
    page.get_by_label("Cart", exact=True).select_option("crab cutouts")
    page.get_by_text("Cutout 0.20′ of UKIDSS K-band, Crab Nebula field").first.wait_for(
        timeout=30_000)


AXIS_LABELLED = """(label) => {
    for (const doc of Bokeh.documents) {
        for (const model of doc._all_models.values()) {
            if (model.axis_label === label) return true;
        }
    }
    return false;
}"""


def test_spectra_found_by_ssa_are_drawn_with_units(served_app: str, page) -> None:
    sky_after_search(page, served_app, "target=293.763792+-52.84575&radius=0.1")
    for mjd in (50934, 50936, 50937):
        tick(page.locator(".tabulator-row", has=page.locator(
            ".tabulator-cell", has_text=f"SN 1998bw optical spectrum, MJD {mjd}")).first)
    page.get_by_role("button", name="Plot spectra").click()
    page.get_by_text("3 spectra drawn.").wait_for(timeout=30_000)
    page.wait_for_function(AXIS_LABELLED, arg="WAVELENGTH (Angstrom)", timeout=30_000)
    page.wait_for_function(AXIS_LABELLED, arg="FLUX (10⁻¹⁴ erg / (Angstrom s cm2))", timeout=30_000)
    page.locator(".bk-Canvas").last.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "sky-spectra-sn1998bw.png"))
    page.get_by_role("button", name="frequency", exact=True).click()
    page.wait_for_function(AXIS_LABELLED, arg="Frequency (THz)", timeout=30_000)
