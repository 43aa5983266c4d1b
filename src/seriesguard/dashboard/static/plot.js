// The series plot: inline SVG of the training data, the threshold band, the recent points
// with anomalies marked. Hover shows the nearest point; the wheel zooms the time axis around
// the cursor; a drag selects a time range; reset() (the plot-reset button) shows it all.
import { h, replace, s } from './dom.js';
import { DASH, fmtNum, fmtTime } from './format.js';

const HEIGHT = 340;
const MARGIN = { top: 12, right: 16, bottom: 30, left: 64 };
const MAX_POINTS = 4000; // more than this in view: min/max per pixel column
const MAX_MARKERS = 3000;
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
  43200, 86400, 172800, 604800, 1209600, 2592000, 7776000, 15552000, 31536000];
let clipIds = 0;

// One line of points: timestamps ascending, with per-point extras.
function line(ts, vs, extra = {}) {
  return { t: ts || [], v: vs || [], ...extra };
}

function prepare(data) {
  const training = data.training
    ? line(data.training.timestamps, data.training.values, { flagged: data.training.flagged || [] })
    : null;
  const recent = data.recent && (data.recent.timestamps || []).length
    ? line(data.recent.timestamps, data.recent.values, {
      anomaly: data.recent.anomaly || [], scores: data.recent.scores || [],
      lower: data.recent.lower, upper: data.recent.upper,
    })
    : null;
  const band = data.band && (data.band.timestamps || []).length ? data.band : null;
  const points = [];
  if (training) {
    const flagged = new Set(training.flagged);
    training.t.forEach((t, i) => points.push({ t, v: training.v[i], score: null, kind: 'training', flag: flagged.has(i) }));
  }
  if (recent) {
    recent.t.forEach((t, i) => points.push({ t, v: recent.v[i], score: recent.scores[i], kind: 'recent', flag: Boolean(recent.anomaly[i]) }));
  }
  points.sort((a, b) => a.t - b.t);
  const ends = [points[0]?.t, points.at(-1)?.t, band?.timestamps[0], band?.timestamps.at(-1)]
    .filter((t) => typeof t === 'number');
  const t0 = ends.length ? Math.min(...ends) : 0;
  const t1 = ends.length ? Math.max(...ends) : 1;
  const times = points.map((p) => p.t);
  return { training, recent, band, points, times, full: { t0, t1: t1 > t0 ? t1 : t0 + 1 } };
}

function scale(d0, d1, r0, r1) {
  const k = (r1 - r0) / (d1 - d0 || 1);
  const f = (v) => r0 + (v - d0) * k;
  f.invert = (p) => d0 + (p - r0) / k;
  return f;
}

// First index with ts[i] >= value.
function bisect(ts, value) {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid] < value) lo = mid + 1; else hi = mid;
  }
  return lo;
}

// Indices of ts inside [t0, t1], one more each side so lines run to the edges.
function visible(ts, t0, t1) {
  return [Math.max(0, bisect(ts, t0) - 1), Math.min(ts.length, bisect(ts, t1) + 1)];
}

// Min and max of each of `buckets` slices of [lo, hi), in time order: spikes survive.
function reduce(vs, lo, hi, buckets) {
  if (hi - lo <= buckets * 2) return Array.from({ length: hi - lo }, (_, k) => lo + k);
  const out = [];
  const size = (hi - lo) / buckets;
  for (let b = 0; b < buckets; b += 1) {
    const start = lo + Math.floor(b * size);
    const end = Math.min(hi, lo + Math.floor((b + 1) * size));
    let min = start;
    let max = start;
    for (let i = start; i < end; i += 1) {
      if (vs[i] < vs[min]) min = i;
      if (vs[i] > vs[max]) max = i;
    }
    out.push(Math.min(min, max));
    if (max !== min) out.push(Math.max(min, max));
  }
  return out;
}

function path(indices, ts, vs, x, y) {
  let d = '';
  let pen = 'M';
  for (const i of indices) {
    const v = vs[i];
    if (v === null || v === undefined || !isFinite(v)) { pen = 'M'; continue; }
    d += `${pen}${x(ts[i]).toFixed(1)},${y(v).toFixed(1)}`;
    pen = 'L';
  }
  return d;
}

