"""Server-sent events (the ``text/event-stream`` format of the HTML standard), as ``/api/v1/stream``
sends them: the broker's live tags and watch-list notifications.

:class:`EventStream` reads one open response and yields :class:`StreamEvent` objects with their
``data`` parsed as JSON. It is what :meth:`skysieve.Client.stream` returns.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional

import requests

from .errors import ConnectionFailed, ProtocolError


@dataclass
class StreamEvent:
    """One event of the stream.

    Attributes:
        id: the event's ``id:`` field: the server's sequence number (a string), or None.
        event: the event's type: ``"tag"`` (a filter tagged a locus) or ``"watch"`` (a locus
            fell on a watch list); ``"message"`` when the server named none.
        data: the event's data parsed as JSON. For a tag event: ``{"tag", "filter", "locus":
            {locus summary}, "alert": {the triggering alert}}``. Text that is not JSON is kept
            as the string itself.
        raw: the data as sent (text).
        comment: for the comment lines the server sends to keep the connection open (yielded
            only with ``stream(..., comments=True)``): their text, with ``event`` set to
            ``"comment"`` and ``data`` None.
    """

    id: Optional[str]
    event: str
    data: Any
    raw: str = ""
    comment: Optional[str] = None

    @property
    def tag(self) -> Optional[str]:
        """The tag of a tag event (``data["tag"]``), else None."""
        return self.data.get("tag") if isinstance(self.data, dict) else None

    @property
    def locus(self) -> dict:
        """The locus summary of the event (``data["locus"]``), or {}."""
        loc = self.data.get("locus") if isinstance(self.data, dict) else None
        return loc if isinstance(loc, dict) else {}

    @property
    def locus_id(self) -> Optional[str]:
        """The locus id of the event, or None."""
        if isinstance(self.data, dict) and isinstance(self.data.get("locus_id"), str):
            return self.data["locus_id"]
        return self.locus.get("locus_id")

    @property
    def alert(self) -> dict:
        """The triggering alert of a tag event (``data["alert"]``), or {}."""
        a = self.data.get("alert") if isinstance(self.data, dict) else None
        return a if isinstance(a, dict) else {}


class SSEParser:
    """An incremental parser: feed it bytes as they arrive, take the complete events.

    Follows the HTML standard's rules: lines end with CRLF, LF or CR; a blank line dispatches the
    event being built; ``data`` lines are joined with newlines; a leading space after the colon
    is dropped; lines starting with ``:`` are comments; an event with no data is not dispatched.
    """

    def __init__(self, comments: bool = False):
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._pending_cr = False
        self._comments = comments
        self._data: List[str] = []
        self._event = ""
        self._last_id: Optional[str] = None
        self.retry_ms: Optional[int] = None
        self._first = True

    @property
    def last_event_id(self) -> Optional[str]:
        """The last ``id:`` seen (what a reconnecting client would send as Last-Event-ID)."""
        return self._last_id

    def feed(self, chunk: bytes) -> List[StreamEvent]:
        """Parse @p chunk; return the events it completed (possibly none)."""
        text = self._decoder.decode(chunk)
        if self._first and text:
            if text.startswith("\ufeff"):
                text = text[1:]
            self._first = False
        out: List[StreamEvent] = []
        for ch_line in self._lines(text):
            ev = self._line(ch_line)
            if ev is not None:
                out.append(ev)
        return out

    def _lines(self, text: str) -> Iterator[str]:
        buf = self._buf
        i = 0
        if self._pending_cr and text.startswith("\n"):
            i = 1  # the LF of a CRLF split across chunks
        self._pending_cr = False
        start = i
        n = len(text)
        while i < n:
            c = text[i]
            if c == "\n" or c == "\r":
                yield buf + text[start:i]
                buf = ""
                if c == "\r":
                    if i + 1 < n:
                        if text[i + 1] == "\n":
                            i += 1
                    else:
                        self._pending_cr = True
                start = i + 1
            i += 1
        self._buf = buf + text[start:]

    def _line(self, line: str) -> Optional[StreamEvent]:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            if self._comments:
                text = line[1:]
                return StreamEvent(None, "comment", None, "", text[1:] if text.startswith(" ")
                                   else text)
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            if value.isdigit():
                self.retry_ms = int(value)
        return None

    def _dispatch(self) -> Optional[StreamEvent]:
        if not self._data:
            self._event = ""
            return None
        raw = "\n".join(self._data)
        self._data = []
        event = self._event or "message"
        self._event = ""
        try:
            data = json.loads(raw)
        except ValueError:
            data = raw
        return StreamEvent(self._last_id, event, data, raw)


class EventStream:
    """An open ``/api/v1/stream``: iterate it for :class:`StreamEvent` objects, as they come.

    The HTTP connection is open as soon as the object exists (the server has registered the
    subscription: events published from then on are delivered). Iteration blocks until the next
    event; it ends when the server ends the stream (it stops, or this client fell more than 1 MiB
    behind). Close it (or use it in a ``with`` block) to hang up::

        with client.stream(["fast"], timeout=60) as events:
            for ev in events:
                print(ev.tag, ev.locus_id)

    A read timeout (``timeout`` seconds with nothing received, not even the server's keep-alive
    comment, sent every 15 s) raises :class:`skysieve.ConnectionFailed`.
    """

    def __init__(self, response: requests.Response, comments: bool = False):
        self._resp = response
        self._parser = SSEParser(comments=comments)
        self._queue: List[StreamEvent] = []
        self._chunks = response.iter_content(chunk_size=None)
        self._closed = False

    @property
    def last_event_id(self) -> Optional[str]:
        """The id of the last event received."""
        return self._parser.last_event_id

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> StreamEvent:
        while not self._queue:
            if self._closed:
                raise StopIteration
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self.close()
                raise
            except (requests.exceptions.ConnectionError,
                    requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.Timeout) as e:
                self.close()
                raise ConnectionFailed(f"the event stream broke: {e}") from e
            except (ValueError, OSError, AttributeError) as e:
                # the response was closed under a blocked read (close() from another thread)
                if self._closed:
                    raise StopIteration
                raise ProtocolError(f"the event stream failed: {e}") from e
            self._queue.extend(self._parser.feed(chunk))
        return self._queue.pop(0)

    def close(self) -> None:
        """Hang up. Safe to call more than once."""
        if not self._closed:
            self._closed = True
            self._resp.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # a stream dropped without close() must not keep its socket
        try:
            self.close()
        except Exception:
            pass
