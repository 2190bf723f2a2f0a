"""HiPS surveys drawn as the background of the sky maps, on the server, from their tiles.

Each pixel of the map's window is taken back to the sky through the map's
projection, then to the survey's frame, and read from the tile of the order
whose pixels are about the map's pixel size (FITS tiles are stretched with the
survey's ``hips_pixel_cut``).  Tiles are kept in a small cache per survey: a
pan or a zoom within the same order fetches only new tiles.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from cdshealpix.nested import lonlat_to_healpix
from mocpy import MOC

from connectors.exceptions import ConnectorError
from connectors.hips import HiPSConnector

from . import sky
from .config import ServiceConfig

__all__ = ["Survey", "open_surveys", "pixel_order", "render"]

#: Degrees of a HEALPix cell of order 0 (about; sqrt of 4 pi / 12 sr).
CELL_DEG0 = math.degrees(math.sqrt(4 * math.pi / 12))
#: Tiles kept per survey (a 512 x 512 FITS tile is 1 MB as float32).
CACHED_TILES = 48
FRAMES = {"equatorial": "icrs", "galactic": "galactic"}


@dataclass
class Survey:
    """A HiPS image survey, as read from its ``properties`` and ``Moc.fits``.

    Attributes
    ----------
    name : str
        Its name in the profile.
    connector : HiPSConnector
        Where its tiles come from.
    order : int
        Its deepest order.
    tile_format : str
        ``fits``, ``png`` or ``jpeg`` (the first the survey offers that we read).
    tile_width : int
        Pixels along a tile.
    frame : str
        ``icrs`` or ``galactic``.
    cut : tuple of float, optional
        Values drawn black and white (FITS tiles).
    coverage : MOC, optional
        Where it has data.
    title : str
        What it says it is.
    """

    name: str
    connector: HiPSConnector
    order: int
    tile_format: str
    tile_width: int
    frame: str
    cut: tuple[float, float] | None
    coverage: MOC | None
    title: str
    _tiles: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, name: str, connector: HiPSConnector) -> Survey:
        """Read a survey's properties and coverage (blocking; ``ConnectorError`` if it
        cannot be read)."""
        props = connector.properties()
        cut = [float(v) for v in props.get("hips_pixel_cut", "").split()[:2]]
        frame = FRAMES.get(props.get("hips_frame", "equatorial"), "icrs")
        return cls(name, connector, int(props["hips_order"]),
                   props["hips_tile_format"].split()[0],
                   int(props.get("hips_tile_width", "512") or 512), frame,
                   (cut[0], cut[1]) if len(cut) == 2 and cut[1] > cut[0] else None,
                   connector.coverage(), props.get("obs_title", name))

    def tile(self, order: int, index: int) -> np.ndarray | None:
        """One tile (cached); None where the survey has none."""
        key = (order, index)
        with self._lock:
            if key in self._tiles:
                self._tiles.move_to_end(key)
                return self._tiles[key]
        data = self.connector.tile(order, index, self.tile_format)
        with self._lock:
            self._tiles[key] = data
            while len(self._tiles) > CACHED_TILES:
                self._tiles.popitem(last=False)
        return data


def pixel_order(degrees_per_pixel: float, tile_width: int, deepest: int) -> int:
    """The order whose tile pixels are no bigger than the map's pixels (at most
    the survey's deepest)."""
    wanted = math.log2(CELL_DEG0 / (tile_width * max(degrees_per_pixel, 1e-9)))
    return int(min(max(math.ceil(wanted), 0), deepest))


