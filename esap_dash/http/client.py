"""A client of a deployment's HTTP API, for notebooks and scripts anywhere.

It needs only ``requests`` and ``astropy`` (no database, no Panel): a
JupyterHub or Binder session, a laptop or a script reaches the user's carts,
searches and jobs through the deployment's ``/api/v1`` with the user's
access token, as the user.  The address defaults to ``$ESAP_DASH_URL``; the
token to the one :func:`current_token` finds (in a JupyterHub server logged in
through the deployment's provider, the hub's; else ``$ESAP_DASH_TOKEN``), asked
again when it stops working.  :class:`esap_dash.http.gateway_auth.TokenAuth`
logs the same person in to a Dask Gateway that checks tokens at that provider.

    >>> from esap_dash import Cart
    >>> cart = Cart.open("M1 study", url="https://esap.example.org", token=token)  # doctest: +SKIP
    >>> cart.to_table()  # doctest: +SKIP

    >>> from esap_dash.client import Client
    >>> api = Client("https://esap.example.org", token)  # doctest: +SKIP
    >>> found = api.search("M45", radius=1.0)  # doctest: +SKIP
    >>> cart.add_search(found["id"], rows=[0, 1])  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from astropy.table import Table, vstack

from ..core import TOKEN_VARIABLE, URL_VARIABLE
from ..core.errors import EsapError
from .openapi import MAX_TABLE_PAGE, VOTABLE

__all__ = ["TOKEN_VARIABLE", "URL_VARIABLE", "ApiError", "Client", "RemoteCart",
           "UnreachableError", "current_token"]

#: Pages of a cart read at once.
READERS = 3
#: Bytes of a data-lake file written at a time.
CHUNK = 1 << 20


def _adler32(path: Path) -> str:
    """A file's Adler-32 checksum in hexadecimal, as Rucio writes it."""
    checksum = 1
    with path.open("rb") as data:
        while chunk := data.read(CHUNK):
            checksum = zlib.adler32(chunk, checksum)
    return f"{checksum:08x}"
def current_token() -> str | None:
    """Your access token of the deployment's login provider, here, now.

    In a JupyterHub server whose hub logged you in through that provider
    (``$JUPYTERHUB_API_TOKEN``, with the right to read your own login state),
    the token the hub holds for you now: the hub exchanges its refresh token
    before the access token expires, so a session longer than a token's life
    keeps working (clients ask again when a call is refused).  Elsewhere,
    ``$ESAP_DASH_TOKEN``.

    Returns
    -------
    str or None
        None where there is no token (a deployment without logins).
    """
    api, hub = os.environ.get("JUPYTERHUB_API_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")
    user = os.environ.get("JUPYTERHUB_USER")
    if api and hub and user:
        try:
            answer = requests.get(f"{api.rstrip('/')}/users/{quote(user, safe='')}",
                                  timeout=10, headers={"Authorization": f"token {hub}"})
            state = answer.json().get("auth_state") if answer.ok else None
        except (requests.RequestException, ValueError):
            state = None
        if (state or {}).get("access_token"):
            return str(state["access_token"])
    return os.environ.get(TOKEN_VARIABLE) or None


