"""The workflows esap-dash ships (registered as ``esap_dash.workflows`` entry points).

Gateway workers preload this module (``dask worker --preload esap_dash.work.flows``),
so its imports are done before the first task.

- ``crossmatch``: the cart's catalogue rows against a reference catalogue the
  deployment serves by TAP (Hipparcos-2 on the local stack); each worker
  reads the reference once and matches its share of the positions.
- ``image-statistics``: statistics and a cutout of every FITS image in the
  cart, read on the workers from the data lake's storage (a ``file://``
  replica) or from the archive's access URL.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import param
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.nddata import Cutout2D, NoOverlapError
from astropy.stats import sigma_clipped_stats
from astropy.table import Table, vstack
from astropy.wcs import WCS

from connectors.exceptions import ConnectorError
from connectors.http import read_url
from connectors.query import common_table, name_mapping, ucd_mapping
from connectors.tap import TAPConnector

from ..core.provenance import Provenance
from .workflows import Outcome, Run, WorkflowError, workflow

__all__ = ["ERROR_UNITS", "crossmatch", "image_statistics", "image_summary", "match_chunk",
           "match_in_archive", "reference_positions", "result_rows", "row_radii",
           "shared_reference"]

#: Units an error radius column may be in, and arcseconds per unit.
ERROR_UNITS = {"arcsec": 1.0, "mas": 1e-3, "arcmin": 60.0, "deg": 3600.0}


@workflow(
    title="Cross-match with a reference catalogue",
    inputs="positions",
    radius_arcsec=param.Number(default=1.0, bounds=(0, 3600), inclusive_bounds=(False, True),
                               label="Radius (arcsec)",
                               doc="Largest separation of a match."),
    reference=param.String(default="hipparcos.main",
                           doc="A TAP table of the deployment with a main position."),
    chunk_size=param.Integer(default=2500, bounds=(100, 1_000_000),
                             doc="Positions per task."),
    error_column=param.String(default="", label="Error radius column",
                              doc="A column of the rows' records holding each row's own "
                                  "match radius (e.g. a 95 % error-ellipse semi-major "
                                  "axis); empty: the radius above for every row."),
    error_unit=param.Selector(default="arcsec", objects=list(ERROR_UNITS),
                              doc="Unit of the error radius column."),
    find=param.Selector(default="best",
                        objects={"the nearest reference source of each row": "best",
                                 "every reference source within the radius": "all"},
                        label="Find",
                        doc="The nearest source only (STILTS find=best1), or every pair "
                            "within each row's radius (find=all): a row then appears once "
                            "per source, with the number of its matches."),
    match_on=param.Selector(default="workers",
                            objects={"the Dask workers": "workers",
                                     "the archive (TAP upload)": "archive"},
                            label="Match on",
                            doc="The workers read the reference and match; or the cart's "
                                "positions go to the archive's TAP service, which joins "
                                "them with the reference itself."),
)
def crossmatch(items: Table, run: Run, *, radius_arcsec: float = 1.0,
               reference: str = "hipparcos.main", chunk_size: int = 2500,
               error_column: str = "", error_unit: str = "arcsec", find: str = "best",
               match_on: str = "workers") -> Outcome:
    """Reference sources within the radius of every catalogue row of the cart: the
    nearest one, or with ``find="all"`` every one.

    The reference catalogue comes from the deployment's TAP service (the one
    the name resolver uses); its identifier and position columns are those
    its TAP_SCHEMA marks as main.  With an error radius column, each row is
    matched within its own radius (the fixed radius where a row has none);
    separations are great-circle distances, right across RA = 0/360 and at
    the poles.  The matching runs on the Dask workers or, with *Match on* the
    archive, in the archive's TAP service (the positions and radii are
    uploaded and joined with the reference there).  Rows without a match are
    left out.  On the workers, the reference is read once per cluster: the
    first run's reading task is kept on the scheduler, and later runs match
    against it wherever it is.
    """
    if find not in ("best", "all"):
        raise WorkflowError(f"find must be 'best' or 'all', not {find!r}")
    tap = run.reference_tap()
    tables = tap.positional_tables()
    known = {str(r["table_name"]): r for r in tables}
    if reference not in known:
        raise WorkflowError(f"{reference!r} is not a table with positions at {tap.url}; "
                            f"known: {', '.join(sorted(known)) or 'none'}")
    row = known[reference]
    ref = (tap.url, reference, str(row["id"]), str(row["ra"]), str(row["dec"]))
    ra = np.asarray(items["ra"], float)
    dec = np.asarray(items["dec"], float)
    radii, fixed = (row_radii(items, error_column, error_unit, radius_arcsec)
                    if error_column else (np.full(len(items), float(radius_arcsec)),
                                          np.ones(len(items), bool)))
    if match_on == "archive":
        run.total += 1
        matched = match_in_archive(tap, ref[1:], ra, dec, radii, find=find)
        run.done += 1
    else:
        starts = list(range(0, len(items), chunk_size))
        catalogue = shared_reference(run, ref, float(tap.timeout))
        try:
            parts = run.map(match_chunk, [ra[s:s + chunk_size] for s in starts],
                            [dec[s:s + chunk_size] for s in starts],
                            [catalogue] * len(starts), [radii[s:s + chunk_size] for s in starts],
                            [find] * len(starts))
        except Exception:
            forget_reference(run, ref)  # the next run reads it again
            raise
        for start, part in zip(starts, parts, strict=True):
            part["index"] += start
        matched = vstack(parts) if parts else Table({"index": np.zeros(0, int)})
    rows = np.asarray(matched["index"], int)
    keep = [c for c in ("archive", "item_id", "title", "ra", "dec") if c in items.colnames]
    result = items[keep][rows]
    for name in ("ref_id", "ref_ra", "ref_dec", "separation_arcsec"):
        result[name] = matched[name] if len(rows) else np.zeros(0)
    result["ref_ra"].unit = result["ref_dec"].unit = "deg"
    result["separation_arcsec"].unit = "arcsec"
    if find == "all":
        result["n_matches"] = np.bincount(rows, minlength=len(items))[rows]
        result["n_matches"].description = "Reference sources within this row's radius"
    result.meta.update(reference=f"{reference} at {tap.url}", radius_arcsec=radius_arcsec,
                       find="every source within the radius" if find == "all"
                       else "the nearest source",
                       matched_on="the archive (TAP upload)" if match_on == "archive"
                       else "the Dask workers")
    matched_rows = len(np.unique(rows))
    note = (f"{len(rows)} pairs for {matched_rows} of {len(items)} rows" if find == "all"
            else f"{matched_rows} of {len(items)} rows matched")
    if error_column:
        result["radius_arcsec"] = radii[rows]
        result["radius_arcsec"].unit = "arcsec"
        result.meta["error_column"] = f"{error_column} ({error_unit})"
        if fixed.any():
            note += (f"; {int(fixed.sum())} rows have no usable {error_column!r} and took "
                     f"the fixed radius of {radius_arcsec:g} arcsec")
            result.meta["fixed_radius_rows"] = int(fixed.sum())
    return Outcome(result, note=note + ".")


def row_radii(items: Table, column: str, unit: str,
              default_arcsec: float) -> tuple[np.ndarray, np.ndarray]:
    """Each row's match radius in arcsec: ``column`` of its record (or of the table) in
    ``unit``; ``default_arcsec`` where a row has no positive value.

    Returns
    -------
    radii : numpy.ndarray
        Arcseconds, one per row.
    fixed : numpy.ndarray of bool
        The rows that took ``default_arcsec``.

    Raises
    ------
    WorkflowError
        No row has the column.
    """
    if column in items.colnames:
        values = [row[column] for row in items]
    else:
        records = [json.loads(str(r) or "{}") for r in items["record"]] \
            if "record" in items.colnames else []
        if not any(column in r for r in records):
            raise WorkflowError(f"no row of the cart has a column {column!r} for its error "
                                "radius")
        values = [r.get(column) for r in records]
    radii = np.full(len(items), float(default_arcsec))
    fixed = np.ones(len(items), bool)
    for i, value in enumerate(values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if np.isfinite(number) and number > 0:
            radii[i] = number * ERROR_UNITS[unit]
            fixed[i] = False
    return radii, fixed


def match_in_archive(tap: TAPConnector, reference: tuple[str, ...], ra: np.ndarray,
                     dec: np.ndarray, radii_arcsec: np.ndarray, *,
                     find: str = "best") -> Table:
    """Reference matches within each position's radius, found by the archive: the
    positions go to its TAP service as an upload, joined there with the reference.

    Parameters
    ----------
    tap : TAPConnector
        The archive.
    reference : tuple of str
        Table, identifier, RA and Dec columns.
    ra, dec, radii_arcsec : numpy.ndarray
        The positions (ICRS degrees) and their radii.
    find : {"best", "all"}
        The nearest match of each position, or every one.

    Returns
    -------
    astropy.table.Table
        As :func:`match_chunk`.

    Raises
    ------
    WorkflowError
        The archive's row limit cut the pairs.
    """
    table, id_col, ra_col, dec_col = reference
    upload = Table({"idx": np.arange(len(ra)), "ra": ra, "dec": dec,
                    "radius": radii_arcsec / 3600.0})
    pairs = tap.match_uploaded(upload, table, ra_col, dec_col, id_col)
    if pairs.meta.get("truncated"):
        raise WorkflowError(f"{tap.url} cut the pairs at its row limit ({len(pairs)}); "
                            "match on the Dask workers instead")
    separation = np.asarray(pairs["separation"], float) * 3600.0
    index = np.asarray(pairs["idx"], int)
    keep = separation <= radii_arcsec[index]  # the service's CONTAINS, to astropy's edge
    order = np.lexsort((separation[keep], index[keep]))
    index, separation = index[keep][order], separation[keep][order]
    if find == "all":
        first = np.arange(len(index))
    else:
        first = np.flatnonzero(np.r_[True, index[1:] != index[:-1]]) if len(index) else index
    chosen = np.flatnonzero(keep)[order][first]
    return Table({"index": index[first],
                  "ref_id": np.asarray(pairs["ref_id"]).astype(str)[chosen],
                  "ref_ra": np.asarray(pairs["ref_ra"], float)[chosen],
                  "ref_dec": np.asarray(pairs["ref_dec"], float)[chosen],
                  "separation_arcsec": separation[first]})


#: A reference catalogue as read: (TAP URL, table, columns), identifiers, RA, Dec.
Catalogue = tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]
#: Search trees a Dask worker keeps, by reference, for the next chunks and runs; the
#: last few only (a worker's memory is the cluster's).  They live on the worker (and
#: end with it); outside a worker nothing is kept.
TREES_KEPT = 2


def dask_setup(server: Any) -> None:
    """Run by each Dask scheduler and worker that preloads this module (the gateways'
    do).  A worker warms the sky matching (astropy's frame machinery, scipy's
    KD-tree) in the background, while a run's first task (reading a reference
    catalogue over TAP) waits on the network; a cold run's first match no longer
    pays for it."""
    from distributed import Worker

    if isinstance(server, Worker):
        threading.Thread(target=_warm_matching, name="esap-dash-warm-matching",
                         daemon=True).start()


def _warm_matching() -> None:
    one = SkyCoord([0.0], [0.0], unit="deg")
    one.match_to_catalog_sky(SkyCoord([0.0, 1.0], [0.0, 1.0], unit="deg"))


def reference_positions(reference: tuple[str, ...], timeout: float = 60.0) -> Catalogue:
    """A reference catalogue's identifiers and positions, read on a worker by TAP.

    Parameters
    ----------
    reference : tuple of str
        TAP URL, table, identifier, RA and Dec columns.
    timeout : float
        Seconds allowed for reading it.

    Returns
    -------
    tuple
        ``reference``, identifiers, RA and Dec (ICRS degrees).
    """
    url, table, id_col, ra_col, dec_col = reference
    rows = TAPConnector(url, timeout=timeout).positions(table, ra_col, dec_col, id_col)
    return (reference, np.asarray(rows["id"]).astype(str), np.asarray(rows["ra"], float),
            np.asarray(rows["dec"], float))


def shared_reference(run: Run, reference: tuple[str, ...], timeout: float) -> Any:
    """The cluster's copy of a reference catalogue, read once per cluster.

    The first run's reading task is published on the scheduler under the
    reference's name; later runs (of any session) match against that result on
    whichever worker holds it, so a second run is warm whatever worker its
    tasks land on.  A read that failed or was cancelled is read again.

    Parameters
    ----------
    run : Run
        The run (its client and progress).
    reference : tuple of str
        As :func:`reference_positions`.
    timeout : float
        Seconds allowed for reading it.

    Returns
    -------
    distributed.Future
        Of :func:`reference_positions`.
    """
    name = _dataset_name(reference)
    future = run.client.get_dataset(name, default=None)
    if future is None or future.status in ("error", "cancelled", "lost"):
        future = run.submit(reference_positions, reference, timeout)
        run.client.publish_dataset(future, name=name, override=True)
    return future


def _dataset_name(reference: tuple[str, ...]) -> str:
    return "esap-dash-reference " + " ".join(reference)


def forget_reference(run: Run, reference: tuple[str, ...]) -> None:
    """Drop the cluster's copy of a reference (after a run that used it failed)."""
    name = _dataset_name(reference)
    if run.client.get_dataset(name, default=None) is not None:
        run.client.unpublish_dataset(name)


