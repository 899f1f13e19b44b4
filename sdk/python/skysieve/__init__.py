"""skysieve: a Python client of the skysieve alert broker's HTTP API (``skysieve serve``).

    import skysieve

    client = skysieve.Client("http://127.0.0.1:8080")
    locus = client.get_by_object_id("ZTF19aainpua")
    lc = client.lightcurve(locus.locus_id)              # a pandas DataFrame, flux in nJy
    for summary in client.search(tag="fast", num_alerts__gte=3):
        print(summary["locus_id"])
    with client.stream(["fast"]) as events:             # the live broker's tags
        for ev in events:
            print(ev.tag, ev.locus_id)

See :class:`Client` for every call, and README.md beside this package for a worked example.
"""

from .client import CUTOUT_KINDS, LIGHTCURVE_COLUMNS, SEARCH_OPERATORS, Client, search_params
from .errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    HTTPError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ProtocolError,
    ServiceUnavailable,
    SkysieveError,
    TooManyRequests,
    Unauthorized,
    URITooLong,
    error_class,
)
from .fluxes import AB_ZEROPOINT_NJY, flux_from_mag, mag_from_flux
from .models import Alert, Locus
from .sse import EventStream, SSEParser, StreamEvent

__version__ = "0.1.0"

__all__ = [
    "AB_ZEROPOINT_NJY",
    "Alert",
    "BadRequest",
    "CUTOUT_KINDS",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "EventStream",
    "HTTPError",
    "LIGHTCURVE_COLUMNS",
    "Locus",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "ProtocolError",
    "SEARCH_OPERATORS",
    "SSEParser",
    "ServiceUnavailable",
    "SkysieveError",
    "StreamEvent",
    "TooManyRequests",
    "URITooLong",
    "Unauthorized",
    "error_class",
    "flux_from_mag",
    "mag_from_flux",
    "search_params",
]
