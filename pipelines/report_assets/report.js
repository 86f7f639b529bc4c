// Glotforge report: sortable and filterable tables. Inlined into the HTML; no libraries, no network.
// A cell's sort key is its data-v attribute (numbers) or its text; clicking a header toggles the order.
(function () {
  function key(td, numeric) {
    var v = td.getAttribute("data-v");
    if (numeric) { var f = parseFloat(v === null ? td.textContent : v); return isNaN(f) ? -Infinity : f; }
    return (v === null ? td.textContent : v).toLowerCase();
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var numeric = th.classList.contains("num");
    var asc = th.getAttribute("aria-sort") !== "ascending";
    if (th.getAttribute("aria-sort") === null && numeric) asc = false;
    rows.sort(function (a, b) {
      var x = key(a.cells[col], numeric), y = key(b.cells[col], numeric);
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function filter(table, text) {
    var q = text.trim().toLowerCase(), shown = 0;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      var hit = !q || r.textContent.toLowerCase().indexOf(q) >= 0;
      r.style.display = hit ? "" : "none"; if (hit) shown++;
    });
    var out = document.getElementById(table.id + "-count");
    if (out) out.textContent = shown + " rows";
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.addEventListener("click", function () { sortBy(table, i, th); });
    });
    var box = document.querySelector('input[data-filter="' + table.id + '"]');
    if (box) box.addEventListener("input", function () { filter(table, box.value); });
  });
  document.documentElement.setAttribute("data-report-ready", "1");
})();
