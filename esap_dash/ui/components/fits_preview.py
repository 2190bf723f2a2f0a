"""A FITS image with its WCS axes (astropy WCSAxes), a stretch choice and the search cone."""

from __future__ import annotations

import io
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import astropy.units as u
import holoviews as hv
import numpy as np
import panel as pn
import param
from astropy.io import fits
from astropy.wcs import WCS

from connectors.exceptions import ConnectorError
from connectors.http import download

from ...core.fanout import run_blocking
from .style import notice, say

__all__ = ["FitsPreview", "check_decompressed_size", "pixel_grid", "render_fits"]

STRETCHES = {"zscale, linear": ("zscale", "linear"), "zscale, asinh": ("zscale", "asinh"),
             "99.5 %, asinh": ("percentile", "asinh")}
#: Largest side drawn; bigger images are subsampled for the preview.
MAX_SIDE = 1500
#: Largest file fetched for a preview.
MAX_BYTES = 200 * 1024 * 1024
#: Largest file a preview reads once decompressed (gzip, bzip2).
MAX_DECOMPRESSED = 512 * 1024 * 1024
#: Most pixels of the image drawn (before subsampling).
MAX_PIXELS = 40_000_000
#: Largest side of the image inspected pixel by pixel in the browser (subsampled above).
INSPECT_SIDE = 512


def check_decompressed_size(path: str | Path | BinaryIO,
                            limit: int = MAX_DECOMPRESSED) -> None:
    """Refuse a compressed file (gzip, bzip2, xz, zip: what astropy opens) that
    expands to more than ``limit`` bytes, and any compression astropy would expand
    that is not read through here first.

    Reads it through once, in chunks, without keeping what it reads.

    Raises
    ------
    ValueError
        The file expands beyond ``limit``, or is compressed in another way.
    """
    if hasattr(path, "read"):  # a file in memory: read from its start, left there
        path.seek(0)
        magic = path.read(6)
        path.seek(0)
    else:
        with open(path, "rb") as f:
            magic = f.read(6)
    try:
        _check_expansion(path, magic, limit)
    finally:
        if hasattr(path, "seek"):
            path.seek(0)


def _check_expansion(path: str | Path | BinaryIO, magic: bytes, limit: int) -> None:
    import bz2
    import gzip
    import lzma
    import zipfile

    if magic.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) != 1:
                raise ValueError(f"the zip file holds {len(members)} files; a preview reads "
                                 "a zip file of one FITS file")

            def opener(_path: Any, _mode: str) -> Any:
                return archive.open(members[0])

            _count(opener, path, limit)
        return
    openers = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ": lzma.open}
    for start, found in openers.items():
        if magic.startswith(start):
            _count(found, path, limit)
            return
    if magic.startswith(b"\x1f\x9d"):
        raise ValueError("the file is compressed with Unix compress (.Z), which a preview "
                         "does not read")


