"""The access log (``serve -v``): one line per request, the key redacted as in the journal.

::

    GET /v2/requests/status/bytedance-omnihuman-v1-5-290_... 200 0.4ms key=****0001

aiohttp calls :class:`AccessLine` after each response only when a logger is given, so a gateway
serving without one pays nothing for it.
"""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ._journal import KEY_HEADER, redact_key

LOGGER_NAME = "mockgateway.access"


def access_line(method: str, path: str, status: int, seconds: float, key: str | None) -> str:
    """One request as the access log shows it: method, path, status, milliseconds, key."""
    return f"{method} {path} {status} {seconds * 1000:.1f}ms key={redact_key(key) or '-'}"


class AccessLine(AbstractAccessLogger):
    """Writes :func:`access_line` for each request to the logger aiohttp was given."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        key = request.headers.get(KEY_HEADER)
        self.logger.info(access_line(request.method, request.raw_path, response.status, time, key))


def stderr_logger() -> logging.Logger:
    """The access logger the command line uses: bare lines on stderr, apart from other logs."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    return logger
