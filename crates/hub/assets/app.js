// Homelab Command dashboard behaviour that is not htmx's: the remembered theme, client-side
// search/filter of the fleet, copy buttons. Loaded in <head> so the theme applies before paint.
(function () {
  "use strict";
  var KEY = "hlc-theme";
  var root = document.documentElement;
  try {
    var saved = localStorage.getItem(KEY);
    if (saved === "light" || saved === "dark") root.setAttribute("data-theme", saved);
  } catch (e) { /* storage may be disabled; the system setting applies */ }

  function currentTheme() {
    var set = root.getAttribute("data-theme");
    if (set) return set;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function toggleTheme() {
    var next = currentTheme() === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { localStorage.setItem(KEY, next); } catch (e) { /* not remembered */ }
    document.dispatchEvent(new CustomEvent("hlc:theme", { detail: next }));
  }

  function applyFilters() {
    var search = document.getElementById("fleet-search");
    if (!search) return;
    var text = search.value.trim().toLowerCase();
    var status = document.getElementById("fleet-status").value;
    var type = document.getElementById("fleet-type").value;
    var shown = 0, total = 0;
    document.querySelectorAll("#grid .card").forEach(function (card) {
      total++;
      var ok = (!text || (card.dataset.search || "").indexOf(text) !== -1) &&
        (!status || card.dataset.status === status) &&
        (!type || card.dataset.type === type);
      card.hidden = !ok;
      if (ok) shown++;
    });
    var count = document.getElementById("fleet-count");
    if (count) count.textContent = shown === total ? total + " shown" : shown + " of " + total + " shown";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.addEventListener("click", toggleTheme);
    ["fleet-search", "fleet-status", "fleet-type"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.addEventListener("input", applyFilters);
    });
    applyFilters();
    if (window.htmx) {
      // Show error answers (validation, 403) instead of silently ignoring them.
      htmx.config.responseHandling = [
        { code: "204", swap: false },
        { code: "[23]..", swap: true },
        { code: "[45]..", swap: true, error: true }
      ];
    }
  });

  // Swapped-in cards must respect the current filter.
  document.addEventListener("htmx:afterSettle", applyFilters);
  document.addEventListener("htmx:sseMessage", applyFilters);

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    var done = function () { button.textContent = "Copied ✓"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
      try { document.execCommand("copy"); done(); } catch (e) { /* text stays selected */ }
    }
  });

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
})();
