"""Turn what a user types into a position: coordinates, or an object name.

Coordinates are parsed by astropy (decimal or sexagesimal, ICRS, FK5 or
galactic).  Names go to CDS Sesame when a Sesame URL is configured and
answers; offline they are resolved from the catalogues the deployment serves
(OpenNGC: ``M 31``, ``NGC 224``, ``IC 434``, common names; Hipparcos:
``HIP 32349``) through its TAP service.  Names reach ADQL only as numbers or
quoted literals.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote

import astropy.units as u
import requests
from astropy.coordinates import SkyCoord

from .exceptions import ConnectorError, QueryError
from .http import make_session, request
from .query import FRAMES, adql_string, quote_prefix
from .tap import TAPConnector

__all__ = ["FRAMES", "NameResolver", "Position", "parse_coordinates"]

_SEXAGESIMAL = re.compile(r"[hms:]|\d\s+\d+\s+\d", re.IGNORECASE)
_FIRST_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_MESSIER = re.compile(r"^\s*(?:m|messier)\s*0*(\d{1,3})\s*$", re.IGNORECASE)
_NGC_IC = re.compile(r"^\s*(ngc|ic)\s*0*(\d{1,4})\s*([a-z]?)\s*$", re.IGNORECASE)
_HIP = re.compile(r"^\s*hip\s*0*(\d{1,6})\s*$", re.IGNORECASE)
_COMMON_NAME = re.compile(r"^[\w .'\-]{3,60}$", re.UNICODE)


@dataclass(frozen=True)
class Position:
    """A resolved position.

    Attributes
    ----------
    text : str
        What the user typed.
    ra, dec : float
        ICRS degrees.
    source : str
        How it was found: ``coordinates``, ``Sesame``, ``OpenNGC NGC1952`` ...
    """

    text: str
    ra: float
    dec: float
    source: str


def parse_coordinates(text: str, frame: str = "icrs") -> Position | None:
    """Parse coordinates; return None when ``text`` does not look like coordinates.

    Parameters
    ----------
    text : str
        ``"10.68 41.27"``, ``"00h42m44s +41d16m"``, ``"00:42:44 +41:16:09"`` ...
    frame : str
        ``icrs``, ``fk5`` or ``galactic`` (then the two numbers are l and b).

    Returns
    -------
    Position or None

    Raises
    ------
    QueryError
        Text that starts like coordinates but cannot be read as such
        (``"ra=abc"``, ``"400 95"``), or an unknown frame.
    """
    if frame not in FRAMES:
        raise QueryError(f"unknown frame {frame!r}; use one of {', '.join(FRAMES)}")
    stripped = text.strip()
    if not stripped or not (stripped[0].isdigit() or stripped[0] in "+-."):
        if "=" in stripped:
            raise QueryError(f"cannot read {text!r} as coordinates or a name; give e.g. "
                             "'83.63 22.01', '05h34m32s +22d00m52s' or an object name")
        return None
    hours = frame != "galactic" and bool(_SEXAGESIMAL.search(stripped))
    # astropy wraps a longitude into 0-360 (400 becomes 40): refuse it instead
    first = _FIRST_NUMBER.match(stripped)
    if first and not 0 <= float(first.group()) < (24 if hours else 360):
        name = "l" if frame == "galactic" else "RA"
        raise QueryError(f"cannot read {quote_prefix(text)} as {frame} coordinates: {name} "
                         f"{first.group()} is outside 0 to {'24h' if hours else '360 deg'}")
    try:
        if hours:
            coord = SkyCoord(stripped, frame=frame, unit=(u.hourangle, u.deg))
        else:
            coord = SkyCoord(stripped, frame=frame, unit=(u.deg, u.deg))
        icrs = coord.icrs
    except (ValueError, u.UnitsError) as exc:
        raise QueryError(f"cannot read {text!r} as {frame} coordinates: {exc}") from exc
    return Position(text, float(icrs.ra.deg), float(icrs.dec.deg), f"coordinates ({frame})")


class NameResolver:
    """Resolve names and coordinates.

    Parameters
    ----------
    tap : TAPConnector, optional
        The deployment's TAP service holding ``ongc.main`` and
        ``hipparcos.main`` (the local stack's layout).
    sesame_url : str, optional
        A Sesame endpoint returning XML, e.g.
        ``https://cds.unistra.fr/cgi-bin/nph-sesame/-ox/SNV``; names are
        appended URL-quoted.
    timeout : float
        Seconds for each Sesame call.
    """

    def __init__(self, tap: TAPConnector | None = None, *, sesame_url: str | None = None,
                 timeout: float = 10.0, session: requests.Session | None = None) -> None:
        self.tap = tap
        self.sesame_url = sesame_url
        self.session = session or make_session(timeout)

    def resolve(self, text: str, frame: str = "icrs") -> Position:
        """Resolve ``text`` to an ICRS position.

        Raises
        ------
        QueryError
            With a message saying where the name was looked for.
        """
        if len(text) > 100:
            raise QueryError("a target is at most 100 characters")
        position = parse_coordinates(text, frame)
        if position is not None:
            return position
        tried = []
        if self.sesame_url:
            tried.append("Sesame")
            try:
                found = self._sesame(text)
            except ConnectorError:
                found = None
            if found:
                return found
        if self.tap is not None:
            tried.append("the local catalogues (OpenNGC, Hipparcos)")
            try:
                found = self._local(text)
            except ConnectorError as exc:
                raise type(exc)(f"the name resolver ({self.tap.name}) failed: {exc.reason}",
                                exc.url) from exc
            if found:
                return found
        where = " and ".join(tried) or "nowhere (no resolver configured)"
        raise QueryError(f"{text.strip()!r} is neither coordinates nor a name found in {where}")

    def _sesame(self, text: str) -> Position | None:
        url = self.sesame_url.rstrip("/?") + "?" + quote(text.strip())
        root = ET.fromstring(request(self.session, "GET", url).content)
        ra, dec = root.find(".//jradeg"), root.find(".//jdedeg")
        if ra is None or dec is None:
            return None
        return Position(text, float(ra.text), float(dec.text), "Sesame")

    def _local(self, text: str) -> Position | None:
        queries = []
        if m := _MESSIER.match(text):
            queries.append(("OpenNGC", "SELECT name, raj2000, dej2000 FROM ongc.main "
                            f"WHERE messier = {adql_string('M' + str(int(m.group(1))))}"))
        elif m := _NGC_IC.match(text):
            name = f"{m.group(1).upper()}{int(m.group(2)):04d}{m.group(3).upper()}"
            queries.append(("OpenNGC", "SELECT name, raj2000, dej2000 FROM ongc.main "
                            f"WHERE name = {adql_string(name)}"))
        elif m := _HIP.match(text):
            queries.append(("Hipparcos", "SELECT hip, ra_icrs, de_icrs FROM hipparcos.main "
                            f"WHERE hip = {int(m.group(1))}"))
        elif _COMMON_NAME.match(text):
            words = " ".join(text.lower().split())
            queries.append(("OpenNGC", "SELECT TOP 1 name, raj2000, dej2000 FROM ongc.main "
                            f"WHERE LOWER(common_names) LIKE {adql_string('%' + words + '%')} "
                            "ORDER BY name"))
        for catalog, adql in queries:
            rows = self.tap.run_sync(adql, maxrec=1)
            if len(rows):
                ident, ra, dec = rows[0][0], rows[0][1], rows[0][2]
                label = f"HIP {ident}" if catalog == "Hipparcos" else str(ident)
                return Position(text, float(ra), float(dec), f"{catalog} {label}")
        return None
