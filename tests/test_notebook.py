"""The cart as a runnable notebook, executed with nbclient against the local stack."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from astropy.table import Table
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from esap_dash.core.cart import Cart, record_rows
from esap_dash.core.config import Profile
from esap_dash.ui.pages.discovery import DiscoveryPage

from .conftest import add_dataset_to_cart, run_coroutine, sky_catalogue_to_cart


@pytest.fixture
def rucio_config(profile: Profile, secrets: dict[str, str], tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A rucio.cfg for the notebook's kernel, as a user would have one."""
    url = profile.service("rucio").url
    cfg = tmp_path / "rucio.cfg"
    cfg.write_text(f"[client]\nrucio_host = {url}\nauth_host = {url}\nauth_type = userpass\n"
                   f"account = root\nusername = esapdash\n"
                   f"password = {secrets['ESAP_DASH_RUCIO_PASSWORD']}\n")
    monkeypatch.setenv("RUCIO_CONFIG", str(cfg))


def execute(notebook: nbformat.NotebookNode, where: Path) -> None:
    """Run every cell in a fresh kernel.

    All asynchronous: nbclient's ``execute`` and the synchronous kernel manager
    each leave an event loop open behind them.
    """
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            kernel_manager_class=AsyncKernelManager,
                            resources={"metadata": {"path": str(where)}})
    run_coroutine(client.async_execute())


def _filled_cart(profile: Profile) -> Cart:
    page = DiscoveryPage(profile=profile, target="M 1", radius=0.5, cart_name="M1 study")
    run_coroutine(page.search())
    page.selection = list(range(len(page.merged)))
    run_coroutine(page.add_to_cart())
    add_dataset_to_cart(page, "crab*")
    cart = Cart.open("M1 study", profile=profile)
    # The merged table shows each image once (from ObsCore): SIA v2's own rows too.
    cart.add_rows(page.with_provenance(page.results["Local images (SIA v2)"].table))
    spectra = DiscoveryPage(profile=profile, target="293.763792 -52.84575", radius=0.1)
    run_coroutine(spectra.search())  # SN 1998bw's spectra, from SSA
    cart.add_rows(spectra.with_provenance(spectra.results["Local spectra (SSA)"].table))
    cart.add_rows(record_rows("Zenodo", "https://zenodo.example", [
        {"doi": "10.5072/zenodo.1", "title": "<b>pipeline</b> '\"quoted\"", "type": "software"}],
        id="doi", title="title", product_type="type"), kind="software")
    cart.add_rows(Table({"archive": ["TOPCAT"], "title": ["a row"], "ra": [83.6],
                         "dec": [22.0], "record": [json.dumps({"x": 1})]}), kind="samp")
    return cart


