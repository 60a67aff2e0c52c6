"""Finding photographs, and the masks and annotations that belong to them, as datasets ship them.

files = list_images("photos/")                          # sorted image files of a folder
files = list_images("cohort/", recursive=True)          # and of its subfolders, at any depth
name = photograph_name(files[0], "cohort/")             # "P001/visit1/IM000001.dcm"
stem = image_stem("eye.png")                             # "eye"; "1.2.840.10008.7" stays whole
mask = match_companion("masks/", "Image_01L")            # Image_01L.png or Image_01L_mask.gif
mask = match_companion("DRIVE/test/mask", "01_manual1", by_leading_id=True)  # 01_test_mask.gif
mask = Companions("masks/").find("photos/Image_01L.jpg")  # the same rule, the folder listed once
"""

import bisect
import os
import re
from pathlib import Path, PurePosixPath

DICOM_SUFFIXES = {".dcm", ".dicom"}
IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".ppm",
    ".bmp",
    ".gif",
    ".webp",
    ".jp2",
    ".j2k",
    ".avif",
    ".heic",
    ".heif",
} | DICOM_SUFFIXES
# DICOM files carry these four bytes after a 128-byte preamble; archives often drop the suffix.
DICOM_MAGIC = b"DICM"
DICOM_PREAMBLE = 128
# What a folder of photographs often arrives as; named in the error, since it is not unpacked here.
ARCHIVE_SUFFIXES = {".zip", ".tar", ".gz", ".tgz", ".7z", ".rar"}
# The index of a DICOM export: a DICOM file without an image.
DICOM_INDEX = "DICOMDIR"


def may_be_dicom(path):
    """True for a file name that an archive may give a DICOM file: no suffix (IM000001, as DICOM
    media name them) or a numeric one, the last part of a UID (1.2.840.113619.2.55.3.7, as
    storage servers name them by the photograph's SOP Instance UID)."""
    suffix = Path(path).suffix
    return not suffix or suffix[1:].isdigit()


def image_stem(path):
    """The name that a photograph's outputs and companions are named after: its file name less
    an image suffix ("eye.png" -> "eye"), or its whole name when it has none (IM000001, or a
    UID, "1.2.840.113619.2.55.3.7", whose last part is not a suffix: two photographs of one
    study differ there alone)."""
    path = Path(path)
    return path.stem if path.suffix.lower() in IMAGE_SUFFIXES else path.name


def is_dicom(path):
    """True when `path` ends in .dcm or .dicom, or, named as an archive may name a DICOM file
    (may_be_dicom), its bytes 128-131 read "DICM"."""
    path = Path(path)
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    if not may_be_dicom(path):
        return False
    try:
        with open(path, "rb") as file:
            return file.read(DICOM_PREAMBLE + len(DICOM_MAGIC))[DICOM_PREAMBLE:] == DICOM_MAGIC
    except OSError:
        return False


def is_image_file(path, suffixes=IMAGE_SUFFIXES):
    """True for a file whose name ends in one of `suffixes`, or, where those include DICOM's, for
    a DICOM file named without a suffix (IM000001) or by its UID (may_be_dicom), as archives
    export them; never DICOMDIR."""
    path = Path(path)
    if path.suffix.lower() in suffixes:
        return True
    return (
        bool(suffixes & DICOM_SUFFIXES)
        and may_be_dicom(path)
        and path.name != DICOM_INDEX
        and path.is_file()
        and is_dicom(path)
    )


def list_images(path, suffixes=IMAGE_SUFFIXES, flag="--images", recursive=False, recursive_flag=None):
    """[path] for a file, or the files of the folder `path` with one of `suffixes`, sorted; with
    `recursive`, those of its subfolders too (hidden ones aside), sorted by their relative paths.
    `recursive_flag`, the caller's flag for that, is suggested when only subfolders hold files."""
    path = Path(path)
    if path.is_file():
        if not is_image_file(path, suffixes):
            archive = " Unpack an archive first and give its folder." if path.suffix.lower() in ARCHIVE_SUFFIXES else ""
            raise ValueError(
                f"{flag} {path} is neither a folder nor a file ending in {', '.join(sorted(suffixes))}.{archive}"
            )
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{flag} {path} is neither a file nor a folder.")
    files = sorted(p for p in folder_files(path, recursive) if is_image_file(p, suffixes))
    if not files:
        nested = [] if recursive else subfolders_with_images(path, suffixes)
        hint = (
            f"; subfolders are not read, and {len(nested)} of them {'holds' if len(nested) == 1 else 'hold'} "
            f"photographs ({brief(nested)}): "
            f"give each as {flag} in turn" + (f", or pass {recursive_flag}" if recursive_flag else "")
            if nested
            else ""
        )
        where = " or its subfolders" if recursive else ""
        raise FileNotFoundError(f"No files ending in {', '.join(sorted(suffixes))} in {path}{where}{hint}.")
    return files


