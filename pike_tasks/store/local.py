"""A local folder as the report store: whole-folder publication by rename, create-only records by
hard link (see the package docstring)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from pike_tasks.store.base import MARKER, FolderRef, Scope, StoreError, _check_name, describe_error
from pike_tasks.store.ops import StoreOps
from pike_tasks.store.settings import StoreSettings

STALE_STAGING_SECONDS = 3600  # a staging folder this old belongs to a run that died
_DATE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class LocalStore(StoreOps):
    def __init__(self, root: Path, setting: str = "--out", settings: StoreSettings | None = None) -> None:
        self.settings = settings
        self.root = root.expanduser().resolve()
        self.location = str(self.root)
        self.setting = setting

    def __repr__(self) -> str:
        return f"LocalStore({self.location!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def folder_location(self, ref: FolderRef) -> str:
        return str(self._path(ref.key))

    def publish(self, ref: FolderRef, files: Mapping[str, bytes]) -> str:
        final = self._path(ref.key)
        parent = final.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self._repair(parent, final.name)
            stage = Path(tempfile.mkdtemp(prefix=f".staging-{final.name}-", dir=parent))
            try:
                os.chmod(stage, 0o777 & ~_umask())
                for name, data in files.items():
                    _check_name(name)
                    _write_synced(stage / name, data)
                _write_synced(stage / MARKER, _marker(files))
                _fsync_dir(stage)
                self._swap(stage, final)
            except BaseException:
                shutil.rmtree(stage, ignore_errors=True)
                raise
            _fsync_dir(parent)
        except OSError as exc:
            raise StoreError(f"could not publish {ref.key} in {self.setting} {self.location}: "
                             f"{describe_error(exc)}") from None
        return str(final)

    def _swap(self, stage: Path, final: Path) -> None:
        """Rename the old folder aside and the staging folder into place (retried if a peer races us)."""
        for _ in range(20):
            old = None
            if final.exists():
                old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
                try:
                    os.rename(final, old)
                except FileNotFoundError:  # a concurrent publisher moved it first
                    old = None
            try:
                os.rename(stage, final)
            except OSError:  # a concurrent publisher put its folder in place between our renames
                if old is not None and not final.exists():
                    os.rename(old, final)
                time.sleep(0.05)
                continue
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            return
        raise OSError(f"could not replace {final.name}: another run keeps publishing it")

    def _repair(self, parent: Path, name: str | None = None) -> None:
        """Undo what a killed publisher left: put a lone old folder back, drop stale staging folders."""
        try:
            entries = list(parent.iterdir())
        except FileNotFoundError:
            return
        now = time.time()
        for entry in entries:
            if entry.name.startswith(".old-"):
                target_name = entry.name[len(".old-"):].rsplit("-", 1)[0]
                if name is not None and target_name != name:
                    continue
                target = parent / target_name
                if not target.exists() and (entry / MARKER).exists():
                    try:
                        os.rename(entry, target)
                        continue
                    except OSError:
                        pass
                if target.exists() and now - _mtime(entry) > 60:
                    shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith(".staging-") and now - _mtime(entry) > STALE_STAGING_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)

    def completed_dates(self, report: str, scope: Scope) -> list[date]:
        base = self._path(f"{scope.prefix}{report}")
        self._repair(base)
        try:
            names = [p.name for p in base.iterdir() if _DATE_NAME.match(p.name) and (p / MARKER).is_file()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(date.fromisoformat(n) for n in names)

    def read(self, ref: FolderRef, name: str) -> bytes | None:
        folder = self._path(ref.key)
        if not (folder / MARKER).is_file():
            self._repair(folder.parent, folder.name)
            if not (folder / MARKER).is_file():
                return None
        try:
            return (folder / name).read_bytes()
        except FileNotFoundError:
            return None

    def complete_folder(self, key: str) -> tuple[str, str, bool] | None:
        folder = self._path(key)
        try:
            stamp = (folder / MARKER).stat().st_mtime_ns
        except OSError:
            self._repair(folder.parent, folder.name)  # a publish killed between its renames
            try:
                stamp = (folder / MARKER).stat().st_mtime_ns
            except OSError:
                return None
        return key, str(stamp), False

    def list_files(self, ref: FolderRef) -> list[str]:
        folder = self._path(ref.key)
        if not (folder / MARKER).is_file():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))

    def files_at(self, location: str) -> list[str]:
        try:
            return sorted(p.name for p in Path(location).iterdir() if p.is_file() and not p.name.startswith("."))
        except OSError:
            return []

    def folder_dates(self, report: str, scope: Scope) -> list[date]:
        return _local_dates(self._path(f"{scope.prefix}{report}"))

    def remove_folder(self, ref: FolderRef) -> None:
        folder = self._path(ref.key)
        if _unlink_if_symlink(folder, ref.key, self):
            return
        try:
            (folder / MARKER).unlink(missing_ok=True)
            _fsync_dir(folder)
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass  # another run removed it first
        except OSError as exc:
            raise StoreError(f"could not remove {ref.key} in {self.setting} {self.location}: "
                             f"{describe_error(exc)}") from None

    def list_folders(self, prefix: str) -> list[str]:
        return _local_folders(self._path(prefix.rstrip("/")))

    def remove_prefix(self, prefix: str) -> None:
        key = prefix.rstrip("/")
        if _unlink_if_symlink(self._path(key), key, self):
            return
        try:
            shutil.rmtree(self._path(key))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"could not remove {key} in {self.setting} {self.location}: "
                             f"{describe_error(exc)}") from None

    def create_record(self, key: str, data: bytes) -> bool:
        # written whole beside the target, then linked into place: link fails if the target exists
        # (create-only), and a reader never sees a half-written record (a full disk leaves no empty one)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        _write_synced(tmp, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links (some SMB mounts): create-only in place
            return _create_exclusive(path, data)
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def read_record(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put_record(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        _write_synced(tmp, data)
        os.replace(tmp, path)

    def delete_record(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list_records(self, prefix: str) -> list[str]:
        base = prefix if prefix.endswith("/") else f"{prefix}/"
        try:
            with os.scandir(self._path(prefix)) as entries:
                names = [e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries
                         if not e.name.startswith(".")
                         and (e.is_file(follow_symlinks=False) or e.is_dir(follow_symlinks=False))]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [f"{base}{name}" for name in sorted(names)]

    def check_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{self.setting} {self.location}: cannot create the folder: {describe_error(exc)}"
            ) from None
        if not self.root.is_dir():
            raise StoreError(f"{self.setting} {self.location} is not a folder.")
        try:  # a hidden file, created and removed at once: nothing is left behind
            fd, probe = tempfile.mkstemp(prefix=".probe-", dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise StoreError(f"{self.setting} {self.location} is not writable: {describe_error(exc)}") from None
        self.can_delete = True


def _unlink_if_symlink(path: Path, key: str, store: LocalStore) -> bool:
    """Retention removes a symlinked folder as the link it is, never what it points to."""
    if not path.is_symlink():
        return False
    try:
        path.unlink()
    except OSError as exc:
        raise StoreError(f"could not remove the link {key} in {store.setting} {store.location}: "
                         f"{describe_error(exc)}") from None
    return True


def _local_dates(base: Path) -> list[date]:
    try:
        return sorted(date.fromisoformat(p.name) for p in base.iterdir() if _DATE_NAME.match(p.name) and p.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _local_folders(base: Path) -> list[str]:
    """The sub-folders of ``base`` (a symlinked one too, which removal unlinks), sorted; hidden ones left out."""
    try:
        return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0

def _create_exclusive(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _marker(files: Mapping[str, bytes]) -> bytes:
    """The completion marker: which files make the folder (no time, so nothing varies by run)."""
    return (json.dumps({"files": sorted(files)}, sort_keys=True) + "\n").encode()


