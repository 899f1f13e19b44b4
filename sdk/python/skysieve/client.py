"""The HTTP client of a skysieve server (``skysieve serve``): loci, searches, light curves, stamps,
catalogs and the live event stream of ``/api/v1``."""

from __future__ import annotations

import datetime as _dt
import gzip
import io
import math
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union
from urllib.parse import quote

import requests

from .errors import ConnectionFailed, ProtocolError, error_class
from .models import Alert, Locus
from .sse import EventStream

__all__ = ["Client", "LIGHTCURVE_COLUMNS", "CUTOUT_KINDS", "SEARCH_OPERATORS"]

#: The columns of :meth:`Client.lightcurve`, in order.
LIGHTCURVE_COLUMNS = ["alert_id", "survey", "mjd", "band", "kind", "mag", "magerr", "maglim",
                      "flux", "fluxerr"]
#: The stamps an alert may have.
CUTOUT_KINDS = ("science", "template", "difference")
#: The comparison suffixes of property conditions: ``num_alerts__gte=3`` is ``num_alerts.gte=3``.
SEARCH_OPERATORS = ("gte", "gt", "lte", "lt", "eq")

_DEFAULT = object()  # the client's own timeout
_FLOAT_COLUMNS = ("mjd", "mag", "magerr", "maglim", "flux", "fluxerr")
_ALLOWED_SEGMENT = "-._~:@!$&'()*+,;="  # kept as they are in a path segment (RFC 3986 pchar)


def _segment(value: Any) -> str:
    """One path segment, percent-encoded (``/`` and ``?`` included)."""
    s = str(value)
    if not s:
        raise ValueError("an empty id")
    return quote(s, safe=_ALLOWED_SEGMENT)


