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


# --- probing a rendered report: plot axes against their data, page width, table behaviour -----

PROBE_JS = r"""
<script>
(function () {
  "use strict";
  function axisReport(gd) {
    var out = {};
    var fl = gd._fullLayout;
    Object.keys(fl).filter(function (k) { return /^[xy]axis\d*$/.test(k); }).forEach(function (k) {
      var ax = fl[k];
      if (ax.type === "category" || ax.type === "multicategory") { return; }
      var letter = k.charAt(0), ref = letter + k.slice(5);
      var values = [];
      gd._fullData.forEach(function (t) {
        if (t.visible === false || (t[letter + "axis"] || letter) !== ref) { return; }
        (t[letter] || []).forEach(function (v) {
          if (v === null || v === undefined || v === "") { return; }
          var l = ax.d2l(v);
          if (typeof l === "number" && isFinite(l)) { values.push(l); }
        });
      });
      if (!values.length) { return; }
      out[k] = { type: ax.type, range: [ax.r2l(ax.range[0]), ax.r2l(ax.range[1])],
                 matches: ax.matches ? ax.matches.charAt(0) + "axis" + ax.matches.slice(1) : null,
                 min: Math.min.apply(null, values), max: Math.max.apply(null, values),
                 n: values.length };
    });
    return out;
  }
  function filterCheck() {
    var input = document.querySelector("input.filter");
    if (!input) { return null; }
    var table = document.getElementById(input.getAttribute("data-table"));
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    function visible(q) {
      input.value = q;
      input.dispatchEvent(new Event("input"));
      return rows.filter(function (r) { return r.style.display !== "none"; })
                 .map(function (r) { return r.cells[0].textContent.trim(); });
    }
    var res = { first: rows[0].cells[0].textContent.trim() };
    res.byModel = visible(res.first);
    res.byStatus = visible("above_range").length;
    res.byFrame = visible(document.body.getAttribute("data-frame") || "").length;
    visible("");
    return res;
  }
  function measure() {
    var plots = {};
    Array.prototype.forEach.call(document.querySelectorAll(".densing-plot"), function (gd) {
      if (gd._fullLayout) { plots[gd.id] = axisReport(gd); }
    });
    var tables = {};
    Array.prototype.forEach.call(document.querySelectorAll("table"), function (t) {
      var box = t.parentElement.getBoundingClientRect();
      tables[t.id || "?"] = { width: t.getBoundingClientRect().width, parent: box.width,
                              shown: t.offsetParent !== null };
    });
    var cav = document.getElementById("caveats");
    var sticky = null, wrap = document.querySelector("#table-models");
    if (wrap) {
      var first = wrap.tBodies[0].rows[0].cells[0];
      sticky = getComputedStyle(first).position;
    }
    var probe = {
      innerWidth: window.innerWidth,
      scrollWidth: document.documentElement.scrollWidth,
      bodyScrollWidth: document.body.scrollWidth,
      plots: plots, tables: tables, sticky: sticky,
      caveat: cav ? { height: cav.getBoundingClientRect().height, text: cav.textContent } : null,
      filter: filterCheck()
    };
    var pre = document.createElement("pre");
    pre.id = "densing-probe";
    pre.textContent = JSON.stringify(probe);
    document.body.appendChild(pre);
  }
  (window.densingPlotsDrawn || Promise.resolve()).then(function () { setTimeout(measure, 50); });
})();
</script>
"""


def probe_copy(report: Path, out: Path, frame_name: str = "", extra_js: str = "") -> Path:
    """A copy of ``report`` that, once its plots are drawn, writes what it measures into
    ``<pre id="densing-probe">`` (read it from ``--dump-dom`` with :func:`read_probe`).
    ``extra_js`` runs first (e.g. a click on a table heading)."""
    text = report.read_text(encoding="utf-8")
    body = f'<body data-frame="{frame_name}">' if frame_name else "<body>"
    script = f"<script>{extra_js}</script>" if extra_js else ""
    text = text.replace("<body>", body, 1).replace("</body>", script + PROBE_JS + "</body>")
    out.write_text(text, encoding="utf-8")
    return out


def read_probe(dom: str) -> dict:
    import html
    import json
    import re

    m = re.search(r'<pre id="densing-probe">(.*?)</pre>', dom, re.S)
    assert m, "the probe did not run (plots never finished drawing?)"
    return json.loads(html.unescape(m.group(1)))


def axis_problems(probe: dict, pad: float = 0.12, min_pad: dict | None = None) -> list[str]:
    """Every plot axis whose range does not cover its data, or reaches further than the
    data's span × ``pad`` beyond it (log axes in decades, date axes in ms)."""
    floors = {"log": 0.08, "date": 20 * 86400e3, "linear": 0.0, **(min_pad or {})}
    bad = []
    for pid, axes in probe["plots"].items():
        # axes that share one range (shared x of stacked panels) share their data
        groups: dict[str, list[dict]] = {}
        for name, a in axes.items():
            groups.setdefault(a.get("matches") or name, []).append(a)
        for name, a in axes.items():
            group = groups[a.get("matches") or name]
            a = {**a, "min": min(g["min"] for g in group), "max": max(g["max"] for g in group)}
            lo, hi = sorted(a["range"])
            span = a["max"] - a["min"]
            margin = max(pad * span, floors.get(a["type"], 0.0), 1e-9)
            tol = 1e-6 * max(span, 1e-9)
            if lo > a["min"] + tol or hi < a["max"] - tol:
                bad.append(
                    f"{pid} {name}: range [{lo:g}, {hi:g}] hides data [{a['min']:g}, {a['max']:g}]"
                )
            if lo < a["min"] - margin or hi > a["max"] + margin:
                bad.append(
                    f"{pid} {name}: range [{lo:g}, {hi:g}] reaches beyond data [{a['min']:g}, {a['max']:g}] ± {margin:g}"
                )
    return bad


def render_at_widths(
    report: Path,
    tmp: Path,
    widths: tuple[int, ...] = (1024, 1400),
    frame_name: str = "",
    extra_js: str = "",
) -> dict[int, tuple[dict, str, Path]]:
    """For each width: the probe's measurements, the dumped DOM and a full-page screenshot
    (all Chromium processes run at once, each with its own profile)."""
    probe = probe_copy(report, tmp / "probe.html", frame_name, extra_js)
    procs = {}
    for w in widths:
        shot = tmp / f"report-{w}.png"
        procs[w] = (
            start_chromium(
                [f"--window-size={w},1200", "--dump-dom", probe.as_uri()], tmp / f"pd{w}"
            ),
            start_chromium(
                [
                    f"--screenshot={shot}",
                    f"--window-size={w},3000",
                    "--hide-scrollbars",
                    report.resolve().as_uri(),
                ],
                tmp / f"ps{w}",
            ),
            shot,
        )
    out = {}
    for w, (dom_proc, shot_proc, shot) in procs.items():
        dom, err = finish(dom_proc)
        _, shot_err = finish(shot_proc)
        assert dom_proc.returncode == 0, err.decode(errors="replace")[-2000:]
        assert shot.exists(), shot_err.decode(errors="replace")[-2000:]
        text = dom.decode("utf-8", errors="replace")
        out[w] = (read_probe(text), text, shot)
    return out
