"""Benchmark the folder-level work of predict.py --images on a cohort's manifest: its start and end.

    python bench/bench_manifest.py --template output/SOME_RUN/manifest.jsonl [--lines 100000]

Writes a manifest of --lines photographs into a temporary folder, each a copy of the template's
lines in turn under a new name (their scores left out, so that no pooled scores are read back),
then times, each in a fresh process so that its peak memory is its own: the start of a resumed
run (the manifest opened, and Manifest.finished, whose names the run holds to its end), the
tables written at the end (tables.write_tables: vessel_fractions.csv, measurements.csv,
clinical.csv) and the summary printed after them (run.print_summary). Prints seconds and the peak
resident memory over what the process held just before the step (Linux's /proc). The template is
any manifest.jsonl that predict.py --images wrote; one made with the clinical measures gives
records of the full size.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from vesselseg.cli import HelpFormatter, summary  # noqa: E402

# The steps, in the order a run takes them.
STEPS = ("finished", "tables", "summary")


def get_args():
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--template", help="a manifest.jsonl written by predict.py --images")
    parser.add_argument("--lines", type=int, default=100_000, help="photographs in the manifest")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step is None and (args.template is None or not Path(args.template).is_file()):
        parser.error(f"--template must name a manifest.jsonl that predict.py --images wrote, got {args.template}.")
    if args.lines < 1:
        parser.error(f"--lines must be at least 1, got {args.lines}.")
    return args


def resident_gb(field):
    """This process's resident memory in GB: "VmRSS" now, or "VmHWM", its peak since the last
    reset_peak (Linux's /proc, in kilobytes)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1e6
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak():
    """Start the peak resident memory afresh from what is resident now (Linux 4.0 and later), so
    that an earlier peak, such as the imports', does not hide a step's smaller one."""
    Path("/proc/self/clear_refs").write_text("5")


def time_step(step, folder):
    """Run one step on the manifest in `folder`; print its seconds and the peak memory it added."""
    from vesselseg.cohort import tables
    from vesselseg.cohort.manifest import Manifest
    from vesselseg.cohort.run import print_summary
    from vesselseg.cohort.work import Options

    reset_peak()
    before = resident_gb("VmRSS")
    started = time.perf_counter()
    # Opened inside the measure: opening repairs a cut last line, which is part of a run's start.
    manifest = Manifest(Path(folder) / "manifest.jsonl")
    if step == "finished":
        manifest.finished()
    elif step == "tables":
        tables.write_tables(Path(folder), manifest, Options(), None, {})
    else:
        print_summary(manifest, {"done": 0, "skipped": 0, "failed": 0}, 0, Path(folder))
    seconds, added = time.perf_counter() - started, resident_gb("VmHWM") - before
    print(json.dumps({"step": step, "seconds": seconds, "added_gb": added}))


def write_manifest(template, lines, folder):
    records = [json.loads(line) for line in Path(template).read_text().splitlines() if line.strip()]
    with open(Path(folder) / "manifest.jsonl", "w") as file:
        for index in range(lines):
            record = dict(records[index % len(records)])
            suffix = Path(record["image"]).suffix
            record.update(image=f"photograph{index:07d}{suffix}", path=f"/cohort/photograph{index:07d}{suffix}")
            record.pop("scores", None)
            file.write(json.dumps(record) + "\n")
    return (Path(folder) / "manifest.jsonl").stat().st_size


def main(args):
    if args.step:
        time_step(args.step, args.folder)
        return
    with tempfile.TemporaryDirectory() as folder:
        size = write_manifest(args.template, args.lines, folder)
        print(f"A manifest of {args.lines:,} photographs, {size / 1e6:,.0f} MB (template {args.template}):")
        for step in STEPS:
            command = [sys.executable, __file__, "--step", step, "--folder", folder]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"  {step:<9} {result['seconds']:6.1f} s, peak memory +{result['added_gb']:.2f} GB")


if __name__ == "__main__":
    main(get_args())
