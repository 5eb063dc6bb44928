"""Make client text safe to log or echo: capped, with control characters escaped.

A tag, a user id or a header value comes from the client.  Written raw into a
log line, a newline forges a second line, an ANSI escape recolours or hides a
terminal, and a megabyte of text is a megabyte in every log line and answer.
:func:`safe_text` caps the text and escapes every control character
(C0, DEL, C1, the Unicode line and paragraph separators, bidi overrides), so
the result is always one printable line.  :class:`SafeLogFilter` applies the
same escaping to whole log messages as a second line of defence.
"""

from __future__ import annotations

import logging
import re

__all__ = ["DEFAULT_CAP", "SafeLogFilter", "safe_text"]

DEFAULT_CAP = 64
"""Characters of client text kept in a log line or an answer."""

# C0 controls, DEL, C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates,
# zero-width characters that can hide text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(value: object, cap: int = DEFAULT_CAP) -> str:
    """One printable line for client-supplied ``value``.

    Parameters
    ----------
    value : object
        Usually a ``str``; anything else is described by its type only
        (its content is not rendered).
    cap : int
        Characters of the original kept; longer text ends with
        ``...(N chars)``.

    Returns
    -------
    str
        The (capped) text with control characters written as ``\\n``,
        ``\\x1b``, ``\\u2028``...; never longer than about ``4 * cap + 20``.
    """
    if value is None:
        return "<none>"
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    shown = value[:cap]
    text = _UNSAFE.sub(_escape, shown)
    if len(value) > cap:
        text += f"...({len(value)} chars)"
    return text


class SafeLogFilter(logging.Filter):
    """Escape control characters in the formatted message of every record it sees.

    Installed on the API's log handler: even a call site that forgot
    :func:`safe_text` cannot forge a log line.  The message is formatted once
    here (``record.args`` cleared), tracebacks are left to the formatter.
    """

    def __init__(self, max_chars: int = 4000) -> None:
        super().__init__()
        self.max_chars = max_chars

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the record as logging would
            return True
        record.msg = safe_text(message, self.max_chars)
        record.args = None
        return True
