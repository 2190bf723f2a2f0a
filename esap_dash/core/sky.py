"""Sky geometry for the maps: projections, graticules, footprints and coverage (MOCs).

No drawing here: the map components compose HoloViews elements from these
arrays.  Projections are astropy WCS all-sky projections (Aitoff ``AIT``,
Mollweide ``MOL``), the orthographic ``SIN`` centred on the field in view (as
Aladin's: a circle stays a circle, a plate a rectangle); every one puts
longitude increasing to the *left*, as on the sky seen from inside.
Footprints are read with ``sregion`` (STC-S), coverage with ``mocpy``.
"""

from __future__ import annotations

import itertools
import json
import math
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import Galactic, SkyCoord
from astropy.wcs import WCS
from mocpy import MOC

__all__ = [
    "CENTRED",
    "FULL_SKY_DEG2",
    "PROJECTIONS",
    "Footprints",
    "Projected",
    "area_deg2",
    "circle",
    "coverage",
    "declared_layers",
    "field_graticule",
    "footprints",
    "graticule",
    "moc_bytes",
    "moc_from_points",
    "moc_from_regions",
    "moc_from_text",
    "moc_outlines",
    "outline",
    "project",
    "separation_deg",
    "sexagesimal",
    "sky_wcs",
    "to_frame",
    "where",
]

PROJECTIONS = {"Aitoff": "AIT", "Mollweide": "MOL", "Orthographic (SIN)": "SIN"}
#: Projections centred on the field in view (the others on (0, 0)).
CENTRED = frozenset({"Orthographic (SIN)"})
FULL_SKY_DEG2 = 4 * math.pi * (180 / math.pi) ** 2
#: HEALPix order of the coverage drawn on the map (cells of ~0.9 deg).
DRAW_ORDER = 6


def sky_wcs(projection: str = "Aitoff", frame: str = "icrs",
            centre: tuple[float, float] = (0.0, 0.0)) -> WCS:
    """A map's WCS, whose pixel coordinates are projected degrees: an all-sky one
    centred on (0, 0), or one of :data:`CENTRED` on ``centre`` (the frame's degrees).

    ``CDELT1 = -1``: longitude increases to the left.
    """
    code = PROJECTIONS[projection]
    wcs = WCS(naxis=2)
    lon, lat = ("GLON", "GLAT") if frame == "galactic" else ("RA--", "DEC-")
    wcs.wcs.ctype = [f"{lon}-{code}", f"{lat}-{code}"]
    wcs.wcs.crval = list(centre) if projection in CENTRED else [0.0, 0.0]
    wcs.wcs.crpix = [0.0, 0.0]
    wcs.wcs.cdelt = [-1.0, 1.0]
    return wcs


def to_frame(ra: np.ndarray, dec: np.ndarray, frame: str) -> tuple[np.ndarray, np.ndarray]:
    """ICRS degrees to the map's frame (``icrs`` or ``galactic``), degrees."""
    if frame == "icrs":
        return np.asarray(ra, float), np.asarray(dec, float)
    coords = SkyCoord(ra=np.asarray(ra, float) * u.deg, dec=np.asarray(dec, float) * u.deg,
                      frame="icrs").transform_to(Galactic())
    return coords.l.deg, coords.b.deg


