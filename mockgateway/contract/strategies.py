"""Hypothesis strategies for the contract's messages, for property tests of gateways and clients.

Needs Hypothesis (``pip install mockgateway[test]``)::

    from hypothesis import given
    from mockgateway.contract.strategies import generate_calls, invalid_generate_calls

    @given(invalid_generate_calls())
    def test_rejects(call):
        answer = post(call.raw, call.headers)
        assert answer.status == 400 and call.field in answer.json()["message"]

Valid requests match ``generate-request.schema.json`` (and the X-Webhook-URL pattern of the
OpenAPI document); every invalid one is a valid request broken in exactly one way, and says which
field it broke and how, so a test can demand a 400 naming that field.

For any declared model (a :class:`~mockgateway.models.ModelSpec`), :func:`valid_bodies` and
:func:`invalid_bodies` do the same from its request schema (values drawn by
``hypothesis-jsonschema``), its media inputs getting URLs the gateway accepts.
"""

from __future__ import annotations

import json
import re
import string
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from .._timefmt import iso_ms
from .._validation import RESOLUTIONS, WEBHOOK_URL_PATTERN
from ..models import OMNIHUMAN_MODEL_ID
from ._model_bodies import invalid_bodies, valid_bodies
from ._strategy_parts import (
    GenerateCall,
    InvalidGenerate,
    broken_body,
    broken_url_field,
    hosts,
    http_url,
    input_urls,
    not_object_bodies,
)

STATUSES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR")
TERMINAL_STATUSES = ("COMPLETED", "FAILED", "ERROR")
_WEBHOOK_URL = re.compile(WEBHOOK_URL_PATTERN)
_HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


def webhook_urls() -> st.SearchStrategy[str]:
    """Values the contract accepts in X-Webhook-URL."""
    return st.one_of(
        st.just("https://your-server.com/webhook/callback"),
        st.builds(
            lambda host, port, path: f"http://{host}{port}/{path}",
            st.sampled_from(("127.0.0.1", "localhost", "hooks.example.com")),
            st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")),
            st.from_regex(r"[a-z0-9/_-]{0,20}", fullmatch=True),
        ),
    ).filter(lambda url: bool(_WEBHOOK_URL.search(url)))


# valid requests --------------------------------------------------------------------------------

_extra_fields = st.dictionaries(
    st.sampled_from(("prompt", "mask_url", "turbo_mode", "seed", "x_trace")),
    st.one_of(st.text(max_size=20), st.booleans(), st.integers(), st.none()),
    max_size=2,
)


