"""``mockgateway calibrate RUN.har [MORE.har ...]``: the fitted scenario on stdout, the fit's
quality on stderr. Exit status 0, or 2 when a file is not a proxy recording (one that cannot be
read, or whose ``log._jobs`` is missing or malformed) or when the recordings hold nothing to fit
(then nothing is written on stdout)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._bodyparse import MAX_DEPTH, BodyError, Bounds, parse_json
from .._errors import ConfigError
from ._calibrate import fit_scenario, load_recordings

_HAR_BOUNDS = Bounds(max_bytes=None, max_depth=MAX_DEPTH + 8)


def read_har(path: str | Path) -> Any:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from None
    try:
        return parse_json(raw, _HAR_BOUNDS, what="recording")
    except BodyError as exc:
        raise ConfigError(f"not a HAR file: {exc}", source=str(path)) from None


def run(args: argparse.Namespace) -> int:
    try:
        hars = [read_har(p) for p in args.har]
        recordings = load_recordings(hars)
    except (ConfigError, ValueError) as exc:
        print(f"mockgateway calibrate: {exc}", file=sys.stderr)
        return 2
    fit = fit_scenario(recordings)
    if fit.empty:
        for line in fit.quality:
            print(f"mockgateway calibrate: {line}; no profile written", file=sys.stderr)
        return 2
    sys.stdout.write(fit.toml)
    for line in fit.quality:
        print(f"mockgateway calibrate: {line}", file=sys.stderr)
    return 0
