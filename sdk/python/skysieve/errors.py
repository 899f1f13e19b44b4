"""Exceptions raised by :class:`skysieve.Client`.

Every error answer of the server is JSON ``{"error": REASON PHRASE, "detail": MESSAGE}``; the
client raises the :class:`HTTPError` subclass of its status, carrying both::

    try:
        client.get_by_id("SKS0000000000000000")
    except skysieve.NotFound as e:
        print(e.status, e.detail)      # 404 no locus or object 'SKY...' in store ...

Catch :class:`HTTPError` for any error answer, :class:`SkysieveError` for anything the client
raises (a server that cannot be reached included).
"""

from __future__ import annotations

from typing import Optional


class SkysieveError(Exception):
    """Base class of everything the client raises."""


class ConnectionFailed(SkysieveError):
    """The server could not be reached, or the connection broke or timed out.

    The underlying :mod:`requests` exception is chained as ``__cause__``.
    """


class ProtocolError(SkysieveError):
    """The server answered something the client cannot read (e.g. JSON that is not JSON)."""


class HTTPError(SkysieveError):
    """An error answer of the server (status 400 and above).

    Attributes:
        status: the HTTP status code, e.g. 404.
        error: the server's reason phrase (``"Not Found"``), from the answer's ``error`` field.
        detail: the server's explanation (``"no locus or object 'X' in store S"``), from the
            answer's ``detail`` field; the body's text when the answer was not the API's JSON.
        url: the URL that was asked for (without the token).
        retry_after: seconds from the ``Retry-After`` header (429), else None.
    """

    status: int = 0

    def __init__(self, status: int, error: str, detail: str, url: str = "",
                 retry_after: Optional[float] = None):
        self.status = status
        self.error = error
        self.detail = detail
        self.url = url
        self.retry_after = retry_after
        super().__init__(f"{status} {error}: {detail}" + (f" ({url})" if url else ""))


class BadRequest(HTTPError):
    """400: a parameter the server refused (unknown, ill-typed or out of range); ``detail`` names
    it."""


class Unauthorized(HTTPError):
    """401: the server wants a bearer token (``Client(url, token=...)``), or it was wrong."""


class NotFound(HTTPError):
    """404: no such locus, object, alert, stamp, catalog or route."""


class MethodNotAllowed(HTTPError):
    """405: the API is read-only (GET and HEAD)."""


class Conflict(HTTPError):
    """409: an object id that names several loci (the detail lists them); ask by locus id."""


class PayloadTooLarge(HTTPError):
    """413: a request with a body (the API takes none)."""


class URITooLong(HTTPError):
    """414: the path or the query is too long, or has too many parameters."""


class TooManyRequests(HTTPError):
    """429: the server's rate limit; ``retry_after`` says how long to wait."""


class ServiceUnavailable(HTTPError):
    """503: the store is unavailable, or the feature needs a running broker (``/stream``,
    ``/filters``: ``skysieve serve --config BROKER.ini``), or too many streams are open."""


_BY_STATUS = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    414: URITooLong,
    429: TooManyRequests,
    503: ServiceUnavailable,
}


def error_class(status: int) -> type:
    """The exception class for an HTTP @p status: a specific subclass, else :class:`HTTPError`."""
    return _BY_STATUS.get(status, HTTPError)
