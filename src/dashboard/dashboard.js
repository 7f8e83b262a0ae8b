// dashboard.js: the /debug/gc page. Polls /debug/gc/feed (a long poll: the server
// answers when its next one-per-second sample is taken), keeps the last KEEP_SECONDS of
// samples and pauses, and draws a uPlot chart for each chart the feed lists (its host
// may have no requests or gauge to chart: those sections are removed, not drawn as
// zeros; a heap goal it does not know is left off the heap chart). Exposes what it drew for tests:
// each chart's <section data-points>, <body data-errors> (uncaught errors) and
// <body data-heap-changes> (samples whose heap-in-use figure differed from the one
// before). Embedded in the binary with the page (src/assets.c).
"use strict";

(function () {
  const KEEP_SECONDS = 300;
  const PAUSE_BETWEEN_POLLS_MS = 250;   // the server paces the polls; this only spaces them
  const RETRY_MS = 2000;
  const COLORS = ["#2a6fdb", "#e8590c", "#2f9e44", "#9c36b5", "#c92a2a", "#0b7285", "#5c940d", "#862e9c", "#495057"];

  let errors = 0;
  function countError(what) {
    errors++;
    document.body.dataset.errors = String(errors);
    setStatus("error: " + what, true);
  }
  window.addEventListener("error", (e) => countError(e.message || "script error"));
  window.addEventListener("unhandledrejection", (e) => countError(String(e.reason)));

  function setStatus(text, bad) {
    const s = document.getElementById("status");
    s.textContent = text;
    s.className = bad ? "bad" : "";
  }

  // ---- number formatting --------------------------------------------------------
  function fmtBytes(v) {
    if (v == null) return "-";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v.toFixed(0) : v.toFixed(Math.abs(v) < 10 ? 2 : 1)) + " " + units[i];
  }
  function fmtCount(v) {
    if (v == null) return "-";
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + " G";
    if (a >= 1e6) return (v / 1e6).toFixed(2) + " M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + " k";
    return a >= 100 || v === Math.round(v) ? v.toFixed(0) : v.toFixed(1);
  }
  const fmtRate = (v) => (v == null ? "-" : fmtBytes(v) + "/s");
  const fmtMs = (v) => (v == null ? "-" : v < 1 ? v.toFixed(3) + " ms" : v.toFixed(1) + " ms");
  const fmtPct = (v) => (v == null ? "-" : v.toFixed(v < 1 ? 2 : 1) + " %");
  // Axis ticks: fewer digits than the legend's figures.
  function tickBytes(v) {
    const units = ["B", "K", "M", "G", "T"];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (Math.abs(v) < 10 && i > 0 ? v.toFixed(1) : v.toFixed(0)) + units[i];
  }
  const tickRate = (v) => tickBytes(v) + "/s";
  const tickCount = (v) => (Math.abs(v) >= 1e6 ? (v / 1e6).toFixed(1) + "M" : Math.abs(v) >= 1e3 ? (v / 1e3).toFixed(0) + "k" : String(+v.toFixed(2)));
  const tickMs = (v) => (v >= 1000 ? String(+(v / 1000).toFixed(2)) + "s" : String(+v.toFixed(3)) + "ms");
  const tickPct = (v) => String(+v.toFixed(2)) + "%";
  const axisOf = (fmt) => (u, vals) => vals.map(fmt);

  // ---- data kept ------------------------------------------------------------------
  let since = 0;          // newest sample number received
  let routes = [];        // the feed's route names, index-aligned with sample.requests
  // pauses: pt their times, pv a full collection's (else null), pp a partial one's,
  // pb the time either kept allocation blocked
  const d = { t: [], inuse: [], sys: [], next: [], alloc: [], gcs: [], frac: [], bfrac: [], gauge: [], rss: [], req: [],
              pt: [], pv: [], pp: [], pb: [] };
  let heapChanges = 0;

  function reset() {
    since = 0;
    for (const k in d) d[k].length = 0;
  }

  // The first feed says what the host charts: the page takes its names and removes
  // the sections of charts the feed does not list.
  let configured = false;
  let gauge = { title: "", unit: "" };   // the feed's name for the gauge chart
  function configure(feed) {
    if (configured) return;
    configured = true;
    document.title = feed.program + ": GC dashboard";
    document.getElementById("title").textContent = feed.program + ": garbage collector, live";
    if (feed.heap_as_of_collection)
      document.querySelector("#heap h2 small").textContent = "in use and size as of the last collection";
    if (feed.gauge) {
      gauge = feed.gauge;
      const h = document.querySelector("#gauge h2");
      h.firstChild.textContent = gauge.title + " ";
      h.querySelector("small").textContent = gauge.unit;
    }
    for (const id of Object.keys(charts)) {
      if (feed.charts.includes(id)) continue;
      delete charts[id];
      document.getElementById(id).remove();
    }
  }

  function ingest(feed) {
    configure(feed);
    routes = feed.routes;
    for (const s of feed.samples) {
      const n = d.inuse.length;
      if (n && s.heap_inuse !== d.inuse[n - 1]) heapChanges++;
      d.t.push(s.t);
      d.inuse.push(s.heap_inuse);
      d.sys.push(s.heap_sys);
      d.next.push(s.next_gc);
      d.alloc.push(s.alloc_rate);
      d.gcs.push(s.gc_rate);
      d.frac.push(s.gc_fraction == null ? null : s.gc_fraction * 100);
      d.bfrac.push(s.blocked_fraction == null ? null : s.blocked_fraction * 100);
      d.gauge.push(s.gauge === undefined ? null : s.gauge);
      d.rss.push(s.rss >= 0 ? s.rss : null);
      d.req.push(s.requests);
    }
    for (const p of feed.pauses) {   // [time, pause, blocked (seconds), 1 if the collection was partial]
      d.pt.push(p[0]);
      d.pv.push(p[3] ? null : p[1] * 1000);
      d.pp.push(p[3] ? p[1] * 1000 : null);
      d.pb.push(p[2] * 1000);
    }
    since = feed.newest;
    const cut = d.t.length ? d.t[d.t.length - 1] - KEEP_SECONDS : 0;
    let drop = 0;
    while (drop < d.t.length && d.t[drop] < cut) drop++;
    for (const k of ["t", "inuse", "sys", "next", "alloc", "gcs", "frac", "bfrac", "gauge", "rss", "req"]) d[k].splice(0, drop);
    let pdrop = 0;
    while (pdrop < d.pt.length && d.pt[pdrop] < cut) pdrop++;
    d.pt.splice(0, pdrop);
    d.pv.splice(0, pdrop);
    d.pp.splice(0, pdrop);
    d.pb.splice(0, pdrop);
    document.body.dataset.heapChanges = String(heapChanges);
  }

  // ---- charts ---------------------------------------------------------------------
  const timeRange = () => (d.t.length ? [d.t[0], Math.max(d.t[d.t.length - 1], d.t[0] + 10)] : [0, 1]);

  function line(label, color, fmt, extra) {
    return Object.assign({ label: label, stroke: color, width: 1.5, points: { show: false }, value: (u, v) => fmt(v) },
                         extra || {});
  }

  // Each chart: series (after x), y axes, and its data from `d`.
  const charts = {
    heap: {   // the goal line only while some kept sample has one (no policy: NextGC unknown)
      series: () => [line("in use", COLORS[0], fmtBytes, { fill: "rgba(42,111,219,0.08)" }),
                     line("heap size", "#495057", fmtBytes)]
        .concat(hasGoal() ? [line("next collection (est.)", COLORS[1], fmtBytes, { dash: [5, 4] })] : []),
      axes: [{ values: axisOf(tickBytes), size: 50 }],
      data: () => [d.t, d.inuse, d.sys].concat(hasGoal() ? [d.next] : []),
    },
    alloc: {
      series: () => [line("allocated", COLORS[2], fmtRate, { fill: "rgba(47,158,68,0.08)" })],
      axes: [{ values: axisOf(tickRate), size: 60 }],
      data: () => [d.t, d.alloc],
    },
    pauses: {   // the partial series only while some kept pause is one (stop-the-world: none)
      series: () => [line("pause (full collection)", COLORS[4], fmtMs,
                          { paths: () => null, points: { show: true, size: 5, fill: COLORS[4] } })]
        .concat(hasPartial() ? [line("pause (partial)", COLORS[2], fmtMs,
                                     { paths: () => null, points: { show: true, size: 5, fill: COLORS[2] } })] : [])
        .concat([line("allocation blocked", COLORS[8], fmtMs, { paths: () => null, points: { show: true, size: 4, fill: COLORS[8] } })]),
      axes: [{ values: axisOf(tickMs), size: 55 }],
      data: () => [d.pt, d.pv].concat(hasPartial() ? [d.pp] : []).concat([d.pb]),
      xRange: true,
    },
    gc: {
      series: () => [line("collections/s", COLORS[3], fmtCount),
                     line("time stopped", COLORS[1], fmtPct, { scale: "pct" }),
                     line("allocation blocked", COLORS[8], fmtPct, { scale: "pct", dash: [5, 4] })],
      axes: [{ values: axisOf(tickCount), size: 45 },
             { scale: "pct", side: 1, values: axisOf(tickPct), size: 45, grid: { show: false } }],
      scales: { pct: { range: (u, min, max) => [0, Math.max(max, 1)] } },
      data: () => [d.t, d.gcs, d.frac, d.bfrac],
    },
    gauge: {
      series: () => [line(gauge.unit, COLORS[5], fmtCount)],
      axes: [{ values: axisOf(tickCount), size: 50 }],
      data: () => [d.t, d.gauge],
    },
    requests: {
      series: () => shownRoutes().map((r, i) => line(routes[r], COLORS[i % COLORS.length], fmtCount)),
      axes: [{ values: axisOf(tickCount), size: 50 }],
      data: () => [d.t].concat(shownRoutes().map((r) => d.req.map((row) => (row ? row[r] : null)))),
    },
    rss: {
      series: () => [line("RSS", COLORS[6], fmtBytes, { fill: "rgba(92,148,13,0.08)" })],
      axes: [{ values: axisOf(tickBytes), size: 50 }],
      data: () => [d.t, d.rss],
    },
  };

  const hasGoal = () => d.next.some((v) => v != null);
  const hasPartial = () => d.pp.some((v) => v != null);

  // Routes with a request in the samples kept, so the legend stays short.
  function shownRoutes() {
    const shown = [];
    for (let r = 0; r < routes.length; r++)
      if (d.req.some((row) => row && row[r] > 0)) shown.push(r);
    return shown;
  }

  function plotSize(el) {
    return { width: Math.max(280, el.clientWidth), height: 160 };
  }

  function makePlot(id, c) {
    const el = document.querySelector("#" + id + " .plot");
    const opts = Object.assign(plotSize(el), {
      series: [{}].concat(c.series()),
      scales: Object.assign({ x: c.xRange ? { time: true, range: () => timeRange() } : { time: true } }, c.scales || {}),
      axes: [{}].concat(c.axes.map((a) => Object.assign({ space: 22 }, a))),   // y ticks every 22 px or more
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    });
    el.textContent = "";
    c.key = JSON.stringify(opts.series.map((s) => s.label || ""));
    c.plot = new uPlot(opts, c.data(), el);
  }

  function countPoints(data) {
    let n = 0;
    for (let i = 0; i < data[0].length; i++)
      if (data.slice(1).some((col) => col[i] != null)) n++;
    return n;
  }

  function draw() {
    for (const id in charts) {
      const c = charts[id];
      const key = JSON.stringify([""].concat(c.series().map((s) => s.label)));
      if (!c.plot || c.key !== key) makePlot(id, c);   // the routes shown changed
      else c.plot.setData(c.data());
      const n = c.plot.data[0].length;
      if (n && c.plot.cursor.idx == null) c.plot.setLegend({ idx: n - 1 });   // not hovered: latest values
      document.getElementById(id).dataset.points = String(countPoints(c.data()));
    }
    showFigures();
  }

  function showFigures() {
    const n = d.t.length - 1;
    if (n < 0) return;
    const parts = [["heap in use", fmtBytes(d.inuse[n])], ["of", fmtBytes(d.sys[n])]];
    if (d.next[n] != null) parts.push(["next collection at about", fmtBytes(d.next[n])]);
    parts.push(["allocating", fmtRate(d.alloc[n])], ["collections/s", fmtCount(d.gcs[n])]);
    if (charts.gauge) parts.push([gauge.title.toLowerCase(), fmtCount(d.gauge[n]) + " " + gauge.unit]);
    parts.push(["RSS", fmtBytes(d.rss[n])]);
    const f = document.getElementById("figures");
    f.textContent = "";
    for (const [k, v] of parts) {
      f.append(k + " ");
      const b = document.createElement("b");
      b.textContent = v;
      f.append(b, "   ");
    }
    document.body.dataset.heap = String(d.inuse[n]);
  }

  window.addEventListener("resize", () => {
    for (const id in charts) {
      const c = charts[id];
      if (c.plot) c.plot.setSize(plotSize(document.querySelector("#" + id + " .plot")));
    }
  });

  // ---- polling --------------------------------------------------------------------
  async function poll() {
    let wait = PAUSE_BETWEEN_POLLS_MS;
    try {
      const r = await fetch("/debug/gc/feed?since=" + since, { cache: "no-store" });
      if (r.status === 400 && since > 0) {   // the server restarted: its numbers began again
        reset();
        setStatus("server restarted: starting over");
      } else if (!r.ok) {
        throw new Error("feed answered HTTP " + r.status);
      } else {
        ingest(await r.json());
        draw();
        setStatus("live: " + d.t.length + " samples, " + d.pt.length + " pauses (last " + KEEP_SECONDS / 60 + " min)");
      }
    } catch (e) {
      setStatus("no answer from the server (" + e.message + "); retrying", true);
      wait = RETRY_MS;
    }
    setTimeout(poll, wait);
  }
  poll();
})();
