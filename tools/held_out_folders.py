"""Make folders of the held-out photographs of each training set, for predict.py --images.

    python tools/held_out_folders.py                     # writes output/held_out/<set>/{images,labels,masks}
    python predict.py --images output/held_out/chasedb1/images --labels output/held_out/chasedb1/labels \
        --masks output/held_out/chasedb1/masks --name held_out_chasedb1

The multi-set model (tools/train_multi_set.py) never trains on the fixed held-out parts of
vesselseg/data/training_sets.py: DRIVE 37-40, CHASE_DB1's children 11-14, ten of DR HAGIS's
forty. This script links those photographs, their annotations and their FOV masks into one
folder per set, named by the photograph (DRIVE's `37_training.tif` becomes `37.tif`), so that
predict.py scores them as it scores any folder. It links, never copies, and writes nothing else.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.data.drive_data import find_drive_dir  # noqa: E402
from vesselseg.data.training_sets import HELD_OUT, TRAINING_SETS, set_files  # noqa: E402
from vesselseg.paths import OUTPUT_DIR  # noqa: E402


def held_out_files(name, drive_dir):
    """[(stem, image, annotation, mask)] of set `name`'s held-out photographs."""
    return [files for files in set_files(name, drive_dir) if files[0] in HELD_OUT[name]]


def link_folder(out_dir, files):
    """Link each (stem, image, annotation, mask) into out_dir/{images,labels,masks}/<stem><suffix>."""
    for kind in ("images", "labels", "masks"):
        (out_dir / kind).mkdir(parents=True, exist_ok=True)
    for stem, *paths in files:
        for kind, path in zip(("images", "labels", "masks"), paths):
            link = out_dir / kind / f"{stem}{path.suffix}"
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(path.resolve())


def main(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(TRAINING_SETS), choices=TRAINING_SETS, help="the sets")
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/DRIVE or ../shared/DRIVE)")
    parser.add_argument("--output-dir", default=str(OUTPUT_DIR / "held_out"), help="where the folders go")
    args = parser.parse_args(argv)
    try:
        drive_dir = find_drive_dir(args.data_dir) if "drive" in args.sets else None
        for name in args.sets:
            files = held_out_files(name, drive_dir)
            link_folder(Path(args.output_dir) / name, files)
            print(f"{Path(args.output_dir) / name}: {len(files)} photographs")
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
