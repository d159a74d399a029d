"""`pike-reports export`: every record of one listing as JSON Lines, progress on stderr.

Each line is ``json.dumps(record, ensure_ascii=False)`` of one item exactly as the API sent it
(unknown fields kept), UTF-8 encoded. Without ``--out`` the lines go to stdout; with ``--out``
they go to a temporary file next to the target, renamed into place only when the listing is
complete, so a failure never leaves a partial file behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

import requests

from pike_tasks.client import LIST_FILTERS, ListingStats, PikeClient
from pike_tasks.errors import PikeConnectionError
from pike_tasks.outputs import atomic_writer

PROGRESS_EVERY_PAGES = 25  # when stderr is not a terminal, a progress line every this many pages


class FilterError(ValueError):
    """A ``--filter`` that is not ``KEY=VALUE`` with a documented key for the resource."""


def parse_filters(resource: str, raw_filters: list[str]) -> dict[str, str]:
    """``["status=done", "teamId=t1"]`` -> ``{"status": "done", "teamId": "t1"}``, validated.

    Raises:
        FilterError: Not ``KEY=VALUE``, an empty value, a repeated key, or a key the listing
            does not document (the message lists the allowed keys).
    """
    allowed = LIST_FILTERS[resource]
    filters: dict[str, str] = {}
    for raw in raw_filters:
        key, sep, value = raw.partition("=")
        key = key.strip()
        if not sep or not key:
            raise FilterError(f"--filter {raw!r} is not KEY=VALUE (allowed keys for {resource}: {', '.join(allowed)})")
        if key not in allowed:
            raise FilterError(f"unknown filter {key!r} for {resource}; allowed: {', '.join(allowed)}")
        if not value:
            raise FilterError(f"--filter {key}= needs a value")
        if key in filters:
            raise FilterError(f"--filter {key} given more than once")
        filters[key] = value
    return filters


class _Progress:
    """Records, pages and retries on stderr: rewritten in place on a terminal, else every few pages."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_pages = 0

    def update(self, stats: ListingStats) -> None:
        if stats.pages == self._last_pages:
            return
        self._last_pages = stats.pages
        if self._tty:
            self._stream.write(f"\r{self._line(stats)}")
            self._stream.flush()
        elif stats.pages % PROGRESS_EVERY_PAGES == 0:
            self._stream.write(self._line(stats) + "\n")

    def done(self, stats: ListingStats, target: str) -> None:
        end = "\r\x1b[K" if self._tty else ""
        dropped = f", {stats.duplicates_dropped} duplicate ids dropped" if stats.duplicates_dropped else ""
        self._stream.write(
            f"{end}exported {stats.records} {stats.resource} in {stats.pages} pages "
            f"({stats.retries} retries{dropped}, {stats.seconds:.1f} s) to {target}\n"
        )
        self._stream.flush()

    def abort(self) -> None:
        if self._tty and self._last_pages:
            self._stream.write("\n")
            self._stream.flush()

    @staticmethod
    def _line(stats: ListingStats) -> str:
        return f"{stats.resource}: {stats.records} records, {stats.pages} pages, {stats.retries} retries"


class _BytesOut(Protocol):
    def write(self, data: bytes, /) -> int: ...


def export_listing(client: PikeClient, resource: str, filters: dict[str, str], out: _BytesOut,
                   progress: _Progress | None = None) -> ListingStats:
    """Write every item of the listing to ``out`` as UTF-8 JSON Lines; returns the listing's stats."""
    records = client.iter_list(resource, **filters)
    stats = None
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        if progress is not None:
            stats = stats or client.stats[resource]
            progress.update(stats)
    return client.stats[resource]


def _write_atomically(path: Path, write: Callable[[IO[Any]], object]) -> None:
    """Run ``write(binary_file)`` on a temp file beside ``path``, then rename it over ``path``."""
    with atomic_writer(path, binary=True, make_parents=False) as tmp:  # a typo'd folder is an error
        write(tmp)
        tmp.flush()
        os.fsync(tmp.fileno())


def run_export_command(args: argparse.Namespace) -> int:
    """Handler of ``pike-reports export``; returns the exit code.

    Exit codes: 0 done, 2 a bad ``--filter`` or any Pike error (bad secret, missing scope,
    unreachable API; raised as PikeError and printed as one line by ``cli.main``), 1 an
    output file that cannot be written.
    """
    resource: str = args.resource
    try:
        filters = parse_filters(resource, list(args.filter or []))
    except FilterError as exc:
        print(f"pike-reports: error: {exc}", file=sys.stderr)
        return 2

    progress = _Progress(sys.stderr)
    try:
        with PikeClient.from_env() as client:
            if args.out:
                target = Path(args.out)
                try:
                    _write_atomically(target, lambda f: export_listing(client, resource, filters, f, progress))
                except OSError as exc:
                    progress.abort()
                    reason = exc.strerror or type(exc).__name__
                    print(f"pike-reports: error: cannot write {args.out}: {reason}", file=sys.stderr)
                    return 1
                label = str(target)
            else:
                if not _export_to_stdout(client, resource, filters, progress):
                    progress.abort()
                    return 0  # the reader went away (`| head`): not an error, and nothing to report
                label = "stdout"
    except requests.RequestException as exc:  # the client wraps these; never let one become a traceback
        progress.abort()
        raise PikeConnectionError(f"Request to the Pike API failed ({type(exc).__name__}).") from None
    except BaseException:
        progress.abort()
        raise
    progress.done(client.stats[resource], label)
    return 0


def _export_to_stdout(client: PikeClient, resource: str, filters: dict[str, str], progress: _Progress) -> bool:
    """Write the listing to stdout; False if the reader closed the pipe before the end."""
    stdout = sys.stdout
    binary = getattr(stdout, "buffer", None)
    stdout.flush()
    try:
        if binary is not None:
            export_listing(client, resource, filters, binary, progress)
            binary.flush()
        else:  # a text-only stream (some test harnesses): write the same lines as text
            export_listing(client, resource, filters, _TextSink(stdout), progress)
            stdout.flush()
    except BrokenPipeError:
        # `pike-reports export tasks | head`: the reader has gone; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return False
    return True


class _TextSink:
    """A binary-looking writer over a text stream."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        return self._stream.write(data.decode("utf-8"))