def test_exported_notebook_runs_and_finds_every_item_again(profile: Profile, tmp_path: Path,
                                                           rucio_config: None) -> None:
    private = replace(profile, database=f"sqlite:///{tmp_path}/carts.db")
    cart = _filled_cart(private)
    archives = {i.archive for i in cart.items()}
    assert {"Local DaCHS ObsCore (TAP)", "OpenNGC (cone search)", "Local images (SIA v2)",
            "Local spectra (SSA)", "Rucio data lake", "Zenodo", "TOPCAT"} <= archives
    path = cart.export(tmp_path / "cart.ipynb", "notebook")
    notebook = nbformat.read(str(path), as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.esap_dash["cart"] == "M1 study"
    provenance, _, provn = notebook.cells[0].source.partition("<details>")
    assert "target=M 1" in provenance and "ivoa.obscore" not in provenance
    assert "esap:item/" in provn and "prov:SoftwareAgent" in provn
    assert "&lt;b&gt;" not in provenance  # records stay in code cells, as data
    execute(notebook, tmp_path)
    summary = json.loads(notebook.cells[-1].outputs[-1]["text"].splitlines()[-1])
    per_archive = {i.archive: 0 for i in cart.items()}
    for item in cart.items():
        per_archive[item.archive] += 1
    for archive, count in per_archive.items():
        if archive == "Rucio data lake":  # one row per file and storage element
            replicas = profile.service("rucio").connector().list_replicas("esap", "crab_images")
            assert summary["found"][archive] == len(replicas) >= 2
        else:
            assert summary["found"][archive] == count, archive
    # Re-opened in the notebook API, the same cart.
    assert len(Cart.open("M1 study", profile=private)) == len(cart)


def test_without_a_rucio_cfg_the_notebook_runs_all_and_says_why(
        profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUCIO_CONFIG", str(tmp_path / "nowhere.cfg"))
    monkeypatch.delenv("RUCIO_HOME", raising=False)
    private = replace(profile, database=f"sqlite:///{tmp_path}/carts.db")
    cart = Cart.open("lake", profile=private)
    cart.add_rows(record_rows("Rucio data lake", profile.service("rucio").url,
                              [{"did": "esap:crab_images", "name": "crab_images"}],
                              id="did", title="name"), kind="did")
    cart.add_rows(Table({"archive": ["TOPCAT"], "id": ["1"], "ra": [1.0], "dec": [2.0],
                         "record": [json.dumps({"x": 1})]}), kind="samp")
    notebook = nbformat.read(str(cart.export(tmp_path / "lake.ipynb", "notebook")),
                             as_version=4)
    execute(notebook, tmp_path)  # "Run all" reaches the last cell
    summary = json.loads(notebook.cells[-1].outputs[-1]["text"].splitlines()[-1])
    assert summary["found"] == {"Rucio data lake": 0, "TOPCAT": 1}
    assert "Rucio data lake" in summary["not_asked"]


def test_an_empty_cart_exports_a_notebook_that_runs(profile: Profile, tmp_path: Path) -> None:
    private = replace(profile, database=f"sqlite:///{tmp_path}/carts.db")
    path = Cart.open("empty", profile=private).export(tmp_path / "empty.ipynb", "notebook")
    notebook = nbformat.read(str(path), as_version=4)
    execute(notebook, tmp_path)
    summary = json.loads(notebook.cells[-1].outputs[-1]["text"])
    assert summary == {"found": {}, "expected": {}, "not_asked": {}}


def test_hostile_names_stay_comments_and_data(profile: Profile, tmp_path: Path) -> None:
    private = replace(profile, database=f"sqlite:///{tmp_path}/carts.db")
    cart = Cart.open("hostile", profile=private)
    evil = "TOPCAT\nimport os; os.system('touch /tmp/pwned')"
    cart.add_rows(Table({"archive": [evil], "id": ["x'); DROP"], "title": ["t"],
                         "record": [json.dumps({"x'); DROP": "x'); DROP"})]}), kind="samp")
    notebook = nbformat.read(str(cart.export(tmp_path / "h.ipynb", "notebook")), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            compile(cell.source, "cell", "exec")
            assert not any(line.startswith("import os") for line in cell.source.splitlines())


def test_the_cart_page_renders_in_a_notebook_cell(profile: Profile, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    database = f"sqlite:///{tmp_path}/carts.db"
    Cart.open("M1 study", profile=replace(profile, database=database)).add_rows(
        Table({"archive": ["TOPCAT"], "title": ["NGC1952 by hand"], "record": ["{}"]}),
        kind="samp")
    monkeypatch.setenv("ESAP_DASH__DEPLOYMENT__DATABASE", database)
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import panel as pn\npn.extension('tabulator')"),
        nbformat.v4.new_code_cell("from esap_dash import Cart\nfrom esap_dash.ui.pages import "
                                  "CartPage\nprint(len(Cart.open('M1 study')))\nCartPage()")])
    execute(notebook, tmp_path)
    outputs = notebook.cells[-1].outputs
    assert outputs[0]["text"].strip() == "1"
    shown = next(o for o in outputs if o["output_type"] == "execute_result")
    assert "application/vnd.holoviews_exec.v0+json" in shown["data"]
    assert "NGC1952 by hand" in json.dumps(shown["data"])


def test_catalogue_rows_from_the_sky_are_asked_for_again_with_numeric_literals(
        profile: Profile, tmp_path: Path) -> None:
    from esap_dash.ui.pages.sky import SkyPage

    private = replace(profile, database=f"sqlite:///{tmp_path}/nb-sky.db")
    sky_catalogue_to_cart(SkyPage(profile=private), "stars")
    notebook = Cart.open("stars", profile=private).export(tmp_path / "stars.ipynb", "notebook")
    nb = nbformat.read(notebook, as_version=4)
    assert "&#x27;" not in nb.cells[0].source
    execute(nb, tmp_path)
    printed = json.loads(nb.cells[-1].outputs[-1]["text"].strip().splitlines()[-1])
    assert list(printed["found"].values()) == [3]



def test_the_notebook_writes_literals_by_the_columns_datatype() -> None:
    from esap_dash.core.notebook import HELPERS

    space: dict = {}
    exec(HELPERS, space)  # the functions the exported notebook defines
    literal = space["adql_literal"]
    assert literal("32349", "long") == "32349" and literal("7", "INTEGER") == "7"
    assert literal("1.5", "double") == "1.5"
    # 64-bit identifiers pass exactly (Gaia source_id, a long above 2**53)
    assert literal("4295806720000000001", "long") == "4295806720000000001"
    assert literal(2**63 - 1, "long") == str(2**63 - 1) and literal("7.0", "int") == "7"
    assert literal("ivo://x/y?1", "char") == "'ivo://x/y?1'"
    assert literal("O'Brien", "unicodeChar") == "'O''Brien'"
