// Parley's two pictures of time, drawn as SVG by this file alone (no library).
//
// The timeline chart: one lane per kind of event along valid time, intervals as bars,
// disputed, corrected and retracted events marked, and the as_of line, which can be
// dragged. The knowledge chart: every event at (valid time, recorded time), each
// dispute, correction and retraction linked to the event it names, the quadrant the
// state folds (valid <= as_of, recorded <= known_at) shaded, and a back-dated report
// drawn with a bar back to what the log already knew when it arrived.
//
// Data: GET /negotiations/{slug}/chart, which sends counts per bucket for a window
// denser than about a thousand events. The page (parley.js) tells this file each view
// it shows ("parley:view"); dragging a line tells the page back ("parley:set-as-of",
// "parley:set-known-at"). Every string from the API goes in as text.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const DAY = 86400000;
  const LANE_TITLES = {
    rounds: "Rounds", proposals: "Proposals", contacts: "Contacts", agreements: "Agreements",
    zones: "Zones", ceasefires: "Ceasefires", allegations: "Allegations",
    hostilities: "Hostilities", disputes: "Disputes",
  };
  // Facts about the log rather than the world: drawn as diamonds on the knowledge chart.
  const FACTS = new Set(["EventCorrected", "EventRetracted", "PersonRedacted"]);
  const LEFT = 92;     // lane titles
  const RIGHT = 18;
  const LANE_H = 28;
  const TOP = 26;      // room for the as_of label
  const AXIS_H = 30;   // the time axis; drag along it to zoom
  const KNOW_H = 300;  // the knowledge chart's plot
  const KNOW_LEFT = 118;

  const charts = {
    slug: "",
    knownAt: "",        // the page's own known_at ("" means now)
    asOf: null,         // the effective as_of (ms), from the state's echo
    asOfNow: true,      // whether the page's as_of is "now"
    knownAtMs: null,    // the effective bound of the vertical axis (ms), from the state's echo
    axis: "recorded",   // the knowledge chart's vertical axis: recorded or reported time
    token: "",
    window: null,       // [from ms, to ms] chosen by the reader, or null: the whole negotiation
    key: "",
    received: 0,        // events seen live: a chart known "now" is then out of date
    seq: 0,
    data: null,
    dragging: null,
    view: null,         // the page's last view ("parley:view"), to ask again for another window
    tx: null,           // the scales last drawn: timeline x, knowledge x and y
    kx: null,
    ky: null,
  };

  const $ = (id) => document.getElementById(id);

  // --- Building SVG and HTML, text only --------------------------------------------------

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      el.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false || child === "") continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  const title = (text) => s("title", {}, text);
  const humanType = (type) =>
    type.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^(\w)(.*)$/, (_, a, b) => a + b.toLowerCase());
  const ms = (iso) => Date.parse(iso);
  const isoDay = (t) => new Date(t).toISOString().slice(0, 10);
  const endOfDay = (t) => Math.floor(t / DAY) * DAY + DAY - 1;
  const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

  function stamp(t, span) {
    const iso = new Date(t).toISOString();
    if (span < 2 * DAY) return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
    return iso.slice(0, 10);
  }

  // --- Scales and ticks ------------------------------------------------------------------

  function scale(d0, d1, r0, r1) {
    const k = (r1 - r0) / ((d1 - d0) || 1);
    const f = (t) => r0 + (t - d0) * k;
    f.invert = (x) => d0 + (x - r0) / k;
    f.domain = [d0, d1];
    f.range = [r0, r1];
    return f;
  }

  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  // Up to about ``count`` round instants in [d0, d1], each with a label.
  function ticks(d0, d1, count) {
    const span = d1 - d0;
    const steps = [1, 2, 3, 6, 12].map((n) => [n * 3600000, "time"])
      .concat([1, 2, 7, 14].map((n) => [n * DAY, "day"]));
    for (const [step, kind] of steps) {
      if (span / step <= count) {
        const out = [];
        for (let t = Math.ceil(d0 / step) * step; t <= d1; t += step) {
          const d = new Date(t);
          out.push([t, kind === "time"
            ? `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCHours()).padStart(2, "0")}:00`
            : `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`]);
        }
        return out;
      }
    }
    for (const months of [1, 2, 3, 6, 12, 24, 60, 120]) {
      if (span / (months * 30.4 * DAY) <= count) {
        const out = [];
        const first = new Date(d0);
        let y = first.getUTCFullYear();
        let m = Math.ceil((first.getUTCMonth() + (first.getUTCDate() > 1 ? 1 : 0)) / months) * months;
        for (;;) {
          const t = Date.UTC(y + Math.floor(m / 12), m % 12, 1);
          if (t > d1) break;
          if (t >= d0) {
            const d = new Date(t);
            out.push([t, months >= 12 ? String(d.getUTCFullYear()) : `${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`]);
          }
          m += months;
        }
        return out;
      }
    }
    return [[d0, isoDay(d0)], [d1, isoDay(d1)]];
  }

  // The valid-time domain: the window, with a margin so that a day's events sit inside.
  function validDomain(data) {
    const d0 = ms(data.from);
    const d1 = Math.max(ms(data.to), d0);
    const pad = Math.max(DAY, (d1 - d0) * 0.03); // the last day's end is in view
    return [d0 - pad, d1 + pad];
  }

  // --- Loading -------------------------------------------------------------------------

  async function fetchChart(view) {
    const params = new URLSearchParams();
    if (charts.window) {
      params.set("from", new Date(charts.window[0]).toISOString());
      params.set("to", new Date(charts.window[1]).toISOString());
    }
    params.set("as_of", view.state.as_of);
    params.set("known_at", view.knownAt || view.state.known_at);
    if (view.reportedAt || view.state.reported_at) params.set("reported_at", view.reportedAt || view.state.reported_at);
    params.set("axis", charts.axis);
    const headers = { Accept: "application/json" };
    if (view.token) headers.Authorization = `Bearer ${view.token}`;
    const response = await fetch(`/negotiations/${encodeURIComponent(view.slug)}/chart?${params}`, { headers });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error((body && body.detail) || `HTTP ${response.status}`);
    return body;
  }

  async function onView(view) {
    charts.view = view;
    charts.slug = view.slug;
    charts.knownAt = view.knownAt;
    charts.token = view.token;
    charts.asOf = ms(view.state.as_of);
    charts.asOfNow = !view.asOf;
    charts.knownAtMs = ms(charts.axis === "reported" ? view.state.reported_at || view.state.known_at : view.state.known_at);
    ensureSection();
    // The data depends on the window and the knowledge, not on as_of: dragging the
    // as_of line redraws without asking the server again.
    const key = JSON.stringify([view.slug, view.knownAt, view.reportedAt, charts.axis, charts.window, view.knownAt ? 0 : charts.received]);
    if (key === charts.key && charts.data) {
      draw();
      return;
    }
    const seq = ++charts.seq;
    $("charts").setAttribute("aria-busy", "true");
    try {
      const data = await fetchChart(view);
      if (seq !== charts.seq) return;
      charts.key = key;
      charts.data = data;
      $("chart-error").hidden = true;
      draw();
    } catch (error) {
      if (seq !== charts.seq) return;
      $("chart-error").hidden = false;
      $("chart-error").textContent = `Could not load the charts: ${error.message}`;
    } finally {
      if (seq === charts.seq) $("charts").setAttribute("aria-busy", "false");
    }
  }

  // Another window of valid time: only the charts ask again; the page's view stays.
  function reloadWindow(window) {
    charts.window = window;
    charts.key = "";
    if (charts.view) onView(charts.view);
  }

  // The knowledge chart's vertical axis: a backfilled log shows when the world learned
  // each thing only on reported time. Its line is then the reported_at bound.
  function setAxis(axis) {
    charts.axis = axis === "reported" ? "reported" : "recorded";
    charts.key = "";
    if (charts.view) onView(charts.view);
  }

  // --- The section on the page -------------------------------------------------------------

  function ensureSection() {
    if ($("charts")) return;
    const section = h("section", { id: "charts", class: "charts", "aria-labelledby": "charts-title", "aria-busy": "true" },
      h("h2", { id: "charts-title" }, "Both clocks"),
      h("p", { class: "lede" }, "Valid time runs left to right. Drag the ", h("strong", {}, "as of"),
        " line to move the state through time; drag along the axis to zoom into a stretch."),
      h("div", { class: "chart-bar" },
        h("span", { id: "chart-window", class: "help" }),
        h("button", { type: "button", id: "chart-whole", class: "quiet", hidden: true,
          onclick: () => reloadWindow(null) }, "Whole negotiation"),
        h("label", { for: "chart-axis" }, "Knowledge chart, up: "),
        h("select", { id: "chart-axis", onchange: (ev) => setAxis(ev.target.value) },
          h("option", { value: "recorded" }, "recorded time (when the log learned it)"),
          h("option", { value: "reported" }, "reported time (when the world was told)"))),
      h("p", { id: "chart-error", class: "error", role: "alert", hidden: true }),
      h("figure", { class: "chart", id: "timeline-figure" },
        h("div", { class: "chart-frame", id: "timeline-frame" }),
        h("figcaption", {}, h("strong", {}, "Timeline. "),
          "One lane per kind of event, as known at ", h("em", {}, "known at"), ". ",
          legend([["mark", "an event"], ["mark interval", "an interval"], ["mark disputed", "disputed"],
            ["mark corrected", "corrected"], ["mark retracted", "retracted"], ["mark after", "after as of"]]))),
      h("figure", { class: "chart", id: "knowledge-figure" },
        h("div", { class: "chart-frame", id: "knowledge-frame" }),
        h("figcaption", {}, h("strong", {}, "Knowledge. "),
          "Each event at when it happened (across) and when the log recorded it (up). The state folds the ",
          "shaded quadrant. A report that arrived after the log knew of later events is back-dated: its bar ",
          "reaches back to them. ",
          legend([["dot", "an event"], ["dot outside", "outside the quadrant"], ["dot back-dated", "back-dated"],
            ["dot fact", "a correction, retraction or redaction"], ["link", "names the event it changes"]]))));
    const anchor = $("state");
    anchor.parentNode.insertBefore(section, anchor);
    let resizeTimer = 0;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(draw, 150);
    });
  }

  function legend(entries) {
    return h("span", { class: "chart-legend" }, entries.map(([kind, text]) =>
      h("span", { class: "legend-item" }, h("span", { class: `swatch ${kind}`, "aria-hidden": "true" }), text)));
  }

  function draw() {
    const data = charts.data;
    if (!data) return;
    const tl = data.timeline;
    const kn = data.knowledge;
    const what = (n, mode) => (mode === "items" || mode === "points" ? `${n} events` : `${n} events, counted per bucket`);
    $("chart-window").textContent =
      `${stamp(ms(data.from), ms(data.to) - ms(data.from))} to ${stamp(ms(data.to), ms(data.to) - ms(data.from))}: ` +
      `timeline ${what(tl.count, tl.mode)}; knowledge ${what(kn.count, kn.mode)}.`;
    $("chart-whole").hidden = !charts.window;
    const began = performance.now();
    const focused = document.activeElement && document.activeElement.id; // kept across the redraw
    drawTimeline(data);
    drawKnowledge(data);
    placeClocks();
    if (focused && focused.endsWith("-as-of") && $(focused)) $(focused).focus();
    // When the charts were last drawn (ms since the page began loading) and how long
    // drawing took: what bench/render.py reads.
    $("charts").dataset.drawn = performance.now().toFixed(0);
    $("charts").dataset.drawMs = (performance.now() - began).toFixed(1);
  }

  // --- The timeline chart ------------------------------------------------------------------

  function drawTimeline(data) {
    const frame = $("timeline-frame");
    const width = Math.max(frame.clientWidth || 800, 360);
    const lanes = data.lanes;
    const height = TOP + lanes.length * LANE_H + AXIS_H;
    const x = scale(...validDomain(data), LEFT, width - RIGHT);
    charts.tx = x;
    const svg = s("svg", {
      id: "timeline-chart", class: "chart-svg", width, height, viewBox: `0 0 ${width} ${height}`,
      role: "img", "aria-labelledby": "timeline-chart-title",
      "data-valid-start": x.domain[0], "data-valid-end": x.domain[1], "data-left": x.range[0], "data-right": x.range[1],
      "data-mode": data.timeline.mode,
    }, s("title", { id: "timeline-chart-title" }, `Timeline of ${data.negotiation}: ${data.timeline.count} events in lanes`));
    const laneY = (i) => TOP + i * LANE_H;
    const bottom = TOP + lanes.length * LANE_H;

    lanes.forEach((lane, i) => {
      svg.append(
        s("rect", { class: `lane-band lane-${lane}`, x: LEFT, y: laneY(i), width: width - LEFT - RIGHT, height: LANE_H }),
        s("text", { class: "lane-title", x: LEFT - 8, y: laneY(i) + LANE_H / 2 + 4, "text-anchor": "end" }, LANE_TITLES[lane] || lane));
    });
    for (const [t, label] of ticks(x.domain[0], x.domain[1], Math.max(3, Math.floor((width - LEFT) / 90)))) {
      if (x(t) > x.range[1] - 20) continue; // a label cut by the edge says nothing
      svg.append(
        s("line", { class: "grid-line", x1: x(t), x2: x(t), y1: TOP, y2: bottom }),
        s("text", { class: "tick", x: x(t), y: bottom + 14, "text-anchor": "middle" }, label));
    }
    const marks = s("g", { class: "marks" });
    if (data.timeline.mode === "items") {
      for (const item of data.timeline.items) {
        const lane = lanes.indexOf(item.lane);
        const start = ms(item.occurred_at);
        const until = item.occurred_until ? ms(item.occurred_until) : null;
        const y = laneY(lane) + LANE_H / 2 + ((item.position % 3) - 1) * 5;
        const classes = ["mark", `lane-${item.lane}`, ...item.flags];
        const tip = title(`${humanType(item.type)} · ${item.occurred_at.slice(0, 10)}` +
          (until ? ` to ${item.occurred_until.slice(0, 10)}` : "") +
          (item.flags.length ? ` · ${item.flags.join(", ")}` : "") + ` · position ${item.position}`);
        const attrs = { "data-id": item.id, "data-start": start, tabindex: "-1" };
        const mark = until && until > start
          ? s("rect", { ...attrs, class: [...classes, "interval"].join(" "), x: x(start), y: y - 4,
            width: Math.max(Math.min(x(until), x.range[1] + 6) - x(start), 4), height: 8, rx: 3 }, tip)
          : s("circle", { ...attrs, class: classes.join(" "), cx: x(start), cy: y, r: 4.5 }, tip);
        mark.addEventListener("click", () => showEvent(item.id));
        marks.append(mark);
        if (item.flags.includes("retracted")) {
          marks.append(s("line", { class: "strike", x1: x(start) - 6, x2: x(start) + 6, y1: y + 6, y2: y - 6 }));
        }
      }
    } else {
      const b = data.timeline.buckets;
      const start = ms(b.start);
      const width1 = b.seconds * 1000;
      const most = Math.max(1, ...lanes.map((lane) => Math.max(...b.lanes[lane])));
      lanes.forEach((lane, i) => {
        b.lanes[lane].forEach((n, k) => {
          if (!n) return;
          const t0 = start + k * width1;
          const barH = Math.max(2, Math.sqrt(n / most) * (LANE_H - 6));
          const flagged = b.flagged[lane][k];
          const y = laneY(i) + (LANE_H - barH) / 2;
          marks.append(s("rect", {
            class: `bucket lane-${lane}`, "data-start": t0, x: x(t0), y,
            width: Math.max(x(t0 + width1) - x(t0) - 0.5, 1), height: barH,
          }, title(`${n} ${LANE_TITLES[lane] || lane} events${flagged ? ` (${flagged} disputed, corrected or retracted)` : ""} ` +
            `from ${stamp(t0, width1)} to ${stamp(t0 + width1, width1)}`)));
          if (flagged) {
            marks.append(s("rect", { class: "bucket-flagged", x: x(t0), y: y + barH - Math.max(1.5, barH * flagged / n),
              width: Math.max(x(t0 + width1) - x(t0) - 0.5, 1), height: Math.max(1.5, barH * flagged / n) }));
          }
        });
      });
    }
    svg.append(marks);
    svg.append(s("rect", { class: "axis-band", x: LEFT, y: bottom, width: width - LEFT - RIGHT, height: AXIS_H },
      title("Drag along the axis to zoom into a stretch of time")));
    svg.append(asOfLine(TOP - 4, bottom, "timeline"));
    const frameChild = frame.firstChild;
    if (frameChild) frame.replaceChild(svg, frameChild);
    else frame.append(svg);
    wireTimeline(svg, x, bottom);
  }

  function asOfLine(y0, y1, chart) {
    return s("g", {
      class: "as-of-line", id: `${chart}-as-of`, tabindex: "0",
      role: "slider", "aria-label": "As of (valid time): drag, or use the arrow keys",
    },
    s("line", { class: "as-of-hit", x1: 0, x2: 0, y1: y0, y2: y1 }),
    s("line", { class: "as-of-rule", x1: 0, x2: 0, y1: y0, y2: y1 }),
    s("path", { class: "as-of-handle", d: `M-6 ${y0 - 8}h12v6l-6 6l-6-6z` }),
    s("text", { class: "as-of-label", x: 8, y: y0 - 1 }));
  }

  // Put both clocks' lines where they stand, and mark what the state leaves out: events
  // after as_of on the timeline, events outside the quadrant on the knowledge chart.
  // Cheap, so that a dragged line follows the pointer without a redraw.
  function placeClocks() {
    const asOf = charts.asOf;
    const known = charts.knownAtMs;
    for (const [chart, x] of [["timeline", charts.tx], ["knowledge", charts.kx]]) {
      const line = $(`${chart}-as-of`);
      if (!line || !x) continue;
      const beyond = asOf > x.domain[1];
      const at = x(clamp(asOf, x.domain[0], x.domain[1]));
      const label = line.querySelector("text");
      const flip = at > x.range[1] - 120; // near the right edge the label goes to the left
      label.setAttribute("x", flip ? -10 : 8);
      label.setAttribute("text-anchor", flip ? "end" : "start");
      line.setAttribute("transform", `translate(${at},0)`);
      line.setAttribute("aria-valuetext", isoDay(asOf));
      line.dataset.asOf = isoDay(asOf);
      label.textContent = `as of ${charts.asOfNow ? "now" : isoDay(asOf)}${beyond ? " →" : ""}`;
    }
    for (const mark of document.querySelectorAll("#timeline-chart [data-start]")) {
      mark.classList.toggle("after", Number(mark.dataset.start) > asOf);
    }
    const x = charts.kx;
    const y = charts.ky;
    if (!x || !y) return;
    for (const mark of document.querySelectorAll("#knowledge-chart [data-valid]")) {
      mark.classList.toggle("outside",
        Number(mark.dataset.valid) > asOf || Number(mark.dataset.recorded) > known);
    }
    const [r0, r1] = y.domain;
    const qx = x(clamp(asOf, x.domain[0], x.domain[1]));
    const qy = y(clamp(known, r0, r1));
    const quadrant = $("quadrant");
    quadrant.setAttribute("y", qy);
    quadrant.setAttribute("width", Math.max(qx - x.range[0], 0));
    quadrant.setAttribute("height", Math.max(y.range[0] - qy, 0));
    const knownLine = $("knowledge-known-at");
    knownLine.setAttribute("transform", `translate(0,${qy})`);
    knownLine.setAttribute("aria-valuetext", new Date(known).toISOString());
    const bound = charts.axis === "reported" ? "reported at" : "known at";
    knownLine.querySelector("text").textContent =
      known > r1 ? `${bound} (now) ↑` : known < r0 ? `${bound} ↓` : `${bound} ${stamp(known, r1 - r0)}`;
  }

  // Drag the as_of line (or press on a lane) to move as_of; drag along the axis to zoom.
  function wireTimeline(svg, x, bottom) {
    const point = (ev) => {
      const box = svg.getBoundingClientRect();
      return [ev.clientX - box.left, ev.clientY - box.top];
    };
    svg.addEventListener("pointerdown", (ev) => {
      const [px, py] = point(ev);
      if (px < LEFT - 4 || ev.target.closest(".mark")) return;
      svg.setPointerCapture(ev.pointerId);
      if (py > bottom) {
        charts.dragging = { kind: "zoom", from: px, band: null };
      } else {
        charts.dragging = { kind: "as_of", startedAt: charts.asOf };
        moveAsOf(x, px, false);
      }
      ev.preventDefault();
    });
    svg.addEventListener("pointermove", (ev) => {
      const drag = charts.dragging;
      if (!drag) return;
      const [px] = point(ev);
      if (drag.kind === "as_of") moveAsOf(x, px, false);
      else {
        if (drag.band) drag.band.remove();
        const lo = clamp(Math.min(drag.from, px), x.range[0], x.range[1]);
        const hi = clamp(Math.max(drag.from, px), x.range[0], x.range[1]);
        drag.band = s("rect", { class: "zoom-band", x: lo, y: TOP, width: hi - lo, height: bottom - TOP + AXIS_H });
        svg.append(drag.band);
        drag.to = px;
      }
    });
    const end = (ev) => {
      const drag = charts.dragging;
      charts.dragging = null;
      if (!drag) return;
      const [px] = point(ev);
      if (drag.kind === "as_of") {
        moveAsOf(x, px, true);
      } else if (drag.to !== undefined && Math.abs(drag.to - drag.from) > 8) {
        const lo = x.invert(clamp(Math.min(drag.from, drag.to), x.range[0], x.range[1]));
        const hi = x.invert(clamp(Math.max(drag.from, drag.to), x.range[0], x.range[1]));
        reloadWindow([lo, hi]);
      } else if (drag.band) {
        drag.band.remove();
      }
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", () => { charts.dragging = null; });
    const handle = svg.querySelector(".as-of-line");
    handle.addEventListener("keydown", (ev) => {
      const step = { ArrowLeft: -DAY, ArrowRight: DAY, PageDown: -7 * DAY, PageUp: 7 * DAY }[ev.key];
      if (!step) return;
      ev.preventDefault();
      setAsOf(endOfDay(clamp(charts.asOf, x.domain[0], x.domain[1]) + step), true);
    });
  }

  function moveAsOf(x, px, final) {
    const t = endOfDay(x.invert(clamp(px, x.range[0], x.range[1])));
    if (!final && t === charts.asOf) return;
    setAsOf(t, final);
  }

  // Move the line at once (both charts), and tell the page, which reloads the state.
  function setAsOf(t, final) {
    charts.asOf = t;
    charts.asOfNow = false;
    placeClocks();
    document.dispatchEvent(new CustomEvent("parley:set-as-of", { detail: { asOf: isoDay(t), final } }));
  }

  function showEvent(id) {
    const entry = document.getElementById(`ev-${id}`);
    if (entry) location.hash = `ev-${id}`;
    else window.open(`/events/${encodeURIComponent(id)}`, "_blank", "noopener");
  }

  // --- The knowledge chart -----------------------------------------------------------------

  function drawKnowledge(data) {
    const frame = $("knowledge-frame");
    const width = Math.max(frame.clientWidth || 800, 360);
    const top = 22;
    const height = top + KNOW_H + AXIS_H + 16;
    const kn = data.knowledge;
    const x = scale(...validDomain(data), KNOW_LEFT, width - RIGHT);
    const ax = kn.axis || "recorded"; // the vertical axis: recorded or reported time
    let r0 = ms(kn[`${ax}_from`]);
    let r1 = ms(kn[`${ax}_to`]);
    const rpad = Math.max((r1 - r0) * 0.06, 2000);
    r0 -= rpad;
    r1 += rpad;
    const y = scale(r0, r1, top + KNOW_H, top);
    charts.kx = x;
    charts.ky = y;
    const svg = s("svg", {
      id: "knowledge-chart", class: "chart-svg", width, height, viewBox: `0 0 ${width} ${height}`,
      role: "img", "aria-labelledby": "knowledge-chart-title", "data-mode": kn.mode,
      "data-recorded-start": r0, "data-recorded-end": r1, "data-top": top, "data-bottom": top + KNOW_H,
    }, s("title", { id: "knowledge-chart-title" },
      `Knowledge chart of ${data.negotiation}: ${kn.count} events at valid time and ${ax} time`));

    svg.append(s("rect", { class: "plot", x: KNOW_LEFT, y: top, width: width - KNOW_LEFT - RIGHT, height: KNOW_H }));
    svg.append(s("rect", { class: "quadrant", id: "quadrant", x: KNOW_LEFT, y: top, width: 0, height: 0 },
      title(ax === "reported" ? "What the state folds: valid ≤ as of, reported ≤ reported at" : "What the state folds: valid ≤ as of, recorded ≤ known at")));
    for (const [t, label] of ticks(x.domain[0], x.domain[1], Math.max(3, Math.floor((width - KNOW_LEFT) / 90)))) {
      if (x(t) > x.range[1] - 20) continue;
      svg.append(
        s("line", { class: "grid-line", x1: x(t), x2: x(t), y1: top, y2: top + KNOW_H }),
        s("text", { class: "tick", x: x(t), y: top + KNOW_H + 14, "text-anchor": "middle" }, label));
    }
    const rspan = r1 - r0;
    for (let i = 0; i <= 4; i++) {
      const t = r0 + (rspan * i) / 4;
      svg.append(
        s("line", { class: "grid-line", x1: KNOW_LEFT, x2: width - RIGHT, y1: y(t), y2: y(t) }),
        s("text", { class: "tick", x: KNOW_LEFT - 6, y: y(t) + 4, "text-anchor": "end" },
          rspan < 2 * DAY ? `${new Date(t).toISOString().slice(11, 19)}Z` : isoDay(t)));
    }
    svg.append(
      s("text", { class: "axis-title", x: (KNOW_LEFT + width - RIGHT) / 2, y: top + KNOW_H + 28, "text-anchor": "middle" },
        "valid time: when it happened →"),
      s("text", { class: "axis-title", x: 12, y: top + KNOW_H / 2, transform: `rotate(-90 12 ${top + KNOW_H / 2})`,
        "text-anchor": "middle" }, `${ax === "reported" ? "reported time: when the world was told" : "recorded time"}${rspan < 2 * DAY ? ` (${isoDay(r0)})` : ""} →`));

    const marks = s("g", { class: "marks" });
    const backDated = kn.back_dated_after_seconds;
    if (kn.mode === "points") {
      const links = s("g", { class: "links" });
      for (const p of kn.points) {
        const px = x(ms(p.occurred_at));
        const py = y(ms(p[`${ax}_at`] || p.recorded_at));
        if (p.target) {
          const kind = p.type === "EventRetracted" ? "retraction" : p.type === "EventCorrected" ? "correction" : "dispute";
          links.append(s("line", { class: `link ${kind}`, x1: px, y1: py,
            x2: x(ms(p.target.occurred_at)), y2: y(ms(p.target[`${ax}_at`] || p.target.recorded_at)) },
          title(`${humanType(p.type)} of the event of ${p.target.occurred_at.slice(0, 10)}`)));
        }
        const late = p.reaches_back_seconds > backDated;
        const fact = FACTS.has(p.type);
        const classes = ["dot", fact ? "fact" : "", late ? "back-dated" : "", ...p.flags].filter(Boolean).join(" ");
        const tip = title(`${humanType(p.type)} · happened ${p.occurred_at.slice(0, 10)} · recorded ` +
          `${p.recorded_at.slice(0, 19).replace("T", " ")}Z` +
          (p.reported_at ? ` · reported ${p.reported_at.slice(0, 19).replace("T", " ")}Z` : "") +
          (late ? ` · back-dated: ${Math.round(p.reaches_back_seconds / 86400)} days behind what the log knew` : ""));
        if (late) {
          marks.append(s("line", { class: "reach", x1: px, x2: x(ms(p.occurred_at) + p.reaches_back_seconds * 1000), y1: py, y2: py }));
        }
        const attrs = { "data-id": p.id, class: classes, "data-valid": ms(p.occurred_at), "data-recorded": ms(p[`${ax}_at`] || p.recorded_at) };
        const mark = fact
          ? s("rect", { ...attrs, x: px - 4, y: py - 4, width: 8, height: 8, transform: `rotate(45 ${px} ${py})` }, tip)
          : s("circle", { ...attrs, cx: px, cy: py, r: late ? 6 : 4 }, tip);
        mark.addEventListener("click", () => showEvent(p.id));
        marks.append(mark);
      }
      svg.append(links);
    } else {
      const g = kn.grid;
      const v0 = ms(g.valid_start);
      const vw = g.valid_seconds * 1000;
      const rs = ms(g[`${ax}_start`]);
      const rh = g[`${ax}_seconds`] * 1000;
      const most = Math.max(1, ...g.cells.map((c) => c[2]));
      for (const [column, line, n, late] of g.cells) {
        const t0 = v0 + column * vw;
        const k0 = rs + line * rh;
        marks.append(s("rect", {
          class: `cell${late * 2 >= n ? " back-dated" : ""}`, "data-valid": t0 + vw, "data-recorded": k0 + rh,
          x: x(t0), y: y(k0 + rh), width: Math.max(x(t0 + vw) - x(t0) - 0.5, 1), height: Math.max(y(k0) - y(k0 + rh) - 0.5, 1),
          "fill-opacity": (0.2 + 0.8 * Math.sqrt(n / most)).toFixed(2),
        }, title(`${n} events${late ? `, ${late} back-dated` : ""}: happened ${stamp(t0, vw)} to ${stamp(t0 + vw, vw)}, ` +
          `${ax} ${stamp(k0, rh)} to ${stamp(k0 + rh, rh)}`)));
      }
    }
    svg.append(marks);
    // The known_at line: drag it up and down to move recorded time.
    svg.append(s("g", {
      class: "known-at-line", id: "knowledge-known-at", tabindex: "0",
      role: "slider", "aria-label": ax === "reported" ? "Reported at (reported time): drag" : "Known at (recorded time): drag",
    },
    s("line", { class: "as-of-hit", x1: KNOW_LEFT, x2: width - RIGHT, y1: 0, y2: 0 }),
    s("line", { class: "known-at-rule", x1: KNOW_LEFT, x2: width - RIGHT, y1: 0, y2: 0 }),
    s("text", { class: "as-of-label", x: KNOW_LEFT + 6, y: -5 })));
    svg.append(asOfLine(top - 4, top + KNOW_H, "knowledge"));

    const frameChild = frame.firstChild;
    if (frameChild) frame.replaceChild(svg, frameChild);
    else frame.append(svg);
    wireKnowledge(svg, x, y);
  }

  function wireKnowledge(svg, x, y) {
    const point = (ev) => {
      const box = svg.getBoundingClientRect();
      return [ev.clientX - box.left, ev.clientY - box.top];
    };
    const grab = (selector, kind) => {
      svg.querySelector(selector).addEventListener("pointerdown", (ev) => {
        svg.setPointerCapture(ev.pointerId);
        charts.dragging = { kind };
        ev.preventDefault();
        ev.stopPropagation();
      });
    };
    grab(".as-of-line", "as_of");
    grab(".known-at-line", "known_at");
    const move = (ev, final) => {
      const drag = charts.dragging;
      if (!drag) return;
      const [px, py] = point(ev);
      if (drag.kind === "as_of") moveAsOf(x, px, final);
      else {
        const t = Math.round(y.invert(clamp(py, y.range[1], y.range[0])) / 1000) * 1000;
        charts.knownAtMs = t;
        placeClocks();
        const value = new Date(t).toISOString().replace(".000Z", "Z");
        if (charts.axis === "reported") {
          document.dispatchEvent(new CustomEvent("parley:set-reported-at", { detail: { reportedAt: value, final } }));
        } else {
          document.dispatchEvent(new CustomEvent("parley:set-known-at", { detail: { knownAt: value, final } }));
        }
      }
    };
    svg.addEventListener("pointermove", (ev) => move(ev, false));
    svg.addEventListener("pointerup", (ev) => { move(ev, true); charts.dragging = null; });
    svg.addEventListener("pointercancel", () => { charts.dragging = null; });
  }

  // --- Wiring --------------------------------------------------------------------------------

  document.addEventListener("parley:view", (ev) => {
    if (charts.dragging) { // the line leads while it is held; the data follows
      charts.slug = ev.detail.slug;
      return;
    }
    if (ev.detail.slug !== charts.slug) charts.window = null;
    onView(ev.detail);
  });
  document.addEventListener("parley:received", () => { charts.received += 1; });
  // A window of valid time asked for from outside: [from, to] as ISO instants, or null
  // for the whole negotiation.
  document.addEventListener("parley:zoom", (ev) =>
    reloadWindow(ev.detail ? [ms(ev.detail[0]), ms(ev.detail[1])] : null));
})();
