"""The hot routes (a status poll, a generate on a served model) taken without the router walk:
always the very match the router gives, and the same answers over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import given, settings
from hypothesis import strategies as st

from mockgateway._gateway import Gateway
from mockgateway.web import make_app, serving_handler
from mockgateway.web._app import GENERATE_PATH as GENERATE_TEMPLATE
from mockgateway.web._hot import POLLED_PATHS, HotRoutes

from .support import DOC_BODY, DOC_HEADERS, GENERATE_PATH, KEY, MODEL_ID, manual_config, served

STATUS_PREFIX = "/v2/requests/status/"  # the doc's status path, before the request id
REAL_ID = f"{MODEL_ID}_019dxxxx-0000-7000-8000-000000000000".replace("x", "a")
# Path characters of every kind: unreserved, reserved, escapes, braces, dots, slashes, non-ASCII.
_PATH_TEXT = st.text(
    alphabet=st.sampled_from([*"aZ09_-~.%2Fe{}/?#:@!$&'()*+,;= ", "é", "\u2028"]),
    max_size=12,
)


def _hot_and_app() -> tuple[HotRoutes, web.Application]:
    app = make_app(Gateway(manual_config()))
    return HotRoutes(app, [GENERATE_PATH, "/other-model/v1/run"]), app


def _router_match(app: web.Application, method: str, path: str) -> web.UrlMappingMatchInfo:
    request = make_mocked_request(method, path, app=app)
    return asyncio.run(app.router.resolve(request))


def _agrees(hot: HotRoutes, app: web.Application, method: str, path: str) -> None:
    found = hot.find(method, path)
    if found is None:
        return
    route, values = found
    resolved = _router_match(app, method, path)
    assert resolved.route is route, (path, resolved.route)
    assert dict(resolved) == values, path


@settings(max_examples=300, deadline=None)
@given(segment=_PATH_TEXT)
def test_a_status_path_taken_is_the_one_the_router_resolves(segment: str) -> None:
    hot, app = _hot_and_app()
    _agrees(hot, app, "GET", STATUS_PREFIX + segment)
    _agrees(hot, app, "GET", STATUS_PREFIX + REAL_ID + segment)


def test_odd_status_paths_go_through_the_router() -> None:
    hot, _app = _hot_and_app()
    for segment in ["", ".", "..", ".hidden", "a/b", "a%2Fb", "a?x=1", "{a}", "é", "a b"]:
        assert hot.find("GET", STATUS_PREFIX + segment) is None, segment
    assert hot.find("HEAD", STATUS_PREFIX + REAL_ID) is None
    assert hot.find("GET", "//v2/requests/status/" + REAL_ID) is None
    found = hot.find("GET", STATUS_PREFIX + REAL_ID)
    assert found is not None
    assert found[1] == {"request_id": REAL_ID}
    assert found[0] is _router_match(_app, "GET", STATUS_PREFIX + REAL_ID).route


def test_a_generate_path_is_taken_once_the_router_resolved_it() -> None:
    hot, app = _hot_and_app()
    assert hot.find("POST", GENERATE_PATH) is None  # not learnt yet
    resolved = _router_match(app, "POST", GENERATE_PATH)
    hot.learn("POST", GENERATE_PATH, resolved)
    found = hot.find("POST", GENERATE_PATH)
    assert found is not None
    assert found[0] is resolved.route
    assert found[1] == dict(resolved)
    assert found[1] == {"model_id": MODEL_ID, "operation": GENERATE_PATH.rsplit("/", 1)[1]}
    # only the paths of served models are learnt: anything else stays with the router
    for path in ["/no-such-model/v1/run", GENERATE_PATH + "?x=1", GENERATE_PATH + "/more"]:
        hot.learn("POST", path, _router_match(app, "POST", path))
        assert hot.find("POST", path) is None, path
    assert hot.find("GET", GENERATE_PATH) is None


def test_a_path_the_router_gives_another_route_is_not_learnt() -> None:
    """A generate-shaped path that another resource takes first stays with the router."""
    app = make_app(Gateway(manual_config()))

    async def shadow(request: web.Request) -> web.Response:
        return web.Response(text="shadow")

    path = GENERATE_TEMPLATE.format(model_id="shadow", operation="run")
    app.router.add_post(path, shadow)
    hot = HotRoutes(app, [path])
    resolved = _router_match(app, "POST", path)
    assert resolved.route.handler is shadow
    hot.learn("POST", path, resolved)
    assert hot.find("POST", path) is None


def test_a_resource_under_the_status_prefix_turns_the_status_shortcut_off() -> None:
    app = make_app(Gateway(manual_config()))

    async def special(request: web.Request) -> web.Response:
        return web.Response(text="special")

    app.router.add_get(STATUS_PREFIX + "special", special)
    hot = HotRoutes(app, [])
    assert hot.find("GET", STATUS_PREFIX + "special") is None
    assert hot.find("GET", STATUS_PREFIX + REAL_ID) is None


def test_middleware_turns_every_shortcut_off() -> None:
    @web.middleware
    async def passthrough(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        return await handler(request)

    app = make_app(Gateway(manual_config()))
    app.middlewares.append(passthrough)
    hot = HotRoutes(app, [GENERATE_PATH])
    assert not hot.usable
    assert hot.find("GET", STATUS_PREFIX + REAL_ID) is None


async def _raw_exchange(port: int, target: str) -> tuple[str, bytes]:
    """One GET of ``target`` sent as written on a loopback socket; the status line and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: {KEY}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    data = await reader.read()  # to the close
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode().split("\r\n")[0], body


