"""Headless Chromium helpers shared by the report and end-to-end tests."""

from __future__ import annotations

import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
    "param",
}


class PlotCounter(HTMLParser):
    """For each plot div in a rendered DOM, count main-svg elements, traces and drawn marks."""

    def __init__(self, ids: tuple[str, ...]) -> None:
        super().__init__()
        self.ids = set(ids)
        self.stack: list[str | None] = []  # the plot id each open element belongs to
        self.counts = {i: {"main-svg": 0, "trace": 0, "marks": 0} for i in ids}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        owner = self.stack[-1] if self.stack else None
        if tag == "div" and a.get("id") in self.ids:
            owner = a["id"]
        if owner is not None:
            classes = (a.get("class") or "").split()
            c = self.counts[owner]
            c["main-svg"] += "main-svg" in classes
            c["trace"] += tag == "g" and "trace" in classes
            c["marks"] += tag == "path" and bool({"point", "js-line", "js-fill"} & set(classes))
        if tag not in VOID:
            self.stack.append(owner)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()


def start_chromium(args: list[str], profile: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--mute-audio",
            # any network lookup fails: the report must render fully offline
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(proc: subprocess.Popen[bytes], timeout: float = 120) -> tuple[bytes, bytes]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"headless Chromium did not finish within {timeout} s")


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", head[16:24])
