"""SQLite's LIKE folds case for ASCII only, so «вектор» would not find
«Вектор» in the embedded mode. We replace SQLite's like() with one that folds
Unicode case, which makes Django's icontains/istartswith behave as on
PostgreSQL (whose UPPER() is Unicode-aware)."""

import re
from functools import lru_cache


@lru_cache(maxsize=512)
def _like_regex(pattern: str, escape: str | None) -> re.Pattern:
    out, chars, i = [], pattern, 0
    while i < len(chars):
        ch = chars[i]
        if escape and ch == escape and i + 1 < len(chars):
            out.append(re.escape(chars[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL | re.IGNORECASE)


def unicode_like(pattern, value, escape=None):
    if pattern is None or value is None:
        return None
    return _like_regex(str(pattern).casefold(), escape).fullmatch(str(value).casefold()) is not None


def install_unicode_like(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("like", 2, unicode_like, deterministic=True)
        connection.connection.create_function("like", 3, unicode_like, deterministic=True)
