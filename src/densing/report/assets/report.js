/* densing report: draw the plots from the embedded JSON and make tables sortable. No network. */
(function () {
  "use strict";
  var figs = JSON.parse(document.getElementById("densing-figures").textContent);
  var config = { displaylogo: false, responsive: true, showLink: false, showSendToCloud: false,
                 toImageButtonOptions: { format: "png", scale: 2 } };
  var drawn = [];
  Object.keys(figs).forEach(function (id) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var fig = figs[id];
    drawn.push(Plotly.newPlot(el, fig.data, fig.layout, config));
  });
  window.densingPlotsDrawn = Promise.all(drawn);  // settles once every plot is drawn

  function sortValue(cell) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent.trim(); }
    var num = parseFloat(raw);
    if (raw !== "" && !isNaN(num) && isFinite(Number(raw))) { return { n: true, v: num }; }
    if (raw === "" || raw === "—") { return { n: true, v: NaN }; }
    return { n: false, v: raw.toLowerCase() };
  }

  function sortTable(table, col, th) {
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var keyed = rows.map(function (r, i) { return { r: r, i: i, k: sortValue(r.cells[col]) }; });
    keyed.sort(function (a, b) {
      var x = a.k, y = b.k, d;
      var xm = x.n && isNaN(x.v), ym = y.n && isNaN(y.v);
      if (xm || ym) { return xm === ym ? a.i - b.i : (xm ? 1 : -1); }  // missing values last
      if (x.n && y.n) { d = x.v - y.v; }
      else { d = String(x.v).localeCompare(String(y.v)); }
      if (d === 0) { return a.i - b.i; }
      return asc ? d : -d;
    });
    keyed.forEach(function (e) { tbody.appendChild(e.r); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.setAttribute("tabindex", "0");
      th.setAttribute("title", "click to sort");
      th.addEventListener("click", function () { sortTable(table, col, th); });
      th.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortTable(table, col, th); }
      });
    });
  });

  // the filter matches the first (model) column only, not the frame or status
  Array.prototype.forEach.call(document.querySelectorAll("input.filter"), function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        var name = r.cells[0].textContent.toLowerCase();
        r.style.display = (q === "" || name.indexOf(q) >= 0) ? "" : "none";
      });
    });
  });
})();
