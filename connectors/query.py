"""The common query every archive answers, and the common result columns.

A :class:`SkyQuery` holds what the scientist asked (position, radius,
keywords, waveband, time range, product type); each connector translates it
into its own protocol.  Values are validated here, and reach ADQL only as
numbers or as quoted literals made by :func:`adql_string`, so user text can
never change the meaning of a query.
"""

from __future__ import annotations

import json
import math
import re
import string
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from astropy import units as u
from astropy.table import Column, Table

from .exceptions import QueryError

__all__ = [
    "COMMON_COLUMNS",
    "DEFAULT_RADIUS",
    "FRAMES",
    "MAX_RADIUS",
    "OBSCORE_MAPPING",
    "WAVEBANDS",
    "SkyQuery",
    "adql_string",
    "column_meta",
    "columns_by_ucd",
    "common_table",
    "keywords_match",
    "main_magnitude",
    "name_mapping",
    "quote_prefix",
    "ucd_mapping",
]

#: Frames coordinates may be typed in.
FRAMES = ("icrs", "fk5", "galactic")
#: Largest cone radius in degrees.
MAX_RADIUS = 10.0
#: Smallest cone radius in degrees (1 milliarcsecond).
MIN_RADIUS = 1 / 3600 / 1000
#: A search's cone radius in degrees when the request names none.
DEFAULT_RADIUS = 0.1
#: Observation times searched, MJD (1585-11-17 to 2132-08-31).
MJD_RANGE = (-100_000.0, 100_000.0)
#: IVOA messenger vocabulary terms and their wavelength range in metres.
WAVEBANDS: dict[str, tuple[float, float]] = {
    "radio": (1e-2, 1e3),
    "millimeter": (1e-4, 1e-2),
    "infrared": (7e-7, 1e-4),
    "optical": (3e-7, 7e-7),
    "uv": (1e-8, 3e-7),
    "x-ray": (1e-11, 1e-8),
    "gamma-ray": (1e-16, 1e-11),
}
PRODUCT_TYPES = ("image", "cube", "spectrum", "sed", "timeseries", "visibility", "event",
                 "measurements")
#: Columns every archive's results are mapped to, in display order.
COMMON_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("archive", str), ("id", str), ("title", str), ("ra", float), ("dec", float),
    ("distance", float), ("mag", float), ("band", str), ("product_type", str),
    ("s_region", str), ("access_url", str),
    ("size", np.int64), ("service_url", str), ("record", str),
)
#: ObsCore column for each common column.
OBSCORE_MAPPING: dict[str, str | None] = {
    "id": "obs_publisher_did", "title": "obs_title", "ra": "s_ra", "dec": "s_dec",
    "product_type": "dataproduct_type", "s_region": "s_region", "access_url": "access_url",
    "size": "access_estsize",
}
#: Letters (any script), digits, and a few separators; never a LIKE wildcard
#: (``_`` and ``%``), at least one letter or digit.
_KEYWORD = re.compile(r"^(?=.*[^\W_])(?:[^\W_]|[ .+\-/()'])+$", re.UNICODE)
MAX_KEYWORD = 80