def _count(opener: Any, path: str | Path | BinaryIO, limit: int) -> None:
    size = 0
    with opener(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise ValueError(f"the file expands to more than {limit >> 20} MB when "
                                 "decompressed, more than a preview reads")


def _image_hdu(hdul: fits.HDUList) -> tuple[np.ndarray, fits.Header, int]:
    for hdu in hdul:
        if not hdu.is_image or hdu.header.get("NAXIS", 0) < 2:
            continue
        pixels = int(np.prod([hdu.header.get(f"NAXIS{i}", 1)
                              for i in range(1, hdu.header["NAXIS"] + 1)], dtype=np.int64))
        if pixels > MAX_PIXELS:
            raise ValueError(f"the image has {pixels:,} pixels; a preview reads at most "
                             f"{MAX_PIXELS:,}")
        data = hdu.data
        if data is None:
            continue
        while data.ndim > 2:
            data = data[0]
        step = max(1, int(np.ceil(max(data.shape) / MAX_SIDE)))
        return np.asarray(data[::step, ::step], float), hdu.header, step
    raise ValueError("the file holds no image")


def _read_image(path: str | Path | BinaryIO) -> tuple[np.ndarray, fits.Header, int]:
    """The first image of a FITS file (see :func:`_image_hdu`), its size checked first;
    ValueError for anything that is not one."""
    check_decompressed_size(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            return _image_hdu(hdul)
    except OSError as exc:
        raise ValueError(f"not a FITS file: {exc}") from exc


def render_fits(path: str | Path | BinaryIO, *, stretch: str = "zscale, asinh",
                cone: tuple[float, float, float] | None = None, title: str = ""
                ) -> tuple[bytes, np.ndarray | None, str]:
    """Draw a FITS image as PNG with WCS axes.

    Parameters
    ----------
    path : str, Path or binary file
        The FITS file (or its bytes in a file object).
    stretch : str
        A key of :data:`STRETCHES`.
    cone : (ra, dec, radius), optional
        Drawn as a circle on the sky (degrees).
    title : str
        Shown above the image.

    Returns
    -------
    png : bytes
    footprint : (4, 2) array or None
        The image corners (ICRS degrees), None without a celestial WCS.
    note : str
        What the reader should know (no WCS, subsampled ...).

    Raises
    ------
    ValueError
        Not a FITS image.
    """
    import matplotlib

    matplotlib.use("Agg")
    from astropy.visualization import (
        AsinhStretch,
        ImageNormalize,
        LinearStretch,
        PercentileInterval,
        ZScaleInterval,
    )
    from astropy.visualization.wcsaxes import SphericalCircle
    from matplotlib.figure import Figure

    data, header, step = _read_image(path)
    notes = []
    try:
        wcs = WCS(header, naxis=2)
        celestial = wcs.has_celestial
    except Exception:  # astropy raises many kinds for broken WCS keywords
        wcs, celestial = None, False
    if step > 1:
        wcs = wcs.slice((slice(None, None, step), slice(None, None, step))) if wcs else None
        notes.append(f"every {step}th pixel shown")
    interval_name, stretch_name = STRETCHES[stretch]
    interval = ZScaleInterval() if interval_name == "zscale" else PercentileInterval(99.5)
    finite = data[np.isfinite(data)]
    norm = ImageNormalize(finite if finite.size else np.zeros(1), interval=interval,
                          stretch=AsinhStretch() if stretch_name == "asinh" else LinearStretch())
    figure = Figure(figsize=(6.4, 5.6), dpi=100)
    if celestial:
        ax = figure.add_subplot(projection=wcs.celestial)
        ax.coords[0].set_axislabel("RA (ICRS)" if "RA" in wcs.wcs.ctype[0] else
                                   wcs.wcs.ctype[0].split("-")[0])
        ax.coords[1].set_axislabel("Dec (ICRS)" if "DEC" in wcs.wcs.ctype[1] else
                                   wcs.wcs.ctype[1].split("-")[0])
        ax.coords.grid(color="white", alpha=0.35, linestyle="solid")
    else:
        ax = figure.add_subplot()
        ax.set_xlabel("x (pixel)")
        ax.set_ylabel("y (pixel)")
        notes.append("this image has no celestial WCS: pixel axes")
    ax.imshow(data, origin="lower", cmap="gray", norm=norm, interpolation="nearest")
    if celestial and np.linalg.det(wcs.celestial.pixel_scale_matrix) > 0:
        ax.invert_xaxis()  # east to the left, as on the sky
        notes.append("x axis flipped to put east on the left")
    if cone is not None and celestial:
        ax.add_patch(SphericalCircle((cone[0] * u.deg, cone[1] * u.deg), cone[2] * u.deg,
                                     edgecolor="#ff4040", facecolor="none", linewidth=1.5,
                                     linestyle="--", transform=ax.get_transform("icrs")))
    if title:
        ax.set_title(title[:80], fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    footprint = None
    if celestial:
        full = WCS(header, naxis=2).celestial
        footprint = full.calc_footprint(axes=(data.shape[1] * step, data.shape[0] * step))
        if full.wcs.ctype[0].startswith("GLON"):
            from astropy.coordinates import SkyCoord

            icrs = SkyCoord(footprint[:, 0] * u.deg, footprint[:, 1] * u.deg,
                            frame="galactic").icrs
            footprint = np.column_stack([icrs.ra.deg, icrs.dec.deg])
    return buffer.getvalue(), footprint, "; ".join(notes)


def pixel_grid(path: str | Path | BinaryIO, max_side: int = INSPECT_SIDE) -> dict[str, Any]:
    """A FITS image's pixels with the sky position of each, for inspecting in the
    browser (every ``step``-th pixel when a side is longer than ``max_side``).

    Returns
    -------
    dict
        ``value``, ``ra`` and ``dec`` (2-D float32 arrays, rows along y; ``ra``
        and ``dec`` None without a celestial WCS; galactic WCSs give ICRS),
        ``step`` and ``shape`` (of the whole image, pixels).

    Raises
    ------
    ValueError
        Not a FITS image.
    """
    data, header, step = _read_image(path)
    more = max(1, int(np.ceil(max(data.shape) / max_side)))
    data, step = data[::more, ::more], step * more
    shape = (data.shape[0] * step, data.shape[1] * step)
    grid: dict[str, Any] = {"value": data.astype(np.float32), "ra": None, "dec": None,
                            "step": step, "shape": shape}
    try:
        wcs = WCS(header, naxis=2)
    except Exception:  # astropy raises many kinds for broken WCS keywords
        return grid
    if not wcs.has_celestial:
        return grid
    ys, xs = np.mgrid[0:data.shape[0], 0:data.shape[1]] * step
    lon, lat = wcs.celestial.pixel_to_world_values(xs, ys)
    if wcs.celestial.wcs.ctype[0].startswith("GLON"):
        from astropy.coordinates import SkyCoord

        icrs = SkyCoord(lon * u.deg, lat * u.deg, frame="galactic").icrs
        lon, lat = icrs.ra.deg, icrs.dec.deg
    grid.update(ra=np.asarray(lon, np.float32), dec=np.asarray(lat, np.float32))
    return grid


class FitsPreview(pn.viewable.Viewer):
    """Fetches an image result's access URL and shows it with WCS axes."""

    stretch = param.Selector(objects=list(STRETCHES), default="zscale, asinh",
                             doc="Interval and stretch of the grey scale.")

    def __init__(self, *, trusted: Callable[[str], bool] = lambda url: False,
                 **params: Any) -> None:
        super().__init__(**params)
        #: Whether an address may be fetched wherever it is (the deployment's own
        #: services); any other is fetched only from a public address.
        self.trusted = trusted
        self.path: Path | None = None
        self.footprint: np.ndarray | None = None
        self._cone: tuple[float, float, float] | None = None
        self._title = ""
        self._tmp = tempfile.mkdtemp(prefix="esap-dash-fits-")
        weakref.finalize(self, shutil.rmtree, self._tmp, ignore_errors=True)
        self._image = pn.pane.PNG(None, width=640, height=560)
        #: The pixels under the pointer: value and sky position (pan, zoom, colour bar).
        self.inspector = pn.pane.HoloViews(None, width=640, height=560)
        self.notice = notice()
        self._layout = pn.Column(
            pn.widgets.Select.from_param(self.param.stretch, width=200), self.notice,
            pn.Tabs(("WCS axes", self._image), ("Inspect pixels", self.inspector),
                    dynamic=True))

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    async def show(self, url: str, *, title: str = "",
                   cone: tuple[float, float, float] | None = None, timeout: float = 60) -> bool:
        """Fetch ``url`` and draw it; False (with a message) when that fails."""
        if not url.startswith(("http://", "https://")):
            say(self.notice, "This row has no downloadable image.", "warning")
            return False
        say(self.notice, f"Fetching {url} …")
        try:
            self.path = await run_blocking(self._fetch, url, timeout)
        except (ConnectorError, ValueError) as exc:
            say(self.notice, getattr(exc, "reason", str(exc)), "danger")
            return False
        self._cone, self._title = cone, title
        return await self._draw()

    def _fetch(self, url: str, timeout: float) -> Path:
        return download(url, Path(self._tmp) / "preview.fits", max_bytes=MAX_BYTES,
                        timeout=timeout, allow_local=self.trusted(url))

    @param.depends("stretch", watch=True)
    async def _restretch(self) -> None:
        if self.path is not None:
            await self._draw()

    async def _draw(self) -> bool:
        assert self.path is not None
        try:
            png, self.footprint, note = await run_blocking(
                lambda: render_fits(self.path, stretch=self.stretch, cone=self._cone,
                                    title=self._title))
        except ValueError as exc:
            say(self.notice, str(exc), "danger")
            return False
        self._image.object = png
        grid = await run_blocking(pixel_grid, self.path)
        self.inspector.object = _inspected(grid, STRETCHES[self.stretch][0], self._title)
        if self.footprint is None:
            say(self.notice, note, "warning")
        else:
            say(self.notice, "WCS axes from the file's header; the dashed circle is the "
                "search cone" + (f"; {note}." if note else "."))
        return True


def _inspected(grid: dict[str, Any], interval: str, title: str) -> hv.Image:
    """The pixels of :func:`pixel_grid` as an image to pan and zoom, grey between the
    ``interval``'s limits (``zscale`` or ``percentile``), a colour bar in the file's
    units, and the value and sky position of the pixel under the pointer."""
    from astropy.visualization import PercentileInterval, ZScaleInterval

    value, step = grid["value"], grid["step"]
    ny, nx = value.shape
    finite = value[np.isfinite(value)]
    limits = ((ZScaleInterval() if interval == "zscale" else PercentileInterval(99.5))
              .get_limits(finite) if finite.size else (0.0, 1.0))
    arrays = [value] + ([grid["ra"], grid["dec"]] if grid["ra"] is not None else [])
    names = ["value", "ra", "dec"][:len(arrays)]
    tooltips = [("x", "$x{0}"), ("y", "$y{0}"), ("value", "@image")]
    if grid["ra"] is not None:
        tooltips += [("RA (deg)", "@ra{0.000000}"), ("Dec (deg)", "@dec{+0.000000}")]
    return hv.Image((np.arange(nx) * step, np.arange(ny) * step, *arrays),
                    ["x", "y"], names).opts(
        cmap="gray", clim=tuple(float(v) for v in limits), colorbar=True, data_aspect=1,
        tools=["hover"], hover_tooltips=tooltips, responsive=False, width=620, height=540,
        title=(title[:60] + " — pixels") if title else "pixels",
        xlabel="x (pixel)", ylabel="y (pixel)", active_tools=["wheel_zoom"])
