// The results pages' one script, linked by every page from its <head> (base.html): the missing-
// image banner, sorting the image tables and the full-size viewer. No library, no request: the
// page must work from the file system. Rows carry their scores as data attributes (data-<metric>,
// data-order = file order); a missing score sorts last either way, ties keep file order.
(function () {
  "use strict";
  // An image that does not load (a clone without the local-only images/) is counted and named
  // in one banner instead of leaving the reader with blank cells. Registered at once, while the
  // <head> is parsed: before any image of the page can fail.
  window.addEventListener("error", function (event) {
    var t = event.target;
    if (!t || t.tagName !== "IMG") { return; }
    window.missingImages = (window.missingImages || 0) + 1;
    var banner = document.getElementById("missing");
    if (banner) { banner.hidden = false; banner.querySelector(".n").textContent = String(window.missingImages); }
  }, true);

  function value(row, key) {
    var v = row.getAttribute("data-" + key);
    return v === null || v === "" ? NaN : parseFloat(v);
  }
  function sortRows(table, key, dir) {
    // a table's rows, or a grid's cards: whatever carries data-order
    var body = table.tBodies && table.tBodies.length ? table.tBodies[0] : table;
    var rows = Array.prototype.slice.call(body.children);
    rows.sort(function (a, b) {
      if (dir !== "file") {
        var x = value(a, key), y = value(b, key), nx = isNaN(x), ny = isNaN(y);
        if (nx !== ny) { return nx ? 1 : -1; }
        if (!nx && x !== y) { return dir === "desc" ? y - x : x - y; }
      }
      return value(a, "order") - value(b, "order");
    });
    rows.forEach(function (row, i) {
      body.appendChild(row);
      var rank = row.querySelector(".rank");
      if (rank) { rank.textContent = String(i + 1); }
    });
    table.setAttribute("data-sorted", dir === "file" ? "file" : key + " " + dir);
  }

  // The rest needs the page's elements: it runs once the document is parsed.
  function init() {
    document.querySelectorAll(".sorter").forEach(function (box) {
      var table = document.getElementById(box.getAttribute("data-table"));
      var select = box.querySelector("select");
      var buttons = box.querySelectorAll("button");
      function apply() {
        var pressed = box.querySelector('button[aria-pressed="true"]');
        sortRows(table, select ? select.value : "order", pressed.getAttribute("data-dir"));
      }
      buttons.forEach(function (button) {
        button.addEventListener("click", function () {
          buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
          apply();
        });
      });
      if (select) { select.addEventListener("change", apply); }
    });

    // The full-size view: the clicked image with the others of its card or row (input, output,
    // ground truth; or every method), all at one scale, magnified pixel for pixel when small.
    var viewer = document.getElementById("viewer");
    function show(link) {
      var group = link.closest(".card, tr");
      var links = group ? Array.prototype.slice.call(group.querySelectorAll("a.full")) : [link];
      var width = 0, height = 0;
      links.forEach(function (l) {
        width += Number(l.getAttribute("data-w"));
        height = Math.max(height, Number(l.getAttribute("data-h")));
      });
      var fit = Math.min((0.94 * window.innerWidth - 14 * links.length) / width, 0.75 * window.innerHeight / height);
      var scale = fit >= 1 ? Math.min(Math.floor(fit), 8) : fit;
      var set = viewer.querySelector(".set");
      set.textContent = "";
      links.forEach(function (l) {
        var figure = document.createElement("figure");
        if (l === link) { figure.className = "current"; }
        var img = document.createElement("img");
        img.src = l.href;
        img.alt = l.title;
        img.width = Math.round(Number(l.getAttribute("data-w")) * scale);
        img.height = Math.round(Number(l.getAttribute("data-h")) * scale);
        if (scale > 1) { img.className = "px"; }
        var caption = document.createElement("figcaption");
        var open = document.createElement("a");
        open.href = l.href;
        open.textContent = l.title;
        caption.appendChild(open);
        figure.appendChild(img);
        figure.appendChild(caption);
        set.appendChild(figure);
      });
      viewer.querySelector(".info").textContent = link.getAttribute("data-w") + "×" + link.getAttribute("data-h") +
        " pixels" + (scale > 1 ? ", shown ×" + scale : "") + " · a name opens its file · Esc or a click closes";
      viewer.hidden = false;
    }
    document.addEventListener("click", function (event) {
      var target = event.target;
      var link = target.closest ? target.closest("a.full") : null;
      if (link && event.button === 0 && !(event.ctrlKey || event.metaKey || event.shiftKey || event.altKey)) {
        event.preventDefault();
        show(link);
      } else if (!viewer.hidden && target.closest("#viewer") && !target.closest(".set a")) {
        viewer.hidden = true;
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { viewer.hidden = true; }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