class ApiError(EsapError, RuntimeError):
    """The deployment refused or failed a call.

    Attributes
    ----------
    status : int
        The HTTP status.
    detail : str
        What the deployment said (its RFC 9457 problem's ``detail``).
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail


class UnreachableError(EsapError, ConnectionError):
    """The deployment did not answer: refused, or no answer within the client's
    timeout (what it keeps, such as carts, is not lost: call again later)."""


class Client:
    """The HTTP API of one deployment, as the token's user.

    Parameters
    ----------
    url : str, optional
        The deployment's address (default ``$ESAP_DASH_URL``).
    token : str, optional
        Your access token from the deployment's login provider (default
        :func:`current_token`'s, asked again once when a call is refused with
        it; not needed for a single-user deployment on this machine).
    timeout : float
        Seconds any one call may take.
    """

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 timeout: float = 120.0) -> None:
        url = url or os.environ.get(URL_VARIABLE)
        if not url:
            raise ValueError(f"say where the deployment is: url=... (or set {URL_VARIABLE})")
        self.root = url.rstrip("/") + "/api/v1"
        self.timeout = timeout
        self.session = requests.Session()
        self._given = token
        self._bearer(token or current_token())

    def _bearer(self, token: str | None) -> None:
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:
        return f"Client({self.root!r})"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call of the API (``path`` below ``/api/v1``).

        Raises
        ------
        ApiError
            The deployment answered with an error (its problem's detail).
        UnreachableError
            It did not answer.
        """
        answer = self._send(method, path, **kwargs)
        if answer.status_code == 401 and not self._given:
            renewed = current_token()  # the hub may have renewed it meanwhile
            if renewed and renewed != self.session.headers.get("Authorization", "")[7:]:
                self._bearer(renewed)
                answer = self._send(method, path, **kwargs)
        if answer.status_code >= 400:
            try:
                detail = answer.json().get("detail") or answer.reason
            except ValueError:
                detail = answer.text[:200] or answer.reason
            raise ApiError(answer.status_code, detail)
        return answer

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, self.root + path, timeout=self.timeout,
                                        **kwargs)
        except requests.Timeout:
            why = f"no answer within {self.timeout:g} s"
        except requests.RequestException as exc:
            why = ("cannot connect: connection refused" if "Connection refused" in str(exc)
                   else f"cannot connect: {type(exc).__name__}")
        deployment = self.root.removesuffix("/api/v1")
        raise UnreachableError(f"{deployment} does not answer ({why}); what it keeps for you "
                               "is not lost: call again when it is back")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).json()

    def _table(self, path: str, **params: Any) -> Table:
        answer = self.call("GET", path, params=params)
        return Table.read(io.BytesIO(answer.content), format="votable")

    # ------------------------------------------------------------ who, where
    def me(self) -> dict[str, Any]:
        """Who you are to the deployment (``user``: your identity)."""
        return self._json("GET", "/me")

    def services(self) -> list[dict[str, Any]]:
        """Every service of the deployment and whether it answers."""
        return self._json("GET", "/services")["services"]

    def facilities(self) -> list[dict[str, Any]]:
        """Where work and notebooks can run."""
        return self._json("GET", "/facilities")["facilities"]

    def servers(self) -> list[dict[str, Any]]:
        """Your JupyterLab servers, by JupyterHub: each hub's ``id``, ``name``,
        ``servers`` (``state``, ``started``, ``engine``, ``url``, ``note``: what the
        hub does not say), ``failure`` (why your last start there failed) and
        ``problem`` (why its servers are not known)."""
        return self._json("GET", "/servers")["hubs"]

    def stop_server(self, facility: str, name: str = "") -> None:
        """Ask the JupyterHub ``facility`` (its id) to stop your server ``name`` (the
        default one); your notebooks stay in your home."""
        self.call("DELETE", f"/servers/{quote(facility, safe='')}", params={"name": name})

    # ------------------------------------------------------------ carts
    def carts(self) -> list[dict[str, Any]]:
        """Your carts and how many items each holds."""
        return self._json("GET", "/carts")["carts"]

    def cart(self, name: str = "default", *, create: bool = True) -> RemoteCart:
        """Your cart ``name`` (made when it does not exist, unless ``create`` is False).

        Raises
        ------
        ApiError
            404 when there is no such cart and ``create`` is False.
        """
        if create:
            name = self._json("POST", "/carts", json={"name": name})["name"]
        else:
            name = self._json("GET", f"/carts/{quote(name, safe='')}")["name"]
        return RemoteCart(self, name)

    # ------------------------------------------------------------ searches
    def search(self, target: str, *, radius: float | None = None,
               **fields: Any) -> dict[str, Any]:
        """Search the deployment's archives at once around ``target``.

        Parameters
        ----------
        target : str
            An object name or coordinates.
        radius : float, optional
            Degrees (the deployment's default search radius when not given).
        **fields
            ``archives``, ``keywords``, ``waveband``, ``product_type``,
            ``time_min``, ``time_max`` (MJD), ``maxrec``, ``frame``.

        Returns
        -------
        dict
            ``id``, ``position``, ``archives`` (each one's ``state``, ``rows``,
            ``truncated``, ``message``), ``rows``; the rows are
            :meth:`search_rows`.
        """
        return self._json("POST", "/searches", json={"target": target, "radius": radius,
                                                     **fields})

    def search_rows(self, search_id: int) -> Table:
        """The rows of one of your searches, with their provenance."""
        return self._table(f"/searches/{int(search_id)}/rows")

    def history(self, limit: int = 50) -> list[dict[str, Any]]:
        """Your searches, newest first."""
        return self._json("GET", "/searches", params={"limit": limit})["searches"]

    # ------------------------------------------------------------ jobs
    def jobs(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Your jobs (of one kind), newest first, with their live states."""
        return self._json("GET", "/jobs", params={"kind": kind} if kind else None)["jobs"]

    def job(self, job_id: int) -> dict[str, Any]:
        """One of your jobs, with its live state (``final``: it no longer changes)."""
        return self._json("GET", f"/jobs/{int(job_id)}")

    def submit(self, kind: str, **request: Any) -> dict[str, Any]:
        """Start a job: ``tap`` (``service``, ``adql``, ``maxrec``), ``rucio-rule``
        (``did``, ``rse``), ``dask`` (``workflow``, ``cart``, ``values``) ..."""
        return self._json("POST", "/jobs", json={"kind": kind, **request})

    def wait(self, job_id: int, *, timeout: float = 600.0, every: float = 1.0) -> dict[str, Any]:
        """Follow a job until its state no longer changes; the job then.

        Raises
        ------
        TimeoutError
            It still ran after ``timeout`` seconds.
        """
        end = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["final"]:
                return job
            if time.monotonic() > end:
                raise TimeoutError(f"job {job_id} is still {job['state']} after {timeout:g} s")
            time.sleep(every)

    def abort(self, job_id: int) -> None:
        """Abort one of your jobs where it runs."""
        self.call("POST", f"/jobs/{int(job_id)}/abort")

    def retry(self, job_id: int) -> dict[str, Any]:
        """Ask for one of your jobs again: the new job, or (a STUCK replication rule)
        the same one, whose failed transfers Rucio tries again."""
        return self._json("POST", f"/jobs/{int(job_id)}/retry")

    def upload_to_lake(self, what: Table | str | Path, name: str | None = None, *,
                       cart: str, note: str = "") -> dict[str, Any]:
        """Upload a table (as a VOTable carrying its provenance) or a file (as it is)
        to your own scope of the data lake, with its provenance (``note``: what made
        it), and put it in ``cart``.

        Parameters
        ----------
        what : astropy.table.Table or path
            The table, or the file.
        name : str, optional
            Its name in the data lake (letters, digits, ``.``, ``-``, ``_``); a file's
            own name by default.
        cart : str
            The cart it goes to (made if need be).
        note : str, optional
            What made it, kept in its provenance.

        Returns
        -------
        dict
            ``did`` (``user.<account>:<name>``), ``rse``, ``bytes``, ``cart``, ``added``.
        """
        if isinstance(what, Table):
            if not name:
                raise ValueError("name the table's file in the data lake: name=...")
            out = io.BytesIO()
            what.write(out, format="votable")
            body, media = out.getvalue(), VOTABLE
        else:
            body, media, name = Path(what).read_bytes(), "application/octet-stream", (
                name or Path(what).name)
        return self._json("POST", "/lake/files", params={"name": name, "cart": cart,
                                                         **({"note": note} if note else {})},
                          data=body, headers={"Content-Type": media})

    def lake_files(self, did: str) -> list[dict[str, Any]]:
        """The files of a data identifier of the data lake (``scope:name``; a file:
        itself): each one's ``did``, ``bytes`` and ``adler32`` checksum."""
        return self._json("GET", "/lake/files", params={"did": did})["files"]

    def download(self, did: str, directory: str | Path = ".") -> list[Path]:
        """Fetch the files of ``did`` (a file, or a dataset's or container's files)
        from the data lake as you, into ``directory/<scope>/<name>`` as ``rucio
        download`` lays them out.

        Each file is checked against the data lake's size and Adler-32 checksum (a
        damaged one is not kept); one already there with that checksum is not
        fetched again.

        Parameters
        ----------
        did : str
            ``scope:name``.
        directory : str or Path
            Where to put them (made if need be).

        Returns
        -------
        list of Path
            The files, in the data lake's order.

        Raises
        ------
        ApiError
            The deployment refused (not yours to read: 403; no such identifier: 404;
            no replica it can read: 409) or the file arrived damaged.
        """
        files = self.lake_files(did)
        # A few at once: the server looks one file up while another one's bytes flow.
        with ThreadPoolExecutor(READERS) as fetchers:
            return list(fetchers.map(lambda f: self._fetch(f, directory), files))

    def _fetch(self, file: dict[str, Any], directory: str | Path) -> Path:
        """One file of the data lake into ``directory/<scope>/<name>``, checked (a
        partial copy never takes its name), unless a good copy is there already."""
        scope, name = file["did"].split(":", 1)
        target = Path(directory, scope, *name.split("/"))
        if target.is_file() and _adler32(target) == file["adler32"]:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        checksum, size = 1, 0
        with self.call("GET", "/lake/content", params={"did": file["did"]},
                       stream=True) as answer, partial.open("wb") as out:
            for chunk in answer.iter_content(CHUNK):
                out.write(chunk)
                checksum, size = zlib.adler32(chunk, checksum), size + len(chunk)
        if size != file["bytes"] or (file["adler32"] and f"{checksum:08x}" != file["adler32"]):
            partial.unlink()
            raise ApiError(502, f"{file['did']} arrived damaged ({size} bytes, Adler-32 "
                                f"{checksum:08x}; the data lake has {file['bytes']} bytes, "
                                f"Adler-32 {file['adler32'] or 'unknown'}); it was not kept")
        partial.replace(target)
        return target

    def result(self, job_id: int) -> Table:
        """What one of your jobs produced."""
        return self._table(f"/jobs/{int(job_id)}/result")

    def workflows(self) -> list[dict[str, Any]]:
        """The workflows a run can use, with their parameters' defaults."""
        return self._json("GET", "/workflows")["workflows"]

    def reference_tap(self) -> str | None:
        """The TAP service the workflows read reference catalogues from (None: the
        deployment has no archive)."""
        return self._json("GET", "/workflows").get("reference_tap")

    # ------------------------------------------------------------ compute
    def clusters(self) -> list[dict[str, Any]]:
        """Your Dask Gateway clusters."""
        return self._json("GET", "/clusters")["clusters"]

    def start_cluster(self, workers: int = 1, *, timeout: float = 180.0,
                      **options: Any) -> str:
        """Start a Dask Gateway cluster, wait until it runs and scale it; its name."""
        name = self._json("POST", "/clusters", json={"options": options})["name"]
        end = time.monotonic() + timeout
        while (status := self._json("GET", f"/clusters/{name}")["status"]) != "RUNNING":
            if status in ("FAILED", "STOPPED") or time.monotonic() > end:
                raise ApiError(409, f"cluster {name} is {status}, not running")
            time.sleep(1)
        self.call("POST", f"/clusters/{name}/scale", json={"workers": workers})
        return name

    def stop_cluster(self, name: str) -> None:
        """Stop one of your clusters."""
        self.call("DELETE", f"/clusters/{quote(name, safe='')}")


class RemoteCart:
    """One of your carts, reached through a deployment's HTTP API: the methods of
    :class:`esap_dash.core.cart.Cart` that a client needs.  Use :meth:`Client.cart` or
    ``Cart.open(name, url=..., token=...)``."""

    def __init__(self, client: Client, name: str) -> None:
        self.client, self.name = client, name
        self._path = f"/carts/{quote(name, safe='')}"

    def __repr__(self) -> str:
        return f"RemoteCart(name={self.name!r}, at={self.client.root!r}, items={len(self)})"

    def __len__(self) -> int:
        return int(self.summary()["count"])

    def summary(self) -> dict[str, Any]:
        """Counts per archive and kind, and the total size where known."""
        return self.client._json("GET", self._path)

    def to_table(self) -> Table:
        """The items, oldest first (read in pages, a few at once)."""
        def page(offset: int) -> Table:
            return self.client._table(f"{self._path}/items", format="votable", offset=offset,
                                      limit=MAX_TABLE_PAGE)

        # A few pages at a time: the server writes one while this process reads another.
        with ThreadPoolExecutor(READERS) as readers:
            pages = list(readers.map(page, range(0, max(len(self), 1), MAX_TABLE_PAGE)))
        table = vstack(pages) if len(pages) > 1 else pages[0]
        table.meta.update(cart=self.name)
        return table

    def to_pandas(self) -> Any:
        """The items as a pandas DataFrame."""
        return self.to_table().to_pandas()

    def _add(self, **kwargs: Any) -> int:
        return int(self.client._json("POST", f"{self._path}/items", **kwargs)["added"])

    def add_rows(self, rows: Table) -> int:
        """Add result rows (``archive`` and ``id`` or ``access_url`` columns, and any of
        the cart's others); return how many were new."""
        out = io.BytesIO()
        rows.write(out, format="votable")
        return self._add(data=out.getvalue(), headers={"Content-Type": VOTABLE})

    def add_search(self, search_id: int, rows: list[int] | None = None) -> int:
        """Add rows of one of your searches (their numbers; all by default) with their
        provenance; return how many were new."""
        return self._add(json={"search": int(search_id), **(
            {"rows": list(rows)} if rows is not None else {})})

    def add_result(self, job_id: int) -> int:
        """Add what one of your jobs produced, with its provenance; how many were new."""
        return self._add(json={"job": int(job_id)})

    def remove(self, keys: list[str]) -> int:
        """Remove items by key (the ``key`` column); return how many were removed."""
        return int(self.client._json("DELETE", f"{self._path}/items",
                                     params={"key": list(keys)})["removed"])

    def download(self, directory: str | Path = ".") -> dict[str, list[Path]]:
        """Fetch the files of the cart's data-lake items as you, checked, into
        ``directory/<scope>/<name>`` (see :meth:`Client.download`): the files of each
        data identifier."""
        items = self.to_table()
        return {did: self.client.download(did, directory)
                for did in dict.fromkeys(str(i["item_id"]) for i in items if i["kind"] == "did")}

    def export(self, path: str | Path, format: str = "votable") -> Path:
        """Write the cart to ``path`` in a format of the Cart page (``votable``, ``ecsv``,
        ``csv``, ``notebook``, ``prov-json``, ``prov-n``)."""
        path = Path(path)
        path.write_bytes(self.client.call("GET", f"{self._path}/export",
                                          params={"format": format}).content)
        return path

    def provenance(self) -> Any:
        """Where every item came from, as a W3C PROV document (``prov`` package)."""
        from prov.model import ProvDocument

        text = self.client.call("GET", f"{self._path}/export",
                                params={"format": "prov-json"}).text
        return ProvDocument.deserialize(content=text, format="json")
