"""What is installed is what the repository pins (issue 19): hashed lock files, SHA-256-pinned JARs.

- locks/*.txt: every requirement pinned (==) with sha256 hashes; the pins satisfy pyproject.toml; the venv runs
  the locked versions; scripts/check_lock.py (run by `make setup` first) stops with the fix when pyproject.toml's
  dependencies changed since `make lock`.
- scripts/fetch_jars.sh (run by `make setup`) fails, naming the JAR, when a JAR differs from its pin in
  scripts/jars.sha256 or has none. Tested on a copy of the cached JARs: nothing is downloaded.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCKS = REPO / "locks"
JARS = REPO / ".cache" / "jars"
# name==version [; marker] \ then its --hash lines (uv's output format).
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\$")


def locked(name: str) -> dict[str, list[tuple[str, str | None, list[str]]]]:
    """Lock file -> {package: [(version, marker, hashes)]} (a package may be forked by markers)."""
    pins: dict[str, list] = {}
    current = None
    for line in (LOCKS / name).read_text(encoding="utf-8").splitlines():
        if m := _PIN.match(line):
            current = [m.group(2), m.group(3), []]
            pins.setdefault(canonicalize_name(m.group(1)), []).append(current)
        elif line.strip().startswith("--hash=") and current is not None:
            current[2].append(line.strip().split("=", 1)[1].rstrip(" \\"))
        elif line and not line.startswith(("#", " ")):
            raise AssertionError(f"locks/{name}: unexpected line {line!r}")
    return pins


def _applies(marker: str | None) -> bool:
    return marker is None or Marker(marker).evaluate(default_environment())


@pytest.mark.parametrize("name", ["build.txt", "tools.txt", "dev.txt", "local.txt", "runtime.txt"])
def test_every_locked_requirement_is_pinned_with_sha256_hashes(name):
    pins = locked(name)
    assert pins, f"locks/{name} is empty"
    for package, versions in pins.items():
        for version, _marker, hashes in versions:
            assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), (package, version)


def _dev_requirements(project: dict) -> list[Requirement]:
    """core + every extra that dev pulls in (skuplan[local,...]) + dev's own."""
    extras, todo, out = (
        project["optional-dependencies"],
        ["dev"],
        [Requirement(r) for r in project["dependencies"]],
    )
    seen = set()
    while todo:
        extra = todo.pop()
        seen.add(extra)
        for req in map(Requirement, extras[extra]):
            if canonicalize_name(req.name) == project["name"]:
                todo += [e for e in req.extras if e not in seen]
            else:
                out.append(req)
    return out


def test_dev_lock_satisfies_pyproject_and_is_what_the_venv_runs():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = locked("dev.txt")
    for req in _dev_requirements(project):
        if req.marker and not req.marker.evaluate():
            continue
        versions = [v for v, marker, _ in pins.get(canonicalize_name(req.name), []) if _applies(marker)]
        assert versions, f"{req.name} is in pyproject.toml but not in locks/dev.txt: run `make lock`"
        assert req.specifier.contains(versions[0], prereleases=True), (
            f"{req} vs locked {versions[0]}: make lock"
        )
    # `make setup` installed exactly the pins (a package this Python's markers select).
    for package, versions in pins.items():
        wanted = [v for v, marker, _ in versions if _applies(marker)]
        if wanted:
            assert md.version(package) == wanted[0], (
                f"{package}: installed {md.version(package)}, locked {wanted[0]}"
            )


def test_lock_check_passes_here_and_fails_with_the_fix_when_pyproject_changes(tmp_path):
    check = [sys.executable, "scripts/check_lock.py"]
    assert subprocess.run(check, cwd=REPO, capture_output=True, text=True).returncode == 0
    for part in ("pyproject.toml", "locks", "scripts/check_lock.py"):
        src, dst = REPO / part, tmp_path / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy(src, dst)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(
        '"pyyaml>=6",', '"pyyaml>=6",\n    "requests>=2",'), encoding="utf-8")  # fmt: skip
    proc = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and "run `make lock`" in proc.stderr, proc.stderr
    # A comment or layout change does not count: only what the resolution depends on.
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace('\n    "requests>=2",', "") + "\n# note\n"
    )
    assert subprocess.run(check, cwd=tmp_path, capture_output=True, text=True).returncode == 0


def test_setup_installs_from_the_locks_and_verifies_the_jars():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("$(VENV_STAMP):", 1)[1].split("\n\n", 1)[0]
    assert recipe.index("scripts/check_lock.py") < recipe.index("-m venv"), (
        "the lock is checked before installing"
    )
    installs = [line.strip() for line in recipe.splitlines() if "pip install" in line]
    assert all("--require-hashes" in line or "--no-deps" in line for line in installs), installs
    assert "bash scripts/fetch_jars.sh" in makefile.split("$(JARS_STAMP):", 1)[1].split("\n\n", 1)[0]


def _jar_copy(tmp_path: Path) -> Path:
    jars = sorted(JARS.glob("*.jar"))
    assert jars, f"no cached JARs in {JARS}: run `make setup`"
    folder = tmp_path / "jars"
    folder.mkdir()
    for jar in jars:
        shutil.copy(jar, folder)
    return folder


def _fetch(folder: Path) -> subprocess.CompletedProcess:
    # Every pinned JAR is already in the folder, so fetch_jars.sh calls no mvn: it only verifies.
    return subprocess.run(["bash", str(REPO / "scripts" / "fetch_jars.sh"), sys.executable, str(folder)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_tampered_jar_fails_the_setup_naming_it(tmp_path):
    folder = _jar_copy(tmp_path)
    ok = _fetch(folder)
    assert ok.returncode == 0 and "SHA-256 verified" in ok.stdout, ok.stderr
    victim = folder / next(p.name for p in sorted(folder.glob("delta-spark_*.jar")))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size
    victim.write_bytes(bytes(data))
    bad = _fetch(folder)
    assert bad.returncode != 0
    assert f"{victim.name}: FAILED" in bad.stderr and "SHA-256 mismatch" in bad.stderr, bad.stderr
    assert "verified" not in bad.stdout


def test_a_jar_without_a_pin_fails_the_setup(tmp_path):
    folder = _jar_copy(tmp_path)
    shutil.copy(next(folder.glob("*.jar")), folder / "extra-plugin-1.0.jar")  # Spark would load it too
    proc = _fetch(folder)
    assert proc.returncode != 0 and "extra-plugin-1.0.jar has no SHA-256 pinned" in proc.stderr, proc.stderr
