"""Spectra through SSA from the local DaCHS: search, read, units, and the Sky page's plot."""

from __future__ import annotations

from dataclasses import replace

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from connectors.exceptions import FormatError
from connectors.query import SkyQuery
from connectors.ssa import read_spectrum, spectrum_axes
from esap_dash.core.config import Profile
from esap_dash.core.spectra import Spectrum, load_spectra, on_axis, spectrum_rows
from esap_dash.ui.pages.discovery import DiscoveryPage
from esap_dash.ui.pages.sky import SkyPage

from .conftest import run_coroutine

SN1998BW = (293.763792, -52.845750)
AGC100051 = (2.00375, 14.83972)
#: ALFALFA's catalogue (shipped beside the spectrum): heliocentric velocity, W50
#: and integrated HI flux of AGC 100051, with its error.
AGC_VHELIO, AGC_W50, AGC_FLUX, AGC_FLUX_ERR = 13632.0, 136.0, 0.77, 0.08
HI_MHZ = 1420.405751


def test_ssa_finds_the_three_spectra_of_sn_1998bw_with_their_dates(service) -> None:
    ssa = service("spectra").connector()
    rows = ssa.search_sky(SkyQuery(*SN1998BW, 0.05))
    assert sorted(rows["title"]) == [f"SN 1998bw optical spectrum, MJD {d}"
                                     for d in (50934, 50936, 50937)]
    assert set(rows["product_type"]) == {"spectrum"}
    assert np.allclose(rows["ra"], SN1998BW[0]) and np.allclose(rows["dec"], SN1998BW[1])
    assert all(str(url).endswith(".fits") for url in rows["access_url"])
    assert all(size > 0 for size in rows["size"])
    # SSA's own constraints: time, band; keywords are matched in the titles.
    later = ssa.search_sky(SkyQuery(*SN1998BW, 0.05, time_min=50935.5))
    assert sorted(later["title"])[0].endswith("50936")
    assert len(later) == 2
    assert len(ssa.search_sky(SkyQuery(*SN1998BW, 0.05, waveband="radio"))) == 0
    assert len(ssa.search_sky(SkyQuery(*SN1998BW, 0.05, keywords=("50937",)))) == 1
    image = ssa.search_sky(SkyQuery(*SN1998BW, 0.05, product_type="image"))
    assert len(image) == 0 and "spectrum service" in image.meta["note"]


def test_the_hi_line_of_agc_100051_has_the_flux_its_catalogue_gives(service) -> None:
    ssa = service("spectra").connector()
    row = ssa.search_sky(SkyQuery(*AGC100051, 0.1))
    assert list(row["title"]) == ["AGC 100051 HI 21 cm spectrum"]
    samples = read_spectrum(ssa.session, str(row["access_url"][0]))
    assert samples.colnames == ["FREQ", "FLUXDENS"]
    assert samples["FREQ"].unit == u.MHz and samples["FLUXDENS"].unit == u.mJy
    assert samples.meta["object"] == "AGC 100051"
    freq, flux = np.asarray(samples["FREQ"]), np.asarray(samples["FLUXDENS"])
    # The line: the catalogue's W50 around its velocity (optical convention).
    centre = HI_MHZ / (1 + AGC_VHELIO / 299_792.458)
    width = centre * AGC_W50 / 299_792.458
    line = np.abs(freq - centre) < width / 2
    integrated = np.nanmean(flux[line]) / 1000 * AGC_W50  # Jy km/s
    assert abs(integrated - AGC_FLUX) < 2 * AGC_FLUX_ERR
    assert abs(np.nanmean(flux[~line])) < 1.0  # baseline subtracted around it
    # As wavelength: the 21 cm line, redshifted.
    wave = on_axis(samples, "wavelength")
    assert wave.colnames[0] == "Wavelength" and wave["Wavelength"].unit == u.cm
    assert 21.9 < float(np.median(wave["Wavelength"])) < 22.4
    assert np.all(np.diff(wave["Wavelength"]) > 0)


def test_optical_spectra_convert_to_frequency_and_back() -> None:
    samples = Table({"WAVELENGTH": [5000.0, 6000.0] * u.AA,
                     "FLUX": [1e-15, 2e-15] * u.Unit("erg/(s cm2 Angstrom)")})
    freq = on_axis(samples, "frequency")
    assert freq["Frequency"].unit == u.THz
    assert np.allclose(freq["Frequency"], [499.65, 599.58], rtol=1e-4)
    assert list(freq["FLUX"]) == [2e-15, 1e-15]  # sorted along the new axis
    assert on_axis(samples, "as served") is samples
    with pytest.raises(ValueError, match="unknown spectral axis"):
        on_axis(samples, "velocity")


def test_a_table_without_spectral_units_is_refused_with_its_columns_named() -> None:
    table = Table({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    table["x"].unit = "s"
    with pytest.raises(FormatError, match=r"x \[s\], y \[-\]"):
        spectrum_axes(table)
    table["y"].unit = "Jy"
    with pytest.raises(FormatError):
        spectrum_axes(table)  # time is no spectral axis
    table["x"].unit = "GHz"
    assert spectrum_axes(table) == ("x", "y")


@pytest.fixture(scope="module")
def sn_page(profile: Profile, tmp_path_factory) -> SkyPage:
    """The Sky page after a search around SN 1998bw, in a database of its own."""
    database = tmp_path_factory.mktemp("spectra") / "spectra.db"
    private = replace(profile, database=f"sqlite:///{database}")
    discovery = DiscoveryPage(profile=private, target=f"{SN1998BW[0]} {SN1998BW[1]}",
                              radius=0.1)
    run_coroutine(discovery.search())
    return SkyPage(profile=private, discovery=discovery)


def test_the_sky_page_draws_the_selected_spectra_with_units(sn_page: SkyPage) -> None:
    rows = sn_page.rows
    spectra = [i for i, r in enumerate(rows) if r["product_type"] == "spectrum"]
    assert len(spectra) == len(spectrum_rows(rows)) == 3
    # ObsCore lists the same spectra as SSA: one row each, found in both.
    assert all({str(rows[i]["archive"]), str(rows[i]["also_in"])}
               == {"Local DaCHS ObsCore (TAP)", "Local spectra (SSA)"} for i in spectra)
    sn_page.map.selection = spectra
    run_coroutine(sn_page.plot_spectra())
    plot = sn_page.spectra.plot
    assert sorted(plot.drawn) == sorted(str(rows[i]["title"]) for i in spectra)
    curve = plot.overlay.values()[0]
    assert curve.kdims[0].label == "WAVELENGTH (Angstrom)"
    # Fluxes of 1e-14 read as numbers of a few units, the power of ten on the axis.
    assert curve.vdims[0].label == "FLUX (10⁻¹⁴ erg / (Angstrom s cm2))"
    top = max(np.nanmax(np.abs(c.dimension_values(1))) for c in plot.overlay.values())
    assert 1 <= top < 1000
    plot.axis = "frequency"
    assert plot.overlay.values()[0].kdims[0].label == "Frequency (THz)"


def test_a_spectrum_that_cannot_be_read_costs_only_its_own_row(
        sn_page: SkyPage, dead_url: str) -> None:
    rows = sn_page.rows
    good = next(r for r in spectrum_rows(rows))
    dead = Table(rows[[0]])
    dead["access_url"] = [f"{dead_url}/spectrum.fits"]
    dead["title"] = ["a spectrum on a dead server"]
    found = load_spectra([dead[0], good], sn_page.profile)
    assert [bool(s.error) for s in found] == [True, False]
    assert isinstance(found[1], Spectrum) and len(found[1].samples) > 1000
