"""Fetching inputs under the policy, against a real loopback server the test starts."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from mockgateway.media import Fetcher, InputPolicy, InputRejected, InputsConfig, sample_bytes
from tests import media_support as ms

DOC_IMAGE = (
    "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_image.png"
)
DOC_AUDIO = (
    "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_audio.mp3"
)


async def test_loopback_urls_are_fetched() -> None:
    async with ms.file_server({"/in.png": b"PNGDATA"}) as base:
        fetcher = Fetcher(InputsConfig())
        try:
            got = await fetcher.fetch("image_url", f"{base}/in.png", "image")
        finally:
            await fetcher.close()
        assert got.data == b"PNGDATA"
        assert got.note is None
        assert ms.hits(base) == ["/in.png"]


async def test_offline_never_contacts_other_hosts_and_stands_in_a_sample() -> None:
    fetcher = Fetcher(InputsConfig(policy=InputPolicy.OFFLINE))
    image = await fetcher.fetch("image_url", DOC_IMAGE, "image")
    audio = await fetcher.fetch("audio_url", DOC_AUDIO, "audio")
    wav = await fetcher.fetch("audio_url", "http://example.com/voice.WAV", "audio")
    assert fetcher._session is None  # no HTTP client was ever made, so nothing was contacted
    assert image.data == sample_bytes("portrait.png")
    assert audio.data == sample_bytes("speech.mp3")
    assert wav.data == sample_bytes("speech.wav")
    assert image.note == (
        "image_url: storage.googleapis.com was not contacted (input policy 'offline'); "
        "the bundled sample portrait.png stood in"
    )
    assert audio.note is not None
    assert audio.note.startswith("audio_url: storage.googleapis.com was not contacted")


async def test_strict_rejects_other_hosts_naming_field_and_host() -> None:
    fetcher = Fetcher(InputsConfig(policy=InputPolicy.STRICT))
    with pytest.raises(InputRejected) as caught:
        await fetcher.fetch("audio_url", DOC_AUDIO, "audio")
    assert str(caught.value).startswith(
        "audio_url: host storage.googleapis.com is unreachable: the strict input policy"
    )
    assert fetcher._session is None


def test_allowed_hosts_and_online_policy_decide_what_may_be_contacted() -> None:
    assert not Fetcher(InputsConfig()).host_allowed("cdn.example.com")
    assert Fetcher(InputsConfig(allow_hosts=("cdn.example.com",))).host_allowed("CDN.example.com")
    assert Fetcher(InputsConfig(policy=InputPolicy.ONLINE)).host_allowed("cdn.example.com")
    assert not Fetcher(InputsConfig(policy=InputPolicy.STRICT)).host_allowed("cdn.example.com")


def test_the_hosts_judged_are_remembered_within_a_bound() -> None:
    from mockgateway.media import _fetch

    fetcher = Fetcher(InputsConfig(allow_hosts=("cdn.example.com",)))
    for n in range(_fetch.HOSTS_KEPT + 10):  # a client naming ever new hosts
        assert not fetcher.host_allowed(f"h{n}.example")
        assert len(fetcher._hosts) <= _fetch.HOSTS_KEPT
    for _ in range(2):  # asked again, remembered or not, the same answers
        assert fetcher.host_allowed("cdn.example.com")
        assert fetcher._is_own("127.0.0.1")
        assert not fetcher._is_own("cdn.example.com")


async def test_bundled_samples_on_loopback_are_read_from_the_package() -> None:
    fetcher = Fetcher(InputsConfig(policy=InputPolicy.STRICT))
    got = await fetcher.fetch(
        "image_url", "http://127.0.0.1:9/_mock/samples/portrait.webp", "image"
    )
    assert got.data == sample_bytes("portrait.webp")
    assert got.source == "sample:portrait.webp"
    assert fetcher._session is None


async def test_data_urls() -> None:
    fetcher = Fetcher(InputsConfig(max_bytes=100))
    encoded = base64.b64encode(b"\x89PNG binary").decode()
    assert (await fetcher.fetch("image_url", f"data:image/png;base64,{encoded}", "image")).data == (
        b"\x89PNG binary"
    )
    assert (await fetcher.fetch("image_url", "data:,a%20b", "image")).data == b"a b"
    with pytest.raises(InputRejected, match=r"^image_url: the data: URL is larger than the 100"):
        await fetcher.fetch(
            "image_url", "data:;base64," + base64.b64encode(bytes(101)).decode(), "image"
        )
    with pytest.raises(InputRejected, match=r"^image_url: not a valid data: URL"):
        await fetcher.fetch("image_url", "data:;base64,@@@", "image")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/a.png", "image_url: unsupported URL"),
        ("not a url", "image_url: unsupported URL"),
        ("http:///nohost", "image_url: unsupported URL"),
    ],
)
async def test_other_schemes_are_refused(url: str, message: str) -> None:
    with pytest.raises(InputRejected, match=f"^{message}"):
        await Fetcher(InputsConfig()).fetch("image_url", url, "image")


async def test_file_urls_are_refused_unless_a_directory_is_allowed(tmp_path: Path) -> None:
    (tmp_path / "in.wav").write_bytes(b"RIFF....")
    url = (tmp_path / "in.wav").as_uri()
    with pytest.raises(InputRejected, match=r"^audio_url: file: URLs are not allowed"):
        await Fetcher(InputsConfig()).fetch("audio_url", url, "audio")
    allowed = Fetcher(InputsConfig(file_dir=tmp_path))
    assert (await allowed.fetch("audio_url", url, "audio")).data == b"RIFF...."


@pytest.mark.parametrize("escape", ["../secret.wav", "%2e%2e/secret.wav", "sub/../../secret.wav"])
async def test_file_urls_cannot_escape_the_allowed_directory(tmp_path: Path, escape: str) -> None:
    inside = tmp_path / "inputs"
    (inside / "sub").mkdir(parents=True)
    (tmp_path / "secret.wav").write_bytes(b"secret")
    fetcher = Fetcher(InputsConfig(file_dir=inside))
    with pytest.raises(InputRejected, match=r"^audio_url: file: URL points outside"):
        await fetcher.fetch("audio_url", f"file://{inside}/{escape}", "audio")


async def test_file_urls_respect_the_size_limit(tmp_path: Path) -> None:
    (tmp_path / "big.wav").write_bytes(bytes(2000))
    fetcher = Fetcher(InputsConfig(file_dir=tmp_path, max_bytes=1000))
    with pytest.raises(InputRejected, match=r"^audio_url: the file is larger than the 1000 bytes"):
        await fetcher.fetch("audio_url", (tmp_path / "big.wav").as_uri(), "audio")


async def _chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(20):
        await response.write(bytes(1000))
    await response.write_eof()
    return response


async def test_size_limit_from_content_length_and_while_streaming() -> None:
    async with ms.file_server({"/big.png": bytes(5000)}, {"/chunked.png": _chunked}) as base:
        fetcher = Fetcher(InputsConfig(max_bytes=4096))
        try:
            for path in ("/big.png", "/chunked.png"):
                with pytest.raises(
                    InputRejected, match=r"^image_url: the file is larger than the 4096 bytes limit"
                ):
                    await fetcher.fetch("image_url", base + path, "image")
        finally:
            await fetcher.close()


async def test_timeout_names_the_field_host_and_setting() -> None:
    async with ms.file_server({}, {"/slow.mp3": ms.never_answer}) as base:
        fetcher = Fetcher(InputsConfig(timeout_seconds=0.2))
        try:
            with pytest.raises(InputRejected) as caught:
                await fetcher.fetch("audio_url", f"{base}/slow.mp3", "audio")
        finally:
            await fetcher.close()
    assert str(caught.value) == (
        "audio_url: 127.0.0.1 did not answer within 0.2 s (inputs.timeout_seconds)"
    )


async def test_http_errors_and_unreachable_hosts() -> None:
    fetcher = Fetcher(InputsConfig())
    try:
        async with ms.file_server({}) as base:
            with pytest.raises(InputRejected, match=r"^image_url: 127.0.0.1 answered HTTP 404"):
                await fetcher.fetch("image_url", f"{base}/gone.png", "image")
        with pytest.raises(InputRejected, match=r"^image_url: 127.0.0.1 is unreachable"):
            await fetcher.fetch("image_url", ms.closed_port_url(), "image")
    finally:
        await fetcher.close()


def _redirect(location: str) -> ms.Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(location)

    return handler


async def _to_localhost(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"http://localhost:{request.url.port}/real.png")


async def test_redirects_are_followed_between_allowed_hosts() -> None:
    async with ms.file_server(
        {"/real.png": b"real"}, {"/a": _redirect("/b"), "/b": _to_localhost}
    ) as base:
        fetcher = Fetcher(InputsConfig())
        try:
            got = await fetcher.fetch("image_url", f"{base}/a", "image")
        finally:
            await fetcher.close()
        assert got.data == b"real"
        assert got.source == f"http://localhost:{base.rsplit(':', 1)[1]}/real.png"
        assert ms.hits(base) == ["/a", "/b", "/real.png"]


@pytest.mark.parametrize("policy", [InputPolicy.OFFLINE, InputPolicy.STRICT])
async def test_redirect_to_a_forbidden_host_is_rejected_before_contacting_it(
    policy: InputPolicy,
) -> None:
    async with ms.file_server({}, {"/a": _redirect("http://metadata.internal/secret")}) as base:
        fetcher = Fetcher(InputsConfig(policy=policy))
        try:
            with pytest.raises(InputRejected) as caught:
                await fetcher.fetch("image_url", f"{base}/a", "image")
        finally:
            await fetcher.close()
    assert str(caught.value) == (
        "image_url: 127.0.0.1 redirected to metadata.internal, a host the input policy "
        f"'{policy.value}' does not contact"
    )


async def test_redirect_loops_stop() -> None:
    async with ms.file_server({}, {"/loop": _redirect("/loop")}) as base:
        fetcher = Fetcher(InputsConfig(max_redirects=3))
        try:
            with pytest.raises(InputRejected, match=r"^image_url: more than 3 redirects"):
                await fetcher.fetch("image_url", f"{base}/loop", "image")
        finally:
            await fetcher.close()
        assert ms.hits(base) == ["/loop"] * 4


_URLS = st.one_of(
    st.text(max_size=40),
    st.builds(
        str.__add__,
        st.sampled_from(
            [
                "http://",
                "https://",
                "HTTP://",
                "data:",
                "data:;base64,",
                "file://",
                "ftp://",
                "http://[",
                "http://user@",
                "https://xn--",
            ]
        ),
        st.text(max_size=40),
    ),
)


@settings(max_examples=150, deadline=None)
@given(_URLS)
def test_any_url_string_is_fetched_or_rejected_naming_the_field(url: str) -> None:
    async def attempt() -> str | None:
        fetcher = Fetcher(InputsConfig(policy=InputPolicy.STRICT, timeout_seconds=2))
        try:
            await fetcher.fetch("image_url", url, "image")
        except InputRejected as exc:
            return str(exc)
        finally:
            await fetcher.close()
        return None

    message = asyncio.run(attempt())
    assert message is None or message.startswith("image_url: ")


def test_stand_in_notes_are_known_before_fetching() -> None:
    offline = Fetcher(InputsConfig())
    assert offline.stand_in_note("audio_url", DOC_AUDIO, "audio") == (
        "audio_url: storage.googleapis.com was not contacted (input policy 'offline'); "
        "the bundled sample speech.mp3 stood in"
    )
    for url in ("http://127.0.0.1:8/a.mp3", "data:,x", "file:///x.wav", "not a url"):
        assert offline.stand_in_note("audio_url", url, "audio") is None
    assert (
        Fetcher(InputsConfig(policy=InputPolicy.STRICT)).stand_in_note(
            "audio_url", DOC_AUDIO, "audio"
        )
        is None
    )
    allowed = Fetcher(InputsConfig(allow_hosts=("storage.googleapis.com",)))
    assert allowed.stand_in_note("audio_url", DOC_AUDIO, "audio") is None


async def test_samples_on_the_gateways_own_public_host_are_read_from_the_package() -> None:
    fetcher = Fetcher(InputsConfig(policy=InputPolicy.STRICT), own_hosts=("Gateway.Example.Test",))
    got = await fetcher.fetch(
        "audio_url", "https://gateway.example.test/_mock/samples/speech.wav", "audio"
    )
    assert got.data == sample_bytes("speech.wav")
    assert fetcher._session is None
    with pytest.raises(InputRejected, match=r"^audio_url: host other\.example is unreachable"):
        await fetcher.fetch("audio_url", "https://other.example/_mock/samples/speech.wav", "audio")
