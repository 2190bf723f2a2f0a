"""The one provenance record: its JSON form, the forms written before it, and the
user every record in a cart names."""

from __future__ import annotations

import json
from dataclasses import replace

from esap_dash.core.cart import Cart, record_rows
from esap_dash.core.config import Profile
from esap_dash.core.provenance import FORM, Provenance, Service


def test_a_record_reads_back_as_it_was_written() -> None:
    record = Provenance("search", user="alice", services=(
        Service("Hipparcos-2", "tap", "http://127.0.0.1:8091/tap", ivoid="ivo://x/tap",
                table="hipparcos.main", asked="SELECT TOP 5 * FROM hipparcos.main"),),
        query={"target": "M 1", "radius": 0.5}, maxrec=5, truncated=("Hipparcos-2",))
    text = record.to_json()
    assert json.loads(text)["provenance"] == FORM
    assert Provenance.from_json(text) == record
    assert Provenance.from_json(text, user="bob").user == "alice"  # a named user stays


def test_the_forms_written_before_are_read() -> None:
    search = Provenance.from_json(json.dumps({
        "target": "M 1", "ra": 83.6, "dec": 22.0, "radius": 0.5, "searched_at": "2026-11-01",
        "services": {"OpenNGC": {"kind": "conesearch", "url": "http://o", "table": None}}}),
        user="alice")
    assert (search.activity, search.at, search.user) == ("search", "2026-11-01", "alice")
    assert search.service("OpenNGC").kind == "conesearch" and search.query["radius"] == 0.5
    result = Provenance.from_json(json.dumps({"workflow": "Cross-match", "job": 7}))
    assert (result.activity, result.job) == ("result", 7)
    catalogue = Provenance.from_json(json.dumps({
        "catalogue": "hipparcos.main", "adql": "SELECT hip FROM hipparcos.main",
        "searched_at": "t", "services": {"H": {"kind": "tap", "url": "u",
                                               "table": "hipparcos.main"}}}))
    assert catalogue.activity == "catalogue"
    assert catalogue.service("H").asked == "SELECT hip FROM hipparcos.main"
    assert Provenance.from_json("{}").activity == Provenance.from_json("").activity == "records"


def test_rows_added_to_a_cart_keep_one_form_naming_its_user(profile: Profile,
                                                             tmp_path) -> None:
    private = replace(profile, database=f"sqlite:///{tmp_path}/prov.db")
    rows = record_rows("Rucio", "http://127.0.0.1:8092", [{"did": "esap:x", "name": "x"}],
                       id="did", title="name", service_kind="rucio",
                       query={"rucio": {"scope": "esap", "pattern": "x"}})
    cart = Cart.open_as("carol-sub", "lake", profile=private)
    cart.add_rows(rows, kind="did")
    record = Provenance.from_json(cart.items()[0].query)
    assert (record.activity, record.user) == ("records", "carol-sub")
    assert record.service("Rucio").kind == "rucio" and record.query["rucio"]["pattern"] == "x"
