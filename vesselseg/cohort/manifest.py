"""The record of a predict.py --images run: its settings, a manifest of photographs, atomic files.

    folder = OutputFolder(out_dir, settings, overwrite=False)   # refuses changed settings, a second run
    done = folder.manifest.finished()                  # {names of the photographs done or skipped}
    with atomic_path(out_dir / "eye_prob.npy") as temporary: np.save(temporary, map)
    folder.manifest.append({"image": ..., "status": "done", ...})
    folder.close()                                     # releases run.lock

A run can be killed at any moment and run again. Every file is written under a temporary name
and renamed when complete, so no output is ever truncated; a photograph's manifest line is
appended, and flushed to disk, only after all its files are in place, so a photograph without a
line is simply done again. settings.json records what the outputs depend on (weights, flags,
photographs' folder); the same command finds it unchanged and carries on, another is refused.
"""

import contextlib
import json
import os
import shutil
import socket
from pathlib import Path

MANIFEST = "manifest.jsonl"
SETTINGS = "settings.json"
# A run holds an exclusive lock on this file while it writes the folder, so that a second run on
# the same folder is refused rather than doing the same photographs again beside it and removing
# its temporary files. The operating system drops the lock when the process ends, however it ends.
LOCK = "run.lock"
# Temporary files carry this infix; any left by a killed run are removed when the folder is opened.
TEMPORARY = ".tmp-"
# The settings.json key of the project's version that last ran the folder: recorded, and noted
# when it changes (OutputFolder.earlier_version), but not compared, so that a folder begun by an
# earlier version resumes; each manifest line names the version that made it.
VERSION_KEY = "version"
# The manifest's end is read back in pieces of this many bytes to find its last whole line.
REPAIR_CHUNK = 65536
# What a photograph's line may say. "skipped": read and judged unusable (--min-quality), or
# implausible; "failed": it could not be processed, with the reason.
STATUSES = ("done", "failed", "skipped")
# The suffixes and names of the files this folder's runs write; --overwrite removes only these,
# so that nothing of the user's is lost.
PHOTOGRAPH_SUFFIXES = (
    "_prob.npy",
    "_prob.png",
    "_vessels.png",
    "_fov.png",
    "_overlay.png",
    "_av.png",
    "_clinical.png",
)
FOLDER_FILES = (
    MANIFEST,
    SETTINGS,
    LOCK,
    "vessel_fractions.csv",
    "measurements.csv",
    "clinical.csv",
    "zone_vessels.csv",
    "metrics.json",
    "per_image.csv",
    "difference_grid.png",
)