def quote_prefix(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message: at most ``limit`` characters of it."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


def adql_string(text: str) -> str:
    """Quote ``text`` as an ADQL string literal.

    Parameters
    ----------
    text : str
        Any user text.

    Returns
    -------
    str
        ``'...'`` with single quotes doubled, so the text stays one literal.

    Raises
    ------
    QueryError
        For control characters, which no catalogue value contains.
    """
    if any(ord(c) < 32 for c in text):
        raise QueryError(f"control characters are not allowed in {text!r}")
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class SkyQuery:
    """A search around a position, with optional constraints.

    Attributes
    ----------
    ra, dec : float
        Centre, ICRS degrees.
    radius : float
        Cone radius in degrees, 0 < radius <= ``MAX_RADIUS``.
    keywords : tuple of str
        Words the archives match in titles or names.
    waveband : str, optional
        A term of ``WAVEBANDS``.
    time_min, time_max : float, optional
        MJD range.
    product_type : str, optional
        An ObsCore ``dataproduct_type``.
    maxrec : int, optional
        Row limit per archive (each archive's own limit applies otherwise).
    target : str
        What the user typed for the position, kept for provenance.
    """

    ra: float
    dec: float
    radius: float
    keywords: tuple[str, ...] = ()
    waveband: str | None = None
    time_min: float | None = None
    time_max: float | None = None
    product_type: str | None = None
    maxrec: int | None = None
    target: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in ("ra", "dec", "radius"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise QueryError(f"{name} must be a finite number, not {value!r}")
        if not 0 <= self.ra < 360:
            raise QueryError(f"RA {self.ra} is outside 0..360 degrees")
        if not -90 <= self.dec <= 90:
            raise QueryError(f"Dec {self.dec} is outside -90..+90 degrees")
        if not MIN_RADIUS <= self.radius <= MAX_RADIUS:
            raise QueryError(f"the radius must be at least 0.001 arcsec and at most "
                             f"{MAX_RADIUS:g} degrees, not {self.radius:g} degrees")
        if self.waveband is not None and self.waveband not in WAVEBANDS:
            raise QueryError(f"unknown waveband {self.waveband!r}; "
                             f"use one of {', '.join(WAVEBANDS)}")
        if self.product_type is not None and self.product_type not in PRODUCT_TYPES:
            raise QueryError(f"unknown product type {self.product_type!r}; "
                             f"use one of {', '.join(PRODUCT_TYPES)}")
        for word in self.keywords:
            if len(word) > MAX_KEYWORD or not _KEYWORD.match(word):
                raise QueryError(f"keyword {quote_prefix(word)}: use letters, digits, spaces "
                                 f"and . + - / ( ) ' only (not _ or %, which archives read as "
                                 f"wildcards), at most {MAX_KEYWORD} characters")
        for name in ("time_min", "time_max"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not MJD_RANGE[0] <= value <= MJD_RANGE[1]:
                raise QueryError(f"the observation time {value!r} is not an MJD between "
                                 f"{MJD_RANGE[0]:,.0f} and {MJD_RANGE[1]:,.0f} "
                                 "(years 1585 to 2132)")
        if (self.time_min is not None and self.time_max is not None
                and self.time_min > self.time_max):
            raise QueryError("the time range ends before it starts")
        if self.maxrec is not None and self.maxrec < 1:
            raise QueryError("the row limit must be at least 1")

    @property
    def band(self) -> tuple[float, float] | None:
        """The waveband as a wavelength interval in metres."""
        return WAVEBANDS[self.waveband] if self.waveband else None

    def to_dict(self) -> dict[str, Any]:
        """The query as plain data (for history and provenance)."""
        data = asdict(self)
        data["keywords"] = list(self.keywords)
        return data


def _json_safe(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if np.ma.is_masked(value):
        return None
    if isinstance(value, (np.ndarray, list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _plain_values(column: Column) -> list[Any]:
    """A column as JSON-ready Python values (masked and non-finite become None)."""
    data = np.ma.asanyarray(column)
    if data.ndim > 1 or data.dtype.kind in "OSc":
        values = [_json_safe(v) for v in (data.data.tolist() if data.ndim == 1 else data.data)]
    elif data.dtype.kind == "f" and data.dtype.itemsize < 8:
        # A single-precision value as its shortest decimal (10.12, not 10.119999885559082).
        values = [float(str(v)) if np.isfinite(v) else None for v in data.data]
    elif data.dtype.kind == "f":
        values = [v if v is not None and math.isfinite(v) else None
                  for v in data.data.tolist()]
    else:
        values = data.data.tolist()
    mask = np.ma.getmaskarray(data)
    if mask.ndim == 1 and mask.any():
        values = [None if m else v for v, m in zip(values, mask.tolist(), strict=True)]
    return values


def common_table(table: Table, archive: str, mapping: dict[str, str | None], *,
                 query: SkyQuery | None = None, product_type: str = "",
                 size_factor: float = 1.0) -> Table:
    """Map an archive's rows to :data:`COMMON_COLUMNS`.

    Parameters
    ----------
    table : astropy.table.Table
        The archive's own result.
    archive : str
        The archive's name, written in every row.
    mapping : dict
        Common column name -> the archive's column name (or None).  ``title`` may
        instead be a template naming columns (``"HIP {hip}"``), for catalogues whose
        identifier is a bare number.
    query : SkyQuery, optional
        Used to compute ``distance`` (degrees from the search centre).
    product_type : str
        Value used when the archive has no product-type column.
    size_factor : float
        Multiplier turning the archive's size column into bytes.

    Returns
    -------
    astropy.table.Table
        One row per input row; ``record`` holds the full original row as
        JSON, so nothing the archive said is lost.  A catalogue source's title
        (``product_type="source"``) is followed by the other names the row gives
        the object (columns with UCD ``meta.id`` or ``meta.id.cross``:
        ``NGC1952 (Crab Nebula, M1, ...)``), so that they are searched too.
        ``mag`` is the row's main magnitude where the archive gives one (see
        :func:`main_magnitude`) and ``band`` names it.
    """
    n = len(table)

    def col(name: str) -> Any:
        source = mapping.get(name)
        return table[source] if source and source in table.colnames else None

    def text(name: str, default: str = "") -> list[str]:
        values = col(name)
        if values is None:
            return [default] * n
        return ["" if v is None else str(v) for v in _plain_values(values)]

    def number(name: str) -> np.ndarray:
        values = col(name)
        if values is None:
            return np.full(n, np.nan)
        return np.ma.filled(np.ma.asarray(values, dtype=float), np.nan)

    template = mapping.get("title") or ""
    titles = (_from_template(table, template) if "{" in template else text("title"))
    if product_type == "source":  # data products' meta.id columns are not names
        titles = _with_other_names(titles, table)
    ra, dec = number("ra"), number("dec")
    if query is not None:
        from astropy.coordinates import angular_separation

        distance = np.degrees(angular_separation(np.radians(query.ra), np.radians(query.dec),
                                                 np.radians(ra), np.radians(dec)))
    else:
        distance = np.full(n, np.nan)
    size = number("size") * size_factor
    magnitude = main_magnitude(table)
    mag = (np.array([np.nan if v is None else v for v in _plain_values(table[magnitude])],
                    dtype=float) if magnitude else np.full(n, np.nan))
    names = table.colnames
    columns = [_plain_values(table[c]) for c in names]
    records = [json.dumps(dict(zip(names, values, strict=True)))
               for values in zip(*columns, strict=True)] if names else []
    columns = {
        "archive": [archive] * n, "id": text("id"), "title": titles,
        "ra": ra, "dec": dec, "distance": distance,
        "mag": mag, "band": [_band_name(table[magnitude]) if magnitude else ""] * n,
        "product_type": text("product_type", product_type),
        "s_region": text("s_region"), "access_url": text("access_url"),
        "size": np.where(np.isfinite(size), size, -1).astype(np.int64),
        "service_url": text("service_url"),
        "record": records,
    }
    out = Table([Column(columns[name], name=name, dtype=dtype)
                 for name, dtype in COMMON_COLUMNS])
    out["ra"].unit = out["dec"].unit = out["distance"].unit = "deg"
    out.meta.update(table.meta)
    out.meta["columns"] = {archive: column_meta(table)}
    if "datalink" in table.meta:  # per archive, as the rows of several are merged
        out.meta["datalink"] = {archive: dict(table.meta["datalink"])}
    return out


def _from_template(table: Table, template: str) -> list[str]:
    """Each row's text of ``template``, whose fields are column names of ``table``."""
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    unknown = fields - set(table.colnames)
    if unknown:
        raise QueryError(f"the title {template!r} names columns the archive does not "
                         f"give: {', '.join(sorted(unknown))}")
    values = {f: ["" if v is None else v for v in _plain_values(table[f])] for f in fields}
    return [template.format_map({f: values[f][i] for f in fields}) for i in range(len(table))]


def main_magnitude(table: Table) -> str | None:
    """The column of ``table`` holding its main magnitude, by UCD: a ``phot.mag``
    marked ``meta.main``, else the V band, else the first magnitude; None if the
    table has none (errors and flags of magnitudes are not magnitudes)."""
    found = [name for name in table.colnames
             if _ucd_words(table[name])[:1] == ["phot.mag"] and table[name].dtype.kind in "iuf"]

    def rank(name: str) -> int:
        words = _ucd_words(table[name])
        return 0 if "meta.main" in words else 1 if "em.opt.v" in words else 2

    return min(found, key=rank) if found else None


def _band_name(column: Column) -> str:
    """The band of a magnitude column: the last part of its UCD's ``em.`` word
    (``phot.mag;em.opt.V`` -> ``V``, ``em.IR.J`` -> ``J``) when that names one band,
    else the column's name."""
    words = [w for w in str(column.meta.get("ucd") or "").split(";") if w.lower().startswith("em.")]
    parts = words[0].strip().split(".") if len(words) == 1 else []
    generic = {"em", "opt", "ir", "uv", "radio", "mm", "x-ray", "gamma"}
    return parts[-1] if parts and parts[-1].lower() not in generic else column.name


def _ucd_words(column: Column) -> list[str]:
    return [w.strip().lower() for w in str(column.meta.get("ucd") or "").split(";") if w.strip()]


#: UCDs of the other names of an object (not its main identifier).
_OTHER_NAMES = ("meta.id", "meta.id.cross")


def _with_other_names(titles: list[str], table: Table) -> list[str]:
    """``titles``, each followed by the other names its row gives (comma-separated
    lists split, each name once, none repeating the title)."""
    columns = [name for name in table.colnames
               if str(table[name].meta.get("ucd") or "").strip().lower() in _OTHER_NAMES
               and table[name].dtype.kind in "USO"]
    columns.sort(key=lambda name: _OTHER_NAMES.index(table[name].meta["ucd"].strip().lower()))
    if not columns:
        return titles
    values = [_plain_values(table[name]) for name in columns]
    out = []
    for i, title in enumerate(titles):
        names = dict.fromkeys(part.strip() for column in values
                              for part in str(column[i] or "").split(","))
        names = [name for name in names if name and name != title]
        out.append(f"{title} ({', '.join(names)})" if names else title)
    return out


def keywords_match(texts: Iterable[str], keywords: Iterable[str]) -> list[bool]:
    """For each of ``texts``, whether it contains every keyword (case-insensitive).

    For archives whose protocol has no keyword parameter: the words are matched
    in the text of each row after the query.
    """
    words = [w.lower() for w in keywords]
    return [all(w in text.lower() for w in words) for text in texts]


def unit_text(unit: Any) -> str:
    """A column's unit as the VO writes it (VOUnit: ``cm**-2.s**-1``, not astropy's
    ``1 / (s cm2)``); a unit astropy did not recognise, as the service wrote it."""
    if unit is None:
        return ""
    if isinstance(unit, u.UnrecognizedUnit):
        return unit.to_string()
    with warnings.catch_warnings():  # VOUnit's deprecations (erg) are the service's
        warnings.simplefilter("ignore", u.UnitsWarning)
        try:
            return unit.to_string(format="vounit")
        except (ValueError, TypeError):  # not expressible in VOUnit
            return unit.to_string(format="cds")


def column_meta(table: Table) -> dict[str, dict[str, str]]:
    """Name -> ``unit``, ``ucd`` and ``description`` of the columns that have any."""
    meta = {}
    for name in table.colnames:
        column = table[name]
        found = {"unit": unit_text(column.unit),
                 "ucd": str(column.meta.get("ucd") or ""),
                 "description": str(column.description or "")}
        if any(found.values()):
            meta[name] = found
    return meta


# UCD1+ and, as SCS 1.03 asks for, UCD1.
_UCDS = {"id": {"meta.id;meta.main", "id_main"},
         "ra": {"pos.eq.ra;meta.main", "pos_eq_ra_main"},
         "dec": {"pos.eq.dec;meta.main", "pos_eq_dec_main"}}


#: Usual names of the common columns in tables that carry no UCDs (lower case).
_NAMES = {"id": ("id", "name", "main_id", "source_id", "designation", "obj_id", "object"),
          "ra": ("ra", "raj2000", "_raj2000", "ra_icrs", "ra_deg", "radeg", "alpha"),
          "dec": ("dec", "dej2000", "_dej2000", "de_icrs", "dec_deg", "dedeg", "delta")}


def name_mapping(table: Table) -> dict[str, str]:
    """Common column name -> column of ``table`` by its usual names (``ra``, ``RAJ2000``,
    ``name`` ...), for tables without UCDs (hand-made ones sent over SAMP)."""
    lower = {name.lower(): name for name in reversed(table.colnames)}
    mapping = {common: lower[n] for common, names in _NAMES.items()
               for n in names[::-1] if n in lower}
    if "id" in mapping:
        mapping["title"] = mapping["id"]
    return mapping


def ucd_mapping(table: Table) -> dict[str, str]:
    """Common column name -> column of ``table`` with the matching UCD.

    Parameters
    ----------
    table : astropy.table.Table
        A table read from a VOTable (UCDs in ``column.meta["ucd"]``).

    Returns
    -------
    dict
        ``id``, ``title``, ``ra`` and ``dec`` where a column says it is one.
    """
    return columns_by_ucd((name, table[name].meta.get("ucd")) for name in table.colnames)


def columns_by_ucd(columns: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """Common column name -> the first of ``(name, ucd)`` pairs whose UCD says it is one.

    ``title`` falls back to the identifier column.
    """
    mapping: dict[str, str] = {}
    for name, ucd in columns:
        ucd = (ucd or "").strip().lower()
        for common, wanted in _UCDS.items():
            if ucd in wanted and common not in mapping:
                mapping[common] = name
    if "id" in mapping:
        mapping.setdefault("title", mapping["id"])
    return mapping
