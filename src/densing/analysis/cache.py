"""A file cache of the built-in frame, so `densing density` / `densing forecast` without
``--frame`` do not refit it on every call.

Key: SHA-256 of the catalog's data files, the frame specification, the bootstrap options and
densing's version. Location: ``frames/`` in the same cache folder as the catalog's parse cache
(:func:`densing.catalog.cache.cache_dir`; ``DENSING_CACHE_DIR=off`` turns both off). A corrupt
entry is refitted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from densing import __version__
from densing.analysis.run import fit_frame_spec
from densing.analysis.specs import DEFAULT_FRAME, FrameSpec
from densing.bootstrap import BootstrapSpec
from densing.catalog.cache import cache_dir
from densing.errors import DensingInputError
from densing.frames import load_frame
from densing.scoreframe import ScoreFrame


def _catalog_hash() -> str:
    from densing.catalog import DATA_DIR

    h = hashlib.sha256()
    for p in sorted(Path(DATA_DIR).rglob("*.yaml")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def frame_key(spec: FrameSpec, **options: object) -> str:
    text = f"{__version__}|{_catalog_hash()}|{spec!r}|{sorted(options.items())!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cached_builtin_frame(
    spec: FrameSpec = DEFAULT_FRAME,
    *,
    n_resamples: int = 100,
    seed: int = 0,
    level: float = 0.95,
    warm_start: bool = True,
    progress: Callable[[int], None] | None = None,
) -> tuple[ScoreFrame, bool]:
    """(the built-in frame, whether it came from the cache)."""
    opts = {"n_resamples": n_resamples, "seed": seed, "level": level, "warm_start": warm_start}
    root = cache_dir()
    path = None if root is None else root / "frames" / f"{frame_key(spec, **opts)}.json"
    if path is not None and path.is_file():
        try:
            frame = load_frame(path)
            if isinstance(frame, ScoreFrame):
                return frame, True
        except DensingInputError:
            pass  # a corrupt or foreign entry: refit below and overwrite it
    from densing.catalog import load

    boot = BootstrapSpec(n_resamples, seed=seed, level=level, warm_start=warm_start)
    frame = fit_frame_spec(load(), spec, boot, progress=progress)[1]
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_json(path)
        except OSError:
            pass  # an unwritable cache only costs time
    return frame, False


def builtin_frame(spec: FrameSpec = DEFAULT_FRAME, **options: Any) -> ScoreFrame:
    """The built-in frame with its bootstrap replicates (fitted once, then read from the
    cache); ``options`` as :func:`cached_builtin_frame`."""
    return cached_builtin_frame(spec, **options)[0]
