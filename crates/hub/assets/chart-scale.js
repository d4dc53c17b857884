// The charts' axes and ticks as pure functions (no DOM, no uPlot), so that the browser test can
// call them with a table of cases: charts.js only wires them into uPlot. They live in the browser
// rather than in the hub because zooming and resizing recompute axes there; a Rust copy would be a
// second implementation to keep in step.
//
// Kinds: "percent" (0–100 unless zoomed), "load" (from 0), "rate" (bytes per second, from 0, in
// one binary unit per axis).
(function (root) {
  "use strict";
  var RATE_UNITS = ["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"];
  var TARGET_TICKS = 4;

  // Rounds away floating-point dust (0.1 + 0.2) so that ticks compare and print exactly.
  function clean(v) { return Math.round(v * 1e9) / 1e9; }

  // The smallest 1, 2, 2.5 or 5 × 10^n at least `raw`.
  function niceStep(raw) {
    if (!(raw > 0) || !isFinite(raw)) return 1;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * power >= raw * (1 - 1e-9)) return clean(steps[i] * power);
    }
    return clean(10 * power);
  }

  // Digits after the point that a step needs (2.5 → 1, 0.25 → 2, 20 → 0).
  function decimals(step) {
    var text = String(clean(step));
    if (text.indexOf("e-") !== -1) return parseInt(text.split("e-")[1], 10);
    var dot = text.indexOf(".");
    return dot === -1 ? 0 : text.length - dot - 1;
  }

  // The binary unit (a power of 1024) in which a rate axis reaching `max` reads best.
  function rateUnit(max) {
    var i = 0, unit = 1;
    while (Math.abs(max) / unit >= 1000 && i < RATE_UNITS.length - 1) { unit *= 1024; i++; }
    return { divisor: unit, name: RATE_UNITS[i] };
  }

  function unitOf(kind, hi) {
    return kind === "rate" ? rateUnit(hi) : { divisor: 1, name: kind === "percent" ? "%" : "" };
  }

  // The lowest top that still shows a flat line as flat: 1 for load, 1 KiB/s for a rate.
  var FLOOR = { percent: 1, load: 1, rate: 1024 };

  // The y range [lo, hi] for data between dmin and dmax (null when there is none). Percentages
  // keep the honest 0–100 unless the chart is zoomed, when they fit the data on nice bounds.
  function yRange(kind, dmin, dmax, zoomed) {
    var none = dmin == null || dmax == null || !isFinite(dmin) || !isFinite(dmax);
    if (kind === "percent" && (!zoomed || none)) {
      return [0, none || dmax <= 100 ? 100 : niceTop(kind, dmax)];
    }
    if (none) return [0, FLOOR[kind] || 1];
    if (kind === "percent") {
      var span = Math.max(dmax - dmin, 1);
      var step = niceStep(span / TARGET_TICKS);
      var lo = Math.max(0, clean(Math.floor(dmin / step) * step));
      var hi = clean(Math.ceil(dmax / step) * step);
      if (hi <= lo) hi = clean(lo + step);
      return [lo, dmax <= 100 ? Math.min(100, hi) : hi];
    }
    return [0, niceTop(kind, dmax)];
  }

  function niceTop(kind, dmax) {
    var top = Math.max(dmax, FLOOR[kind] || 1);
    var unit = unitOf(kind, top);
    var step = niceStep(top / unit.divisor / TARGET_TICKS);
    return clean(Math.ceil(top / unit.divisor / step) * step) * unit.divisor;
  }

  // Ticks between lo and hi: nice steps in the axis's unit, never two the same.
  function ticks(kind, lo, hi) {
    if (!(hi > lo)) return { values: [lo], step: 1, unit: unitOf(kind, Math.abs(lo)) };
    var unit = unitOf(kind, Math.max(Math.abs(lo), Math.abs(hi)));
    var step = niceStep((hi - lo) / unit.divisor / TARGET_TICKS);
    var values = [];
    var first = Math.ceil(clean(lo / unit.divisor / step));
    for (var n = first; clean(n * step) <= clean(hi / unit.divisor) && values.length < 50; n++) {
      values.push(clean(n * step) * unit.divisor);
    }
    return { values: values, step: step, unit: unit };
  }

  // Tick labels with as many decimals as the step needs, so neighbours always differ.
  function labels(kind, values) {
    if (!values.length) return [];
    var unit = unitOf(kind, Math.max.apply(null, values.map(Math.abs)));
    var digits = values.length > 1 ? decimals(clean((values[1] - values[0]) / unit.divisor))
      : decimals(clean(values[0] / unit.divisor));
    return values.map(function (v) {
      var text = (v / unit.divisor).toFixed(Math.min(digits, 6));
      return unit.name ? text + " " + unit.name : text;
    });
  }

  // Pixels the y axis needs for its longest label (measured by `measure`, e.g. a canvas's
  // measureText), plus the tick and a gap, so that no label is cut off.
  function axisWidth(texts, measure) {
    var widest = 0;
    texts.forEach(function (t) { widest = Math.max(widest, measure(String(t))); });
    return Math.ceil(widest) + 18;
  }

  // The x range for samples between tmin and tmax (seconds): never narrower than minSpan, so
  // one sample sits in the middle of a sensible span instead of on a years-wide axis.
  function xRange(tmin, tmax, minSpan) {
    if (tmin == null || tmax == null) return [null, null];
    if (tmax - tmin >= minSpan) return [tmin, tmax];
    var middle = (tmin + tmax) / 2;
    return [middle - minSpan / 2, middle + minSpan / 2];
  }

  // The narrowest x span for a range: four buckets of its resolution, at least ten minutes.
  function minSpan(range) {
    var bucket = { "24h": 60, "7d": 900, "30d": 3600, "12m": 86400 }[range] || 60;
    return Math.max(600, 4 * bucket);
  }

  // Dots on the line when the samples are few enough to tell apart (one alone has no line).
  function showPoints(count, widthPx) {
    return count <= Math.max(1, widthPx / 16);
  }

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function two(n) { return n < 10 ? "0" + n : String(n); }

  // Time tick labels (seconds, local time) in British form, 24-hour: "14:30" for steps under a
  // day, with the date under the first tick and wherever the day changes; "19 Jan" for day
  // steps (the year under the first and at a new year); "Jan 2026" for month steps.
  function timeLabels(ticks, incr) {
    var previous = null;
    return ticks.map(function (t) {
      var d = new Date(t * 1000);
      var day = d.getDate() + " " + MONTHS[d.getMonth()];
      var label;
      if (incr < 86400) {
        label = two(d.getHours()) + ":" + two(d.getMinutes());
        if (!previous || previous.toDateString() !== d.toDateString()) label += "\n" + day;
      } else if (incr < 28 * 86400) {
        label = day;
        if (!previous || previous.getFullYear() !== d.getFullYear()) label += "\n" + d.getFullYear();
      } else {
        label = MONTHS[d.getMonth()] + " " + d.getFullYear();
      }
      previous = d;
      return label;
    });
  }

  var WINDOW = { "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "12m": 365 * 86400 };

  function spanText(seconds) {
    if (seconds < 120) return "a minute";
    if (seconds < 7200) return Math.round(seconds / 60) + " minutes";
    if (seconds < 2 * 86400) return Math.round(seconds / 3600) + " hours";
    return Math.round(seconds / 86400) + " days";
  }

  // "Collecting history" while the samples cover less than a quarter of the range; "" after.
  function historyNote(range, tmin, tmax, count) {
    var window = WINDOW[range] || 86400;
    if (!count) return "Collecting history: no samples in this range yet.";
    var covered = tmax - tmin;
    if (covered >= window / 4) return "";
    var what = count === 1 ? "one sample so far" : spanText(covered) + " of samples so far";
    return "Collecting history: " + what + "; the charts fill in as the machine reports.";
  }

  root.HlcScale = {
    niceStep: niceStep, rateUnit: rateUnit, yRange: yRange, ticks: ticks, labels: labels,
    axisWidth: axisWidth, xRange: xRange, minSpan: minSpan, showPoints: showPoints, historyNote: historyNote,
    timeLabels: timeLabels
  };
})(window);
