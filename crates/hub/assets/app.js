// Homelab Command dashboard behaviour that is not htmx's: the remembered theme, client-side
// search/filter of the fleet (status, type, tag, a watched container down; preset from
// ?q=&status=&type=&tag=&containers=down), the countdowns of breaches about to fire, copy
// buttons, switches and held live refreshes (what would otherwise need htmx to evaluate
// attributes, which the content security policy forbids). Loaded in <head> so the theme applies
// before paint.
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
    var tagSelect = document.getElementById("fleet-tag");
    var tag = tagSelect ? tagSelect.value : "";
    var containerSelect = document.getElementById("fleet-containers");
    var containers = containerSelect ? containerSelect.value : "";
    var shown = 0, total = 0;
    document.querySelectorAll("#grid .card").forEach(function (card) {
      total++;
      var ok = (!text || (card.dataset.search || "").indexOf(text) !== -1) &&
        (!status || card.dataset.status === status) &&
        (!type || card.dataset.type === type) &&
        (!tag || (card.dataset.tags || "").indexOf(" " + tag + " ") !== -1) &&
        (!containers || card.dataset.containers === containers);
      card.hidden = !ok;
      if (ok) shown++;
    });
    // A group heading shows while a card of its group does.
    document.querySelectorAll("#grid .group-head").forEach(function (head) {
      var group = head.getAttribute("data-group");
      head.hidden = !document.querySelector("#grid .card[data-type='" + group + "']:not([hidden])");
    });
    var count = document.getElementById("fleet-count");
    if (count) count.textContent = shown === total ? total + " shown" : shown + " of " + total + " shown";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.addEventListener("click", toggleTheme);
    var params = new URLSearchParams(window.location.search);
    [["fleet-search", "q"], ["fleet-status", "status"], ["fleet-type", "type"], ["fleet-tag", "tag"], ["fleet-containers", "containers"]].forEach(function (pair) {
      var el = document.getElementById(pair[0]);
      if (!el) return;
      var preset = params.get(pair[1]);
      if (preset) {
        if (el.tagName === "SELECT" && !el.querySelector("option[value='" + CSS.escape(preset) + "']")) {
          var option = document.createElement("option");
          option.value = preset;
          option.textContent = "#" + preset + " (0)";
          el.appendChild(option);
        }
        el.value = preset;
      }
      el.addEventListener("input", applyFilters);
      el.addEventListener("change", applyFilters);
    });
    applyFilters();
    startCountdowns();
    if (window.htmx) {
      // Show error answers (validation, 403) instead of silently ignoring them.
      // A refused form (422) or conflict (409) is an answer to show, not a failure to log.
      htmx.config.responseHandling = [
        { code: "204", swap: false },
        { code: "[23]..", swap: true },
        { code: "409", swap: true },
        { code: "422", swap: true },
        { code: "[45]..", swap: true, error: true }
      ];
    }
  });

  // Breaches about to fire count down each second from the seconds left when the row arrived
  // (the hub's clock, not the browser's, decides; a live update replaces the rows).
  function countdownText(s) {
    if (s <= 0) return "firing now";
    if (s < 60) return s + " s";
    var pad = function (n) { return n < 10 ? "0" + n : "" + n; };
    if (s < 3600) return Math.floor(s / 60) + " min " + pad(s % 60) + " s";
    return Math.floor(s / 3600) + " h " + pad(Math.floor(s % 3600 / 60)) + " min";
  }
  function tickCountdowns() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-left]").forEach(function (el) {
      if (!el.hasAttribute("data-seen")) el.setAttribute("data-seen", String(now));
      var left = parseInt(el.getAttribute("data-left"), 10) - Math.floor((now - parseInt(el.getAttribute("data-seen"), 10)) / 1000);
      var text = countdownText(Math.max(0, left));
      if (el.textContent !== text) el.textContent = text;
    });
  }
  function startCountdowns() {
    if (!document.getElementById("pending")) return;
    tickCountdowns();
    setInterval(tickCountdowns, 1000);
  }

  // A page left for another keeps its live-update stream open while the browser holds it in its
  // back/forward cache. Over HTTP/1.1 a browser opens at most six connections to the hub, so a
  // few pages later every request (charts, actions) would queue behind held streams. Close them
  // on leaving; a page shown again from that cache is reloaded, as its data is stale anyway.
  window.addEventListener("pagehide", function () {
    document.querySelectorAll("[sse-connect]").forEach(function (el) {
      var data = el["htmx-internal-data"];
      if (data && data.sseEventSource) data.sseEventSource.close();
    });
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });

  // Switches (checkboxes marked data-switch="field") send field=true or false as they now stand.
  // htmx leaves an unchecked box out altogether, and computing the value in the attribute
  // (hx-vals='js:…') is eval, which the dashboard's content security policy forbids.
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    var field = elt && elt.getAttribute && elt.getAttribute("data-switch");
    if (field) event.detail.parameters[field] = elt.checked ? "true" : "false";
  });

  // A live refresh of an element marked data-hold-while="selector" waits while something inside
  // matches (the alerts list while alerts are selected, so a selection is not wiped mid-action).
  // An htmx trigger filter would say the same, but htmx evaluates those: no eval under our CSP.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var hold = elt && elt.getAttribute && elt.getAttribute("data-hold-while");
    if (hold && elt.querySelector(hold)) event.preventDefault();
  });

  // Forms marked data-reset-on-success empty themselves once the hub accepted them.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.hasAttribute && form.hasAttribute("data-reset-on-success") && event.detail.successful) form.reset();
  });

  // Swapped-in cards must respect the current filter.
  document.addEventListener("htmx:afterSettle", applyFilters);
  document.addEventListener("htmx:sseMessage", applyFilters);

  // Pending packages: security only or all, and the first few or all of them.
  document.addEventListener("click", function (event) {
    var show = event.target.closest && event.target.closest("[data-pkg-show]");
    var more = event.target.closest && event.target.closest("[data-pkg-more]");
    var panel = (show || more) && (show || more).closest("#packages");
    if (!panel) return;
    if (show) {
      panel.classList.toggle("pkg-security-only", show.getAttribute("data-pkg-show") === "security");
      panel.querySelectorAll("[data-pkg-show]").forEach(function (b) { b.setAttribute("aria-pressed", String(b === show)); });
    } else {
      var collapsed = panel.classList.toggle("pkg-collapsed");
      more.setAttribute("aria-expanded", String(!collapsed));
      more.textContent = collapsed ? more.getAttribute("data-more-text") || more.textContent : "Show fewer";
    }
  });

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
