"""What the client returns: a :class:`Locus` with its :class:`Alert` objects.

Search results (:meth:`skysieve.Client.search` and friends) are plain dicts, the server's locus
summaries; light curves are pandas DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Dict, List, Optional


@dataclass
class Alert:
    """One measurement of a locus: a detection, an upper limit or a forced photometry point.

    Attributes:
        alert_id: the API's id, ``<survey>_<kind>:<id>`` as ANTARES shows them:
            ``ztf_candidate:<candid>``, ``ztf_upper_limit:<id>``, ``ztf_fp:<id>``; for other
            surveys ``<survey>:<id>``, ``<survey>_upper_limit:<id>``, ``<survey>_forced:<id>``.
        survey: ``"ztf"``, ``"lsst"``, or a tuple file's survey.
        survey_alert_id: the survey's own id (a ZTF candid, a Rubin diaSourceId).
        object_id: the survey's object id (``ZTF19aainpua``), or None.
        mjd: the observation time (MJD).
        kind: ``"detection"``, ``"upper_limit"`` or ``"forced_photometry"``.
        properties: every property: the normalised ``ant_*`` fields (``ant_mag``, ``ant_flux``
            in nJy with its sign, ``ant_passband`` ...), the survey's own fields under the survey's
            prefix (``ztf_isdiffpos``, ``lsst_diaSource_psfFlux`` ...), and those filters wrote.
        locus_id: the locus the alert belongs to (from :meth:`skysieve.Client.alert`), or None.
        cutouts: the alert's stamps, ``[{kind, bytes, file_name, url}]`` (from
            :meth:`skysieve.Client.alert`); fetch one with :meth:`skysieve.Client.cutout`.
        raw: the server's JSON, as it came.
    """

    alert_id: str
    survey: Optional[str]
    survey_alert_id: Optional[str]
    object_id: Optional[str]
    mjd: Optional[float]
    kind: Optional[str]
    properties: Dict[str, Any] = field(default_factory=dict)
    locus_id: Optional[str] = None
    cutouts: List[dict] = field(default_factory=list)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: dict) -> "Alert":
        """Build from the server's alert JSON."""
        return cls(
            alert_id=o.get("alert_id"),
            survey=o.get("survey"),
            survey_alert_id=o.get("survey_alert_id"),
            object_id=o.get("object_id"),
            mjd=o.get("mjd"),
            kind=o.get("kind"),
            properties=dict(o.get("properties") or {}),
            locus_id=o.get("locus_id"),
            cutouts=list(o.get("cutouts") or []),
            raw=o,
        )


@dataclass
class Locus:
    """A point on the sky and everything observed there, as ``GET /api/v1/loci/{id}`` shows it.

    Attributes:
        locus_id: e.g. ``SKS2019k9jhx8ss59h8``.
        ra, dec: the locus position in degrees.
        properties: the locus properties: the broker's own (``num_alerts``,
            ``newest_alert_magnitude``, ``brightest_alert_magnitude``, per-band counts ...), the
            survey's, and those filters wrote.
        alerts: every alert, in time order, as :class:`Alert` objects.
        tags: the locus's tags, each once, in the order they were first set.
        tag_history: the tag records, ``[{tag, filter, mjd, time, survey, alert_id}]``: which
            filter set which tag, on which alert.
        catalog_matches: the catalog rows the locus lies within the radius of.
        watch: the watch-list objects the locus is on.
        gw_events: the gravitational-wave events whose 90% region holds the locus, ``[{id,
            merger_mjd, credible_level, probdensity, dist_mean, dist_std, days_since_merger, far,
            classification, properties}]``.
        as_of: with ``as_of=``: ``{survey, alert_id, mjd}`` of the alert it is shown as of.
        before: with ``before=``: the MJD it is shown before.
        raw: the server's JSON, as it came.
    """

    locus_id: str
    ra: float
    dec: float
    properties: Dict[str, Any]
    alerts: List[Alert]
    tags: List[str]
    tag_history: List[dict]
    catalog_matches: List[dict]
    watch: List[dict]
    as_of: Optional[dict] = None
    before: Optional[float] = None
    gw_events: List[dict] = field(default_factory=list)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: dict) -> "Locus":
        """Build from the server's locus JSON."""
        history = list(o.get("tags") or [])
        tags: List[str] = []
        for t in history:
            name = t.get("tag") if isinstance(t, dict) else t
            if name is not None and name not in tags:
                tags.append(name)
        return cls(
            locus_id=o.get("locus_id"),
            ra=o.get("ra"),
            dec=o.get("dec"),
            properties=dict(o.get("properties") or {}),
            alerts=[Alert.from_json(a) for a in o.get("alerts") or []],
            tags=tags,
            tag_history=history,
            catalog_matches=list(o.get("catalog_matches") or []),
            watch=list(o.get("watch") or []),
            gw_events=list(o.get("gw_events") or []),
            as_of=o.get("as_of"),
            before=o.get("before"),
            raw=o,
        )

    @property
    def coord(self):
        """The position as an astropy ``SkyCoord`` (ICRS)."""
        from astropy.coordinates import SkyCoord
        import astropy.units as u

        return SkyCoord(self.ra * u.deg, self.dec * u.deg, frame="icrs")

    @cached_property
    def timeseries(self):
        """The alerts as a pandas DataFrame, one row per alert in time order: ``alert_id``,
        ``survey``, ``kind``, ``mjd`` and every alert property as a column (absent: NaN/None), as
        ANTARES's ``locus.timeseries`` holds them (``ant_mag``, ``ant_passband``,
        ``ztf_isdiffpos`` ...). For the light curve as the server computes it, see
        :meth:`skysieve.Client.lightcurve`."""
        import pandas as pd

        rows = []
        for a in self.alerts:
            row = {"alert_id": a.alert_id, "survey": a.survey, "kind": a.kind, "mjd": a.mjd}
            for k, v in a.properties.items():
                row.setdefault(k, v)
            rows.append(row)
        df = pd.DataFrame(rows, columns=None if rows else ["alert_id", "survey", "kind", "mjd"])
        if len(df):
            df = df.sort_values("mjd", kind="mergesort").reset_index(drop=True)
        return df
