// OrleansScheduler dashboard: the pictures (issue 10, point 7), drawn as inline SVG built node by
// node (createElementNS + setAttribute + textContent): no library, no markup from data, nothing the
// page's Content-Security-Policy refuses (colours come from dashboard.css by class and data-*).
// dashboard.js fetches the data and calls window.SchedulerCharts.
'use strict';

window.SchedulerCharts = (() => {
  // The SVG namespace, read from the page's own <svg> placeholders (no URL written here).
  let ns = null;
  const svgNs = () => ns || (ns = document.querySelector('svg').namespaceURI);

  /** s('rect', {x: 1}, child...): attributes set one by one; strings become text nodes. */
  function s(tag, attrs, ...children) {
    const node = document.createElementNS(svgNs(), tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'onclick') {
        node.addEventListener('click', value);
        node.addEventListener('keydown', (e) => { if (e.key === 'Enter') value(e); }); // focusable nodes open with Enter too
      }
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const title = (text) => s('title', null, text);

  // About the size the panels show them at, so 11px text stays about 11px.
  const W = 420;
  const H = 160;
  const PAD = { left: 38, right: 6, top: 10, bottom: 20 };
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;

  /** A round number at least max, for the top of an axis. */
  function niceMax(max) {
    if (!(max > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(max));
    for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= max) return m * p;
    return 10 * p;
  }

  function formatNumber(n) {
    if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
    if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
    return Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 1);
  }

  const clock = (iso) => new Date(iso).toLocaleTimeString([], { hourCycle: 'h23' });

  /** The frame: horizontal grid lines with their values, and time labels under the plot. */
  function frame(svg, top, leftLabel, rightLabel) {
    for (const f of [0, 0.5, 1]) {
      const y = PAD.top + plotH - f * plotH;
      svg.append(s('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y, y2: y }));
      svg.append(s('text', { class: 'axis', x: PAD.left - 4, y: y + 4, 'text-anchor': 'end' }, formatNumber(f * top)));
    }
    svg.append(s('text', { class: 'axis', x: PAD.left, y: H - 6 }, leftLabel));
    svg.append(s('text', { class: 'axis', x: W - PAD.right, y: H - 6, 'text-anchor': 'end' }, rightLabel));
  }

  function reset(svg, label) {
    svg.replaceChildren();
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  }

  /** Completed and failed tasks per second, one stacked bar per interval of history.throughput. */
  function throughput(svg, history) {
    reset(svg, 'Completed and failed tasks per second');
    const points = history.throughput;
    const step = history.step_seconds;
    const rate = (n) => n / step;
    const top = niceMax(Math.max(0, ...points.map((p) => rate(p.completed + p.failed))));
    frame(svg, top, points.length ? clock(points[0].at) : '', 'now');
    const slot = plotW / Math.max(1, points.length);
    const bars = s('g', { class: 'bars' });
    points.forEach((p, i) => {
      const x = PAD.left + i * slot;
      let base = PAD.top + plotH;
      for (const series of ['completed', 'failed']) {
        const value = rate(p[series]);
        if (p[series] <= 0) continue;
        const h = Math.max(1, (value / top) * plotH);
        base -= h;
        bars.append(s('rect', {
          class: 'bar', 'data-series': series, 'data-value': value, 'data-at': p.at,
          x: x + 0.5, y: base, width: Math.max(1, slot - 1), height: h,
        }, title(`${clock(p.at)}: ${p[series]} ${series} in ${step} s (${formatNumber(value)}/s)`)));
      }
    });
    svg.append(bars);
    svg.dataset.completed = String(history.completed);
    svg.dataset.failed = String(history.failed);
  }

  const DEPTH_SERIES = ['waiting', 'scheduled', 'queued', 'running'];

  /** Tasks waiting, scheduled, queued and running over the window: one line per status. */
  function queueDepth(svg, history) {
    reset(svg, 'Queue depth by status');
    const from = Date.parse(history.from);
    const to = Date.parse(history.to);
    const samples = history.queue_depth;
    const top = niceMax(Math.max(0, ...samples.flatMap((p) => DEPTH_SERIES.map((k) => p[k]))));
    frame(svg, top, clock(history.from), 'now');
    const x = (iso) => PAD.left + (Math.min(Math.max(Date.parse(iso), from), to) - from) / (to - from) * plotW;
    const y = (v) => PAD.top + plotH - (v / top) * plotH;
    for (const series of DEPTH_SERIES) {
      if (!samples.length) continue;
      // A step line: a sample holds until the next one.
      const coords = [];
      samples.forEach((p, i) => {
        if (i > 0) coords.push(`${x(p.at).toFixed(1)},${y(samples[i - 1][series]).toFixed(1)}`);
        coords.push(`${x(p.at).toFixed(1)},${y(p[series]).toFixed(1)}`);
      });
      const last = samples[samples.length - 1];
      svg.append(s('polyline', {
        class: 'line', 'data-series': series, 'data-last': last[series], 'data-max': Math.max(...samples.map((p) => p[series])),
        points: coords.join(' '),
      }, title(`${series}: ${last[series]} at ${clock(last.at)}`)));
    }
    svg.dataset.samples = String(samples.length);
  }

  const shortMs = (v) => (v >= 3600000 ? `${v / 3600000}h` : v >= 60000 ? `${v / 60000}m` : v >= 1000 ? `${v / 1000}s` : `${v}ms`);

  function bucketLabel(b) {
    const ms = (v) => (v >= 3600000 ? `${v / 3600000} h` : v >= 60000 ? `${v / 60000} min` : v >= 1000 ? `${v / 1000} s` : `${v} ms`);
    if (b.to_ms === null || b.to_ms === undefined) return `≥ ${ms(b.from_ms)}`;
    return b.from_ms === 0 ? `< ${ms(b.to_ms)}` : `${ms(b.from_ms)}–${ms(b.to_ms)}`;
  }

  /** The run-time histogram: one bar per bucket, labelled with its range. */
  function runTimes(svg, histogram) {
    reset(svg, 'Run-time histogram of the latest completions');
    const buckets = histogram.buckets;
    const top = niceMax(Math.max(0, ...buckets.map((b) => b.count)));
    frame(svg, top, '', '');
    const slot = plotW / Math.max(1, buckets.length);
    const every = Math.max(1, Math.ceil(40 / slot)); // a label every few bars, 40 px apart at least
    buckets.forEach((b, i) => {
      const h = b.count > 0 ? Math.max(1, (b.count / top) * plotH) : 0;
      const x = PAD.left + i * slot;
      svg.append(s('rect', {
        class: 'bar', 'data-series': 'run-time', 'data-count': b.count, 'data-from-ms': b.from_ms, 'data-to-ms': b.to_ms ?? '',
        x: x + 2, y: PAD.top + plotH - h, width: Math.max(1, slot - 4), height: h,
      }, title(`${bucketLabel(b)}: ${b.count} of ${histogram.sample}`)));
      if (i % every === 0) svg.append(s('text', { class: 'axis', x, y: H - 6, 'text-anchor': 'middle' }, shortMs(b.from_ms)));
    });
    svg.dataset.sample = String(histogram.sample);
  }

  const NODE_W = 130;
  const NODE_H = 30;
  const COL_W = 170;
  const ROW_H = 42;

  /** A task's neighbourhood, one column per level (upstream left, downstream right), nodes coloured
   *  by status, the critical path's nodes and edges marked. onSelect(id) opens a node's task. */
  function graph(g, onSelect) {
    const svg = s('svg', { class: 'graph', 'data-testid': 'graph-svg', 'data-truncated': g.truncated ? 'true' : 'false' });
    const levels = [...new Set(g.nodes.map((n) => n.level))].sort((a, b) => a - b);
    const columns = new Map(levels.map((l) => [l, g.nodes.filter((n) => n.level === l)]));
    const rows = Math.max(...[...columns.values()].map((c) => c.length));
    const width = levels.length * COL_W - (COL_W - NODE_W) + 20;
    const height = rows * ROW_H + 10;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `Dependencies and dependents of ${g.id}`);
    const at = new Map();
    levels.forEach((level, c) => {
      const column = columns.get(level);
      const offset = ((rows - column.length) * ROW_H) / 2;
      column.forEach((n, r) => at.set(n.id, { x: 10 + c * COL_W, y: 5 + offset + r * ROW_H }));
    });

    const edges = s('g', { class: 'edges' });
    for (const e of g.edges) {
      const a = at.get(e.from);
      const b = at.get(e.to);
      if (!a || !b) continue;
      const x1 = a.x + NODE_W;
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x;
      const y2 = b.y + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      edges.append(s('path', {
        class: 'edge', 'data-from': e.from, 'data-to': e.to, 'data-critical': e.critical ? 'true' : 'false',
        d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
      }, title(`${e.from} → ${e.to}`)));
    }
    svg.append(edges);

    const nodes = s('g', { class: 'nodes' });
    for (const n of g.nodes) {
      const p = at.get(n.id);
      const label = n.id.length > 16 ? n.id.slice(0, 15) + '…' : n.id;
      const run = n.run_ms === null || n.run_ms === undefined ? 'not run' : `ran ${n.run_ms} ms`;
      nodes.append(s('g', {
        class: 'node', 'data-task': n.id, 'data-status': n.status, 'data-level': n.level,
        'data-critical': n.critical ? 'true' : 'false', 'data-selected': n.level === 0 ? 'true' : 'false',
        transform: `translate(${p.x},${p.y})`, tabindex: 0,
        onclick: () => onSelect(n.id),
      },
      s('rect', { class: 'node-box', width: NODE_W, height: NODE_H, rx: 6 }),
      s('text', { class: 'node-label', x: 8, y: 19 }, label),
      title(`${n.id} (${n.type}): ${n.status}, ${run}, weight ${n.weight_ms} ms${n.critical ? ', on the critical path' : ''}`)));
    }
    svg.append(nodes);
    const focus = at.get(g.id);
    svg.dataset.focusX = String(focus ? focus.x + NODE_W / 2 : 0);
    return svg;
  }

  return { throughput, queueDepth, runTimes, graph, bucketLabel };
})();
