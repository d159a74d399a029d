"""`pike-reports run` does its work in a child process group, so stopping `run` stops all of it.

Prefect starts its temporary API server (uvicorn, ~200 MB) as a subprocess and stops it only
from an ``atexit`` hook. Python's default SIGTERM ends the process without running that hook,
and nothing runs after a SIGKILL, so killing `run` left the server running under PID 1.

Why a supervisor rather than a parent-death signal (``PR_SET_PDEATHSIG``) on the server itself:
Prefect's ``Popen`` of the server (``SubprocessASGIServer._run_uvicorn_command``, private) takes no
``preexec_fn``, so we would have to patch it; and Linux sends that signal when the *thread* that
started the child exits, while Prefect starts the server from whichever thread first needs the
API (flow engine, events worker, log worker), so it could fire in the middle of a run. A parent
we own needs no Prefect internals and also covers anything else the run starts:

* the parent (`run` as the user started it) starts ``python -m <entry>`` (the console script's
  module, ``flows.cli``) with the same
  arguments in a new process group and waits. SIGINT, SIGTERM and SIGHUP are passed on as
  SIGTERM; if the child has not ended ``GRACE`` seconds later, its group is killed. When the
  child is gone, whatever is left in its group (a server it could not stop) is ended too.
* the child turns SIGTERM into ``KeyboardInterrupt``, so Prefect's own teardown stops the
  server. If the parent disappears (SIGKILL), the child sees its parent change (a poll every
  0.5 s, which works on any POSIX system, unlike prctl) and stops itself the same way. Either
  way, a child that has not ended ``GRACE`` seconds after the request kills its own group.

The cost is one more Python start (~0.3 s) per `run`, against 15-25 s for Prefect's server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

ENV = "_PIKE_REPORTS_SUPERVISOR_PID"  # set in the child's environment: the parent's pid
GRACE = 6.0  # seconds a child gets to stop cleanly (Prefect gives its server 5)
_POLL = 0.5
_armed = threading.Event()


# ENV is this module's own process marker (the supervising parent's pid), not a setting: it is read
# here, not in pike_tasks.config (allow-listed in tests/test_lint.py).


def available() -> bool:
    """True where process groups exist (POSIX), outside a child already supervised."""
    return os.name == "posix" and ENV not in os.environ


def is_child() -> bool:
    return ENV in os.environ


def supervise(argv: list[str], entry: str) -> int:
    """Run ``python -m <entry> <argv>`` (``pike-reports <argv>``) as a child in its own process group;
    return its exit code."""
    child = subprocess.Popen(  # noqa: S603 - this interpreter and our own CLI's arguments, no shell
        [sys.executable, "-m", entry, *argv],
        env={**os.environ, ENV: str(os.getpid())},
        process_group=0,
    )
    deadline: list[float] = []

    def forward(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 (signal handler signature)
        if not deadline:
            deadline.append(time.monotonic() + GRACE)
            _signal_group(child.pid, signal.SIGTERM, leader_only=True)
        else:  # asked twice (a second Ctrl-C): stop waiting
            deadline[0] = 0.0

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if deadline and time.monotonic() >= deadline[0]:
                    _signal_group(child.pid, signal.SIGKILL)
    finally:
        _end_group(child.pid)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code if code >= 0 else 128 - code


def become_child() -> None:
    """In the child: SIGTERM, SIGINT, SIGHUP become KeyboardInterrupt; stop if the parent goes away.

    Call before importing Prefect. Prefect installs its own SIGTERM handler during a flow run
    and, after its cleanup, re-sends the signal to the handler it replaced: this one.
    """
    parent = int(os.environ.pop(ENV))  # not inherited by Prefect's server or anything else
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    threading.Thread(target=_watch_parent, args=(parent,), name="pike-reports-parent-watch", daemon=True).start()


def _interrupt(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 (signal handler signature)
    _arm_group_kill()
    raise KeyboardInterrupt


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_POLL)
    _arm_group_kill()  # armed here too, in case the interrupt below is swallowed somewhere
    os.kill(os.getpid(), signal.SIGTERM)


def _arm_group_kill() -> None:
    """Kill this process group (this process and Prefect's server) GRACE s from now, once."""
    if _armed.is_set() or os.getpgrp() != os.getpid():  # only a group of our own
        return
    _armed.set()
    timer = threading.Timer(GRACE, _signal_group, (os.getpid(), signal.SIGKILL))
    timer.daemon = True
    with contextlib.suppress(RuntimeError):  # the interpreter is already shutting down: nothing left to wait for
        timer.start()


def _signal_group(pgid: int, signum: int, *, leader_only: bool = False) -> bool:
    """Send ``signum`` to the group (or its leader); False when nobody is left."""
    try:
        if leader_only:
            os.kill(pgid, signum)
        else:
            os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:  # a recycled pid we do not own: not ours to stop
        return False
    return True


def _end_group(pgid: int) -> None:
    """Terminate what is left of the child's group, then kill it after GRACE s."""
    if not _signal_group(pgid, signal.SIGTERM):
        return
    end = time.monotonic() + GRACE
    while time.monotonic() < end:
        time.sleep(0.1)
        if not _signal_group(pgid, 0):
            return
    _signal_group(pgid, signal.SIGKILL)