def readable_size(size):
    """A number of bytes as a person reads it: "840 kB", "12.5 MB", "1.2 GB", "3.4 TB"."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size / 1e3:.0f} kB"


class OutputWriteError(RuntimeError):
    """An output file could not be written: the disk is full, or the folder became read-only.

    It is the output folder's failure, not a photograph's, so the run stops with one line instead
    of marking every photograph after it failed; not an OSError, so that the per-photograph
    handlers, which catch OSError for unreadable photographs, let it through. Made by writing(),
    so that it keeps the one-message form in which a cluster's worker sends it back pickled."""

    @classmethod
    def writing(cls, path, error):
        """The error of `path`, whose writing raised the OSError `error`, with its disk's free space."""
        reason = error.strerror or str(error)
        try:
            free = f"; {readable_size(shutil.disk_usage(Path(path).parent).free)} free on its disk"
        except OSError:
            free = ""
        return cls(
            f"cannot write {path}: {reason}{free}. Make room or mend the folder, then run the same "
            "command again: it finishes the photographs not yet done."
        )


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it to `path` when the block succeeds, remove
    it when the block fails. The temporary name keeps `path`'s suffix, for writers that go by it.
    An OSError inside the block or on the rename becomes an OutputWriteError naming `path`."""
    path = Path(path)
    temporary = path.with_name(f"{path.stem}{TEMPORARY}{os.getpid()}{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        raise OutputWriteError.writing(path, error) from error
    finally:
        # A folder made read-only refuses the removal too; the error above says what matters.
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def write_text_atomically(path, text):
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def is_output_file(path):
    """True for a file that predict.py --images writes, or a temporary file of one."""
    name = path.name
    return name in FOLDER_FILES or name.endswith(PHOTOGRAPH_SUFFIXES) or TEMPORARY in name


class Manifest:
    """manifest.jsonl: one JSON line per photograph processed, appended and flushed as each ends.
    A line cut short by a kill is dropped when the manifest is opened again."""

    def __init__(self, path):
        self.path = Path(path)
        self.repair()

    def repair(self):
        """Cut a last line that a killed run left without its newline. Only the file's end is
        read, back to the last newline, since a cohort's manifest runs to gigabytes."""
        if not self.path.is_file():
            return
        with open(self.path, "r+b") as file:
            end = file.seek(0, os.SEEK_END)
            if end == 0:
                return
            file.seek(end - 1)
            if file.read(1) == b"\n":
                return
            stop = end
            while stop > 0:
                start = max(0, stop - REPAIR_CHUNK)
                file.seek(start)
                newline = file.read(stop - start).rfind(b"\n")
                if newline >= 0:
                    file.truncate(start + newline + 1)
                    return
                stop = start
            file.truncate(0)

    def placed_records(self):
        """(byte offset, record) of every line, in order: a generator, so that a cohort's manifest
        is read a line at a time rather than held whole."""
        if not self.path.is_file():
            return
        with open(self.path, "rb") as file:
            offset = 0
            for line in file:
                if line.strip():
                    yield offset, json.loads(line)
                offset += len(line)

    def records(self):
        """Every line, in order, as dicts, a line at a time (placed_records)."""
        for _, record in self.placed_records():
            yield record

    def finished(self):
        """The names of the photographs a run need not do again: those whose last line says done or
        skipped. A failed photograph is tried again by the next run, and its new line replaces the
        old. Only the names are kept, since the run holds them to its end."""
        last = {record["image"]: record["status"] for record in self.records()}
        return {image for image, status in last.items() if status != "failed"}

    def latest(self):
        """The last record of each photograph, in the order they first appear: a generator that
        holds only where each photograph's last line starts, and reads the lines back one at a
        time, so that the folder's tables are written without holding a cohort's records."""
        # A dict keeps the order in which its keys first came, whatever values they take later.
        places = {record["image"]: offset for offset, record in self.placed_records()}
        if not places:
            return
        with open(self.path, "rb") as file:
            for offset in places.values():
                file.seek(offset)
                yield json.loads(file.readline())

    def append(self, record):
        if record.get("status") not in STATUSES:
            raise ValueError(f"a manifest status is one of {STATUSES}, not {record.get('status')!r}.")
        try:
            with open(self.path, "a") as file:
                file.write(json.dumps(record) + "\n")
                file.flush()
                os.fsync(file.fileno())
        except OSError as error:
            raise OutputWriteError.writing(self.path, error) from error


def without_file_paths(value):
    """Settings as a run compares them: a file known by its digest (a dict with a "sha256", such as
    a weights file's identity) without its "path", so that the same weights from another checkout
    of the project, or a moved one, resume a folder rather than being taken for other weights."""
    if isinstance(value, dict):
        return {
            key: without_file_paths(item) for key, item in value.items() if not (key == "path" and "sha256" in value)
        }
    if isinstance(value, list):
        return [without_file_paths(item) for item in value]
    return value


def read_settings(folder):
    """The settings.json of an --images output folder, as a dict; None when it has none."""
    path = Path(folder) / SETTINGS
    return json.loads(path.read_text()) if path.is_file() else None


