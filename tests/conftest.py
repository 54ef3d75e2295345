from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The read-only reference data in ../shared/data; skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"reference data folder {SHARED} is absent")
    return SHARED


@pytest.fixture(autouse=True, scope="session")
def _private_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep the catalog parse cache (and any subprocess's) inside the test's temp dir."""
    cache = tmp_path_factory.mktemp("densing-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DENSING_CACHE_DIR", str(cache))
        yield cache
