"""Batch jobs on DIRAC built from a cart: the job description (JDL) and what goes in it
(no UI here).

A cart becomes one DIRAC job, or one job per data-lake file (a parametric job):

* the cart's data-lake items are the job's ``InputData``, as DIRAC logical file
  names (LFNs) of the Rucio files they hold (``/scope/name``, the convention of
  DIRAC installations whose file catalogue is Rucio);
* the whole cart, archive items with their access URLs included, travels in the
  input sandbox as ``cart.ecsv`` (an astropy table the job can read);
* the user's executable, arguments, CPU time, sites and tags complete it.

Text from the user goes into the JDL only as the value it was meant as: DIRAC's
JDL reader has no escapes, and DiracX's hangs on some characters inside a string,
so anything that could end or open a string, a list or a description is refused
with a message, never passed on.

    >>> spec = BatchSpec(executable="fitsinfo", arguments="%s", per_item=True)
    >>> plan = make_plan(cart_items, spec, lake)  # doctest: +SKIP
    >>> print(plan.jdl)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from connectors.exceptions import ConnectorError

from ..core.errors import EsapError

__all__ = ["MAX_CPU_TIME", "MAX_JOBS", "SANDBOX_FILE", "BatchSpec", "Plan", "PlanError",
           "lfn_of", "make_plan", "names", "render_jdl"]

#: Most jobs one parametric submission may make (DiracX's own limit).
MAX_JOBS = 20
#: Longest CPU time a job may ask for, in seconds (a week).
MAX_CPU_TIME = 7 * 86400
#: The cart's file in the input sandbox.
SANDBOX_FILE = "cart.ecsv"
# What a JDL string value may hold: printable ASCII but the quote, the backslash and
# the brackets DIRAC's reader takes for structure (DiracX 0.7 loops forever on an
# unbalanced "[" inside a string, and on non-ASCII text).
_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\\[\]{};]')
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_PATH = re.compile(r"^[A-Za-z0-9_./\-+]{1,200}$")


class PlanError(EsapError, ValueError):
    """A batch job that cannot be made as asked (the message says why)."""

    status = 422


@dataclass(frozen=True)
class BatchSpec:
    """What the user asks of a batch job, besides the cart it works on.

    Parameters
    ----------
    executable : str
        The program to run (a path on the worker node, or a file of the sandbox).
    arguments : str
        Its arguments; in a job per data-lake file, ``%s`` is that file's LFN.
    cpu_time : int
        The CPU time the job needs, in seconds (DIRAC matches it to a queue).
    sites : tuple of str, or str
        Sites it may run at (any when empty); a text is split at commas.
    tags : tuple of str, or str
        Tags a site must offer (``GPU``, ``MultiProcessor`` ...); a text is split at
        commas.
    per_item : bool
        One job per data-lake file of the cart (a parametric job), each with that
        file as its input data; one job with all of them otherwise.
    name : str
        The job's name (from the cart's when empty).
    """

    executable: str
    arguments: str = ""
    cpu_time: int = 3600
    sites: tuple[str, ...] | str = ()
    tags: tuple[str, ...] | str = ()
    per_item: bool = False
    name: str = ""

    def checked(self) -> BatchSpec:
        """The same request, validated.

        Raises
        ------
        PlanError
            Saying which field is wrong and what it may hold.
        """
        executable = self.executable.strip()
        if not executable:
            raise PlanError("Give the executable the job runs.")
        if not _PATH.match(executable):
            raise PlanError(f"Executable {executable[:60]!r}: use letters, digits and "
                            "_ . / - + (a program's name or path).")
        arguments = self.arguments.strip()
        _check_text("Arguments", arguments)
        if "%s" in arguments and not self.per_item:
            raise PlanError("Arguments: %s stands for each job's file, in a job per "
                            "data-lake file only.")
        try:
            cpu_time = int(self.cpu_time)
        except (TypeError, ValueError):
            raise PlanError(f"CPU time {self.cpu_time!r} is not a number of seconds.") from None
        if not 0 < cpu_time <= MAX_CPU_TIME:
            raise PlanError(f"CPU time: {cpu_time} s; give 1 to {MAX_CPU_TIME} s (a week).")
        sites, tags = names(self.sites), names(self.tags)
        for label, values in (("Site", sites), ("Tag", tags)):
            for value in values:
                if not _NAME.match(value):
                    raise PlanError(f"{label} {value[:60]!r}: use letters, digits and _ . -")
        name = self.name.strip()
        if name and not _NAME.match(name):
            raise PlanError(f"Job name {name[:60]!r}: use letters, digits and _ . -")
        return BatchSpec(executable, arguments, cpu_time, sites, tags, bool(self.per_item),
                         name)


@dataclass(frozen=True)
class Plan:
    """A batch job ready to submit.

    Attributes
    ----------
    jdl : str
        Its description, with ``@SANDBOX@`` where the input sandbox's address
        goes (see :func:`render_jdl`).
    lfns : tuple of str
        Its input data.
    sandbox : dict
        The input sandbox's files (name -> content).
    jobs : int
        How many DIRAC jobs it makes.
    notes : tuple of str
        What the user should know (items whose files could not be listed ...).
    items : tuple of str
        Keys of the cart items it works on.
    """

    jdl: str
    lfns: tuple[str, ...]
    sandbox: dict[str, bytes] = field(repr=False)
    jobs: int = 1
    notes: tuple[str, ...] = ()
    items: tuple[str, ...] = ()


def names(value: str | Iterable[str]) -> tuple[str, ...]:
    """Names from a comma-separated text (as a form gives them) or a list of them."""
    parts = value.replace(";", ",").split(",") if isinstance(value, str) else value
    return tuple(t for t in (str(p).strip() for p in parts) if t)


def lfn_of(scope: str, name: str) -> str:
    """The DIRAC logical file name of the Rucio file ``scope:name``."""
    return name if name.startswith("/") else f"/{scope}/{name}"


def _check_text(label: str, text: str) -> None:
    bad = _UNSAFE.search(text)
    if bad:
        char = bad.group()
        shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
        raise PlanError(f"{label}: DIRAC's job description cannot carry {shown}; use "
                        "printable ASCII without \" \\ [ ] { } ;")


def _quoted(values: list[str] | tuple[str, ...]) -> str:
    return "{" + ", ".join(f'"{v}"' for v in values) + "}"


def make_plan(items: Table, spec: BatchSpec, lake: object | None, *,
              cart: str = "") -> Plan:
    """The batch job ``spec`` asks for over a cart's ``items``.

    Parameters
    ----------
    items : astropy.table.Table
        The cart's items (``Cart.to_table``); data-lake items have kind ``did``.
    spec : BatchSpec
        What to run, and how.
    lake : RucioConnector or None
        The data lake as the user, to list the files of the cart's data-lake items.
    cart : str
        The cart's name (the job's name by default).

    Raises
    ------
    PlanError
        The request is wrong, the cart gives no input for it, or a job per file
        would make more than :data:`MAX_JOBS` jobs.
    """
    spec = spec.checked()
    if not len(items):
        raise PlanError(f"Cart {cart!r} is empty: add data-lake items (or any items, whose "
                        "list goes in the sandbox) first.")
    lfns: list[str] = []
    notes: list[str] = []
    for item in items:
        if str(item["kind"]) != "did":
            continue
        if lake is None:
            raise PlanError("The cart has data-lake items but you have no data-lake "
                            "account here to list their files.")
        scope, _, name = str(item["item_id"]).partition(":")
        try:
            replicas = lake.list_replicas(scope, name)
        except ConnectorError as exc:
            raise PlanError(f"The files of {item['item_id']} cannot be listed: "
                            f"{exc.reason}") from None
        files = sorted({(str(r["scope"]), str(r["name"])) for r in replicas})
        if not files:
            files = [(scope, name)]
            notes.append(f"{item['item_id']}: the data lake knows no replica of it.")
        for file_scope, file_name in files:
            lfn = lfn_of(file_scope, file_name)
            _check_text(f"File {file_scope}:{file_name}", lfn)
            if lfn not in lfns:
                lfns.append(lfn)
    if spec.per_item and not lfns:
        raise PlanError("A job per data-lake file needs data-lake items in the cart.")
    if spec.per_item and len(lfns) > MAX_JOBS:
        raise PlanError(f"A job per data-lake file would make {len(lfns)} jobs; DIRAC takes "
                        f"at most {MAX_JOBS} in one submission: split the cart.")
    name = spec.name or re.sub(r"[^A-Za-z0-9_.\-]+", "_", cart).strip("_") or "esap-dash"
    lines = [f'JobName = "{name}{"_%n" if spec.per_item else ""}"',
             f'Executable = "{spec.executable}"']
    if spec.arguments:
        lines.append(f'Arguments = "{spec.arguments}"')
    lines += ['StdOutput = "std.out"', 'StdError = "std.err"',
              'OutputSandbox = {"std.out", "std.err"}',
              'InputSandbox = {"@SANDBOX@"}',
              f"CPUTime = {spec.cpu_time}"]
    if spec.per_item:
        lines += [f"Parameters = {_quoted(lfns)}", 'InputData = {"%s"}']
    elif lfns:
        lines.append(f"InputData = {_quoted(lfns)}")
    if spec.sites:
        lines.append(f"Site = {_quoted(spec.sites)}")
    if spec.tags:
        lines.append(f"Tags = {_quoted(spec.tags)}")
    lines.append('JobGroup = "esap-dash"')
    jdl = "[\n" + "".join(f"    {line};\n" for line in lines) + "]"
    return Plan(jdl, tuple(lfns), {SANDBOX_FILE: _cart_file(items)},
                len(lfns) if spec.per_item else 1, tuple(notes),
                tuple(str(k) for k in items["key"]))


def render_jdl(plan: Plan, sandbox: str) -> str:
    """The plan's JDL with the input sandbox's address (its PFN) in place."""
    _check_text("Sandbox address", sandbox)
    return plan.jdl.replace("@SANDBOX@", sandbox)


def _cart_file(items: Table) -> bytes:
    """The cart as the job reads it: an ECSV table, the same bytes for the same items."""
    wanted = [c for c in ("key", "archive", "kind", "item_id", "title", "ra", "dec",
                          "product_type", "access_url", "size") if c in items.colnames]
    table = Table(items[wanted], copy=True)
    table.meta.clear()
    for name in ("ra", "dec"):
        if name in table.colnames:
            table[name] = np.ma.masked_invalid(np.asarray(table[name], dtype=float))
    out = io.StringIO()
    table.write(out, format="ascii.ecsv")
    return out.getvalue().encode()
