"""The parse cache of the built-in YAML: parsed files kept as one JSON file.

It is only a parse cache (every load validates again), keyed by a SHA-256 of the files' names
and bytes. It lives in the platform cache directory, ``densing`` below ``$XDG_CACHE_HOME``
(default ``~/.cache``) on Linux, ``~/Library/Caches`` on macOS and ``%LOCALAPPDATA%`` on
Windows; ``$DENSING_CACHE_DIR`` moves it, and ``DENSING_CACHE_DIR=off`` turns it off.
Only the newest :data:`KEEP` cache files are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from densing.catalog._yaml import parse_yaml

ENV_VAR = "DENSING_CACHE_DIR"
FORMAT = 2  # dates are kept as text since format 2
KEEP = 8
_OFF = ("", "off", "0", "none", "false")


def _platform_cache_home() -> Path:
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return Path(local) if local else Path.home() / "AppData" / "Local"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg else Path.home() / ".cache"


def cache_dir() -> Path | None:
    """Where the parse cache lives, or None when ``$DENSING_CACHE_DIR`` turns it off."""
    env = os.environ.get(ENV_VAR)
    if env is not None:
        return None if env.strip().lower() in _OFF else Path(env)
    return _platform_cache_home() / "densing"


def _string_keys_only(obj: Any) -> bool:
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _string_keys_only(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(_string_keys_only(v) for v in obj)
    return True


def _key(files: Sequence[Path], contents: Sequence[bytes]) -> str:
    digest = hashlib.sha256(f"densing-catalog-cache {FORMAT}\n".encode())
    for f, data in zip(files, contents, strict=True):
        digest.update(f"{f.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:32]


def _read(target: Path, n: int) -> list[Any] | None:
    try:
        cached = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return cached if isinstance(cached, list) and len(cached) == n else None


def _write(target: Path, parsed: list[Any]) -> None:
    """Write atomically and prune old files; failures are ignored (it is only a cache)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(parsed), encoding="utf-8")
        os.replace(tmp, target)
        old = sorted(target.parent.glob("catalog-*.json"), key=lambda p: p.stat().st_mtime)
        for stale in old[:-KEEP]:
            stale.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError):
        pass


def cached_yaml(files: Sequence[Path], directory: Path) -> dict[str, Any]:
    """Parsed YAML of ``files`` (path string -> data), from or into the cache in ``directory``.

    Returns ``{}`` when a file does not parse (the files are then read one by one, so that
    YAML errors are reported with file and line as usual).
    """
    files = [f for f in files if f.is_file()]
    contents = [f.read_bytes() for f in files]
    target = directory / f"catalog-{_key(files, contents)}.json"
    parsed = _read(target, len(files)) if target.exists() else None
    if parsed is None:
        try:
            parsed = [parse_yaml(c.decode("utf-8-sig")) for c in contents]
        except (yaml.YAMLError, UnicodeDecodeError):
            return {}
        if _string_keys_only(parsed):
            _write(target, parsed)
    return {str(f): d for f, d in zip(files, parsed, strict=True)}
