"""What `pip install emoscan` costs a library user: the wheel built from this checkout (or from a git
ref, to compare), installed with its core dependencies into a fresh virtual environment; its size,
its packages, the install's time, and a fresh process's `import emoscan` and first `top_emotion` on a
photo (skimage's astronaut), each the median of --repeats processes. With --fer, the same two
timings for the `fer` package in the environment benchmarks/bench_end_to_end.py makes for it.

    python benchmarks/bench_install.py [--ref GITREF] [--repeats 5] [--warm-cache] [--fer]

Without --warm-cache pip downloads every package from the index (`--no-cache-dir`), as on a new machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import cv2

from _machine import cpu_description

ROOT = Path(__file__).resolve().parents[1]
IMPORT = "import time; t = time.perf_counter(); import emoscan; print(time.perf_counter() - t)"
FIRST_EMOTION = ("import time; t = time.perf_counter(); import emoscan\n"
                 "print(emoscan.EmotionRecognizer().top_emotion('photo.jpg'), time.perf_counter() - t)")
FER_IMPORT = "import time; t = time.perf_counter(); from fer import FER; print(time.perf_counter() - t)"
FER_FIRST_EMOTION = ("import time, cv2; t = time.perf_counter(); from fer import FER\n"
                     "print(FER().top_emotion(cv2.imread('photo.jpg')), time.perf_counter() - t)")


def source_tree(ref: str | None, dest: Path) -> Path:
    """The checkout's tracked and untracked (not ignored) files, or `git archive REF`, in `dest`."""
    dest.mkdir(parents=True)
    if ref:
        archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return dest
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split()
    for name in names:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def timed_processes(python: str, code: str, cwd: Path, repeats: int) -> tuple[float, float, str]:
    """Median seconds of a whole fresh process and of what `code` prints last; its first output."""
    walls, inner, first = [], [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run([python, "-c", code], cwd=cwd, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        if proc.returncode != 0:
            return float("nan"), float("nan"), proc.stderr.strip().splitlines()[-1]
        *answer, seconds = proc.stdout.split()
        inner.append(float(seconds))
        first = first or " ".join(answer)
    return statistics.median(walls), statistics.median(inner), first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", help="build from this git ref instead of the working tree (e.g. an earlier release)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warm-cache", action="store_true", help="let pip use its cache (default: download everything)")
    parser.add_argument("--fer", action="store_true", help="also time the fer package (bench_end_to_end.py's environment)")
    args = parser.parse_args()
    print(f"CPU: {cpu_description()}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        project = source_tree(args.ref, tmp / "project")
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp / "dist"),
                        str(project)], check=True)
        wheel = next((tmp / "dist").glob("emoscan-*.whl"))
        venv.create(tmp / "venv", with_pip=True)
        python = str(tmp / "venv" / "bin" / "python")
        start = time.perf_counter()
        subprocess.run([python, "-m", "pip", "install", "--quiet", *([] if args.warm_cache else ["--no-cache-dir"]),
                        str(wheel)], check=True)
        install_s = time.perf_counter() - start
        site = next((tmp / "venv" / "lib").glob("python3.*/site-packages"))
        size_mb = sum(f.stat().st_size for f in site.rglob("*") if f.is_file()) / 1e6
        packages = subprocess.run([python, "-m", "pip", "list", "--format=freeze", "--exclude", "pip"],
                                  check=True, capture_output=True, text=True).stdout.split()
        from skimage import data

        work = tmp / "work"
        work.mkdir()
        cv2.imwrite(str(work / "photo.jpg"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
        print(f"emoscan {args.ref or 'working tree'}: wheel {wheel.stat().st_size / 1e6:.1f} MB; core install "
              f"{size_mb:.0f} MB, {len(packages)} packages, {install_s:.0f} s "
              f"({'pip cache' if args.warm_cache else 'downloaded'}); bentoml installed: "
              f"{any(p.lower().startswith('bentoml==') for p in packages)}")
        rows = [("emoscan", timed_processes(python, IMPORT, work, args.repeats),
                 timed_processes(python, FIRST_EMOTION, work, args.repeats))]
        if args.fer:
            from bench_end_to_end import fer_python

            fer = str(fer_python())
            rows.append(("fer 25.10.3", timed_processes(fer, FER_IMPORT, work, args.repeats),
                         timed_processes(fer, FER_FIRST_EMOTION, work, args.repeats)))
    print(f"\nmedian of {args.repeats} fresh processes (seconds): whole process / inside Python")
    print(f"{'package':<12} {'import':>17} {'first top_emotion':>19}  answer")
    for name, (imp_wall, imp, _), (first_wall, first, answer) in rows:
        print(f"{name:<12} {imp_wall:7.2f} / {imp:7.2f} {first_wall:8.2f} / {first:7.2f}  {answer}")


if __name__ == "__main__":
    main()