def folder_files(path, recursive=False):
    """The files of the folder `path`, and with `recursive` those of its subfolders at any depth,
    hidden folders (.git, .thumbnails) left out."""
    if not recursive:
        return [entry for entry in Path(path).iterdir() if entry.is_file()]
    files = []
    for folder, subfolders, names in os.walk(path):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        files.extend(Path(folder, name) for name in names)
    return files


def recursive_root(path, recursive):
    """The folder that files' names are relative to (photograph_name): `path` when `recursive` and
    it is a folder, else None (a file, or subfolders not read)."""
    return path if recursive and path and Path(path).is_dir() else None


def photograph_name(path, root=None):
    """A photograph's name in the manifest and tables: its file name, or with `root` (--recursive)
    its path relative to `root`, "/"-separated ("P001/visit1/IM000001.dcm")."""
    if root is None:
        return Path(path).name
    return Path(path).relative_to(root).as_posix()


def output_stem(name):
    """What a photograph's outputs are named after: its name (photograph_name) with its last
    part's image_stem ("P001/eye.png" -> "P001/eye", "P001/1.2.840.7" as it is)."""
    name = PurePosixPath(name)
    return str(name.with_name(image_stem(name)))


def subfolders_with_images(path, suffixes=IMAGE_SUFFIXES):
    """The names of the folder `path`'s subfolders (hidden ones aside) that hold files with one of
    `suffixes`, sorted; list_images does not read them without `recursive`."""
    names = []
    with os.scandir(path) as entries:
        for entry in entries:
            try:
                if (
                    not entry.name.startswith(".")
                    and entry.is_dir()
                    and any(is_image_file(Path(entry.path, name), suffixes) for name in os.listdir(entry.path))
                ):
                    names.append(entry.name)
            except OSError:
                continue  # a subfolder that cannot be listed is not read either way
    return sorted(names)


def unread_files(path, suffixes=IMAGE_SUFFIXES, recursive=False):
    """The names of the files of the folder `path` (with `recursive`, of its subfolders too, as
    paths relative to it) that list_images leaves out, sorted; hidden files (.DS_Store) and
    DICOMDIR are not counted, since no one expects them read."""
    return sorted(
        photograph_name(entry, path if recursive else None)
        for entry in folder_files(path, recursive)
        if not entry.name.startswith(".") and entry.name != DICOM_INDEX and not is_image_file(entry, suffixes)
    )


def brief(names, shown=3):
    """The first `shown` of `names`, comma-joined, and "..." when there are more."""
    return ", ".join(list(names[:shown]) + (["..."] if len(names) > shown else []))


def check_distinct_stems(files, root=None):
    """ValueError naming the first two files that share a stem (`eye.jpg` and `eye.png`): their
    outputs are named after the stem (output_stem of photograph_name, with `root` as there), so
    the second would silently replace the first's."""
    seen = {}
    for path in files:
        stem = output_stem(photograph_name(path, root))
        other = seen.setdefault(stem, path)
        if other != path:
            raise ValueError(
                f"{photograph_name(other, root)} and {photograph_name(path, root)} share the name {stem!r}, "
                "so their outputs would collide. "
                "Rename one, or give each its own folder."
            )


def belongs_to(candidate_stem, stem):
    """True when a file stem names `stem`'s image: equal, or `stem` then "_" or "-" and more."""
    return candidate_stem == stem or candidate_stem.startswith((f"{stem}_", f"{stem}-"))


def claimed(stem, image_stems):
    """Whether a file of stem `stem` belongs (belongs_to) to one of `image_stems` (a set): it is one
    of them, or one of them followed by "_" or "-" and more."""
    ends = [index for index, character in enumerate(stem) if character in "_-"]
    return any(stem[:end] in image_stems for end in [*ends, len(stem)])


