"""The operator token: what one may be, and whether a request's ``Authorization`` header shows it.

Set (``[server] operator_token`` or ``serve --operator-token``), it guards the operator API under
``/_mock/`` and the dashboard's data; unset, nothing asks for one.
"""

from __future__ import annotations

import hmac

TOKEN_RULE = "must be 8 to 256 visible ASCII characters, no spaces (it is sent as a header)"


def token_ok(token: str) -> bool:
    """Whether ``token`` can be an operator token: it travels in ``Authorization: Bearer``."""
    return 8 <= len(token) <= 256 and all("!" <= c <= "~" for c in token)


def shows_token(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <token>`` (compared in constant
    time, the scheme's name in any case)."""
    if authorization is None:
        return False
    scheme, _, given = authorization.strip().partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given.isascii():  # a token is ASCII: bytes beyond
        return False  # (a header's undecodable bytes, surrogates) are never it, and never encode
    return hmac.compare_digest(given.encode(), token.encode())
