"""The repository's shape: the import contracts in pyproject.toml hold (import-linter), and no
tracked file over 1 MB appears without a stated purpose."""

from __future__ import annotations

import subprocess

from conftest import BIN, REPO, run


def test_import_contracts_hold():
    proc = run([str(BIN / "lint-imports")], cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.stdout.count("KEPT") >= 7  # layers, training inside, forbidden imports, acyclic siblings


def test_every_large_tracked_file_has_a_purpose():
    listed = {line.split()[0] for line in (REPO / "tests" / "large_files.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    large = {name for name in tracked.decode().split("\0")
             if name and (REPO / name).is_file() and (REPO / name).stat().st_size > 1_000_000}
    assert large <= listed, f"tracked files over 1 MB without a purpose in tests/large_files.txt: {sorted(large - listed)}"
