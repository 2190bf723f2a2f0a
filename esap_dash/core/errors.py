"""The one family of esap-dash's errors.

Every error esap-dash raises derives from :class:`EsapError`: its message is the
sentence the user reads, and it carries the HTTP status the API answers it with
(as an RFC 9457 problem, :mod:`esap_dash.http.api`); the pages show the sentence
(:func:`esap_dash.ui.components.actions.report_exception`).  Each subclass also
derives from the built-in error it always was (``ValueError``, ``PermissionError``
...), so code that catches those keeps working.  Services' own failures are the
connectors' (:mod:`connectors.exceptions`).
"""

from __future__ import annotations

__all__ = ["EsapError"]


class EsapError(Exception):
    """Base of every esap-dash error.

    Parameters
    ----------
    message : str
        The sentence the user reads.
    status : int, optional
        The HTTP status the API answers with; the class's :attr:`status` by default.
    """

    #: The HTTP status of the API's answer (400: the request cannot be done as asked).
    status: int = 400

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