def _worker_trees() -> dict[tuple[str, ...], tuple[np.ndarray, SkyCoord]]:
    """The search trees kept by the Dask worker running this task (a new, empty
    mapping outside a worker)."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return {}
    if not hasattr(worker, "esap_dash_trees"):
        worker.esap_dash_trees = {}
    return worker.esap_dash_trees


def match_chunk(ra: np.ndarray, dec: np.ndarray, catalogue: Catalogue,
                radius_arcsec: float | np.ndarray, find: str = "best") -> Table:
    """Reference matches within the radius of each position (runs on a worker).

    Parameters
    ----------
    ra, dec : numpy.ndarray
        ICRS degrees.
    catalogue : tuple
        What :func:`reference_positions` returns; each worker builds its
        search tree once and keeps it.
    radius_arcsec : float or numpy.ndarray
        Largest separation of a match (one for all, or each position's own).
    find : {"best", "all"}
        The nearest reference source of each position, or every one within its
        radius (ordered by position, then separation).

    Returns
    -------
    astropy.table.Table
        ``index`` (position in the chunk), ``ref_id``, ``ref_ra``, ``ref_dec``,
        ``separation_arcsec`` for the matched positions only.
    """
    key, ref_ids, ref_ra, ref_dec = catalogue
    trees = _worker_trees()
    if key not in trees:
        while len(trees) >= TREES_KEPT:
            trees.pop(next(iter(trees)))
        trees[key] = (ref_ids, SkyCoord(ref_ra, ref_dec, unit="deg"))
    ids, ref = trees[key]
    coords = SkyCoord(np.asarray(ra, float), np.asarray(dec, float), unit="deg")
    radii = np.broadcast_to(np.asarray(radius_arcsec, float), coords.shape)
    if find == "all" and len(coords):
        index, nearest, sep, _ = ref.search_around_sky(coords, radii.max() * u.arcsec)
        sep = sep.arcsec
        hit = np.flatnonzero(sep <= radii[index])
        hit = hit[np.lexsort((sep[hit], index[hit]))]
        index, nearest, sep = index[hit], nearest[hit], sep[hit]
    elif len(coords):
        nearest, sep, _ = coords.match_to_catalog_sky(ref)
        index = np.flatnonzero(sep.arcsec <= radii)
        nearest, sep = nearest[index], sep.arcsec[index]
    else:
        index = nearest = np.zeros(0, int)
        sep = np.zeros(0)
    return Table({"index": index, "ref_id": ids[nearest], "ref_ra": ref.ra.deg[nearest],
                  "ref_dec": ref.dec.deg[nearest], "separation_arcsec": sep})


@workflow(
    title="Image statistics and cutouts",
    inputs="images",
    target=param.String(default="", doc="Name or coordinates of the cutout centre; empty: "
                                        "the centre of each image."),
    cutout_arcmin=param.Number(default=2.0, bounds=(0, 600), inclusive_bounds=(False, True),
                               label="Cutout size (arcmin)"),
    sigma=param.Number(default=3.0, bounds=(1, 10), doc="Clipping for the statistics."),
)
def image_statistics(items: Table, run: Run, *, target: str = "", cutout_arcmin: float = 2.0,
                     sigma: float = 3.0) -> Outcome:
    """Statistics and a cutout of every FITS image of the cart, computed on the workers.

    Data-lake items are read from a replica on the storage the workers see
    (``file://`` PFNs); archive items from their access URL.
    """
    centre = None
    if target:
        if run.resolve is None:
            raise WorkflowError("this deployment has no name resolver for the target")
        position = run.resolve(target)
        centre = (position.ra, position.dec)
    sources = _image_sources(items, run)
    if not sources:
        raise WorkflowError("none of the cart's images has a readable location")
    results = run.map(image_summary, [s["location"] for s in sources], [centre] * len(sources),
                      [cutout_arcmin] * len(sources), [sigma] * len(sources),
                      [s["trusted"] for s in sources])
    rows = [{**{k: s[k] for k in ("archive", "item_id", "file")}, **summary}
            for s, (summary, _) in zip(sources, results, strict=True)]
    table = Table(rows=rows)
    preview = next((cut for _, cut in results if cut is not None), None)
    return Outcome(table, preview, f"{len(rows)} images read on the workers")


def _image_sources(items: Table, run: Run) -> list[dict[str, Any]]:
    """Where the workers read each image: the data-lake replica paths or the access URL.

    Every replica Rucio lists as available is a candidate, tried in turn: a
    worker may not see every RSE's storage.
    """
    sources = []
    for row in items:
        base = {"archive": str(row["archive"]), "item_id": str(row["item_id"])}
        if str(row["kind"]) != "did":
            sources.append({**base, "file": str(row["title"]),
                            "location": (str(row["access_url"]),),
                            "trusted": run.profile.serves(str(row["access_url"]))})
            continue
        if run.lake is None:
            continue
        scope, _, name = str(row["item_id"]).partition(":")
        replicas = run.lake.list_replicas(scope, name)
        paths: dict[str, list[str]] = {}
        for rep in replicas:
            pfn = str(rep["pfn"])
            if pfn.startswith("file://") and rep["state"] == "AVAILABLE" and \
                    str(rep["name"]).lower().endswith((".fits", ".fit")):
                paths.setdefault(str(rep["name"]), []).append(
                    "/" + pfn.removeprefix("file://").split("/", 1)[1])
        sources.extend({**base, "file": f, "location": tuple(p), "trusted": False}
                       for f, p in paths.items())
    return sources


def image_summary(location: Sequence[str], centre: tuple[float, float] | None, cutout_arcmin: float,
                  sigma: float, trusted: bool = False, timeout: float = 60.0,
                  max_bytes: int = 500_000_000
                  ) -> tuple[dict[str, Any], tuple[np.ndarray, Any] | None]:
    """Statistics of one FITS image and a cutout (runs on a worker).

    ``location`` lists where the file may be read (replica paths, URL); the
    first readable one is used.  A URL is read through the connectors' HTTP door
    (timeout, size limit): from a public address only, unless ``trusted`` (it is
    one of the deployment's own services).

    Returns
    -------
    summary : dict
        ``shape``, ``bunit``, ``min``, ``max``, ``mean``, ``median``, ``std``
        (sigma-clipped), ``blank`` pixels, ``cutout`` (what happened), ``error``.
    cutout : tuple of (numpy.ndarray, astropy.io.fits.Header) or None
    """
    empty = {"shape": "", "bunit": "", "min": np.nan, "max": np.nan, "mean": np.nan,
             "median": np.nan, "std": np.nan, "blank": -1, "cutout": "", "error": ""}
    try:
        raw = _first_readable(location, timeout, max_bytes, trusted)
        with fits.open(io.BytesIO(raw)) as hdul:
            hdu = next((h for h in hdul if h.is_image and h.data is not None
                        and h.data.ndim >= 2), None)
            if hdu is None:
                return {**empty, "error": "no image in the file"}, None
            data = np.asarray(hdu.data, float)
            while data.ndim > 2:
                data = data[0]
            header = hdu.header
    except (OSError, ValueError) as exc:
        return {**empty, "error": f"{type(exc).__name__}: {exc}"[:300]}, None
    good = np.isfinite(data)
    mean, median, std = sigma_clipped_stats(data[good], sigma=sigma)
    summary = {**empty, "shape": "×".join(map(str, data.shape)),
               "bunit": str(header.get("BUNIT", "")), "min": float(data[good].min()),
               "max": float(data[good].max()), "mean": float(mean), "median": float(median),
               "std": float(std), "blank": int((~good).sum())}
    wcs = WCS(header, naxis=2)
    if not wcs.has_celestial:
        return {**summary, "cutout": "no celestial WCS"}, None
    position = (SkyCoord(*centre, unit="deg") if centre is not None
                else wcs.pixel_to_world(data.shape[1] / 2, data.shape[0] / 2))
    size = cutout_arcmin * u.arcmin
    try:
        cut = Cutout2D(data, position, size, wcs=wcs.celestial, mode="trim")
    except NoOverlapError:
        return {**summary, "cutout": "target outside the image"}, None
    # The pixels the image has there; what was asked for where the image ends first.
    said = "×".join(map(str, cut.data.shape))
    asked = Cutout2D(np.empty(data.shape, bool), position, size, wcs=wcs.celestial,
                     mode="partial", fill_value=False).data.shape
    if tuple(cut.data.shape) != tuple(asked):
        said += f" (the image ends there: {'×'.join(map(str, asked))} asked)"
    return {**summary, "cutout": said}, (cut.data, cut.wcs.to_header())


def _first_readable(locations: Sequence[str], timeout: float, max_bytes: int,
                    trusted: bool) -> bytes:
    """The bytes of the first location that can be read; OSError naming every failure."""
    failures = []
    for location in locations:
        try:
            return _read_bytes(location, timeout, max_bytes, trusted)
        except OSError as exc:
            failures.append(f"{location}: {exc.strerror or exc}")
        except ConnectorError as exc:
            failures.append(f"{location}: {exc.reason}")
    raise OSError("no replica could be read (" + "; ".join(failures) + ")")


def _read_bytes(location: str, timeout: float, max_bytes: int, trusted: bool) -> bytes:
    """A file's bytes from a local path (a data-lake replica) or an HTTP URL."""
    if not location.startswith("/"):
        return read_url(location, max_bytes=max_bytes, timeout=timeout, allow_local=trusted)
    with open(location, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"larger than {max_bytes // 1_000_000} MB")
    return data


def result_rows(table: Table, provenance: Provenance, *, archive: str = "",
                product_type: str = "job result") -> Table:
    """Cart rows for a job's result table, with its ``provenance`` (the job, and the
    items it was made from); their archive is ``archive``, else ``workflow job <job>``,
    and their product type ``product_type``.

    A row's identifier is the table's own (the column its UCD or its name says is
    the identifier; a cross-match's row and reference source), else its row number;
    its position is the table's main one; the whole row is kept as its record.
    """
    mapping = {**name_mapping(table), **ucd_mapping(table)}
    if "item_id" in table.colnames:  # a workflow's rows of cart items
        mapping.update(id="item_id", title="title" if "title" in table.colnames else "item_id")
    mapping.setdefault("title", mapping.get("id") or (table.colnames[0] if table.colnames
                                                       else ""))
    rows = common_table(table, archive or f"workflow job {provenance.job}", mapping,
                        product_type=product_type)
    if "id" not in mapping:
        rows["id"] = np.arange(len(table)).astype(str)
    if "item_id" in table.colnames and "ref_id" in table.colnames:  # one row per pair
        rows["id"] = [f"{i}:{r}" if str(r) != "" else str(i)
                      for i, r in zip(rows["id"], table["ref_id"], strict=True)]
    rows["query"] = [provenance.to_json()] * len(table)
    return rows
