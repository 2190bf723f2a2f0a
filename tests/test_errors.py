"""One error family: every error esap-dash raises is an :class:`EsapError` with the
sentence a user reads and the HTTP status the API answers; the pages say the
sentence."""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil

import esap_dash
from esap_dash.core.cart import CartError
from esap_dash.core.errors import EsapError
from esap_dash.ui.components.actions import report_exception


def test_every_error_esap_dash_defines_is_of_the_family() -> None:
    found = {}
    for info in pkgutil.walk_packages(esap_dash.__path__, "esap_dash."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) \
                    and value.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    outside = sorted(name for name, cls in found.items() if not issubclass(cls, EsapError))
    # The API's Problem is an HTTP answer (tornado's HTTPError), made from the family.
    assert outside == ["esap_dash.http.api.Problem"]
    assert len(found) > 10
    for name, cls in found.items():
        if issubclass(cls, EsapError):
            assert 400 <= cls.status <= 599, name


def test_a_page_says_an_errors_sentence_and_logs_no_traceback(caplog) -> None:
    with caplog.at_level(logging.INFO):
        said = report_exception(CartError("you have no cart named 'x'", status=404),
                                "Open cart")
    assert said == "Open cart could not be done: you have no cart named 'x'"
    assert not any(r.exc_info for r in caplog.records)
    with caplog.at_level(logging.INFO):
        said = report_exception(ZeroDivisionError("division by zero"), "Plot")
    assert said.startswith("Plot did not work: an unexpected error in esap-dash "
                           "(ZeroDivisionError: division by zero)")
    assert any(r.exc_info for r in caplog.records)
