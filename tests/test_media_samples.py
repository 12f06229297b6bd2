"""The bundled samples: found from a checkout and from a wheel, and made by the project itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mockgateway.media import SAMPLES, probe_audio, probe_image, sample_bytes, samples_dir
from mockgateway.media._samples import find_samples, sample_name_from_path, stand_in
from mockgateway.media._synth import encode_audio, encode_image, portrait, speech

CHECKOUT = Path(__file__).resolve().parent.parent


def test_a_checkout_reads_the_fixtures_directory() -> None:
    assert samples_dir() == CHECKOUT / "fixtures"


def test_a_wheel_layout_reads_the_packaged_copy(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "mockgateway"
    shutil.copytree(CHECKOUT / "fixtures", package / "_fixtures")
    assert find_samples(package) == package / "_fixtures"


def test_a_package_without_samples_says_how_to_make_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"fixtures/generate\.py"):
        find_samples(tmp_path / "mockgateway")


def test_pyproject_ships_the_fixtures_in_the_wheel() -> None:
    text = (CHECKOUT / "pyproject.toml").read_text()
    assert '"fixtures" = "mockgateway/_fixtures"' in text


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_decodes_as_its_kind_and_stays_small(name: str) -> None:
    data = sample_bytes(name)
    assert len(data) < 80_000
    if SAMPLES[name].startswith("image/"):
        assert probe_image("image_url", data).width == 360
    else:
        assert probe_audio("audio_url", data).duration == pytest.approx(3.0)


def test_the_lossless_samples_are_reproduced_by_the_generator() -> None:
    """PNG and WAV bytes depend only on numpy and zlib, so regeneration must match exactly."""
    assert encode_image(portrait(360, 480), "png") == sample_bytes("portrait.png")
    assert encode_audio(speech(3.0, 11025), 11025, "wav") == sample_bytes("speech.wav")


def test_synthesis_is_deterministic() -> None:
    assert (speech(1.0, 8000) == speech(1.0, 8000)).all()
    assert (speech(1.0, 8000, seed=1) != speech(1.0, 8000, seed=2)).any()


@pytest.mark.parametrize(
    ("kind", "path", "name"),
    [
        ("image", "/x/omnihuman_v15_input_image.png", "portrait.png"),
        ("image", "/x/face.JPEG", "portrait.jpg"),
        ("image", "/x/face.webp", "portrait.webp"),
        ("image", "/x/face", "portrait.png"),
        ("audio", "/x/omnihuman_v15_input_audio.mp3", "speech.mp3"),
        ("audio", "/x/voice.wav", "speech.wav"),
        ("audio", "/x/voice.ogg", "speech.mp3"),
    ],
)
def test_stand_in_matches_kind_and_extension(kind: str, path: str, name: str) -> None:
    assert stand_in(kind, path) == name


def test_sample_route_paths() -> None:
    assert sample_name_from_path("/_mock/samples/speech.wav") == "speech.wav"
    assert sample_name_from_path("/_mock/samples/../../etc/passwd") is None
    assert sample_name_from_path("/speech.wav") is None
