// Charts as SVG, drawn from data with no library: bars (per agent), a line (calls per day), stacked bars (per
// turn latency) and a recording's waveform with turn markers. Colours come from CSS classes (`.c1`…), so
// light and dark themes apply; each chart has a title and a text alternative.

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function frame(width, height, label) {
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, class: "chart", preserveAspectRatio: "xMidYMid meet" });
  svg.append(s("title", {}, label));
  return svg;
}

/** An axis label: whole numbers as they are, fractions to one decimal. */
const tick = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

function niceMax(value) {
  if (!(value > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= value) return m * p;
  return 10 * p;
}

/** Horizontal bars: `[{label, value}]`. */
export function barChart(data, { label = "Chart", unit = "" } = {}) {
  const row = 28;
  const width = 560;
  const left = 150;
  const height = Math.max(1, data.length) * row + 24;
  const svg = frame(width, height, label);
  const max = niceMax(Math.max(0, ...data.map((d) => d.value)));
  data.forEach((d, i) => {
    const y = 8 + i * row;
    const w = ((width - left - 60) * d.value) / max;
    svg.append(
      s("text", { x: left - 8, y: y + 15, "text-anchor": "end", class: "axis-label" }, d.label.length > 20 ? d.label.slice(0, 19) + "…" : d.label),
      s("rect", { x: left, y, width: Math.max(w, 1), height: row - 8, rx: 3, class: "c1" }, s("title", {}, `${d.label}: ${d.value}${unit}`)),
      s("text", { x: left + w + 6, y: y + 15, class: "value-label" }, `${d.value}${unit}`));
  });
  return svg;
}

/** A line over days: `[{x: label, y}]`, drawn with points and an area. */
export function lineChart(points, { label = "Chart" } = {}) {
  const width = 560;
  const height = 200;
  const pad = { l: 40, r: 12, t: 12, b: 28 };
  const svg = frame(width, height, label);
  const max = niceMax(Math.max(0, ...points.map((p) => p.y)));
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  const x = (i) => pad.l + (points.length < 2 ? iw / 2 : (iw * i) / (points.length - 1));
  const y = (v) => pad.t + ih - (ih * v) / max;
  for (const t of [0, 0.5, 1]) {
    svg.append(s("line", { x1: pad.l, x2: width - pad.r, y1: y(max * t), y2: y(max * t), class: "grid" }),
      s("text", { x: pad.l - 6, y: y(max * t) + 4, "text-anchor": "end", class: "axis-label" }, tick(max * t)));
  }
  if (points.length) {
    const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ");
    svg.append(s("path", { d: `${path} L${x(points.length - 1)},${y(0)} L${x(0)},${y(0)} Z`, class: "area" }));
    svg.append(s("path", { d: path, class: "line" }));
    const step = Math.max(1, Math.ceil(points.length / 8));
    points.forEach((p, i) => {
      svg.append(s("circle", { cx: x(i), cy: y(p.y), r: 3, class: "dot" }, s("title", {}, `${p.x}: ${p.y}`)));
      if (i % step === 0) svg.append(s("text", { x: x(i), y: height - 8, "text-anchor": "middle", class: "axis-label" }, p.x));
    });
  }
  return svg;
}

/** Stacked bars per turn: `rows = [{label, parts: [ms…], total}]`, `names` of the parts. */
export function stackedBars(rows, names, { label = "Chart", unit = " ms" } = {}) {
  const width = 560;
  const height = 220;
  const pad = { l: 48, r: 12, t: 28, b: 28 };
  const svg = frame(width, height, label);
  const max = niceMax(Math.max(0, ...rows.map((r) => Math.max(r.total || 0, r.parts.reduce((a, b) => a + (b || 0), 0)))));
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  const y = (v) => pad.t + ih - (ih * v) / max;
  for (const t of [0, 0.5, 1]) {
    svg.append(s("line", { x1: pad.l, x2: width - pad.r, y1: y(max * t), y2: y(max * t), class: "grid" }),
      s("text", { x: pad.l - 6, y: y(max * t) + 4, "text-anchor": "end", class: "axis-label" }, tick(max * t)));
  }
  names.forEach((name, i) => {
    svg.append(s("rect", { x: pad.l + i * 130, y: 6, width: 10, height: 10, class: `c${i + 1}` }),
      s("text", { x: pad.l + i * 130 + 14, y: 15, class: "axis-label" }, name));
  });
  const band = iw / Math.max(rows.length, 1);
  const bar = Math.min(40, band * 0.6);
  rows.forEach((r, i) => {
    const cx = pad.l + band * i + band / 2;
    let base = 0;
    r.parts.forEach((v, k) => {
      if (!v) return;
      svg.append(s("rect", { x: cx - bar / 2, y: y(base + v), width: bar, height: Math.max(y(base) - y(base + v), 0.5), class: `c${k + 1}` },
        s("title", {}, `${r.label}: ${names[k]} ${Math.round(v)}${unit}`)));
      base += v;
    });
    if (r.total) {
      svg.append(s("line", { x1: cx - bar / 2 - 4, x2: cx + bar / 2 + 4, y1: y(r.total), y2: y(r.total), class: "total-mark" },
        s("title", {}, `${r.label}: end to end ${Math.round(r.total)}${unit}`)));
    }
    svg.append(s("text", { x: cx, y: height - 8, "text-anchor": "middle", class: "axis-label" }, r.label));
  });
  return svg;
}

/** Min/max peaks of each channel in `buckets` columns. */
export function peaks(audioBuffer, buckets = 600) {
  const channels = [];
  for (let c = 0; c < Math.min(audioBuffer.numberOfChannels, 2); c++) {
    const data = audioBuffer.getChannelData(c);
    const step = Math.max(1, Math.floor(data.length / buckets));
    const out = [];
    for (let b = 0; b < buckets; b++) {
      let lo = 0;
      let hi = 0;
      const end = Math.min(data.length, (b + 1) * step);
      for (let i = b * step; i < end; i++) {
        const v = data[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      out.push([lo, hi]);
    }
    channels.push(out);
  }
  return channels;
}

/**
 * A recording's waveform: one lane per channel (caller, agent), turn markers at `markers = [{t, label}]`
 * seconds, a play-head; clicking seeks `audio`. Returns the SVG.
 */
export function waveform(channels, duration, markers, audio, { names = ["Caller", "Agent"] } = {}) {
  const width = 600;
  const lane = 60;
  const height = lane * channels.length + 20;
  const svg = frame(width, height, `Recording waveform, ${Math.round(duration)} seconds, ${markers.length} turns`);
  svg.classList.add("waveform");
  channels.forEach((peaksOfChannel, c) => {
    const mid = lane * c + lane / 2;
    const cols = peaksOfChannel.length;
    const d = peaksOfChannel.map(([lo, hi], i) => {
      const x = ((i + 0.5) * width) / cols;
      return `M${x.toFixed(1)},${(mid - hi * (lane / 2 - 4)).toFixed(1)}V${(mid - lo * (lane / 2 - 4) + 0.5).toFixed(1)}`;
    }).join("");
    svg.append(s("path", { d, class: `wave c${c + 1}-stroke` }),
      s("text", { x: 4, y: lane * c + 12, class: "axis-label" }, names[c] || `Channel ${c + 1}`));
  });
  for (const m of markers) {
    if (!(m.t >= 0) || !duration) continue;
    const x = (m.t / duration) * width;
    svg.append(s("line", { x1: x, x2: x, y1: 0, y2: height - 16, class: "marker" }, s("title", {}, m.label)),
      s("text", { x: x + 2, y: height - 4, class: "axis-label" }, m.short || ""));
  }
  const head = s("line", { x1: 0, x2: 0, y1: 0, y2: height - 16, class: "playhead" });
  svg.append(head);
  if (audio) {
    svg.addEventListener("click", (e) => {
      const box = svg.getBoundingClientRect();
      if (duration) audio.currentTime = ((e.clientX - box.left) / box.width) * duration;
    });
    audio.addEventListener("timeupdate", () => {
      const x = duration ? (audio.currentTime / duration) * width : 0;
      head.setAttribute("x1", x);
      head.setAttribute("x2", x);
    });
  }
  return svg;
}
