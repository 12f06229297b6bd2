"""``mockgateway serve`` says "cannot listen" only when it could not listen: an ``OSError`` from
anything else at start-up is reported as itself (it used to be worded as a failure to listen on the
configured address, which sent people looking at the wrong setting)."""

from __future__ import annotations

import errno
import socket

import pytest

from mockgateway import _cli
from mockgateway._gateway import Gateway


def test_an_oserror_at_start_that_is_not_listening_is_not_called_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken_open(self: Gateway) -> None:
        raise OSError(errno.EIO, "the media folder went away")

    monkeypatch.setattr(Gateway, "open", broken_open)
    assert _cli.main(["serve", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "the media folder went away" in err
    assert "cannot listen" not in err


def test_a_port_in_use_is_still_a_failure_to_listen(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert _cli.main(["serve", "--host", "127.0.0.1", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in err
