// Server detail charts with uPlot. Data comes from /ui/servers/{id}/series (the same handler as
// GET /api/v1/servers/{id}/metrics/series): columnar timestamps with avg/min/max per series.
// Rollup ranges draw the min-max band behind the average. Hover shows a tooltip with exact
// values and units; drag selects a span to zoom, double-click resets.
(function () {
  "use strict";
  var section = document.getElementById("history");
  if (!section || !window.uPlot || !window.HlcScale) return;
  var Scale = window.HlcScale;
  var serverId = section.dataset.server;
  var range = "24h";
  var charts = [];
  var lastData = null;
  var METRICS = "cpu_percent,memory_percent,fs_percent,load_1m,load_5m,load_15m,network_rx_bytes,network_tx_bytes," +
    "temperature_celsius,gpu_utilisation_percent";

  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function palette() { return [css("--chart-1"), css("--chart-2"), css("--chart-3"), css("--chart-4"), css("--chart-5")]; }

  function fmtBytesRate(v) {
    if (v == null) return "–";
    var units = ["B/s", "KiB/s", "MiB/s", "GiB/s"], i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return v.toFixed(i === 0 ? 0 : 1) + " " + units[i];
  }
  var UNITS = {
    percent: function (v) { return v == null ? "–" : v.toFixed(1) + " %"; },
    load: function (v) { return v == null ? "–" : v.toFixed(2); },
    celsius: function (v) { return v == null ? "–" : v.toFixed(1) + " °C"; },
    rate: fmtBytesRate
  };

  // Joins series with different timestamps onto one x axis (null where a series has no point).
  function join(list) {
    var xs = {};
    list.forEach(function (s) { s.t.forEach(function (t) { xs[t] = true; }); });
    var x = Object.keys(xs).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    x.forEach(function (t, i) { index[t] = i; });
    var columns = list.map(function (s) {
      var col = new Array(x.length).fill(null);
      s.t.forEach(function (t, i) { col[index[t]] = s.v[i]; });
      return col;
    });
    return [x].concat(columns);
  }

  function find(data, metric, subject) {
    return data.series.filter(function (s) { return s.metric === metric && (subject === undefined || s.subject === subject); });
  }

  // Per-second rate from a cumulative counter; resets (negative steps) become gaps.
  function rate(s) {
    var t = [], v = [];
    for (var i = 1; i < s.timestamps.length; i++) {
      var dt = s.timestamps[i] - s.timestamps[i - 1];
      var dv = s.avg[i] - s.avg[i - 1];
      t.push(s.timestamps[i]);
      v.push(dt > 0 && dv >= 0 ? dv / dt : null);
    }
    return { t: t, v: v };
  }

  function tooltipPlugin(format) {
    var tip;
    return {
      hooks: {
        init: function (u) {
          tip = document.createElement("div");
          tip.className = "tooltip";
          tip.hidden = true;
          u.over.appendChild(tip);
          u.over.addEventListener("mouseleave", function () { tip.hidden = true; });
        },
        setCursor: function (u) {
          var i = u.cursor.idx;
          if (i == null || u.cursor.left < 0) { tip.hidden = true; return; }
          // Built node by node (no markup strings): labels are data, and a strict CSP allows
          // styles set through the DOM but not inline style attributes.
          tip.textContent = "";
          var head = document.createElement("strong");
          head.textContent = new Date(u.data[0][i] * 1000).toLocaleString("en-GB");
          tip.appendChild(head);
          u.series.forEach(function (s, k) {
            if (k === 0 || !s.show || s.band) return;
            var line = document.createElement("div");
            var dot = document.createElement("span");
            dot.textContent = "● ";
            dot.style.color = s.stroke();
            line.appendChild(dot);
            line.appendChild(document.createTextNode(s.label + ": " + format(u.data[k][i])));
            tip.appendChild(line);
          });
          tip.hidden = false;
          var left = u.cursor.left + 12, top = u.cursor.top + 12;
          if (left + tip.offsetWidth > u.over.clientWidth) left = u.cursor.left - tip.offsetWidth - 12;
          tip.style.left = Math.max(0, left) + "px";
          tip.style.top = top + "px";
        }
      }
    };
  }

  // Tick labels are drawn on a canvas: measure them with the axis's font to size the axis.
  var AXIS_FONT = "12px system-ui, -apple-system, sans-serif";
  var measureCtx = document.createElement("canvas").getContext("2d");
  function measure(text) { measureCtx.font = AXIS_FONT; return measureCtx.measureText(text).width; }

  // lines: [{label, t, v, min?, max?}]; kind: a HlcScale kind ("percent", "load", "rate").
  function draw(id, lines, kind, format, emptyText) {
    var box = document.getElementById(id);
    box.querySelectorAll(".uplot, .chart-empty").forEach(function (n) { n.remove(); });
    ["yMin", "yMax", "yTicks", "xMin", "xMax", "xTicks", "points"].forEach(function (k) { delete box.dataset[k]; });
    if (!lines.length || lines.every(function (l) { return !l.t.length; })) {
      var empty = document.createElement("p");
      empty.className = "chart-empty";
      empty.textContent = emptyText || "No data in this range.";
      box.appendChild(empty);
      return;
    }
    var width = Math.max(280, box.clientWidth);
    var points = Scale.showPoints(Math.max.apply(null, lines.map(function (l) { return l.t.length; })), width);
    var colours = palette();
    var cols = [], series = [{}], bands = [];
    lines.forEach(function (l, n) {
      var colour = colours[n % colours.length];
      var at = cols.length + 1;
      cols.push({ t: l.t, v: l.v });
      series.push({ label: l.label, stroke: colour, width: 1.6, spanGaps: true, points: { show: points, size: 7, fill: colour }, value: function (u, v) { return format(v); } });
      if (l.min && l.max) {
        cols.push({ t: l.t, v: l.max }, { t: l.t, v: l.min });
        series.push({ label: l.label + " max", stroke: "transparent", band: true, spanGaps: true, points: { show: false }, value: function (u, v) { return format(v); } });
        series.push({ label: l.label + " min", stroke: "transparent", band: true, spanGaps: true, points: { show: false }, value: function (u, v) { return format(v); } });
        bands.push({ series: [at + 1, at + 2], fill: colour + "33" });
      }
    });
    var data = join(cols);
    var xs = data[0];
    // Zoomed when the x range asked for lies inside the data: the percentages then fit the data.
    // uPlot asks for the x range before the y range in the same pass, so the flag is current.
    var zoomed = false;
    var minSpan = Scale.minSpan(range);
    var text = css("--muted"), grid = css("--border");
    var axis = { stroke: text, font: AXIS_FONT, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    var yAxis = Object.assign({
      splits: function (u, i, lo, hi) { return Scale.ticks(kind, lo, hi).values; },
      values: function (u, splits) {
        var out = Scale.labels(kind, splits);
        box.dataset.yTicks = out.join("|");
        return out;
      },
      size: function (u, values) { return values ? Scale.axisWidth(values, measure) : 48; }
    }, axis);
    var opts = {
      width: width,
      height: 220,
      series: series,
      bands: bands,
      legend: { show: true, live: false },
      cursor: { drag: { x: true, y: false }, points: { show: false } },
      scales: {
        x: {
          time: true,
          // uPlot widens a lone sample to years before asking: unless the asked range lies inside
          // the data (a zoom), the span comes from the samples themselves.
          range: function (u, lo, hi) {
            var first = xs[0], last = xs[xs.length - 1];
            zoomed = lo != null && hi != null && (lo > first + 0.5 || hi < last - 0.5);
            return zoomed ? Scale.xRange(lo, hi, minSpan) : Scale.xRange(first, last, minSpan);
          }
        },
        y: { range: function (u, lo, hi) { return Scale.yRange(kind, lo, hi, zoomed); } }
      },
      axes: [Object.assign({
        values: function (u, splits, i, space, incr) {
          var out = Scale.timeLabels(splits, incr);
          box.dataset.xTicks = out.join("|");
          return out;
        }
      }, axis), yAxis],
      hooks: {
        setScale: [function (u, key) {
          box.dataset[key === "x" ? "xMin" : "yMin"] = String(u.scales[key].min);
          box.dataset[key === "x" ? "xMax" : "yMax"] = String(u.scales[key].max);
        }]
      },
      plugins: [tooltipPlugin(format)]
    };
    box.dataset.points = String(points);
    var chart = new uPlot(opts, data, box);
    box.dataset.yMin = String(chart.scales.y.min);
    box.dataset.yMax = String(chart.scales.y.max);
    box.dataset.xMin = String(chart.scales.x.min);
    box.dataset.xMax = String(chart.scales.x.max);
    charts.push(chart);
  }

  // The note under the range buttons while the history is too short to fill the range.
  function showNote(data) {
    var note = document.getElementById("history-note");
    if (!note) return;
    var first = null, last = null, count = 0;
    data.series.forEach(function (s) {
      if (!s.timestamps.length) return;
      count = Math.max(count, s.timestamps.length);
      first = first == null ? s.timestamps[0] : Math.min(first, s.timestamps[0]);
      last = last == null ? s.timestamps[s.timestamps.length - 1] : Math.max(last, s.timestamps[s.timestamps.length - 1]);
    });
    var text = Scale.historyNote(range, first, last, count);
    note.textContent = text;
    note.hidden = !text;
  }

  function withBand(s, label) {
    var rollup = range !== "24h";
    return { label: label, t: s.timestamps, v: s.avg, min: rollup ? s.min : null, max: rollup ? s.max : null };
  }

  function render(data) {
    lastData = data;
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    showNote(data);
    draw("chart-cpu", find(data, "cpu_percent").map(function (s) { return withBand(s, "CPU"); }), "percent", UNITS.percent);
    draw("chart-memory", find(data, "memory_percent").map(function (s) { return withBand(s, "Memory"); }), "percent", UNITS.percent);
    draw("chart-disk", find(data, "fs_percent").map(function (s) { return withBand(s, s.subject || "disk"); }), "percent", UNITS.percent);
    draw("chart-load", ["load_1m", "load_5m", "load_15m"].map(function (m) {
      var s = find(data, m)[0];
      return s ? { label: m.replace("load_", ""), t: s.timestamps, v: s.avg } : null;
    }).filter(Boolean), "load", UNITS.load);
    var counters = 0;
    var net = [["network_rx_bytes", "Received"], ["network_tx_bytes", "Sent"]].map(function (p) {
      var s = find(data, p[0])[0];
      if (!s) return null;
      counters = Math.max(counters, s.timestamps.length);
      var r = rate(s);
      return { label: p[1], t: r.t, v: r.v };
    }).filter(Boolean);
    draw("chart-net", net, "rate", UNITS.rate,
      counters === 1 ? "Collecting history: a rate needs a second sample." : null);
    // Only on machines that report sensors or GPUs (the page leaves the boxes out otherwise).
    if (document.getElementById("chart-temp")) {
      draw("chart-temp", find(data, "temperature_celsius").map(function (s) {
        return withBand(s, s.subject);
      }), "load", UNITS.celsius);
    }
    if (document.getElementById("chart-gpu")) {
      draw("chart-gpu", find(data, "gpu_utilisation_percent").map(function (s) { return withBand(s, s.subject); }), "percent", UNITS.percent);
    }
    section.dataset.loaded = range;
  }

  function load() {
    var url = "/ui/servers/" + encodeURIComponent(serverId) + "/series?range=" + range + "&metrics=" + METRICS;
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(render)
      .catch(function (e) { section.dataset.error = String(e); });
  }

  function setRange(next) {
    range = next;
    section.querySelectorAll(".range").forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.range === range)); });
    ["csv", "json"].forEach(function (f) {
      var a = document.getElementById("export-" + f);
      if (a) a.href = "/ui/servers/" + encodeURIComponent(serverId) + "/export?range=" + range + "&format=" + f;
    });
    load();
  }

  section.querySelectorAll(".range").forEach(function (b) {
    b.addEventListener("click", function () { setRange(b.dataset.range); });
  });
  document.addEventListener("hlc:theme", function () { if (lastData) render(lastData); });
  var resizeTimer;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { if (lastData) render(lastData); }, 200);
  });
  // A heartbeat for this server: refresh the open chart (debounced).
  var liveTimer;
  document.addEventListener("htmx:sseMessage", function (e) {
    if (!e.detail || e.detail.type !== "card-" + serverId) return;
    clearTimeout(liveTimer);
    liveTimer = setTimeout(load, 300);
  });
  load();
})();