def _mjd(value: Any) -> float:
    """An MJD from a number, an astropy ``Time`` or a ``datetime`` (naive: UTC)."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return (value - _dt.datetime(1858, 11, 17)).total_seconds() / 86400.0
    if hasattr(value, "mjd") and not isinstance(value, (int, float)):
        return float(value.mjd)
    return float(value)


def _degrees(value: Any) -> float:
    """Degrees from a number or an astropy Quantity/Angle."""
    if hasattr(value, "to_value"):
        import astropy.units as u

        return float(value.to_value(u.deg))
    return float(value)


def _arcsec(value: Any) -> float:
    """Arcseconds from a number (taken as arcseconds) or an astropy Quantity/Angle."""
    if hasattr(value, "to_value"):
        import astropy.units as u

        return float(value.to_value(u.arcsec))
    return float(value)


def _center(center: Any) -> Tuple[float, float]:
    """(ra, dec) in degrees from a SkyCoord or a pair."""
    if hasattr(center, "icrs"):
        c = center.icrs
        return float(c.ra.deg), float(c.dec.deg)
    try:
        ra, dec = center
    except (TypeError, ValueError):
        raise TypeError("center: an astropy SkyCoord or an (ra, dec) pair in degrees") from None
    return _degrees(ra), _degrees(dec)


def _param(value: Any) -> str:
    """A query parameter's text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value}")
        return repr(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(_param(v) for v in value)
    if hasattr(value, "mjd") and not isinstance(value, (int, str)):
        return repr(float(value.mjd))
    if isinstance(value, _dt.datetime):
        return repr(_mjd(value))
    return str(value)


def search_params(filters: Dict[str, Any]) -> Dict[str, str]:
    """Query parameters of a locus search from keyword arguments.

    ``PROPERTY__OP=value`` (OP one of ``gte, gt, lte, lt, eq``) becomes ``PROPERTY.OP=value``;
    keys that already have the server's form (``{"num_alerts.gte": 3}``) pass as they are, and so
    does everything else (``tag``, ``ra``, ``sort``, ...). ``None`` values are left out.
    ``tagged_since`` takes an MJD, an astropy ``Time`` or a ``datetime``; ``radius`` arcseconds
    or an astropy angle; ``ra``/``dec`` degrees or astropy angles.
    """
    out: Dict[str, str] = {}
    for key, value in filters.items():
        if value is None:
            continue
        prop, sep, op = key.rpartition("__")
        if sep and prop and op in SEARCH_OPERATORS:
            key = f"{prop}.{op}"
        if key == "radius":
            value = _arcsec(value)
        elif key in ("ra", "dec"):
            value = _degrees(value)
        elif key in ("tagged_since", "since"):
            value = _mjd(value)
        out[key] = _param(value)
    return out


class Client:
    """A client of one skysieve server.

    Args:
        url: the server's address, e.g. ``http://127.0.0.1:8080`` (``/api/v1`` may be included).
        token: the bearer token, for a server started with ``--token-file`` (sent as
            ``Authorization: Bearer TOKEN``).
        timeout: seconds to wait for an answer (connect and read), None for ever.
        retries: how many times to retry an answer 429 (rate limited), after the ``Retry-After``
            it gives (at most 60 s each time). 0: raise :class:`skysieve.TooManyRequests` at once.
        session: a ``requests.Session`` to use (its headers, proxies, adapters); one of its own
            otherwise.

    Every method raises a :class:`skysieve.HTTPError` subclass for an error answer (with the
    status and the server's ``detail``) and :class:`skysieve.ConnectionFailed` when the server
    cannot be reached. Use it as a context manager, or call :meth:`close`, to release the
    connections.
    """

    def __init__(self, url: str = "http://127.0.0.1:8080", token: Optional[str] = None,
                 timeout: Optional[float] = 30.0, retries: int = 0,
                 session: Optional[requests.Session] = None):
        base = url.rstrip("/")
        if base.endswith("/api/v1"):
            base = base[: -len("/api/v1")]
        self.url = base
        self.api = base + "/api/v1"
        self.timeout = timeout
        self.retries = int(retries)
        self._own_session = session is None
        self.session = session or requests.Session()
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    # ---- plumbing ----

    def close(self) -> None:
        """Close the connections of the client's own session."""
        if self._own_session:
            self.session.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def _raise_for(self, resp: requests.Response) -> None:
        if resp.status_code < 400:
            return
        error, detail = resp.reason or "Error", resp.text
        try:
            body = resp.json()
            if isinstance(body, dict):
                error = body.get("error", error)
                detail = body.get("detail", detail)
        except ValueError:
            pass
        retry_after = None
        if resp.headers.get("Retry-After"):
            try:
                retry_after = float(resp.headers["Retry-After"])
            except ValueError:
                pass
        url = resp.url.split("access_token=")[0] if resp.url else ""
        raise error_class(resp.status_code)(resp.status_code, error, detail, url, retry_after)

    def request(self, path: str, params: Optional[Dict[str, Any]] = None, stream: bool = False,
                timeout: Any = _DEFAULT, accept: Optional[str] = None) -> requests.Response:
        """GET ``/api/v1`` + @p path; return the response (status below 400) or raise.

        The low-level call under every method: @p path is joined to the API's base as it is
        (percent-encode ids yourself), @p params are query parameters (None values left out).
        """
        headers = dict(self._headers)
        if accept:
            headers["Accept"] = accept
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        url = self.api + ("" if not path or path.startswith("/") else "/") + path
        for attempt in range(self.retries + 1):
            try:
                resp = self.session.get(url, params=query, headers=headers, stream=stream,
                                        timeout=self.timeout if timeout is _DEFAULT else timeout)
            except requests.exceptions.RequestException as e:
                raise ConnectionFailed(f"GET {url}: {e}") from e
            if resp.status_code == 429 and attempt < self.retries:
                wait = resp.headers.get("Retry-After", "1")
                resp.close()
                try:
                    time.sleep(min(max(float(wait), 0.1), 60.0))
                except ValueError:
                    time.sleep(1.0)
                continue
            break
        if resp.status_code >= 400:
            try:
                self._raise_for(resp)
            finally:
                resp.close()
        return resp

    def get_json(self, path: str, params: Optional[Dict[str, Any]] = None) -> Any:
        """GET ``/api/v1`` + @p path as JSON (for routes this client does not wrap)."""
        resp = self.request(path, params)
        try:
            return resp.json()
        except ValueError as e:
            raise ProtocolError(f"{resp.url}: the answer is not JSON: {resp.text[:200]!r}") from e

    # ---- loci ----

    def get_by_id(self, locus_id: str, as_of: Optional[str] = None,
                  before: Any = None) -> Locus:
        """The locus @p locus_id (e.g. ``SKS2019k9jhx8ss59h8``), with its alerts, tags, catalog
        matches and watch-list objects.

        Args:
            locus_id: a locus id; a survey object id is accepted too (see
                :meth:`get_by_object_id`).
            as_of: an alert id of the locus: the locus as a filter saw it when it ran for that
                alert (the measurements stored before or with it, the tags set by earlier
                alerts). Shown or bare ids (``ztf_candidate:123`` or ``123``).
            before: an MJD (or astropy ``Time``/``datetime``): only what was observed before it.

        Raises:
            NotFound: no such locus (or no such alert for ``as_of``).
            Conflict: an object id naming several loci.
        """
        params = {"as_of": as_of, "before": None if before is None else _mjd(before)}
        return Locus.from_json(self.get_json(f"/loci/{_segment(locus_id)}", params))

    def get_by_object_id(self, object_id: str, as_of: Optional[str] = None,
                         before: Any = None) -> Locus:
        """The locus of a survey object (``ZTF19aainpua``, a Rubin diaObjectId, a tuple file's
        ``object_id``).

        Raises:
            NotFound: no locus has that object.
            Conflict: the object id names several loci (e.g. the same id in two surveys); the
                detail lists them: ask for one with :meth:`get_by_id`.
        """
        return self.get_by_id(object_id, as_of=as_of, before=before)

    def lightcurve(self, locus_id: str, bands: Union[str, Sequence[str], None] = None,
                   kinds: Union[str, Sequence[str], None] = None, before: Any = None):
        """The light curve of a locus (or survey object) as a pandas DataFrame.

        One row per measurement, in time order, with the columns of :data:`LIGHTCURVE_COLUMNS`:
        ``alert_id``, ``survey``, ``mjd``, ``band``, ``kind`` (``detection``, ``upper_limit``,
        ``forced_photometry``), ``mag``, ``magerr``, ``maglim`` and ``flux``, ``fluxerr`` in nJy.
        The flux is signed: a detection on the negative side of the difference image (ZTF
        ``isdiffpos = 'f'``, Rubin ``isNegative``) has a negative flux, while its ``mag`` is the
        magnitude of the flux's absolute value. Missing values are NaN. ``df.attrs["locus_id"]``
        is the locus id.

        Args:
            locus_id: a locus id or a survey object id.
            bands: only these passbands (``"g"``, ``["g", "r"]``).
            kinds: only these kinds (``"detection"``, ``["detection", "forced_photometry"]``).
            before: only measurements observed before this MJD (or astropy ``Time``).
        """
        import numpy as np
        import pandas as pd

        params = {"band": bands, "kinds": kinds,
                  "before": None if before is None else _mjd(before)}
        body = self.get_json(f"/loci/{_segment(locus_id)}/lightcurve", params)
        items = body.get("items") or []
        df = pd.DataFrame(items, columns=LIGHTCURVE_COLUMNS)
        for c in _FLOAT_COLUMNS:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(np.float64)
        if len(df):
            df = df.sort_values("mjd", kind="mergesort").reset_index(drop=True)
        df.attrs["locus_id"] = body.get("locus_id")
        return df

    # ---- searches ----

    def search_page(self, page: int = 1, **filters: Any) -> dict:
        """One page of a locus search, as the server answers it: ``{page, page_size, has_next,
        index, items[, total]}``. Filters as in :meth:`search`; ``count=True`` adds ``total``."""
        params = search_params(filters)
        params["page"] = str(int(page))
        return self.get_json("/loci", params)

    def search(self, limit: Optional[int] = None, page_size: Optional[int] = None,
               **filters: Any) -> Iterator[dict]:
        """Search the loci; iterate the results, page after page, as locus summary dicts.

        Each result has ``locus_id``, ``ra``, ``dec``, ``num_alerts``, ``num_mag_values``,
        ``oldest_alert_observation_time``, ``newest_alert_observation_time``,
        ``newest_alert_magnitude``, ``brightest_alert_magnitude``, ``<survey>_object_id``, and
        ``separation_arcsec`` for a cone, ``tagged_mjd``, ``tagged_time``, ``tagged_by``,
        ``tagged_alert_id`` for a tag.

        Filters (keyword arguments, every one optional, all must hold):
            ra, dec, radius: a cone (degrees, degrees, arcseconds; or astropy angles); see
                :meth:`cone_search`.
            tag: loci carrying this tag; tagged_since: first tagged at or after this MJD.
            object_id: the loci of a survey object id.
            catalog: loci matched in this catalog; watch: loci on this watch list.
            PROPERTY__OP=VALUE: a locus property compared, OP one of ``gte``, ``gt``, ``lte``,
                ``lt``, ``eq``: ``num_alerts__gte=3``, ``newest_alert_magnitude__lt=18``,
                ``ztf_object_id__eq="ZTF19aainpua"``. The server's own form works too:
                ``search(**{"num_alerts.gte": 3})`` (for property names Python cannot spell).
            sort: ``locus_id`` (default), ``newest_alert_observation_time``, ``separation``
                (cone), ``tagged_mjd`` (tag) or any numeric property; order: ``asc``/``desc``.

        Args:
            limit: stop after this many results (None: all).
            page_size: results per request (the server's default is 100).

        Raises:
            BadRequest: a filter the server refuses (unknown parameter, bad value, a sort that
                cannot apply, an unindexed sort of too many loci); the detail says which.
        """
        if limit is not None and limit <= 0:
            return
        n = 0
        page = 1
        while True:
            body = self.search_page(page=page, page_size=page_size, **filters)
            items = body.get("items") or []
            for item in items:
                yield item
                n += 1
                if limit is not None and n >= limit:
                    return
            if not body.get("has_next") or not items:
                return
            page += 1

    def count(self, **filters: Any) -> int:
        """How many loci a search (filters as in :meth:`search`) matches."""
        body = self.search_page(page=1, page_size=1, count=True, **filters)
        if "total" not in body:
            raise ProtocolError("the server's answer to count=true has no total")
        return int(body["total"])

    def cone_search(self, center: Any, radius: Any, **filters: Any) -> Iterator[dict]:
        """The loci within @p radius of @p center, nearest first (unless ``sort=`` says
        otherwise), each with ``separation_arcsec``.

        Args:
            center: an astropy ``SkyCoord``, or an ``(ra, dec)`` pair in degrees.
            radius: an astropy ``Angle``/``Quantity``, or a number of arcseconds.
            filters: more conditions, ``limit`` and ``page_size``, as in :meth:`search`.
        """
        ra, dec = _center(center)
        return self.search(ra=ra, dec=dec, radius=_arcsec(radius), **filters)

    def tagged(self, tag: str, since: Any = None, limit: Optional[int] = None,
               page_size: Optional[int] = None, **filters: Any) -> Iterator[dict]:
        """The loci carrying @p tag, most recently tagged first, each with ``tagged_mjd``,
        ``tagged_time``, ``tagged_by`` (the filter) and ``tagged_alert_id``.

        Args:
            tag: the tag.
            since: only loci tagged at or after this MJD (or astropy ``Time``/``datetime``).
            limit, page_size: as in :meth:`search`.
            filters: more conditions as in :meth:`search` (``num_alerts__gte=...``, ``sort``,
                ``order``).
        """
        if limit is not None and limit <= 0:
            return
        params = search_params(filters)
        if since is not None:
            params["since"] = repr(_mjd(since))
        if page_size is not None:
            params["page_size"] = str(int(page_size))
        n, page = 0, 1
        path = f"/tags/{_segment(tag)}"
        while True:
            params["page"] = str(page)
            body = self.get_json(path, params)
            items = body.get("items") or []
            for item in items:
                yield item
                n += 1
                if limit is not None and n >= limit:
                    return
            if not body.get("has_next") or not items:
                return
            page += 1

    def tags(self) -> List[dict]:
        """Every tag in the store: ``[{tag, newest_tagged_mjd}]``."""
        return list(self.get_json("/tags").get("items") or [])

    # ---- alerts and stamps ----

    def alert(self, alert_id: str) -> Alert:
        """One alert by its API id (``ztf_candidate:123``, ``lsst:456``; a bare survey id is
        looked for in ZTF, then Rubin, then tuple files), with ``locus_id`` and the list of its
        stamps in ``cutouts``."""
        return Alert.from_json(self.get_json(f"/alerts/{_segment(alert_id)}"))

    def cutout(self, alert_id: str, kind: str = "science", output: str = "hdu"):
        """An alert's image stamp.

        The server sends the survey's bytes: gzip-compressed FITS for ZTF, FITS for Rubin (whose
        stamps hold several HDUs); the client decompresses and reads them with astropy.

        Args:
            alert_id: the alert's API id (or bare survey id).
            kind: ``"science"``, ``"template"`` or ``"difference"``.
            output: ``"hdu"`` (default): the first HDU holding an image, an astropy
                ``PrimaryHDU``/``ImageHDU`` with its data loaded; ``"array"``: that image as a
                numpy array (shape ``(NAXIS2, NAXIS1)``); ``"hdulist"``: every HDU (an astropy
                ``HDUList``); ``"bytes"``: the bytes as the server sent them (gzip or FITS).

        Raises:
            NotFound: no such alert, or it has no stamp of that kind.
        """
        if kind not in CUTOUT_KINDS:
            raise ValueError(f"kind: one of {', '.join(CUTOUT_KINDS)}, not {kind!r}")
        if output not in ("hdu", "array", "hdulist", "bytes"):
            raise ValueError(f"output: hdu, array, hdulist or bytes, not {output!r}")
        resp = self.request(f"/alerts/{_segment(alert_id)}/cutouts/{kind}", accept="*/*")
        raw = resp.content
        if output == "bytes":
            return raw
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        import warnings

        from astropy.io import fits
        from astropy.io.fits.verify import VerifyWarning

        with warnings.catch_warnings():
            # ZTF's stamps write SIMPLE in a non-standard layout; astropy reads them all the same
            warnings.filterwarnings("ignore", message="Found a SIMPLE card",
                                    category=VerifyWarning)
            hdul = fits.open(io.BytesIO(data), memmap=False)
            hdul.readall()
        if output == "hdulist":
            return hdul
        for hdu in hdul:
            if getattr(hdu, "is_image", False) and hdu.data is not None:
                return hdu.data if output == "array" else hdu
        raise ProtocolError(f"the {kind} stamp of {alert_id} holds no image")

    # ---- catalogs, watch lists, the broker, the server ----

    def catalogs(self) -> List[dict]:
        """The catalogs loaded in the store: ``[{name, kind, state, rows, bad_rows,
        radius_arcsec, source, loaded}]``."""
        return list(self.get_json("/catalogs").get("items") or [])

    def watch_lists(self) -> List[dict]:
        """The watch lists of the store, as :meth:`catalogs` lists catalogs."""
        return list(self.get_json("/watch").get("items") or [])

    def catalog_cone(self, catalog: str, center: Any, radius: Any,
                     max: Optional[int] = None) -> List[dict]:
        """The rows of a loaded catalog within @p radius of @p center, nearest first: each with
        ``object_id``, ``separation_arcsec``, ``row`` and ``columns``.

        Args:
            catalog: the catalog's name (:meth:`catalogs`).
            center: an astropy ``SkyCoord`` or an ``(ra, dec)`` pair in degrees.
            radius: an astropy angle, or arcseconds.
            max: at most this many rows (the server's default is 100).
        """
        ra, dec = _center(center)
        params = {"ra": ra, "dec": dec, "radius": _arcsec(radius), "max": max}
        return list(self.get_json(f"/catalogs/{_segment(catalog)}/cone", params).get("items")
                    or [])

    def stats(self) -> dict:
        """The store's counts: alerts, detections, upper limits, loci, cutouts, the last
        ingest ..."""
        return self.get_json("/stats")

    def filters(self) -> dict:
        """The running broker's filters and their counters: ``{broker: {...}, items: [...]}``.
        Needs a server started with ``--config`` of a running broker (else
        :class:`skysieve.ServiceUnavailable`)."""
        return self.get_json("/filters")

    def info(self) -> dict:
        """The server's name, version and API root."""
        return self.get_json("")

    def openapi(self) -> dict:
        """The server's OpenAPI document."""
        return self.get_json("/openapi.json")

    # ---- the live stream ----

    def stream(self, tags: Union[str, Iterable[str], None] = None,
               timeout: Optional[float] = None, comments: bool = False) -> EventStream:
        """Subscribe to the broker's live events (server-sent events of ``/api/v1/stream``).

        Returns an :class:`skysieve.EventStream`, already connected: every event published from
        now on is delivered. Iterate it for :class:`skysieve.StreamEvent` objects (``event`` is
        ``"tag"`` or ``"watch"``, ``data`` the parsed JSON, ``id`` the server's sequence number);
        close it, or use ``with``, to hang up::

            with client.stream(["fast", "watch.mylist"]) as events:
                for ev in events:
                    print(ev.id, ev.tag, ev.locus_id)

        Args:
            tags: only these topics: tags, and ``watch.LIST`` for a watch list's notifications
                (a list or a comma-separated string); None: everything.
            timeout: seconds without anything from the server (events or its keep-alive
                comments, every 15 s) before :class:`skysieve.ConnectionFailed`; None: wait for
                ever.
            comments: also yield the server's comment lines (``event == "comment"``).

        Raises:
            ServiceUnavailable: the server has no broker to listen to (serve it with
                ``--config`` of a broker that publishes), or too many streams are open.
        """
        connect = self.timeout
        resp = self.request("/stream", {"tag": tags}, stream=True,
                            timeout=(connect, timeout), accept="text/event-stream")
        ctype = resp.headers.get("Content-Type", "")
        if not ctype.startswith("text/event-stream"):
            resp.close()
            raise ProtocolError(f"/stream answered {ctype!r}, not text/event-stream")
        return EventStream(resp, comments=comments)