def version_note(folder, earlier, current):
    """The line that tells a user that `folder`, last run by version `earlier` ("" for a version
    that recorded none), now resumes with version `current`."""
    earlier = f"version {earlier}" if earlier else "a version before 1.24.0"
    return (
        f"note: {folder} was last run by {earlier}; this run is version {current}. Each manifest.jsonl "
        "line names the version that made it; --overwrite redoes every photograph with this one."
    )


def hold_lock(path):
    """The open file `path`, holding an exclusive lock on it for as long as it stays open; a
    FileExistsError naming the holder when another process holds it. None where the system has
    no such locks (Windows), and an unlocked file on a file system that refuses them."""
    try:
        import fcntl
    except ImportError:
        return None
    file = open(path, "a+")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        holder = file.read().strip() or "another process"
        file.close()
        raise FileExistsError(
            f"another run ({holder}) is writing to {Path(path).parent}; let it finish, or choose another --name."
        ) from None
    except OSError:
        return file
    with contextlib.suppress(OSError):
        file.truncate(0)
        file.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        file.flush()
    return file


class OutputFolder:
    """An --images run's output folder: made, locked against a second run, checked against its
    settings, cleaned of a killed run's temporary files, or emptied of this project's outputs with
    `overwrite`. close() releases the lock. `earlier_version`: the version that last ran the
    folder where it differs from this run's ("" for one that recorded none), else None."""

    def __init__(self, folder, settings, overwrite=False):
        self.folder = Path(folder)
        self.settings = settings
        self.lock = None
        self.earlier_version = None
        settings_path = self.folder / SETTINGS
        if (
            self.folder.is_dir()
            and not overwrite
            and not settings_path.is_file()
            and any(path.name != LOCK for path in self.folder.iterdir())
        ):
            raise FileExistsError(
                f"{self.folder} holds files that predict.py --images did not write; "
                "choose another --name or --output-dir."
            )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise FileExistsError(f"cannot make the output folder {self.folder}: {error.strerror or error}.") from None
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise FileExistsError(f"cannot write to the output folder {self.folder}: permission denied.")
        self.lock = hold_lock(self.folder / LOCK)
        try:
            if overwrite:
                self.remove_outputs()
            elif settings_path.is_file():
                self.check_settings(read_settings(self.folder))
            for leftover in self.folder.rglob(f"*{TEMPORARY}*"):
                leftover.unlink(missing_ok=True)
            write_text_atomically(settings_path, json.dumps(settings, indent=2) + "\n")
        except BaseException:
            self.close()
            raise
        self.manifest = Manifest(self.folder / MANIFEST)

    def close(self):
        """Release the folder's lock, for another run to take."""
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    def check_settings(self, previous):
        if previous.get(VERSION_KEY) != self.settings.get(VERSION_KEY):
            self.earlier_version = previous.get(VERSION_KEY, "")
        previous, settings = without_file_paths(previous), without_file_paths(self.settings)
        changed = sorted(
            key
            for key in set(previous) | set(settings)
            if key != VERSION_KEY and previous.get(key) != settings.get(key)
        )
        if changed:
            details = "; ".join(f"{key}: {previous.get(key)!r} then, {settings.get(key)!r} now" for key in changed)
            raise FileExistsError(
                f"{self.folder} holds a run with other settings ({details}). Run the same command to "
                "resume it, pass --overwrite to start again, or choose another --name."
            )

    def remove_outputs(self):
        # The lock file stays: removing it would let a second run lock a new one beside this run.
        for path in self.folder.iterdir():
            if path.is_file() and is_output_file(path) and path.name != LOCK:
                path.unlink()
        # A --recursive run's photographs write into subfolders that mirror the photographs'; what
        # they hold of this project's is removed, and each subfolder with it once empty.
        for folder, _, names in os.walk(self.folder, topdown=False):
            if Path(folder) == self.folder:
                continue
            for name in names:
                if name.endswith(PHOTOGRAPH_SUFFIXES) or TEMPORARY in name:
                    (Path(folder) / name).unlink()
            if not any(Path(folder).iterdir()):
                Path(folder).rmdir()
