"""Discovery in a real browser: one cone search on M 1 across every local archive."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import ARTIFACTS, hung_tcp_server
from .conftest import serve

pytestmark = pytest.mark.browser


def test_cone_search_on_m1_shows_every_archive(served_app: str, page) -> None:
    page.goto(served_app + "?page=discovery")
    page.get_by_role("heading", name="Discovery").wait_for()
    target = page.get_by_placeholder("M 1, NGC 224", exact=False)
    target.fill("M 1")
    target.press("Enter")
    radius = page.get_by_label("Radius (deg)")
    radius.fill("0.5")
    radius.press("Enter")
    page.get_by_role("button", name="Search all archives").click()
    page.get_by_text("rows from 5 archives").wait_for(timeout=30_000)
    page.get_by_text("OpenNGC NGC1952").wait_for()
    for text in ("NGC1952", "UKIDSS K-band, Crab Nebula field", "POSS-I E plate scan, Messier 1"):
        page.get_by_text(text, exact=True).first.wait_for()
    hipparcos = page.locator(".tabulator-cell", has_text="Hipparcos-2 (cone search)")
    hipparcos.first.wait_for(timeout=10_000)
    # Sources with their main magnitude; sizes in readable units; headers say what they hold.
    page.locator(".tabulator-col-title", has_text="Mag").first.wait_for()
    page.locator(".tabulator-cell", has_text=re.compile(r"^\d+(\.\d)? [KM]iB$")).first.wait_for()
    states = page.locator("span.esap-state.up")
    assert states.count() == 5
    assert "target=M+1" in page.url or "target=M%201" in page.url
    page.locator(".tabulator").first.scroll_into_view_if_needed()  # the results, in view
    page.screenshot(path=str(ARTIFACTS / "discovery.png"))


def test_a_shared_link_runs_its_search(served_app: str, page) -> None:
    page.goto(served_app + "?page=discovery&target=HIP+32349&radius=0.2")
    page.get_by_text("Hipparcos HIP 32349").wait_for(timeout=30_000)
    page.get_by_text("rows from 5 archives").wait_for(timeout=30_000)
    page.locator(".tabulator-cell", has_text="32349").first.wait_for(timeout=10_000)


def test_an_archive_s_own_columns_open_in_their_card_with_units(served_app: str, page) -> None:
    page.goto(served_app + "?page=discovery&target=M+45&radius=0.5")
    page.get_by_text("rows from").first.wait_for(timeout=60_000)
    page.get_by_text("Each archive's own columns").click()
    card = page.locator(".card", has_text="Each archive's own columns")
    card.locator("select").select_option(label="Hipparcos-2 (cone search)")
    # Every column the archive gave, headed with its unit; Pleiades stars as rows.
    card.locator(".tabulator-col-title", has_text="plx (mas)").first.wait_for(timeout=30_000)
    card.locator(".tabulator-cell", has_text="17702").first.wait_for(timeout=10_000)
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "discovery-own-columns.png"))


@pytest.mark.parametrize(("query", "said"), [
    ("radius=nan", "radius='nan' cannot be used (give a number of degrees above 0)"),
    ("radius=-1", "radius='-1' cannot be used"),
    ("frame=bogus", "frame='bogus' cannot be used (use one of icrs, fk5, galactic)"),
    ("time_from=nan", "time_from='nan' cannot be used (give an ISO date"),
    ("waveband=gamma-rays", "waveband='gamma-rays' cannot be used")])
def test_a_link_value_that_cannot_be_used_is_named_and_nothing_is_searched(
        served_app: str, page, query: str, said: str) -> None:
    page.goto(served_app + f"?page=discovery&target=M1&{query}")
    page.get_by_text(said).wait_for(timeout=30_000)
    assert not page.get_by_text("rows from").count()


def test_unresolvable_target_is_an_inline_message(served_app: str, page) -> None:
    page.goto(served_app + "?page=discovery&target=No+Such+Object+Anywhere")
    page.get_by_text("is neither coordinates nor a name").wait_for(timeout=30_000)


@pytest.fixture(scope="module")
def app_with_failing_archives(local_stack: None, tmp_path_factory) -> Iterator[str]:
    """The local profile plus one archive where nothing listens and one that hangs."""
    with hung_tcp_server() as hung:
        profile = Path(tmp_path_factory.mktemp("profile")) / "failing.toml"
        # A deployment adds archives to the ones of the profile it extends.
        profile.write_text(f"""extends = "local"

[[archives]]
id = "stopped"
name = "Stopped archive"
kind = "conesearch"
url = "http://127.0.0.1:9/scs.xml"
timeout = 3

[[archives]]
id = "hung"
name = "Hung archive"
kind = "conesearch"
url = "{hung}/scs.xml"
timeout = 3
""")
        with serve(str(profile), "server-failing.log") as url:
            yield url


def test_failing_archives_show_their_error_while_the_others_return(app_with_failing_archives,
                                                                   page) -> None:
    page.goto(app_with_failing_archives + "?page=discovery&target=M+1&radius=0.5")
    page.get_by_text("rows from 7 archives").wait_for(timeout=30_000)
    assert page.locator("span.esap-state.up").count() == 5
    assert page.locator("span.esap-state.down").count() == 2
    page.get_by_text("cannot connect: connection refused").wait_for()
    page.get_by_text("no answer within 3 s").first.wait_for()
    page.get_by_text("NGC1952", exact=True).first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "discovery-failing.png"), full_page=True)
