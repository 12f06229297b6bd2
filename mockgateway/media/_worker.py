"""A render worker process: ``python -m mockgateway.media._worker PARENT_PID``.

It reads length-prefixed pickled requests ``(task, args)`` on stdin and answers each on stdout
with ``("ok", result)``, ``("rejected", message)`` (an :class:`InputRejected`) or
``("error", text)``. It exits on EOF of stdin, which is how it learns its parent has gone, however
the parent went; on Linux the kernel also kills it when its parent dies (``PR_SET_PDEATHSIG``),
for a parent that dies while a render is running.

The worker is started from this module, never from the user's ``__main__``, so a script that
serves at module level is not run again and needs no ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any

from ._frames import read_frame, write_frame
from ._types import InputRejected

# Renders are background work: the serving process, answering status polls, goes first when
# both want the CPU, and a worker starting up does not slow the gateway's own start.
NICENESS = 10


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        sys.exit(0)


def main(argv: list[str]) -> int:
    parent = int(argv[0]) if argv else os.getppid()
    _die_with_parent(parent)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    # Imported only now, at the lower priority: loading numpy and PyAV is most of the start-up.
    from ._work import TASKS

    # Ctrl-C reaches the whole process group: the parent decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = sys.stdin.buffer
    # The protocol owns the real stdout; anything a library prints goes to stderr instead.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    while (request := read_frame(requests)) is not None:
        task, args = request
        try:
            answer: tuple[str, Any] = ("ok", TASKS[task](*args))
        except InputRejected as exc:
            answer = ("rejected", str(exc))
        except Exception as exc:  # reported to the parent, which fails the job with it
            answer = ("error", f"{type(exc).__name__}: {exc}")
        try:
            write_frame(answers, answer)
        except BrokenPipeError:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