def project(wcs: WCS, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projected x, y of positions already in ``wcs``'s frame (NaN where undefined)."""
    lon = np.asarray(lon, float)
    lat = np.asarray(lat, float)
    if not lon.size:
        return np.empty(0), np.empty(0)
    x, y = wcs.wcs_world2pix(lon, lat, 1)  # origin 1: CRPIX 0 is the centre
    return np.asarray(x, float), np.asarray(y, float)


@dataclass
class Projected:
    """Positions of one result set projected once for one map (kept per set and map).

    Attributes
    ----------
    x, y : ndarray
        Projected degrees (NaN for rows without a position).
    valid : ndarray of bool
        Rows with a position.
    """

    x: np.ndarray
    y: np.ndarray
    valid: np.ndarray

    @classmethod
    def of(cls, ra: Sequence[float], dec: Sequence[float], *, projection: str,
           frame: str, centre: tuple[float, float] = (0.0, 0.0)) -> Projected:
        """Project ICRS ``ra``/``dec`` (degrees; NaN allowed) onto a map (NaN also
        where the projection does not reach, as the far side of ``SIN``)."""
        ra = np.asarray(ra, float)
        dec = np.asarray(dec, float)
        valid = np.isfinite(ra) & np.isfinite(dec)
        x = np.full(ra.shape, np.nan)
        y = np.full(ra.shape, np.nan)
        lon, lat = to_frame(ra[valid], dec[valid], frame)
        x[valid], y[valid] = project(sky_wcs(projection, frame, centre), lon, lat)
        return cls(x, y, valid & np.isfinite(x))


def _lon_label(lon: float, frame: str) -> str:
    if frame == "galactic":
        return f"{lon % 360:.0f}°"
    return f"{(lon % 360) / 15:.0f}h"


def graticule(projection: str, frame: str, step: float = 30.0
              ) -> tuple[list[np.ndarray], list[tuple[float, float, str]]]:
    """Meridians and parallels every ``step`` degrees, the outline, and their labels.

    Returns
    -------
    lines : list of (N, 2) arrays
        Projected lines.
    labels : list of (x, y, text)
        Longitude labels along the equator and latitude labels on the left edge.
    """
    if projection in CENTRED:  # only the horizon: the grid is the field's
        half = np.linspace(0, np.pi, 181)
        radius = math.degrees(1.0)
        return [np.column_stack([radius * np.cos(half), radius * np.sin(half)]),
                np.column_stack([radius * np.cos(half), -radius * np.sin(half)])], []
    wcs = sky_wcs(projection, frame)
    lats = np.linspace(-90, 90, 181)
    lons = np.linspace(-180, 180, 361)
    lines = []
    for lon in np.arange(-180 + step, 180, step):
        x, y = project(wcs, np.full_like(lats, lon), lats)
        lines.append(np.column_stack([x, y]))
    for lat in np.arange(-90 + step, 90, step):
        x, y = project(wcs, np.clip(lons, -179.999, 179.999), np.full_like(lons, lat))
        lines.append(np.column_stack([x, y]))
    for edge in (-179.999, 179.999):
        x, y = project(wcs, np.full_like(lats, edge), lats)
        lines.append(np.column_stack([x, y]))
    labels = []
    for lon in np.arange(-180 + step, 180, step):
        x, y = project(wcs, [lon], [0.0])
        labels.append((float(x[0]), float(y[0]), _lon_label(lon, frame)))
    for lat in np.arange(-90 + step, 90, step):
        if lat == 0:  # the equator carries the longitude labels
            continue
        x, y = project(wcs, [179.999], [lat])
        labels.append((float(x[0]) - 8.0, float(y[0]), f"{lat:+.0f}°"))
    return lines, labels


#: Grid steps in arcseconds: of declination (or any angle), and of right ascension
#: in seconds of time.
ANGLE_STEPS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 18000,
               36000, 54000, 108000)
TIME_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600,
              7200)


def sexagesimal(value: float, step: float, *, hours: bool) -> str:
    """A grid label: ``value`` (degrees) as ``05h34m30s`` (``hours``) or ``+22°00′``,
    to the precision of ``step`` (arcseconds, or seconds of time)."""
    if hours:
        total = round((value % 360) / 15 * 3600 / step) * step % 86400
        sign, marks = "", ("h", "m", "s")
    else:
        total = round(abs(value) * 3600 / step) * step
        sign, marks = ("-" if value < 0 else "+"), ("°", "′", "″")
    whole, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{int(whole):0{2 if hours else 1}d}{marks[0]}"
    if step >= 3600:
        return text
    text += f"{int(minutes):02d}{marks[1]}"
    if step >= 60:
        return text
    places = 1 if step < 1 else 0
    return text + f"{seconds:0{3 + places if places else 2}.{places}f}{marks[2]}"


