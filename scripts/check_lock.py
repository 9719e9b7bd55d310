"""Does locks/ match pyproject.toml? `make setup` runs this before installing anything.

The lock files (locks/*.txt, hashed) are resolved from the dependency lists in pyproject.toml and from
locks/*.in. `make lock` records a digest of those inputs in locks/inputs.sha256; when a dependency is added
or changed without re-locking, the digests differ and set-up stops here with the fix, instead of installing a
lock that no longer says what pyproject.toml asks for.

    python scripts/check_lock.py           exit 0 if the lock is current, 1 (with the fix) if not
    python scripts/check_lock.py --write   record the current digest (run by `make lock` only)

Standard library only: it runs with the bare interpreter before the virtual environment exists.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "locks"
DIGEST_FILE = LOCKS / "inputs.sha256"
LOCK_FILES = ("build.txt", "tools.txt", "dev.txt", "local.txt", "runtime.txt")
LOCK_INPUTS = ("build.in", "tools.in")


def lock_inputs(root: Path = ROOT) -> dict:
    """What the resolution depends on, normalised so that comments and layout do not count."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    pins = {name: _requirement_lines(root / "locks" / name) for name in LOCK_INPUTS}
    return {
        "requires-python": project.get("requires-python"),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {
            k: sorted(v) for k, v in sorted(project.get("optional-dependencies", {}).items())
        },
        "build-system": sorted(pyproject.get("build-system", {}).get("requires", [])),
        **pins,
    }


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return sorted(line for line in lines if line)


def digest(root: Path = ROOT) -> str:
    blob = json.dumps(lock_inputs(root), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def problems(root: Path = ROOT) -> list[str]:
    locks = root / "locks"
    missing = [name for name in LOCK_FILES if not (locks / name).is_file()]
    if missing:
        return [f"lock file(s) missing: {', '.join('locks/' + m for m in missing)}"]
    recorded_file = locks / DIGEST_FILE.name
    recorded = recorded_file.read_text(encoding="utf-8").split()[0] if recorded_file.is_file() else "(none)"
    if recorded != digest(root):
        return [
            "pyproject.toml's dependencies (or locks/*.in) changed since the lock files were made "
            f"(recorded {recorded[:12]}, now {digest(root)[:12]})"
        ]
    return []


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        DIGEST_FILE.write_text(
            f"{digest()}  lock inputs: pyproject.toml dependencies + locks/*.in\n", encoding="utf-8"
        )
        return 0
    found = problems()
    for problem in found:
        print(f"check_lock: {problem}", file=sys.stderr)
    if found:
        print(
            "check_lock: run `make lock` (needs the package index), review the diff of locks/ and commit it "
            "with the pyproject.toml change",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
