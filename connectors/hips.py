"""HiPS image surveys (IVOA Hierarchical Progressive Surveys): properties, coverage, tiles.

A HiPS is a tree of static files: ``properties`` (``key = value`` lines),
``Moc.fits`` (its coverage) and tiles ``Norder{k}/Dir{d}/Npix{n}.{fits,png,jpg}``,
each the HEALPix cell ``n`` of order ``k`` (nested), ``hips_tile_width`` pixels
wide.  Served by any web server (DaCHS's static renderer here, CDS's
alasky for the public surveys).
"""

from __future__ import annotations

import io
import warnings
from typing import ClassVar

import numpy as np
from astropy.io import fits
from mocpy import MOC

from .base import ServiceConnector
from .exceptions import FormatError, ServiceError
from .http import request

__all__ = ["TILE_EXTENSIONS", "HiPSConnector"]

#: ``hips_tile_format`` word -> the tiles' file extension.
TILE_EXTENSIONS = {"fits": "fits", "png": "png", "jpeg": "jpg"}
#: A tile bigger than this is refused (a 512 x 512 float64 FITS tile is 2 MB).
MAX_TILE_BYTES = 8_000_000


class HiPSConnector(ServiceConnector):
    """A HiPS image survey.

    Parameters
    ----------
    url : str
        The HiPS's base address (where ``properties`` is).
    **kwargs
        See :class:`~connectors.base.ServiceConnector`.
    """

    kind: ClassVar[str] = "hips"
    capabilities: ClassVar[frozenset[str]] = frozenset({"survey"})

    @property
    def health_url(self) -> str:
        return self.url + "/properties"

    def _probe(self) -> str:
        props = self.properties()
        return (f"{props.get('obs_title', 'HiPS')}: order {props['hips_order']}, "
                f"{props['hips_tile_format']} tiles")

    def properties(self) -> dict[str, str]:
        """The survey's ``properties`` (its order, tile format and width, frame, cut).

        Raises
        ------
        FormatError
            Not a HiPS properties file (no ``hips_order`` or no tile format we read).
        """
        text = request(self.session, "GET", self.health_url).text
        props = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                props[key.strip()] = value.strip()
        if not props.get("hips_order", "").isdigit():
            raise FormatError("not a HiPS: its properties have no hips_order", self.health_url)
        formats = [f for f in props.get("hips_tile_format", "").split() if f in TILE_EXTENSIONS]
        if not formats:
            raise FormatError("the HiPS has no tiles in FITS, PNG or JPEG "
                              f"({props.get('hips_tile_format', 'no hips_tile_format')})",
                              self.health_url)
        props["hips_tile_format"] = " ".join(formats)
        return props

    def coverage(self) -> MOC | None:
        """The survey's coverage (``Moc.fits``); None where it publishes none."""
        url = self.url + "/Moc.fits"
        try:
            data = request(self.session, "GET", url).content
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return MOC.from_fits(io.BytesIO(data))
        except Exception as exc:  # mocpy raises several kinds for a bad file
            raise FormatError(f"unreadable Moc.fits: {exc}", url) from exc

    def tile(self, order: int, index: int, tile_format: str = "fits") -> np.ndarray | None:
        """One tile as an array in FITS orientation (row 0 at the bottom).

        Parameters
        ----------
        order, index : int
            The tile's HEALPix order and nested cell number.
        tile_format : str
            ``fits`` (an array of values), ``png`` or ``jpeg`` (RGBA, uint8).

        Returns
        -------
        numpy.ndarray or None
            None where the survey has no such tile (outside its coverage).
        """
        ext = TILE_EXTENSIONS[tile_format]
        url = f"{self.url}/Norder{order}/Dir{index // 10000 * 10000}/Npix{index}.{ext}"
        try:
            resp = request(self.session, "GET", url)
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise
        if len(resp.content) > MAX_TILE_BYTES:
            raise FormatError(f"tile of {len(resp.content):,} bytes refused", url)
        try:
            if tile_format == "fits":
                with fits.open(io.BytesIO(resp.content)) as hdul:
                    return np.asarray(hdul[0].data, dtype=np.float32)
            from PIL import Image

            with Image.open(io.BytesIO(resp.content)) as image:
                return np.asarray(image.convert("RGBA"))[::-1]
        except Exception as exc:  # astropy and PIL raise several kinds for bad files
            raise FormatError(f"unreadable tile: {exc}", url) from exc
