"""An object store (fsspec URL) as the report store: each publish writes its own run folder, then
the ``.complete`` pointer (see the package docstring)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from pike_tasks.settings import ENV_REQUEST_DEADLINE
from pike_tasks.store.base import MARKER, FolderRef, Scope, StoreError, _check_name, describe_error, redact_url
from pike_tasks.store.ops import StoreOps
from pike_tasks.store.settings import StoreSettings, deadline_of, link_seconds_of

RUNS = "runs"  # object stores: <folder>/runs/<run id>/ holds each publish's files
STORE_INFO = "_store.json"  # object stores: written once, create-only; later runs' 412 proves write access
DELETE_PROBE = "_store.delete-probe"  # never written: deleting it tells whether the store allows deletes
MIN_UPLOAD_RATE = 256 * 1024  # bytes per second a store write may be as slow as, past the deadline

# scheme -> the package that implements it (named in the error when it is missing)
REMOTE_SCHEMES = {
    "s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs",
    "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs", "memory": "fsspec",
}
_BUCKET_SCHEMES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss")
_T = TypeVar("_T")
_DATE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RUN_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")


@dataclass(frozen=True)
class Pointer:
    """What an object-store folder's ``.complete`` names: the run folder (None: the files lie in the
    folder itself, the layout before run folders) and, with a run, its files."""

    run: str | None
    files: tuple[str, ...] = ()


def _pointer_bytes(run: str, files: Mapping[str, bytes]) -> bytes:
    return (json.dumps({"files": sorted(files), "run": run}, sort_keys=True) + "\n").encode()


def _parse_pointer(raw: bytes) -> Pointer | None:
    """The pointer in ``raw``; a marker without a run is the old layout; a bad run id is no pointer."""
    try:
        data = json.loads(raw)
    except ValueError:
        return Pointer(None)  # an old marker we cannot parse still marks the old folder complete
    if not isinstance(data, dict) or data.get("run") is None:
        return Pointer(None)
    run, files = data.get("run"), data.get("files")
    if not isinstance(run, str) or not _RUN_ID.match(run) or not isinstance(files, list):
        return None
    return Pointer(run, tuple(sorted(f for f in files if isinstance(f, str) and _plain_name(f))))


def _plain_name(name: str) -> bool:
    try:
        _check_name(name)
    except ValueError:
        return False
    return True


def _new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------------------------------
# object stores through fsspec
# ------------------------------------------------------------------------------------------
class RemoteStore(StoreOps):
    """An fsspec store. A publish writes its own run folder, then the pointer (see the module docstring)."""

    def __init__(self, url: str, scheme: str, setting: str = "--out", settings: StoreSettings | None = None) -> None:
        self.settings = settings
        self.scheme = scheme
        self.setting = setting
        rest = _remote_rest(url, scheme, setting)
        self.location = f"{scheme}://{rest}"
        self.deadline = deadline_of(settings)
        self._drafts: dict[FolderRef, str] = {}  # run ids handed to links before their publish
        self._runs: dict[FolderRef, str] = {}  # run ids this store published, or read from a pointer for links
        try:
            import fsspec

            self.fs, self.base = fsspec.core.url_to_fs(self.location, **_fs_options(scheme, self.deadline))
        except ImportError as exc:
            package = REMOTE_SCHEMES[scheme]
            raise StoreError(
                f"{setting} {self.location}: the {scheme}:// store needs the {package} package "
                f"(pip install 'pike-reports[{_extra(scheme)}]'): {describe_error(exc)}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - a malformed URL or backend option
            raise StoreError(f"{setting} {self.location}: {describe_error(exc)}") from None
        self.base = self.base.rstrip("/")
        from fsspec.asyn import AsyncFileSystem

        self._bounded = isinstance(self.fs, AsyncFileSystem)

    def __repr__(self) -> str:
        return f"RemoteStore({self.location!r})"

    def _path(self, key: str) -> str:
        return f"{self.base}/{key}" if self.base else key

    def _io(self, fn: Callable[..., _T], *args: Any, size: int = 0, **kwargs: Any) -> _T:
        """``fn(*args)`` within the deadline: an async backend's call is abandoned past it (TimeoutError).

        A write of ``size`` bytes gets a second more per ``MIN_UPLOAD_RATE`` bytes, so a large page
        on a slow link is not cut where a frozen store is.
        """
        if not self._bounded:
            return fn(*args, **kwargs)
        seconds = self.deadline + size / MIN_UPLOAD_RATE
        try:
            return fn(*args, timeout=seconds, **kwargs)
        except TimeoutError:  # fsspec's FSTimeoutError; botocore's own timeouts are ConnectionErrors
            raise TimeoutError(f"no answer within {seconds:g} s ({ENV_REQUEST_DEADLINE})") from None

    def _call(self, what: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        try:
            return self._io(fn, *args, **kwargs)
        except (FileNotFoundError, FileExistsError):
            raise
        except Exception as exc:  # noqa: BLE001 - network, credentials, permissions: one line
            raise StoreError(f"{what} in {self.setting} {self.location} failed: {describe_error(exc)}") from None

    # ---- the pointer and the run folders ------------------------------------------------
    def _pointer(self, ref: FolderRef) -> Pointer | None:
        """The folder's pointer, or None when it has none (incomplete or missing)."""
        return self._pointer_at(ref.key)

    def _pointer_at(self, key: str) -> Pointer | None:
        try:
            raw: bytes = self._call("reading", self.fs.cat_file, f"{self._path(key)}/{MARKER}")
        except FileNotFoundError:
            return None
        return _parse_pointer(raw)

    def complete_folder(self, key: str) -> tuple[str, str, bool] | None:
        pointer = self._pointer_at(key)
        if pointer is None:
            return None
        if pointer.run is None:  # the layout before run folders: files in the folder itself, rewritten in place
            return key, "flat", False
        return f"{key}/{RUNS}/{pointer.run}", pointer.run, True

    def _folder_of(self, ref: FolderRef, pointer: Pointer) -> str:
        key = f"{ref.key}/{RUNS}/{pointer.run}" if pointer.run else ref.key
        return self._path(key)

    def _draft_folder(self, ref: FolderRef) -> str:
        run = self._drafts.setdefault(ref, _new_run_id())
        return f"{ref.key}/{RUNS}/{run}"

    def _link_folder(self, ref: FolderRef) -> str:
        """A draft of this store's (links made for the publish under way), else what it published,
        else what the pointer names: a run folder, which no later publish changes."""
        run = self._drafts.get(ref) or self._runs.get(ref)
        if run is None:
            pointer = self._pointer(ref)
            run = pointer.run if pointer else None
            if run:  # a run folder never changes: one read per folder, however many links
                self._runs[ref] = run
        return f"{ref.key}/{RUNS}/{run}" if run else ref.key

    def folder_location(self, ref: FolderRef) -> str:
        return f"{self.location}/{self._link_folder(ref)}"

    def publish(self, ref: FolderRef, files: Mapping[str, bytes]) -> str:
        """Write the files into a run folder of their own, then the pointer: that write is the commit.

        A failure or kill before the pointer leaves the previous complete report as it was (and
        an unnamed run folder, removed with the date by retention); racing publishes each write
        their own run folder and the last pointer wins whole. Earlier run folders stay, so links
        handed out keep working.
        """
        for name in files:
            _check_name(name)
        run = self._drafts.pop(ref, None) or _new_run_id()
        folder = self._path(f"{ref.key}/{RUNS}/{run}")
        try:
            for name, data in files.items():
                self._io(self.fs.pipe_file, f"{folder}/{name}", data, size=len(data))
            self._io(self.fs.pipe_file, f"{self._path(ref.key)}/{MARKER}", _pointer_bytes(run, files))
        except Exception as exc:  # noqa: BLE001 - any backend error becomes one StoreError line
            raise StoreError(f"could not publish {ref.key} in {self.setting} {self.location}: "
                             f"{describe_error(exc)} (not published; the previous report, if any, stays)") from None
        finally:
            self.fs.invalidate_cache()
        self._runs[ref] = run
        return f"{self.location}/{ref.key}/{RUNS}/{run}"

    def _names(self, folder: str) -> set[str]:
        try:
            entries = self._io(self.fs.ls, folder, detail=True, refresh=True)
        except FileNotFoundError:
            return set()
        return {e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") != "directory"} - {MARKER}

    def completed_dates(self, report: str, scope: Scope) -> list[date]:
        return [day for day in self.folder_dates(report, scope)
                if self._pointer(FolderRef(report, day, scope)) is not None]

    def read(self, ref: FolderRef, name: str) -> bytes | None:
        pointer = self._pointer(ref)
        if pointer is None:
            return None
        try:
            data: bytes = self._call("reading", self.fs.cat_file, f"{self._folder_of(ref, pointer)}/{name}")
            return data
        except FileNotFoundError:
            return None

    def list_files(self, ref: FolderRef) -> list[str]:
        pointer = self._pointer(ref)
        if pointer is None:
            return []
        if pointer.run:
            return list(pointer.files)
        return sorted(n for n in self._names(self._path(ref.key)) if not n.startswith("."))

    def files_at(self, location: str) -> list[str]:
        path = location.split("://", 1)[-1]
        return sorted(n for n in self._names(path) if not n.startswith("."))

    # ---- retention: literal listings, one object at a time (no glob anywhere) ------------
    def folder_dates(self, report: str, scope: Scope) -> list[date]:
        return self._dates(self._path(f"{scope.prefix}{report}"))

    def remove_folder(self, ref: FolderRef) -> None:
        folder = self._path(ref.key)
        try:
            self._io(self.fs.rm_file, f"{folder}/{MARKER}")  # from here on readers treat the folder as incomplete
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - any backend error becomes one StoreError line
            raise StoreError(f"could not remove {ref.key} in {self.setting} {self.location}: "
                             f"{describe_error(exc)}") from None
        self._remove_tree(folder, ref.key)

    def list_folders(self, prefix: str) -> list[str]:
        return sorted(self._folders(self._path(prefix.rstrip("/"))))

    def remove_prefix(self, prefix: str) -> None:
        key = prefix.rstrip("/")
        self._remove_tree(self._path(key), key)

    def _dates(self, base: str) -> list[date]:
        return sorted(date.fromisoformat(n) for n in self._folders(base) if _DATE_NAME.match(n))

    def _folders(self, base: str) -> set[str]:
        self.fs.invalidate_cache()
        try:
            entries = self._call("listing reports", self.fs.ls, base, detail=True, refresh=True)
        except FileNotFoundError:
            return set()
        return {e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"}

    def _remove_tree(self, path: str, key: str) -> None:
        """Every object under ``path/``, found by a literal listing and removed one by one."""
        try:
            found = self._io(self.fs.find, path, refresh=True)
            for item in found:
                if item.startswith(path + "/"):
                    with contextlib.suppress(FileNotFoundError):
                        self._io(self.fs.rm_file, item)
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - any backend error becomes one StoreError line
            raise StoreError(f"could not remove {key} in {self.setting} {self.location}: "
                             f"{describe_error(exc)}") from None
        finally:
            self.fs.invalidate_cache()

    # ---- once-only records ---------------------------------------------------------------
    def create_record(self, key: str, data: bytes) -> bool:
        try:
            self._call("writing a record", self.fs.pipe_file, self._path(key), data, mode="create")
        except FileExistsError:
            return False
        except TypeError:  # an fsspec backend without create-only writes
            raise StoreError(
                f"{self.setting} {self.location}: this store cannot write create-only objects, which the "
                "once-only email record needs (S3 and S3-compatible stores can)."
            ) from None
        return True

    def read_record(self, key: str) -> bytes | None:
        try:
            record: bytes = self._call("reading a record", self.fs.cat_file, self._path(key))
            return record
        except FileNotFoundError:
            return None

    def put_record(self, key: str, data: bytes) -> None:
        self._call("writing a record", self.fs.pipe_file, self._path(key), data)

    def delete_record(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._call("deleting a record", self.fs.rm_file, self._path(key))

    def list_records(self, prefix: str) -> list[str]:
        base = prefix if prefix.endswith("/") else f"{prefix}/"
        try:  # ls is literal (never a glob); refresh: another worker may have written since
            entries = self._call("listing records", self.fs.ls, self._path(base.rstrip("/")), detail=True, refresh=True)
        except FileNotFoundError:
            return []
        names = {str(e["name"]).rstrip("/").rsplit("/", 1)[-1] + ("/" if e.get("type") == "directory" else "")
                 for e in entries}
        return [f"{base}{name}" for name in sorted(names) if name.strip("/") and not name.startswith(".")]

    # ---- checks and links ----------------------------------------------------------------
    def check_writable(self) -> None:
        """Probe writes and deletes, leaving nothing behind; any failure is one line naming the cause.

        Writes: a create-only put of ``_store.json``, which stays; on later runs its 412 (the
        object exists) proves write access as well, since a store checks access first. Deletes:
        deleting ``_store.delete-probe``, which never exists (allowed: 204; refused: 403, and
        ``can_delete`` is False: retention is off, the caller warns once). No separate bucket
        lookup first: s3fs's ``exists(bucket)`` answers False for missing credentials and an
        unreachable endpoint alike, which read as "bucket does not exist".
        """
        info = (json.dumps({"store": "pike-reports", "layout": "run folders and a .complete pointer"}) + "\n").encode()
        try:
            with contextlib.suppress(FileExistsError):
                self._io(self.fs.pipe_file, self._path(STORE_INFO), info, mode="create")
            self.can_delete = self._may_delete()
        except TypeError:  # an fsspec backend without create-only writes
            raise StoreError(
                f"{self.setting} {self.location}: this store cannot write create-only objects, which the "
                "once-only email record needs (S3 and S3-compatible stores can)."
            ) from None
        except Exception as exc:  # noqa: BLE001 - every backend error becomes one line naming the setting
            raise StoreError(f"{self.setting} {self.location}: {self._explain(exc)}") from None
        finally:
            self.fs.invalidate_cache()

    def _may_delete(self) -> bool:
        try:
            self._io(self.fs.rm_file, self._path(DELETE_PROBE))
        except FileNotFoundError:  # stores that say so for a missing object (S3 answers 204)
            return True
        except PermissionError:
            return False
        return True

    def _explain(self, exc: BaseException) -> str:
        """Why the store cannot be written, with the setting to change where we know it."""
        bucket = self.base.split("/", 1)[0]
        name = type(exc).__name__
        if isinstance(exc, FileNotFoundError) and self.scheme in _BUCKET_SCHEMES:
            return f"bucket {bucket!r} does not exist (or is not visible with these credentials)."
        if isinstance(exc, PermissionError):
            return f"not writable: {describe_error(exc)} (check what these credentials may write)."
        aws = self.scheme in ("s3", "s3a")
        if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
            hint = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or give the worker a role"
                    if aws else "configure this store's credentials")
            return f"no {'AWS ' if aws else ''}credentials found ({describe_error(exc)}): {hint}."
        if name in ("EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError", "ReadTimeoutError") or (
            isinstance(exc, (ConnectionError, TimeoutError))
        ):
            # read here, not in pike_tasks.config: the standard AWS variables the SDK itself reads, named
            # in the message only (allow-listed in tests/test_lint.py)
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") if aws else None
            where = f" at {redact_url(endpoint)} (AWS_ENDPOINT_URL)" if endpoint else ""
            return f"cannot reach the store{where}: {describe_error(exc)}"
        return f"not writable: {describe_error(exc)}"

    def _signed_url(self, path: str) -> str | None:
        sign = getattr(self.fs, "sign", None)
        if sign is None:
            return None
        try:
            url: str = sign(self._path(path), expiration=link_seconds_of(self))
            return url
        except NotImplementedError:
            return None
        except StoreError:
            raise
        except Exception:  # noqa: BLE001 - a store that cannot sign just gives no link
            return None


def _remote_rest(url: str, scheme: str, setting: str) -> str:
    """The bucket and prefix of ``url``, checked: a bucket, no credentials, no empty or dot segment.

    Every other character is literal (``[1]``, ``?``, ``*`` are parts of key names, never patterns).
    """
    rest = url.split("://", 1)[1].strip("/")
    if scheme != "memory" and not rest:
        raise StoreError(f"{setting} {redact_url(url)[:120]!r}: name a bucket, e.g. {scheme}://my-bucket/pike.")
    if "@" in rest.split("/", 1)[0]:
        raise StoreError(f"{setting}: the store URL must not carry credentials; use the standard "
                         "environment variables or credential chain of the store instead.")
    if any(part in ("", ".", "..") for part in rest.split("/")) and rest:
        raise StoreError(f"{setting} {redact_url(url)[:120]!r}: the prefix has an empty, '.' or '..' segment "
                         "('//', '/./', '/../'); object keys would not match what you typed: remove it.")
    return rest


def _fs_options(scheme: str, deadline: float) -> dict[str, Any]:
    """fsspec options. S3: SigV4 for every request and, above all, for presigned links (left unset,
    botocore presigns in us-east-1 with the legacy SigV2 query form, which S3 refuses for newer
    buckets and regions and which ignores the 7-day bound of PIKE_REPORTS_LINK_DAYS); and socket
    timeouts and retries within the deadline (botocore's defaults took 428 s on a frozen endpoint)."""
    if scheme not in ("s3", "s3a"):
        return {}
    seconds = max(1.0, min(deadline, 60.0))
    return {"config_kwargs": {"signature_version": "s3v4", "connect_timeout": seconds, "read_timeout": seconds,
                              "retries": {"max_attempts": 2, "mode": "standard"}}}


def _extra(scheme: str) -> str:
    return {"s3fs": "s3", "gcsfs": "gcs", "adlfs": "azure"}.get(REMOTE_SCHEMES[scheme], "s3")


