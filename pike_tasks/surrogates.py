"""Pure: text holding UTF-16 surrogates (which UTF-8 cannot encode) made writable.

JSON may escape any UTF-16 code unit, so an API string can carry a lone ``"\\ud800"``; Python
keeps it as it is, and the first UTF-8 write of it (CSV, HTML, summary.json, an email) fails the
whole run with ``UnicodeEncodeError``. YAML does not join an escaped pair either: ``"\\ud83d\\ude00"``
stays two code points instead of one emoji. :func:`repair` fixes both: a valid pair becomes the
character it encodes, a lone surrogate becomes U+FFFD (the Unicode replacement character).
No pandas here: the teams config uses this too and must stay cheap to import.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def has_surrogates(text: str) -> bool:
    """True when ``text`` holds a surrogate code point (a lone one, or a pair not yet joined)."""
    if text.isascii():  # O(1) in CPython (a flag of the string): most text stops here
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # strict UTF-8 refuses every surrogate, and nothing else
        return True
    return False


def repair(text: str) -> str:
    """``text`` with surrogate pairs joined and lone surrogates replaced by U+FFFD."""
    if not has_surrogates(text):
        return text
    # Through UTF-16 code units: the decoder pairs what pairs and replaces the rest.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