def match_companion(folder, stem, by_leading_id=False, siblings=frozenset()):
    """The image file in `folder` that belongs to the image `stem` (belongs_to), or None.

    With by_leading_id, a stem that starts with a number (DRIVE's `01_manual1`) and has no such
    file also matches the files that start with the same number (`01_test_mask.gif`), except
    those that belong to one of `siblings`, the stems of the images beside it: `10_right` never
    takes `10_left_mask`. ValueError when several files qualify, because picking one would be a
    guess.
    """
    if folder is None:
        return None
    files = [path for path in sorted(Path(folder).iterdir()) if is_image_file(path)]
    candidates = [path for path in files if belongs_to(image_stem(path), stem)]
    leading_id = re.match(r"\d+", stem)
    if not candidates and by_leading_id and leading_id:
        candidates = [
            path
            for path in files
            if belongs_to(image_stem(path), leading_id.group()) and not claimed(image_stem(path), siblings)
        ]
    if len(candidates) > 1:
        names = ", ".join(path.name for path in candidates)
        raise ValueError(
            f"{len(candidates)} files in {folder} could belong to {stem}: {names}. "
            "Keep one per image, or give each its own folder."
        )
    return candidates[0] if candidates else None


class Companions:
    """The FOV masks and annotations of a folder, indexed once: match_companion's rule (a file
    whose stem is the photograph's, or starts with it and then "_" or "-"), without listing the
    folder again for each of a hundred thousand photographs.

    A photograph whose stem begins with a number and that has no such file takes the one file
    that begins with that number, when no photograph of its own folder claims it by the rule: so
    DRIVE's 21_training.tif finds 21_manual1.gif, while 10_right.jpg, beside 10_left.jpg, does not
    take 10_left_mask.png."""

    def __init__(self, folder):
        self.folder = folder
        files = sorted(Path(folder).iterdir()) if folder else []
        self.files = sorted((image_stem(path), path) for path in files if is_image_file(path))
        self.stems = [stem for stem, _ in self.files]
        self.photograph_stems = {}

    def starting_with(self, stem):
        """The files that belong to `stem` (belongs_to), in order."""
        start = bisect.bisect_left(self.stems, stem)
        candidates = []
        for candidate_stem, path in self.files[start:]:
            if not candidate_stem.startswith(stem):
                break
            if belongs_to(candidate_stem, stem):
                candidates.append(path)
        return candidates

    def photographs_in(self, folder):
        """The stems of the photographs in `folder`, listed once."""
        if folder not in self.photograph_stems:
            photographs = folder.iterdir() if folder.is_dir() else []
            self.photograph_stems[folder] = {image_stem(path) for path in photographs if is_image_file(path)}
        return self.photograph_stems[folder]

    def find(self, photograph, stem=None, siblings=None):
        """The file that belongs to the photograph at path `photograph`, or None; ValueError when
        several do. `stem` and `siblings` (the stems of the images beside it, whose files the
        number rule leaves to them) are by default the photograph's and those of its folder's
        photographs; measure.py gives a map's, whose stem is not its file's."""
        photograph = Path(photograph)
        stem = image_stem(photograph) if stem is None else stem
        candidates = self.starting_with(stem)
        number = re.match(r"\d+", stem)
        if not candidates and number:
            siblings = self.photographs_in(photograph.parent) if siblings is None else siblings
            candidates = [
                path for path in self.starting_with(number.group()) if not claimed(image_stem(path), siblings)
            ]
        if len(candidates) > 1:
            names = ", ".join(path.name for path in candidates)
            raise ValueError(f"{len(candidates)} files in {self.folder} could belong to {stem}: {names}.")
        return candidates[0] if candidates else None


class TreeCompanions:
    """Companions for the photographs of a folder's subfolders (--recursive): a photograph's mask
    or annotation is looked for in the same subfolder of `folder` (masks/P001/ for photos/P001/eye.png,
    `root` being photos/). Photographs come sorted by subfolder, so one subfolder is indexed at a
    time, and memory does not grow with the number of subfolders."""

    def __init__(self, folder, root):
        self.folder, self.root = folder, Path(root)
        self.subfolder, self.companions = None, Companions(None)

    def find(self, photograph, stem=None, siblings=None):
        if self.folder is None:
            return None
        subfolder = Path(photograph).parent.relative_to(self.root)
        if subfolder != self.subfolder:
            candidate = Path(self.folder) / subfolder
            self.subfolder, self.companions = subfolder, Companions(candidate if candidate.is_dir() else None)
        return self.companions.find(photograph, stem, siblings)


def leading_number(stem):
    """The number a file stem begins with (21 of 21_training), or None."""
    digits = stem[: len(stem) - len(stem.lstrip("0123456789"))]
    return int(digits) if digits else None
