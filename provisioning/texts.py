"""Request-derived text, made safe for a log line and capped in size.

A log line is one line: a field name that carries CR/LF could forge a whole line in the app's
own format, ESC sequences could repaint a terminal, and bidi overrides could make a line read
differently from what it says. Everything the request wrote is escaped before it is logged.
"""

from __future__ import annotations

import unicodedata

# Characters that are not shown as themselves: control (Cc: CR, LF, ESC, DEL, C1), format (Cf:
# bidi overrides and isolates, zero-width marks), line and paragraph separators (U+2028, U+2029),
# and lone surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
LOG_TEXT_LIMIT = 200
"""Characters of one request-derived value shown in a log line."""
LOG_MESSAGE_LIMIT = 2000
"""Characters of a request-derived message (an InvalidRequest's reasons) in a log line."""


def _escape(char: str) -> str:
    if unicodedata.category(char) not in _UNSAFE_CATEGORIES:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def utf16_units(text: str) -> int:
    """How many UTF-16 code units ``text`` is: what ARM counts a tag's length in, and half of
    what Table storage counts a string's size in (a character past U+FFFF is a surrogate pair;
    a lone surrogate, which only a JSON escape can carry, is one unit)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def log_text(value: object, limit: int = LOG_TEXT_LIMIT) -> str:
    """``value`` as one safe line: unsafe characters escaped, at most ``limit`` characters of
    it shown, and how long it was when it was cut."""
    text = str(value)
    shown = "".join(_escape(char) for char in text[:limit])
    if len(text) > limit:
        shown += f"... ({len(text)} characters)"
    return shown


def capped(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 (on a character boundary), saying so."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    marker = f"... (cut: {len(raw)} bytes)"
    kept = raw[: max(max_bytes - len(marker.encode()), 0)].decode("utf-8", "ignore")
    return kept + marker
