"""better-sqlite3 binaries built once per machine, so Express installs need no compiler run.

better-sqlite3 has no reachable prebuilt binary here and compiles for about a minute per
install. Built once (per machine, keyed by version and Node ABI) in prebuild-install's own
format, every install takes it from here through an npm setting.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from support.commands import output, run

NODE_PREBUILDS = Path.home() / ".cache" / "backend-service-template" / "node-prebuilds"
NODE_PREBUILDS_SETTING = "npm_config_better_sqlite3_local_prebuilds"


# Asked once per worker: each answer costs a Node or npm start (npm's a registry round trip
# too), on the way of every Express install.
@functools.cache
def _node(expression: str) -> str:
    return output(["node", "-p", expression]).strip()


_newest: dict[str, str] = {}  # better-sqlite3's version range -> the release npm installs


def _newest_version(spec: str, env: dict[str, str]) -> str:
    """The version npm installs for `better-sqlite3@spec`: the highest release in range."""
    if spec not in _newest:
        found = json.loads(
            output(["npm", "view", f"better-sqlite3@{spec}", "version", "--json"], env)
        )
        versions = found if isinstance(found, list) else [found]
        _newest[spec] = max(
            versions, key=lambda version: tuple(int(part) for part in version.split("."))
        )
    return _newest[spec]


def ensure_node_prebuilds(project: Path, env: dict[str, str]) -> None:
    """Builds the better-sqlite3 binary that `project` will install, unless it is built."""
    spec = json.loads((project / "package.json").read_text())["dependencies"]["better-sqlite3"]
    version = _newest_version(spec, env)
    target = NODE_PREBUILDS / (
        f"better-sqlite3-v{version}-node-v{_node('process.versions.modules')}-"
        f"{_node('process.platform')}-{_node('process.arch')}.tar.gz"
    )
    NODE_PREBUILDS.mkdir(parents=True, exist_ok=True)
    # One build for all xdist workers: the others wait for it.
    with (NODE_PREBUILDS / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return
        with tempfile.TemporaryDirectory(prefix="better-sqlite3-") as scratch:
            build = Path(scratch)
            (build / "package.json").write_text('{"private": true}')
            run(
                ["npm", "install", "--no-audit", "--no-fund", f"better-sqlite3@{version}"],
                cwd=build,
                env={k: v for k, v in env.items() if k != NODE_PREBUILDS_SETTING},
            )
            package = build / "node_modules" / "better-sqlite3"
            partial = target.with_suffix(".partial")
            with tarfile.open(partial, "w:gz") as archive:
                name = "build/Release/better_sqlite3.node"
                archive.add(package / name, arcname=name)
            partial.rename(target)


@contextlib.contextmanager
def shared_node_modules(project: Path, cache: Path) -> Iterator[None]:
    """Around `make install`: one npm install from nothing per run, shared by the others.

    The first project with a given package.json (and Node) leaves its node_modules and lock
    file in `cache`; the next ones start from a copy of them, and their own `make install` then
    finds the tree complete (about 5 s instead of 25 here). A project whose package.json no
    stored tree has starts from the stored tree that shares most of its dependencies: npm adds
    what is missing from its cache and prunes the rest (0.9 CPU-s instead of 10 for a fresh
    install here), so each answer that changes the dependencies costs a copy, not an install.
    A copy, not links: tests write caches under node_modules."""
    manifest = (project / "package.json").read_bytes()
    fingerprint = hashlib.sha256(manifest + _node("process.version").encode()).hexdigest()[:16]
    cache.mkdir(parents=True, exist_ok=True)
    stored = cache / fingerprint
    # The workers that need one set wait for its first install, then copy it.
    with (cache / f"{fingerprint}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stored.exists():
            _copy(stored, project)
        elif nearest := _nearest(_dependencies(manifest), cache):
            _copy(nearest, project)
        yield
        if not stored.exists():
            partial = cache / f"{fingerprint}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            _copy(project, partial)
            shutil.copy(project / "package.json", partial / "package.json")
            partial.rename(stored)


def _dependencies(manifest: bytes) -> set[str]:
    package = json.loads(manifest)
    return {*package.get("dependencies", {}), *package.get("devDependencies", {})}


def _nearest(dependencies: set[str], cache: Path) -> Path | None:
    """The stored tree whose package.json shares most of `dependencies` (None if none is)."""
    trees = [
        tree
        for tree in cache.iterdir()
        if tree.is_dir() and not tree.name.endswith(".partial") and (tree / "package.json").exists()
    ]
    return max(
        trees,
        key=lambda tree: len(dependencies & _dependencies((tree / "package.json").read_bytes())),
        default=None,
    )


def _copy(source: Path, destination: Path) -> None:
    """An installed tree (`cp -a`: several times faster than copytree on 20,000 files)."""
    run(["cp", "-a", "node_modules", "package-lock.json", str(destination)], cwd=source)
