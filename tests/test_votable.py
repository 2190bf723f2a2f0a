"""The fast BINARY2 writer: votlint accepts it and astropy reads back the same values."""

from __future__ import annotations

import numpy as np
from astropy.table import MaskedColumn, Table

from esap_dash.core.votable import write_votable

from .test_cart import votlint_errors


def test_round_trip_of_text_numbers_masks_and_unicode(tmp_path) -> None:
    table = Table({
        "name": ["NGC1952", "Überblick <&>", "naïve 😀 \"q\"", ""],
        "record": ['{"a": 1}', "{}", '{"b": "x"}', "[]"],
        "ra": MaskedColumn([83.6, 0.0, np.nan, 359.9], mask=[False, True, False, False]),
        "size": MaskedColumn([1, 0, 3, 2**40], mask=[False, False, True, False]),
        "flag": [True, False, True, False],
    })
    table["ra"].unit = "deg"
    table["ra"].meta["ucd"] = "pos.eq.ra;meta.main"
    table.meta["cart"] = "M1 <study>"
    path = write_votable(table, tmp_path / "t.xml", resource="cart & co")
    assert votlint_errors(path) == []
    back = Table.read(path)
    assert list(back["name"]) == list(table["name"])
    assert list(back["record"]) == list(table["record"])
    # In VOTable a NaN double is a null, as astropy reads it.
    assert back["ra"].mask.tolist() == [False, True, True, False]
    assert back["ra"][0] == 83.6 and str(back["ra"].unit) == "deg"
    assert back["size"].mask.tolist() == [False, False, True, False]
    assert back["size"][3] == 2**40 and back["flag"].tolist() == [True, False, True, False]
    assert back["ra"].meta["ucd"] == "pos.eq.ra;meta.main"


def test_an_empty_table_is_a_valid_file(tmp_path) -> None:
    path = write_votable(Table({"a": np.array([], dtype=float), "b": np.array([], dtype=str)}),
                         tmp_path / "e.xml")
    assert votlint_errors(path) == [] and len(Table.read(path)) == 0


def test_units_are_written_in_vounit_as_services_write_them(tmp_path) -> None:
    from astropy import units as u

    table = Table({"flux": [1e-12], "pm": [3.5], "odd": [1.0]})
    table["flux"].unit = u.Unit("cm**-2.s**-1", format="vounit")  # as a service sends it
    table["pm"].unit = "mas / yr"
    table["odd"].unit = u.Unit("counts per fortnight", parse_strict="silent")
    path = write_votable(table, tmp_path / "u.xml")
    assert votlint_errors(path) == []
    text = path.read_text()
    assert 'unit="s**-1.cm**-2"' in text and 'unit="mas.yr**-1"' in text
    assert 'unit="counts per fortnight"' in text  # not understood: kept as written
    back = Table.read(path)
    assert back["flux"].unit == u.Unit("cm-2 s-1") and back["pm"].unit == u.mas / u.yr