def field_graticule(wcs: WCS, frame: str, window: tuple[tuple[float, float],
                                                        tuple[float, float]]
                    ) -> tuple[list[np.ndarray], list[tuple[float, float, str]]]:
    """Meridians and parallels across a window of a map, about five each way, and
    their labels in sexagesimal (right ascension in hours, for ``icrs``) at the
    window's bottom and left edges.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        The map's projection.
    frame : str
        ``icrs`` or ``galactic``.
    window : tuple
        ``((x0, x1), (y0, y1))`` in projected degrees.
    """
    (x0, x1), (y0, y1) = window
    gx, gy = np.meshgrid(np.linspace(x0, x1, 41), np.linspace(y0, y1, 41))
    with np.errstate(invalid="ignore"):
        lon, lat = wcs.wcs_pix2world(gx.ravel(), gy.ravel(), 1)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return [], []
    lon, lat = np.asarray(lon)[ok], np.asarray(lat)[ok]
    centre = float(wcs.wcs.crval[0])
    lon = (lon - centre + 180) % 360 - 180 + centre  # continuous across 0h
    height = abs(y1 - y0)
    angle = next((s for s in ANGLE_STEPS if s / 3600 >= height / 6), ANGLE_STEPS[-1])
    hours = frame == "icrs"
    # Right ascension: as many lines as of declination where the field is.
    shrink = max(math.cos(math.radians(min(abs(float(lat.mean())), 89.0))), 1e-3)
    if hours:
        step_lon = next((s for s in TIME_STEPS if s * 15 / 3600 >= angle / 3600 / shrink),
                        TIME_STEPS[-1]) * 15 / 3600
    else:
        step_lon = next((s for s in ANGLE_STEPS if s / 3600 >= angle / 3600 / shrink),
                        ANGLE_STEPS[-1]) / 3600
    step_lat = angle / 3600
    lat_lo, lat_hi = max(float(lat.min()), -90.0), min(float(lat.max()), 90.0)
    pole = lat_hi > 89.0 or lat_lo < -89.0
    lon_lo, lon_hi = (centre - 180, centre + 180) if pole else (float(lon.min()),
                                                                 float(lon.max()))
    if pole:  # meridians radiate from the pole: twelve of them
        step_lon = 30.0
    lines, labels = [], []
    lats = np.linspace(lat_lo, lat_hi, 200)
    pad_x, pad_y = 0.04 * abs(x1 - x0), 0.04 * height
    for value in np.arange(math.ceil(lon_lo / step_lon) * step_lon, lon_hi, step_lon)[:60]:
        x, y = project(wcs, np.full_like(lats, value), lats)
        lines.extend(split_at_wrap(x, y))
        # Labelled where the line leaves the window, the lowest such place.
        inside = ((x > min(x0, x1) + 1.5 * pad_x) & (x < max(x0, x1) - 1.5 * pad_x)
                  & (y > y0 + pad_y) & (y < y1))
        ends = np.flatnonzero(inside & ~(np.roll(inside, 1) & np.roll(inside, -1)))
        edge = np.minimum(np.minimum(x[ends] - min(x0, x1), max(x0, x1) - x[ends]),
                          np.minimum(y[ends] - y0, y1 - y[ends]))
        ends = ends[edge < 3 * pad_y]
        if len(ends):
            i = ends[np.argmin(y[ends])]
            labels.append((float(x[i]), float(y[i]),
                           sexagesimal(value, step_lon * 3600 / (15 if hours else 1),
                                       hours=hours) if hours
                           else f"{value % 360:.{_places(step_lon)}f}°"))
    lons = np.linspace(lon_lo, lon_hi, 400)
    for value in np.arange(math.ceil(lat_lo / step_lat) * step_lat, lat_hi, step_lat)[:60]:
        if abs(value) >= 90:
            continue
        x, y = project(wcs, lons, np.full_like(lons, value))
        lines.extend(split_at_wrap(x, y))
        inside = np.flatnonzero((x > min(x0, x1) + pad_x) & (x < max(x0, x1)) & (y > y0)
                                & (y < y1))
        if len(inside):
            i = inside[np.argmin(x[inside])]
            labels.append((float(x[i]), float(y[i]), sexagesimal(value, angle, hours=False)))
    return lines, labels


def _places(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9))


def split_at_wrap(x: np.ndarray, y: np.ndarray, jump: float = 90.0) -> list[np.ndarray]:
    """Cut a projected polyline where it jumps across the map's edge."""
    xy = np.column_stack([x, y])
    ok = np.isfinite(xy).all(axis=1)
    breaks = np.flatnonzero((np.abs(np.diff(x)) > jump) | ~ok[1:] | ~ok[:-1]) + 1
    return [part for part in np.split(xy, breaks) if len(part) > 1 and np.isfinite(part).all()]


@dataclass
class Footprints:
    """Outlines parsed from ``s_region`` values.

    Attributes
    ----------
    polygons : list of (row, (N, 2) array of ICRS lon/lat)
        One entry per polygon (a region may have several).
    bad : list of (row, message)
        Rows whose ``s_region`` could not be read (skipped, shown as warnings).
    """

    polygons: list[tuple[int, np.ndarray]] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)


