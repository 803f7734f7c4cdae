"""Networks copied to and from a GPU machine as float16 arrays plus the model config: half the
bytes of a float32 `.keras` file (a width-2.0 network: 21 MB as `.keras`).

    python tools/gpu/init_weights.py pack   [--params params.yaml] [--dir .gpu/init]   # the runs' warm starts
    python tools/gpu/init_weights.py unpack [--dir .gpu/init]                          # on the GPU machine
    python tools/gpu/init_weights.py pack --dir DIR --files models/accelerated/*.keras  # trained networks
    python tools/gpu/init_weights.py unpack --dir DIR --to DIR    # back here, kept apart from the tracked ones
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def init_files(params: dict) -> list[str]:
    """Every `init_from` of accelerated.members and accelerated.students, once each, except the
    networks the call's own members write (students restarting from them find them there)."""
    acc = params["accelerated"]
    runs = [run for group in ("members", "students") for run in (acc.get(group) or {}).values()]
    out = Path(acc.get("output_dir", "models/accelerated"))
    written = {(out / f"{name}.keras").as_posix() for name in acc.get("members") or {}}
    named = {run["init_from"] for run in runs if run and run.get("init_from")}
    return sorted(path for path in named if Path(path).as_posix() not in written)


def packed_name(path: str) -> str:
    """The packed file's name: the network's path with `__` for `/`, so that two networks with the
    same file name in different folders stay apart (the path itself is stored inside)."""
    return Path(path).with_suffix("").as_posix().lstrip("./").replace("/", "__") + ".npz"


def pack(paths: list[str], out_dir: Path) -> list[Path]:
    """Write one `.npz` per `.keras` file into `out_dir` (emptied first); return them."""
    import keras

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.npz"):
        old.unlink()
    written = []
    for path in paths:
        model = keras.saving.load_model(path, compile=False)
        weights = model.get_weights()
        largest = max(float(np.abs(w).max()) for w in weights)
        if largest > np.finfo(np.float16).max:
            raise SystemExit(f"{path}: a weight of {largest:g} does not fit float16")
        arrays = {f"w{i:03d}": w.astype(np.float16) for i, w in enumerate(weights)}
        target = out_dir / packed_name(path)
        np.savez(target, path=np.array(path), config=np.array(model.to_json()), **arrays)
        written.append(target)
    return written


def unpack(in_dir: Path, to_dir: Path | None = None) -> list[str]:
    """Rebuild each packed network (float32 again) at the path it was packed from, or under its file
    name in `to_dir` (two device runs write the same paths); return those paths."""
    import keras

    packed_files = sorted(in_dir.glob("*.npz"))
    if to_dir is not None:
        names = [Path(str(np.load(f)["path"])).name for f in packed_files]
        if len(set(names)) < len(names):
            raise SystemExit(f"{in_dir}: two networks share a file name; unpack without --to")
    restored = []
    for packed in packed_files:
        data = np.load(packed)
        model = keras.models.model_from_json(str(data["config"]))
        model.set_weights([data[f"w{i:03d}"].astype(np.float32) for i in range(len(model.weights))])
        path = Path(str(data["path"]))
        if to_dir is not None:
            path = to_dir / path.name
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
        restored.append(str(path))
    return restored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("pack", "unpack"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--dir", type=Path, default=Path(".gpu/init"))
    parser.add_argument("--files", nargs="+", help="pack these .keras files instead of the runs' init_from")
    parser.add_argument("--to", type=Path, help="unpack into this folder instead of the packed paths")
    args = parser.parse_args()
    if args.action == "unpack":
        done = unpack(args.dir, args.to)
    else:
        from emoscan.settings import read_params

        done = pack(args.files or init_files(read_params(args.params)), args.dir)
    print(f"{args.action}: {', '.join(map(str, done)) or 'nothing'}")


if __name__ == "__main__":
    main()