function area(indices, ts, lower, upper, x, y) {
  const keep = indices.filter((i) => isFinite(lower[i]) && isFinite(upper[i]) && lower[i] !== null);
  if (keep.length < 2) return '';
  const top = keep.map((i) => `${x(ts[i]).toFixed(1)},${y(upper[i]).toFixed(1)}`);
  const bottom = keep.reverse().map((i) => `${x(ts[i]).toFixed(1)},${y(lower[i]).toFixed(1)}`);
  return `M${top.join('L')}L${bottom.join('L')}Z`;
}

function niceStep(span, count) {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
}

function timeLabel(t, step, span) {
  const iso = new Date(t * 1000).toISOString();
  if (step >= 86400) return span > 300 * 86400 ? iso.slice(0, 10) : iso.slice(5, 10);
  if (step >= 60) return span > 86400 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
  return iso.slice(11, 19);
}

export function createPlot(data) {
  const prepared = prepare(data);
  const clipId = `plot-clip-${(clipIds += 1)}`;
  let view = { ...prepared.full };
  let width = 960;
  let x = null;
  let drag = null;
  const svg = s('svg', { class: 'plot-svg', role: 'img', height: String(HEIGHT), 'aria-label': `Plot of ${data.series_id} ${data.version || ''}: training data, threshold band and recent points` });
  const tooltip = h('div', { testid: 'plot-tooltip', class: 'plot-tooltip', hidden: true, role: 'status' });
  const element = h('div', { testid: 'series-plot', class: 'plot' }, svg, tooltip);
  const layer = { hover: null, marker: null, selection: null };

  function draw() {
    width = Math.max(360, Math.round(element.clientWidth || 960));
    svg.setAttribute('width', String(width));
    svg.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
    x = scale(view.t0, view.t1, MARGIN.left, width - MARGIN.right);
    const { training, recent, band } = prepared;
    const parts = [];
    const ranges = {};
    let lo = Infinity;
    let hi = -Infinity;
    const grow = (vs, [a, b]) => {
      for (let i = a; i < b; i += 1) {
        const v = vs[i];
        if (v !== null && v !== undefined && isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
      }
    };
    if (training) { ranges.training = visible(training.t, view.t0, view.t1); grow(training.v, ranges.training); }
    if (recent) {
      ranges.recent = visible(recent.t, view.t0, view.t1);
      grow(recent.v, ranges.recent);
      if (recent.lower && recent.upper) { grow(recent.lower, ranges.recent); grow(recent.upper, ranges.recent); }
    }
    if (band) { ranges.band = visible(band.timestamps, view.t0, view.t1); grow(band.lower, ranges.band); grow(band.upper, ranges.band); }
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
    const pad = (hi - lo) * 0.05;
    const y = scale(lo - pad, hi + pad, HEIGHT - MARGIN.bottom, MARGIN.top);
    const inView = Object.entries(ranges).reduce((n, [, [a, b]]) => n + (b - a), 0);
    const buckets = inView > MAX_POINTS ? Math.max(100, Math.floor(width - MARGIN.left - MARGIN.right)) : Infinity;
    const pick = (vs, [a, b]) => (buckets === Infinity ? Array.from({ length: b - a }, (_, k) => a + k) : reduce(vs, a, b, buckets));

    parts.push(s('defs', {}, s('clipPath', { id: clipId }, s('rect', {
      x: MARGIN.left, y: MARGIN.top, width: width - MARGIN.left - MARGIN.right, height: HEIGHT - MARGIN.top - MARGIN.bottom,
    }))));
    parts.push(axes(y, lo - pad, hi + pad));
    const plotArea = s('g', { 'clip-path': `url(#${clipId})` });
    if (band) {
      const idx = pick(band.upper, ranges.band);
      plotArea.append(s('path', { class: 'band', d: area(idx, band.timestamps, band.lower, band.upper, x, y) }));
      if (band.center) plotArea.append(s('path', { class: 'center', d: path(idx, band.timestamps, band.center, x, y) }));
    }
    if (recent && recent.lower && recent.upper) {
      const idx = pick(recent.v, ranges.recent);
      plotArea.append(s('path', { class: 'band band-recent', d: area(idx, recent.t, recent.lower, recent.upper, x, y) }));
    }
    if (training && recent && training.t.length) {
      const split = x(training.t.at(-1));
      if (split > MARGIN.left && split < width - MARGIN.right) {
        plotArea.append(s('line', { class: 'split', x1: split, x2: split, y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom }));
      }
    }
    if (training) plotArea.append(s('path', { class: 'training', d: path(pick(training.v, ranges.training), training.t, training.v, x, y) }));
    if (recent) plotArea.append(s('path', { class: 'recent', d: path(pick(recent.v, ranges.recent), recent.t, recent.v, x, y) }));
    let markers = 0;
    const marker = (t, v, cls, title) => {
      if (markers >= MAX_MARKERS || t < view.t0 || t > view.t1 || !isFinite(v)) return;
      markers += 1;
      plotArea.append(s('circle', { class: cls, cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: '3.5' }, s('title', {}, title)));
    };
    if (training) for (const i of training.flagged) marker(training.t[i], training.v[i], 'flagged', `flagged in training: ${fmtNum(training.v[i])}`);
    if (recent) recent.anomaly.forEach((a, i) => a && marker(recent.t[i], recent.v[i], 'anomaly', `anomaly: ${fmtNum(recent.v[i])}`));
    layer.hover = s('line', { class: 'crosshair', y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom, visibility: 'hidden' });
    layer.marker = s('circle', { class: 'hover-point', r: '5', visibility: 'hidden' });
    layer.selection = s('rect', { class: 'selection', y: MARGIN.top, height: HEIGHT - MARGIN.top - MARGIN.bottom, width: 0, visibility: 'hidden' });
    plotArea.append(layer.hover, layer.marker, layer.selection);
    parts.push(plotArea);
    parts.push(s('rect', { class: 'overlay', x: MARGIN.left, y: MARGIN.top, width: width - MARGIN.left - MARGIN.right, height: HEIGHT - MARGIN.top - MARGIN.bottom }));
    replace(svg, ...parts);
    layer.y = y;
  }

  function axes(y, y0, y1) {
    const g = s('g', { class: 'axes' });
    const span = view.t1 - view.t0;
    const count = Math.max(2, Math.floor((width - MARGIN.left - MARGIN.right) / 110));
    const step = TIME_STEPS.find((candidate) => span / candidate <= count) || TIME_STEPS.at(-1);
    for (let t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      const px = x(t);
      g.append(s('line', { class: 'grid', x1: px, x2: px, y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom }),
        s('text', { class: 'tick', x: px, y: HEIGHT - MARGIN.bottom + 16, 'text-anchor': 'middle' }, timeLabel(t, step, span)));
    }
    const vstep = niceStep(y1 - y0, 5);
    for (let v = Math.ceil(y0 / vstep) * vstep; v <= y1; v += vstep) {
      const py = y(v);
      g.append(s('line', { class: 'grid', x1: MARGIN.left, x2: width - MARGIN.right, y1: py, y2: py }),
        s('text', { class: 'tick', x: MARGIN.left - 6, y: py + 4, 'text-anchor': 'end' }, fmtNum(Math.abs(v) < vstep / 1e6 ? 0 : v)));
    }
    g.append(s('line', { class: 'axis', x1: MARGIN.left, x2: width - MARGIN.right, y1: HEIGHT - MARGIN.bottom, y2: HEIGHT - MARGIN.bottom }),
      s('line', { class: 'axis', x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom }));
    return g;
  }

  function pointerX(event) {
    const rect = svg.getBoundingClientRect();
    return (event.clientX - rect.left) * (width / (rect.width || width));
  }

  function nearest(px) {
    const { points, times } = prepared;
    if (!points.length) return null;
    const t = x.invert(px);
    const i = bisect(times, t);
    const candidates = [points[i - 1], points[i]].filter(Boolean);
    const best = candidates.sort((a, b) => Math.abs(a.t - t) - Math.abs(b.t - t))[0];
    return best && best.t >= view.t0 && best.t <= view.t1 ? best : null;
  }

  function hover(px) {
    const point = nearest(px);
    if (!point) { hideHover(); return; }
    const cx = x(point.t);
    const cy = layer.y(point.v);
    layer.hover.setAttribute('x1', cx); layer.hover.setAttribute('x2', cx); layer.hover.setAttribute('visibility', 'visible');
    layer.marker.setAttribute('cx', cx); layer.marker.setAttribute('cy', cy); layer.marker.setAttribute('visibility', 'visible');
    const label = point.kind === 'recent' ? (point.flag ? 'recent · anomaly' : 'recent') : (point.flag ? 'training · flagged' : 'training');
    replace(tooltip,
      h('div', { class: 'tip-time' }, `${fmtTime(point.t)} UTC`),
      h('div', {}, `value ${fmtNum(point.v, 6)}`),
      h('div', {}, `score ${point.score === null || point.score === undefined ? DASH : fmtNum(point.score)}`),
      h('div', { class: point.flag ? 'tip-flag' : 'muted' }, label));
    tooltip.hidden = false;
    const rect = svg.getBoundingClientRect();
    const scaleX = (rect.width || width) / width;
    const left = cx * scaleX;
    tooltip.classList.toggle('flip', left > (rect.width || width) * 0.65);
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${Math.max(0, cy - 10)}px`;
  }

  function hideHover() {
    tooltip.hidden = true;
    layer.hover?.setAttribute('visibility', 'hidden');
    layer.marker?.setAttribute('visibility', 'hidden');
  }

  function zoomTo(t0, t1) {
    const full = prepared.full;
    const minSpan = Math.max(1, (full.t1 - full.t0) / 1e5);
    let a = Math.max(full.t0, Math.min(t0, t1));
    let b = Math.min(full.t1, Math.max(t0, t1));
    if (b - a < minSpan) { const mid = (a + b) / 2; a = mid - minSpan / 2; b = mid + minSpan / 2; }
    view = { t0: a, t1: b };
    draw();
  }

  svg.addEventListener('wheel', (event) => {
    event.preventDefault();
    const px = pointerX(event);
    const t = x.invert(Math.min(Math.max(px, MARGIN.left), width - MARGIN.right));
    const factor = event.deltaY > 0 ? 1.25 : 0.8;
    zoomTo(t - (t - view.t0) * factor, t + (view.t1 - t) * factor);
    hover(px);
  }, { passive: false });
  svg.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    drag = { start: pointerX(event) };
    svg.setPointerCapture?.(event.pointerId);
  });
  svg.addEventListener('pointermove', (event) => {
    const px = pointerX(event);
    if (drag) {
      const a = Math.max(MARGIN.left, Math.min(drag.start, px));
      const b = Math.min(width - MARGIN.right, Math.max(drag.start, px));
      layer.selection.setAttribute('x', a);
      layer.selection.setAttribute('width', Math.max(0, b - a));
      layer.selection.setAttribute('visibility', 'visible');
    }
    hover(px);
  });
  svg.addEventListener('pointerup', (event) => {
    if (!drag) return;
    const px = pointerX(event);
    const start = drag.start;
    drag = null;
    if (Math.abs(px - start) > 4) zoomTo(x.invert(start), x.invert(px));
    else layer.selection.setAttribute('visibility', 'hidden');
  });
  svg.addEventListener('pointerleave', () => { if (!drag) hideHover(); });
  svg.addEventListener('dblclick', () => reset());

  function reset() {
    view = { ...prepared.full };
    draw();
  }

  const observer = typeof ResizeObserver === 'function' ? new ResizeObserver(() => {
    if (Math.abs(Math.round(element.clientWidth) - width) > 2) draw();
  }) : null;
  observer?.observe(element);
  return {
    element,
    reset,
    draw,
    zoomed: () => view.t0 !== prepared.full.t0 || view.t1 !== prepared.full.t1,
    empty: prepared.points.length === 0,
    destroy: () => observer?.disconnect(),
  };
}

// The legend, in words: the plot reads without colour.
export function legend(data) {
  const item = (cls, text) => h('span', { class: 'legend-item' }, h('span', { class: ['swatch', cls] }), text);
  return h('div', { class: 'legend' },
    item('training', data.training ? `training (${fmtNum(data.training.shown, 6)} of ${fmtNum(data.training.points, 9)} points)` : 'training (not kept)'),
    data.band ? item('band', `threshold band${data.threshold === null || data.threshold === undefined ? '' : ` (threshold ${fmtNum(data.threshold)})`}`) : null,
    item('recent', `recent (${fmtNum((data.recent?.timestamps || []).length, 6)} points)`),
    item('anomaly', 'anomaly (recent)'),
    item('flagged', 'flagged in training'));
}
