"""Plain-Python connectors to the services esap-dash talks to.

One module per service family (``tap``, ``scs``, ``sia2``, ``registry``,
``rucio``, ``gateway``); every connector derives from
:class:`connectors.base.ServiceConnector`, raises the errors of
:mod:`connectors.exceptions` and returns astropy Tables.  Nothing here
imports a UI library.

Connector classes are found by their ``kind`` through the Python entry-point
group ``esap_dash.connectors``, so a deployment adds an archive by installing
a package that declares one.
"""

from __future__ import annotations

import functools
import sys

__version__ = "0.1.0"

__all__ = ["ENTRY_POINT_GROUP", "available_kinds", "connector_class"]

ENTRY_POINT_GROUP = "esap_dash.connectors"


def _entry_points() -> dict[str, object]:
    return _entry_points_on(tuple(sys.path))


@functools.cache
def _entry_points_on(path: tuple[str, ...]) -> dict[str, object]:
    """The group's entry points for one ``sys.path`` (reading every installed
    distribution's metadata is slow; a new path is read again)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_kinds() -> list[str]:
    """Return the connector kinds installed in this environment.

    Returns
    -------
    list of str
        Sorted kind names, e.g. ``["conesearch", "rucio", "tap", ...]``.
    """
    return sorted(_entry_points())


def connector_class(kind: str) -> type:
    """Load the connector class registered for ``kind``.

    Parameters
    ----------
    kind : str
        The entry-point name, e.g. ``"tap"``.

    Returns
    -------
    type
        A :class:`connectors.base.ServiceConnector` subclass.

    Raises
    ------
    connectors.exceptions.ConfigurationError
        No installed package provides ``kind``.
    """
    from .exceptions import ConfigurationError

    eps = _entry_points()
    if kind not in eps:
        raise ConfigurationError(
            f"no connector of kind {kind!r}; installed kinds: {', '.join(sorted(eps)) or 'none'}"
            f" (entry-point group {ENTRY_POINT_GROUP!r})")
    return eps[kind].load()  # type: ignore[attr-defined]
