"""A page's state in its address: what of a link's values a page could not take."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import param

__all__ = ["link_problems"]


def link_problems(state: param.Parameterized, args: Mapping[str, list[bytes]],
                  names: Iterable[str], reasons: Mapping[str, str]) -> list[str]:
    """What of a link's values (``args``, the address's query) ``state`` could not
    take: each as ``name='value' cannot be used (why)``.

    Parameters
    ----------
    state : param.Parameterized
        What took the link's values (a page), after it took them.
    args : mapping
        The address's query arguments.
    names : iterable of str
        The parameters kept in the address.
    reasons : mapping
        Why a value of a parameter may not be taken (what to give instead).
    """
    problems = []
    for name in names:
        if not args.get(name):
            continue
        raw = args[name][0].decode("utf-8", "replace")
        value = getattr(state, name)
        if isinstance(state.param[name], param.Number):
            try:
                taken = math.isfinite(float(raw)) and float(raw) == value
            except ValueError:
                taken = False
        else:
            taken = raw == str(value)
        if not taken:
            shown = raw if len(raw) <= 40 else raw[:40] + "..."
            problems.append(f"{name}={shown!r} cannot be used "
                            f"({reasons.get(name, 'not a value this field takes')})")
    return problems