def footprints(regions: Iterable[str]) -> Footprints:
    """Parse STC-S ``s_region`` strings (POLYGON, CIRCLE, ...) with ``sregion``.

    Empty values are skipped silently; unreadable ones are listed in ``bad``.
    """
    from sregion import SRegion

    out = Footprints()
    for row, text in enumerate(regions):
        text = str(text or "").strip()
        if not text:
            continue
        try:
            shapes = SRegion(text).xy
        except Exception as exc:  # sregion raises bare ValueError/IndexError/KeyError
            out.bad.append((row, f"unreadable s_region {text[:60]!r}: {exc}"))
            continue
        for shape in shapes:
            shape = np.asarray(shape, float)
            if shape.ndim != 2 or len(shape) < 3 or not np.isfinite(shape).all():
                out.bad.append((row, f"s_region {text[:60]!r} is not a polygon on the sky"))
                continue
            out.polygons.append((row, shape))
    return out


def outline(polygon: np.ndarray, wcs: WCS, frame: str) -> list[np.ndarray]:
    """A closed footprint polygon projected on a map (split at the wrap)."""
    closed = np.vstack([polygon, polygon[:1]])
    dense = _densify(closed)
    lon, lat = to_frame(dense[:, 0], dense[:, 1], frame)
    x, y = project(wcs, _wrap(lon), lat)
    return split_at_wrap(x, y)


def _wrap(lon: np.ndarray) -> np.ndarray:
    return (np.asarray(lon) + 180.0) % 360.0 - 180.0


def _densify(points: np.ndarray, step: float = 1.0) -> np.ndarray:
    """Add points along long edges, so projected outlines curve as they should."""
    out = [points[:1]]
    for a, b in itertools.pairwise(points):
        n = max(1, math.ceil(float(np.hypot(*(b - a))) / step))
        t = np.linspace(0, 1, n + 1)[1:, None]
        out.append(a + (b - a) * t)
    return np.vstack(out)


def moc_from_points(ra: np.ndarray, dec: np.ndarray, order: int = 10) -> MOC:
    """Coverage of positions (the HEALPix cells of ``order`` that hold them)."""
    ra = np.asarray(ra, float)
    dec = np.asarray(dec, float)
    ok = np.isfinite(ra) & np.isfinite(dec)
    if not ok.any():
        return MOC.new_empty(order)
    return MOC.from_lonlat(lon=ra[ok] * u.deg, lat=dec[ok] * u.deg, max_norder=order)


def moc_from_regions(fp: Footprints, order: int = 12) -> MOC:
    """Coverage of footprints (their union)."""
    if not fp.polygons:
        return MOC.new_empty(order)
    mocs = [MOC.from_polygon(lon=poly[:, 0] * u.deg, lat=poly[:, 1] * u.deg, max_depth=order)
            for _, poly in fp.polygons]
    return mocs[0].union(*mocs[1:]) if len(mocs) > 1 else mocs[0]


def coverage(rows: Any, order: int = 8) -> MOC | None:
    """The coverage of rows (``ra``, ``dec`` and any ``s_region`` footprints) at
    ``order``; None for no rows.

    Parameters
    ----------
    rows : astropy.table.Table
        Rows in the common columns (masked positions are left out).
    order : int
        HEALPix order of the cells of the positions.
    """
    if not len(rows):
        return None
    ra = np.ma.filled(np.ma.asarray(rows["ra"], float), np.nan)
    dec = np.ma.filled(np.ma.asarray(rows["dec"], float), np.nan)
    moc = moc_from_points(np.asarray(ra), np.asarray(dec), order=order)
    fp = footprints(rows["s_region"] if "s_region" in rows.colnames else [])
    return moc.union(moc_from_regions(fp)) if fp.polygons else moc


def area_deg2(moc: MOC) -> float:
    """Sky area of a MOC in square degrees."""
    return float(moc.sky_fraction * FULL_SKY_DEG2)


def moc_outlines(moc: MOC, wcs: WCS, frame: str, max_cells: int = 3000) -> list[np.ndarray]:
    """The cells of ``moc`` as projected polygons to fill.

    The MOC is degraded to the finest order (at most :data:`DRAW_ORDER`)
    that keeps it under ``max_cells`` cells; cells cut by the map's edge are
    left out.
    """
    import cdshealpix

    if moc.empty():
        return []
    order = min(DRAW_ORDER, moc.max_order)
    cells = (moc if order == moc.max_order else moc.degrade_to_order(order)).flatten()
    while len(cells) > max_cells and order > 0:
        order -= 1
        cells = moc.degrade_to_order(order).flatten()
    lon, lat = cdshealpix.vertices(np.asarray(cells, np.uint64), order, step=2)
    shape = lon.shape
    flon, flat = to_frame(lon.to_value(u.deg).ravel(), lat.to_value(u.deg).ravel(), frame)
    x, y = project(wcs, _wrap(flon), flat)
    x, y = x.reshape(shape), y.reshape(shape)
    keep = np.isfinite(x).all(axis=1) & (np.ptp(x, axis=1) < 45)
    return [np.column_stack([xi, yi]) for xi, yi in zip(x[keep], y[keep], strict=True)]