def render(survey: Survey, projection: str, frame: str,
           window: tuple[tuple[float, float], tuple[float, float]], size: tuple[int, int],
           opacity: float = 1.0, centre: tuple[float, float] = (0.0, 0.0)
           ) -> tuple[np.ndarray, int]:
    """The survey over a window of an all-sky map, as an image for Bokeh (blocking).

    Parameters
    ----------
    survey : Survey
        What to draw.
    projection, frame : str
        The map's projection (``Aitoff``, ``Mollweide``) and frame (``icrs``,
        ``galactic``).
    window : tuple
        ``((x0, x1), (y0, y1))`` in the map's projected degrees.
    size : tuple of int
        Width and height of the image in pixels.
    opacity : float
        0 (invisible) to 1.
    centre : tuple of float
        Where a centred projection (``SIN``) touches the sky, in ``frame``.

    Returns
    -------
    image : numpy.ndarray
        ``uint32`` RGBA, ``(height, width)``, row 0 at the bottom (as Bokeh's
        ``image_rgba`` and Datashader's images).
    order : int
        The order whose tiles were read.
    """
    (x0, x1), (y0, y1) = window
    width, height = size
    xs = x0 + (np.arange(width) + 0.5) * (x1 - x0) / width
    ys = y0 + (np.arange(height) + 0.5) * (y1 - y0) / height
    gx, gy = np.meshgrid(xs, ys)
    with np.errstate(invalid="ignore"):
        lon, lat = sky.sky_wcs(projection, frame, centre).wcs_pix2world(gx.ravel(),
                                                                         gy.ravel(), 1)
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = np.asarray(lon)[ok], np.asarray(lat)[ok]
    if frame != survey.frame and len(lon):
        coords = SkyCoord(lon * u.deg, lat * u.deg, frame=frame).transform_to(survey.frame)
        sph = coords.spherical
        lon, lat = sph.lon.deg, sph.lat.deg
    order = pixel_order(abs(x1 - x0) / width, survey.tile_width, survey.order)
    rgba = np.zeros((width * height, 4), np.uint8)
    if len(lon):
        cells, dx, dy = lonlat_to_healpix(lon * u.deg, lat * u.deg, order, return_offsets=True)
        cells = np.asarray(cells, np.int64)
        wanted = np.unique(cells)
        if survey.coverage is not None:
            covered = survey.coverage.degrade_to_order(order).flatten().astype(np.int64) \
                if survey.coverage.max_order > order else _cells_at(survey.coverage, order)
            wanted = wanted[np.isin(wanted, covered)]
        tw = survey.tile_width
        # Inside a tile (FITS orientation): column = dy, row = 1 - dx, in tile pixels.
        cols, rows = np.asarray(dy) * tw, (1 - np.asarray(dx)) * tw
        # Zoomed in past the survey's deepest tiles, map pixels are read between
        # tile pixels (bilinear, as Aladin does), not as blocks of one.
        smooth = abs(x1 - x0) / width < CELL_DEG0 / (tw << order) / 2
        values = np.full(len(lon), np.nan, np.float32)
        colours = np.zeros((len(lon), 4), np.uint8)
        for cell in wanted:
            data = survey.tile(order, int(cell))
            if data is None:
                continue
            mine = cells == cell
            read = _sample(data, rows[mine], cols[mine], smooth)
            if data.ndim == 2:
                values[mine] = read
            else:
                colours[mine] = read
        out = rgba[np.flatnonzero(ok)]
        if survey.tile_format == "fits":
            grey = _stretch(values, survey.cut)
            out[:, :3] = grey[:, None]
            out[:, 3] = np.where(np.isfinite(values), 255, 0)
        else:
            out[:] = colours
        out[:, 3] = (out[:, 3] * opacity).astype(np.uint8)
        rgba[np.flatnonzero(ok)] = out
    return rgba.view(np.uint32).reshape(height, width), order


def _sample(tile: np.ndarray, rows: np.ndarray, cols: np.ndarray,
            smooth: bool) -> np.ndarray:
    """A tile's pixels at fractional ``rows`` and ``cols`` (tile pixels from its
    corner): the pixel each falls in, or with ``smooth`` the bilinear mix of the
    four nearest pixel centres (clamped at the tile's edge)."""
    last = tile.shape[0] - 1
    if not smooth:
        return tile[np.minimum(rows.astype(int), last), np.minimum(cols.astype(int), last)]
    r, c = rows - 0.5, cols - 0.5
    r0, c0 = np.floor(r), np.floor(c)
    wr, wc = r - r0, c - c0
    r0, c0 = r0.astype(int), c0.astype(int)
    r1, c1 = np.clip(r0 + 1, 0, last), np.clip(c0 + 1, 0, last)
    r0, c0 = np.clip(r0, 0, last), np.clip(c0, 0, last)
    if tile.ndim == 3:
        wr, wc = wr[:, None], wc[:, None]
    mixed = ((tile[r0, c0] * (1 - wc) + tile[r0, c1] * wc) * (1 - wr)
             + (tile[r1, c0] * (1 - wc) + tile[r1, c1] * wc) * wr)
    return np.rint(mixed).astype(tile.dtype) if tile.dtype == np.uint8 else mixed


def _cells_at(moc: MOC, order: int) -> np.ndarray:
    """The cells of ``order`` (deeper than the MOC) inside it."""
    cells = moc.flatten().astype(np.int64)
    shift = 2 * (order - moc.max_order)
    return (cells[:, None] << shift | np.arange(1 << shift)[None, :]).ravel()


def _stretch(values: np.ndarray, cut: tuple[float, float] | None) -> np.ndarray:
    """Grey levels (asinh) of FITS values between the cut (else the 0.5 and 99.5
    percentiles of the values drawn)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return np.zeros(len(values), np.uint8)
    low, high = cut if cut is not None else tuple(np.percentile(finite, [0.5, 99.5]))
    scaled = np.clip((values - low) / max(high - low, 1e-12), 0, 1)
    grey = np.arcsinh(10 * np.nan_to_num(scaled)) / np.arcsinh(10)
    return (grey * 255).astype(np.uint8)


def open_surveys(services: Iterable[ServiceConfig]) -> tuple[dict[str, Survey], list[str]]:
    """The surveys of ``services`` (HiPS) by name, their properties and coverage read
    (blocking); and one sentence per survey that could not be read."""
    found: dict[str, Survey] = {}
    failed: list[str] = []
    for svc in services:
        try:
            found[svc.name] = Survey.open(svc.name, svc.connector())
        except ConnectorError as exc:
            failed.append(f"{svc.name}: {exc.reason}")
    return found, failed