async def test_hot_and_routed_answers_are_the_same_over_a_socket() -> None:
    """Generates and polls taken straight, beside ones the router resolves (a query string, an
    ``Expect`` header, HEAD): the same answers, journaled under their routes."""
    async with served() as (gw, client):
        first = await client.generate()  # resolved by the router, then learnt
        second = await client.generate()  # taken straight
        third = await client.request(
            "POST",
            GENERATE_PATH + "?via=router",
            body=DOC_BODY,
            headers={**DOC_HEADERS, "Expect": "100-continue"},
        )
        for answer in (first, second, third):
            assert answer.status == 202, answer.raw
            assert answer.body["status"] == "QUEUED"
        rid = second.body["request_id"]
        straight = await client.status(rid)
        routed = await client.request("GET", f"/v2/requests/status/{rid}?x=1")
        assert straight.status == routed.status == 200
        assert straight.raw == routed.raw
        assert straight.body["request_id"] == rid
        head = await client.request("HEAD", f"/v2/requests/status/{rid}")
        assert head.status == 200
        assert head.raw == b""
        missing = await client.status("no-such-id")
        assert missing.status == 404
        assert missing.body == {"error": "Request not found", "message": missing.body["message"]}
        assert "no-such-id" in missing.body["message"]

        journal = await client.admin("GET", "journal")
        routes = [(e["route"], e["method"], e["status"]) for e in journal["entries"]]
        assert routes.count(("generate", "POST", 202)) == 3
        assert routes.count(("status", "GET", 200)) == 2
        assert ("status", "HEAD", 200) in routes
        assert ("status", "GET", 404) in routes
        line, body = await _raw_exchange(gw.port, f"/v2/requests/status/{rid}")
        assert line == "HTTP/1.1 200 OK"
        assert json.loads(body)["request_id"] == rid
        # ".." sent raw (a client would normalise it away) goes through the router
        line, body = await _raw_exchange(gw.port, "/v2/requests/status/..")
        assert line == "HTTP/1.1 404 Not Found"
        assert json.loads(body)["message"] == "Request '..' was not found"


Dispatch = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def _serving() -> AsyncIterator[tuple[web.Application, Dispatch, list[str]]]:
    """The application, what the server is given for it, and the paths it handed on to the
    application's own dispatch (a stand-in answering 299)."""
    gateway = Gateway(manual_config())
    await gateway.open()
    try:
        app = make_app(gateway)
        handed: list[str] = []

        async def fallback(request: web.BaseRequest) -> web.StreamResponse:
            handed.append(request.raw_path)
            return web.Response(status=299)

        yield app, serving_handler(app, gateway, fallback), handed
    finally:
        await gateway.close()


async def test_the_serving_handler_takes_a_poll_past_the_application() -> None:
    """What the server is given answers a poll itself, and hands anything else on."""
    async with _serving() as (app, dispatch, handed):
        keyed = {"Ocp-Apim-Subscription-Key": KEY}
        poll = make_mocked_request("GET", STATUS_PREFIX + REAL_ID, headers=keyed, app=app)
        polled = await dispatch(poll)
        assert polled.status == 404  # answered by the status handler: no such job
        assert isinstance(polled, web.Response)
        assert isinstance(polled.body, bytes)
        assert json.loads(polled.body)["error"] == "Request not found"
        assert handed == []
        other = await dispatch(make_mocked_request("GET", "/_mock/health", app=app))
        assert other.status == 299
        assert handed == ["/_mock/health"]


async def test_a_path_polled_again_takes_its_match_made_once_and_few_are_kept() -> None:
    """A status path's match is made once and taken again for the next poll of it (the same
    frozen object); a poll with ``Expect`` still goes through the application; the matches kept
    are at most POLLED_PATHS, so a client making up paths cannot grow them."""
    async with _serving() as (app, dispatch, handed):
        keyed = {"Ocp-Apim-Subscription-Key": KEY}

        async def poll(path: str, **headers: str) -> web.Request:
            request = make_mocked_request("GET", path, headers={**keyed, **headers}, app=app)
            answer = await dispatch(request)
            assert answer.status in (404, 299), path
            return request

        first = await poll(STATUS_PREFIX + REAL_ID)
        again = await poll(STATUS_PREFIX + REAL_ID)
        other = await poll(STATUS_PREFIX + "other-id")
        assert again.match_info is first.match_info
        assert dict(again.match_info) == {"request_id": REAL_ID}
        assert again.match_info.route is first.match_info.route
        assert other.match_info is not first.match_info
        assert dict(other.match_info) == {"request_id": "other-id"}
        assert handed == []
        await poll(STATUS_PREFIX + REAL_ID, Expect="100-continue")
        assert handed == [STATUS_PREFIX + REAL_ID]
        for n in range(POLLED_PATHS):
            await poll(f"{STATUS_PREFIX}made-up-{n}")
        later = await poll(STATUS_PREFIX + REAL_ID)
        assert later.match_info is not first.match_info  # let go when the kept ones filled up
        assert dict(later.match_info) == {"request_id": REAL_ID}


def test_the_status_prefix_is_read_from_the_route_as_registered() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    moved = web.Application()
    moved.router.add_get("/v3/jobs/{request_id}", handler, name="status")
    hot = HotRoutes(moved, [])
    assert hot.status_prefix == "/v3/jobs/"
    assert hot.find("GET", STATUS_PREFIX + REAL_ID) is None  # not where the route is
    found = hot.find("GET", "/v3/jobs/" + REAL_ID)
    assert found is not None
    assert found[1] == {"request_id": REAL_ID}
    assert found[0] is _router_match(moved, "GET", "/v3/jobs/" + REAL_ID).route
    for path in ("/v3/jobs/{request_id}/log", "/v3/{request_id}-job", "/v3/jobs/{id}"):
        other = web.Application()
        other.router.add_get(path, handler, name="status")
        assert HotRoutes(other, []).status_prefix is None, path  # not a prefix and the id alone