def generate_requests(*, extra_fields: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Valid generate bodies; resolution present or not; undocumented extras if ``extra_fields``."""

    def build(
        image: str, audio: str, resolution: str | None, extra: dict[str, Any]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"image_url": image, "audio_url": audio}
        if resolution is not None:
            body["resolution"] = resolution
        return {**extra, **body}

    return st.builds(
        build,
        input_urls("image"),
        input_urls("audio"),
        st.one_of(st.none(), st.sampled_from(RESOLUTIONS)),
        _extra_fields if extra_fields else st.just({}),
    )


def generate_calls() -> st.SearchStrategy[GenerateCall]:
    """Valid generate requests, half of them with an X-Webhook-URL header."""
    headers: st.SearchStrategy[dict[str, str]] = st.one_of(
        st.just({}), webhook_urls().map(lambda url: {"X-Webhook-URL": url})
    )
    return st.builds(GenerateCall, generate_requests(), headers)


# invalid requests ------------------------------------------------------------------------------


def _broken_resolution() -> st.SearchStrategy[tuple[str, str, Any]]:
    wrong_type = st.one_of(
        st.none(), st.booleans(), st.integers(), st.lists(st.integers(), max_size=1)
    )
    not_listed = st.one_of(
        st.sampled_from(("4k", "1080P", "720", "1440p", "")),
        st.text(max_size=10).filter(lambda s: s not in RESOLUTIONS),
    )
    return st.one_of(
        wrong_type.map(lambda v: ("resolution", "not a string", v)),
        not_listed.map(lambda v: ("resolution", "not one of 720p, 1080p, 480p", v)),
    )


def _invalid_by_field() -> st.SearchStrategy[InvalidGenerate]:
    broken = st.one_of(
        broken_url_field("image_url"), broken_url_field("audio_url"), _broken_resolution()
    )
    return st.builds(broken_body, generate_requests(extra_fields=False), broken)


def _invalid_webhook_headers() -> st.SearchStrategy[InvalidGenerate]:
    bad = st.one_of(
        st.sampled_from(
            (
                "your-server.com/webhook",
                "ftp://host/hook",
                "http://",
                "http://host:99999/hook",
                "/webhook/callback",
                "http://[::1/hook",
            )
        ),
        _HEADER_TEXT.filter(lambda s: not _WEBHOOK_URL.search(s.strip())),
    ).filter(lambda s: not _WEBHOOK_URL.search(s.strip()))
    return st.builds(
        lambda body, url: InvalidGenerate(
            json.dumps(body).encode(),
            "X-Webhook-URL",
            "not an absolute http(s) URL",
            {"X-Webhook-URL": url},
        ),
        generate_requests(extra_fields=False),
        bad,
    )


def invalid_generate_calls() -> st.SearchStrategy[InvalidGenerate]:
    """Generate requests each invalid in exactly one known way (a field, the body or a header)."""
    return st.one_of(_invalid_by_field(), not_object_bodies(), _invalid_webhook_headers())


# status bodies ---------------------------------------------------------------------------------

_moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


def timestamps() -> st.SearchStrategy[str]:
    """Times in the doc's format, ``2026-03-31T10:00:15.000Z``."""
    return _moments.map(lambda moment: iso_ms(moment.timestamp()))


def request_ids(model_id: str = OMNIHUMAN_MODEL_ID) -> st.SearchStrategy[str]:
    """``{model_id}_{uuid}`` ([inferred] from the doc's example id)."""
    return st.uuids().map(lambda u: f"{model_id}_{u}")


def status_bodies(
    status: str | None = None, *, model_id: str = OMNIHUMAN_MODEL_ID
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid status bodies (``status.schema.json``), any status or the one given."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")

    def build(
        chosen: str,
        request_id: str,
        created: datetime,
        gap: float,
        media: list[str],
        media_type: str,
        error: str,
    ) -> dict[str, Any]:
        updated = created + timedelta(seconds=gap)
        terminal = chosen in TERMINAL_STATUSES
        return {
            "request_id": request_id,
            "status": chosen,
            "model_id": model_id,
            "error": error if chosen in ("FAILED", "ERROR") else None,
            "output": (
                {"media_url": media, "media_type": media_type} if chosen == "COMPLETED" else None
            ),
            "created_at": iso_ms(created.timestamp()),
            "updated_at": iso_ms(updated.timestamp()),
            "completed_at": iso_ms(updated.timestamp()) if terminal else None,
        }

    if status is None:
        return st.sampled_from(STATUSES).flatmap(
            lambda chosen: status_bodies(chosen, model_id=model_id)
        )
    completed = status == "COMPLETED"
    failed = status in ("FAILED", "ERROR")
    return st.builds(
        build,
        st.just(status),
        request_ids(model_id),
        _moments,
        st.floats(min_value=0, max_value=3600),
        st.lists(http_url((".mp4",)), min_size=1, max_size=2) if completed else st.just([]),
        st.sampled_from(("video/mp4", "application/octet-stream")),
        _error_texts if failed else st.just(""),
    )


_error_texts = st.text(alphabet=string.printable, min_size=1, max_size=60).filter(str.strip)


def webhook_bodies() -> st.SearchStrategy[dict[str, Any]]:
    """Terminal status bodies, as a webhook carries them (``webhook.schema.json``)."""
    return st.sampled_from(TERMINAL_STATUSES).flatmap(status_bodies)


def accepted_bodies(model_id: str = OMNIHUMAN_MODEL_ID) -> st.SearchStrategy[dict[str, Any]]:
    """Valid 202 answers (``generate-accepted.schema.json``)."""
    return st.builds(
        lambda rid, origin: {
            "request_id": rid,
            "status": "QUEUED",
            "polling_url": f"{origin}/v2/requests/status/{rid}",
        },
        request_ids(model_id),
        st.builds(lambda host: f"https://{host}", hosts),
    )


__all__ = [
    "STATUSES",
    "TERMINAL_STATUSES",
    "GenerateCall",
    "InvalidGenerate",
    "accepted_bodies",
    "generate_calls",
    "generate_requests",
    "input_urls",
    "invalid_bodies",
    "invalid_generate_calls",
    "request_ids",
    "status_bodies",
    "timestamps",
    "valid_bodies",
    "webhook_bodies",
    "webhook_urls",
]