def moc_from_text(text: str, max_order: int = 29) -> MOC:
    """Parse a MOC in the IVOA ASCII (``4/1732 1735 5/139``) or JSON serialisation.

    Raises
    ------
    ValueError
        The text is not a MOC.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty MOC")
    try:
        if text.startswith("{"):
            return MOC.from_json({k: list(v) for k, v in json.loads(text).items()})
        return MOC.from_str(text)
    except Exception as exc:  # mocpy raises several kinds for bad text
        raise ValueError(f"not a MOC: {text[:60]!r} ({exc})") from exc


def moc_bytes(moc: MOC, fmt: str) -> bytes:
    """``moc`` as a file: ``fits``, ``json`` or ``ascii``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"moc.{fmt}"
        moc.save(str(path), format=fmt, overwrite=True)
        return path.read_bytes()


def declared_layers(services: Iterable[Any], declared: dict[str, str]
                    ) -> tuple[dict[str, MOC], list[str]]:
    """The coverage of each of ``services`` (by name) from the MOCs a registry
    declares for them (``declared``, by URL), and what could not be read."""
    layers, bad = {}, []
    for svc in services:
        text = declared.get(svc.url.rstrip("?"))
        if text is None:
            continue
        try:
            layers[svc.name] = moc_from_text(text)
        except ValueError as exc:
            bad.append(f"{svc.name}: {exc}")
    return layers, bad


def separation_deg(ra0: float, dec0: float, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Angular distances in degrees (NaN positions give NaN)."""
    from astropy.coordinates import angular_separation

    return np.degrees(angular_separation(math.radians(ra0), math.radians(dec0),
                                         np.radians(ra), np.radians(dec)))


def circle(lon: float, lat: float, radius: float, n: int = 128) -> np.ndarray:
    """A small circle on the sky as (n, 2) lon/lat degrees."""
    centre = SkyCoord(lon * u.deg, lat * u.deg)
    angles = np.linspace(0, 360, n) * u.deg
    points = centre.directional_offset_by(angles, radius * u.deg)
    return np.column_stack([points.ra.deg, points.dec.deg])


def where(rows: Any, index: Any) -> list[str]:
    """For hover tooltips: each of ``rows[index]``'s position in sexagesimal ICRS
    and, where it has one, its main magnitude and band (``05:34:31.94 +22:00:52.2
    · V 8.4``).

    Parameters
    ----------
    rows : astropy.table.Table
        Rows with ``ra`` and ``dec`` in degrees (``mag`` and ``band`` optional).
    index : array of int
        Which rows.
    """
    index = np.asarray(index, dtype=int)
    if not len(index) or "ra" not in rows.colnames:
        return [""] * len(index)
    ra = np.asarray(rows["ra"], float)[index]
    dec = np.asarray(rows["dec"], float)[index]
    ok = np.isfinite(ra) & np.isfinite(dec)
    texts = np.full(len(index), "", dtype=object)
    if ok.any():
        coords = SkyCoord(ra[ok], dec[ok], unit="deg")
        texts[ok] = np.char.add(np.char.add(
            coords.ra.to_string(u.hourangle, sep=":", precision=2, pad=True), " "),
            coords.dec.to_string(sep=":", precision=1, alwayssign=True, pad=True))
    if "mag" in rows.colnames:
        mag = np.asarray(rows["mag"], float)[index]
        band = (np.asarray(rows["band"]).astype(str)[index] if "band" in rows.colnames
                else np.full(len(index), "mag"))
        for i in np.flatnonzero(np.isfinite(mag)):
            texts[i] = f"{texts[i]} · {band[i]} {mag[i]:.2f}".strip(" ·")
    return [str(t) for t in texts]


def describe(value: Any) -> str:
    """Plain text for hover tooltips (never markup)."""
    return " ".join(str(value).split())[:120]
