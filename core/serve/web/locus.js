// skysieve: the locus page's interactive light curve and alert picking (/loci/{id}; the page is
// core/serve/web_locus.c). Without this script the page still shows everything: the server's
// SVG light curve, and links that choose an alert. No library: an SVG drawn by hand.
'use strict';
(function () {
  const params = new URLSearchParams(location.search);
  const SVGNS = 'http://www.w3.org/2000/svg';
  const KINDS = { detection: 'detections', upper_limit: 'upper limits', forced_photometry: 'forced photometry' };
  // the server's pictures' colours and markers (core/draw/colours.c): Rubin's for u g r i z y,
  // ALeRCE's for ZTF's g r i, Tableau's for any other band
  const RUBIN = { u: '#1600ea', g: '#31de1f', r: '#b52626', i: '#370201', z: '#ba52ff', y: '#61a2b3' };
  const ZTF = { g: '#56e03a', r: '#d42f4b', i: '#f4d617' };
  const PALETTE = ['#1f77b4', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const SHAPES = { u: [3, 0], g: [0, 0], r: [4, 45], i: [4, 0], z: [5, 0], y: [6, 0] }; // sides (0: a circle), turn
  function plainBand(b) { return b.replace(/^(ztf|lsst)/, ''); }
  // a band's marker at (cx, cy): filled, or open for forced photometry
  function marker(band, cx, cy, col, open, attrs) {
    const sh = SHAPES[plainBand(band)] || [0, 0];
    const paint = open ? { fill: 'none', stroke: col, 'stroke-width': 1.3 } : { fill: col, stroke: '#fff', 'stroke-width': 0.6 };
    if (!sh[0]) return sv('circle', Object.assign({ cx: cx, cy: cy, r: 3.6 }, paint, attrs));
    const R = sh[0] === 4 && sh[1] ? 4.8 : 4.6, pts = [];
    for (let k = 0; k < sh[0]; k++) {
      const a = (-90 + sh[1] + k * 360 / sh[0]) * Math.PI / 180;
      pts.push((cx + R * Math.cos(a)).toFixed(2) + ',' + (cy + R * Math.sin(a)).toFixed(2));
    }
    return sv('path', Object.assign({ d: 'M' + pts.join('L') + 'Z' }, paint, attrs));
  }
  const STAMPS = ['science', 'template', 'difference'];
  const STAMP_SIZE = 240;

  const { withToken, el, seg } = window.skysieve;
  function sv(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }
  function fmt(v, d) { return v == null || !isFinite(v) ? '\u2014' : Number(v).toFixed(d); }

  // ---- the alerts' list and their stamps ----
  const table = document.getElementById('alerts');
  const rows = new Map();
  if (table && table.tBodies[0]) for (const tr of table.tBodies[0].rows) rows.set(tr.dataset.alert, tr);
  const cutouts = document.getElementById('cutouts');
  // the stamps of every alert ({id: bits}): the list shows only the newest alerts
  let stamped = {};
  try { stamped = JSON.parse((cutouts && cutouts.dataset.stamped) || '{}'); } catch (e) { /* none */ }
  let selected = null;
  {
    const cur = table && table.querySelector('tr.sel');
    if (cur) selected = cur.dataset.alert;
  }

  function showStamps(id, info) {
    if (!cutouts) return;
    const bits = Number(stamped[id]) || 0;
    let head = document.getElementById('sel-alert');
    if (!head) {
      head = el('p', { class: 'sel', id: 'sel-alert' });
      const empty = document.getElementById('no-stamps');
      if (empty) empty.remove();
      cutouts.appendChild(head);
    }
    head.textContent = '';
    head.append('Alert ');
    head.appendChild(el('a', { class: 'id', href: withToken('/api/v1/alerts/' + seg(id)) }, id));
    if (info) head.append(', MJD ' + fmt(info.mjd, 5) + (info.band ? ', band ' + info.band : ''));
    if (!bits) head.append(' \u2014 no stamps stored for this alert');
    let box = cutouts.querySelector('.stamps');
    if (!box) {
      box = el('div', { class: 'stamps' });
      head.after(box);
    }
    box.textContent = '';
    STAMPS.forEach(function (kind, k) {
      const fig = el('figure');
      if (bits >> k & 1) {
        const base = '/api/v1/alerts/' + seg(id) + '/cutouts/' + kind;
        const a = el('a', { href: withToken(base) });
        a.appendChild(el('img', {
          class: 'stamp', 'data-kind': kind, width: STAMP_SIZE, height: STAMP_SIZE,
          src: withToken(base + '.png?size=' + STAMP_SIZE), alt: 'the ' + kind + ' stamp of alert ' + id,
        }));
        fig.appendChild(a);
      } else {
        fig.appendChild(el('div', { class: 'nostamp', 'data-kind': kind }, 'none'));
      }
      fig.appendChild(el('figcaption', null, kind[0].toUpperCase() + kind.slice(1)));
      box.appendChild(fig);
    });
  }

  function select(id, info) {
    selected = id;
    for (const tr of rows.values()) {
      const on = tr.dataset.alert === id;
      tr.classList.toggle('sel', on);
      if (on) tr.setAttribute('aria-current', 'true'); else tr.removeAttribute('aria-current');
    }
    if (!info && rows.has(id)) {
      const c = rows.get(id).cells;
      info = { mjd: parseFloat(c[1].textContent), band: c[3].textContent };
    }
    showStamps(id, info);
    const q = new URLSearchParams(location.search);
    q.set('alert', id);
    history.replaceState(null, '', location.pathname + '?' + q.toString() + '#cutouts');
    if (plot) plot.mark();
  }

  if (table) {
    table.addEventListener('click', function (ev) {
      const tr = ev.target.closest('tr[data-alert]');
      if (!tr || tr.dataset.stamps === '0' || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
      ev.preventDefault();
      select(tr.dataset.alert);
      if (cutouts && cutouts.getBoundingClientRect().bottom < 0) cutouts.scrollIntoView({ behavior: 'smooth' });
    });
  }

  // ---- the properties' filter box (a Rubin locus has a hundred of them) ----
  const props = document.querySelector('#properties table.props');
  if (props && props.tBodies[0]) {
    const all = Array.from(props.tBodies[0].rows);
    const box = el('input', { type: 'search', id: 'prop-filter', placeholder: 'name, value or writer',
      'aria-label': 'show only the properties whose name, value or writer contains', autocomplete: 'off' });
    const count = el('span', { class: 'muted', id: 'prop-count', 'aria-live': 'polite' });
    const lab = el('label', { class: 'prop-filter' }, 'Filter ');
    lab.append(box, count);
    props.closest('.scroll').before(lab);
    box.addEventListener('input', function () {
      const q = box.value.trim().toLowerCase();
      let shown = 0;
      all.forEach(function (tr) {
        const on = !q || tr.textContent.toLowerCase().indexOf(q) >= 0;
        tr.hidden = !on;
        shown += on;
      });
      count.textContent = q ? ' ' + shown + ' of ' + all.length : '';
    });
  }

  // the tags of the page's list, with the MJD each was set at
  const TAGS = Array.from(document.querySelectorAll('#tags tbody tr'), function (tr) {
    return { tag: tr.cells[0].textContent.trim(), mjd: parseFloat(tr.cells[2].textContent) };
  }).filter(function (t) { return t.tag && isFinite(t.mjd); });

  // ---- the plot ----
  const lc = document.getElementById('lc');
  let plot = null;
  if (!lc || !window.fetch) return;
  let url = lc.dataset.lightcurve;
  if (lc.dataset.before) url += '?before=' + encodeURIComponent(lc.dataset.before);
  // the server's picture, as without scripts, when the measurements cannot be read
  function fallback() {
    if (!lc.dataset.static || document.getElementById('lc-img')) return;
    lc.appendChild(el('img', { class: 'lc-static', id: 'lc-img', width: 800, height: 400,
      src: lc.dataset.static, alt: lc.dataset.alt || 'the light curve' }));
    lc.classList.add('static');
  }
  fetch(withToken(url), { headers: { Accept: 'application/json' } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (d) {
      if (!d || !Array.isArray(d.items)) { fallback(); return; }
      // as a filter saw it: the measurements of the page's list (stored before the alert)
      const items = lc.dataset.asOf ? d.items.filter(function (it) { return rows.has(it.alert_id); }) : d.items;
      plot = new Plot(lc, items);
    })
    .catch(fallback);

  function niceTicks(lo, hi, n) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).find(function (s) { return span / s <= n; }) || 10 * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  function Plot(box, items) {
    const self = this;
    this.box = box;
    this.flux = box.dataset.flux === '1';
    // every point, with its flux where the survey gave none (from the magnitude, nJy, AB 31.4)
    this.pts = items.map(function (it, i) {
      let f = it.flux, fe = it.fluxerr, derived = false;
      if (f == null && it.mag != null) {
        f = Math.pow(10, -0.4 * (it.mag - 31.4));
        fe = it.magerr != null ? f * it.magerr * 0.4 * Math.LN10 : null;
        derived = true;
      }
      const lim = it.maglim != null ? Math.pow(10, -0.4 * (it.maglim - 31.4)) : null;
      return { i: i, it: it, band: it.band || '?', kind: it.kind, f: f, fe: fe, derived: derived, flim: lim };
    });
    const bands = [], kinds = [];
    this.pts.forEach(function (p) {
      if (bands.indexOf(p.band) < 0) bands.push(p.band);
      if (kinds.indexOf(p.kind) < 0) kinds.push(p.kind);
    });
    const kindOrder = Object.keys(KINDS);
    kinds.sort(function (a, b) { return (kindOrder.indexOf(a) + 1 || 9) - (kindOrder.indexOf(b) + 1 || 9); });
    const order = 'ugrizy';
    const rank = function (b) { const k = plainBand(b); return k.length === 1 && order.indexOf(k) >= 0 ? order.indexOf(k) : 99; };
    bands.sort(function (a, b) { return rank(a) - rank(b) || (a < b ? -1 : 1); });
    let extra = 0;
    this.colour = {};
    bands.forEach(function (b) {
      const first = self.pts.find(function (p) { return p.band === b; });
      const table = first && first.it.survey === 'ztf' && ZTF[plainBand(b)] ? ZTF : RUBIN;
      self.colour[b] = table[plainBand(b)] || PALETTE[extra++ % PALETTE.length];
    });
    this.bandsOn = new Set(bands);
    this.kindsOn = new Set(kinds.filter(function (k) { return k !== 'forced_photometry' || kinds.length === 1; }));
    const mjds = this.pts.map(function (p) { return p.it.mjd; });
    this.full = mjds.length ? [Math.min.apply(null, mjds), Math.max.apply(null, mjds)] : [0, 1];
    this.x = this.full.slice();

    // controls
    const ctl = el('div', { class: 'lc-controls', id: 'lc-controls' });
    const fsB = el('fieldset');
    fsB.appendChild(el('legend', null, 'Bands'));
    bands.forEach(function (b) {
      const n = self.pts.filter(function (p) { return p.band === b; }).length;
      const lab = el('label');
      const cb = el('input', { type: 'checkbox', 'data-band': b });
      cb.checked = true;
      cb.addEventListener('change', function () { if (cb.checked) self.bandsOn.add(b); else self.bandsOn.delete(b); self.draw(); });
      const sw = sv('svg', { class: 'legend-swatch', viewBox: '0 0 12 12', width: 12, height: 12, 'aria-hidden': 'true' });
      sw.appendChild(marker(b, 6, 6, self.colour[b], false, {}));
      lab.append(cb, sw, b + ' (' + n + ')');
      fsB.appendChild(lab);
    });
    const fsK = el('fieldset');
    fsK.appendChild(el('legend', null, 'Show'));
    kinds.forEach(function (k) {
      const lab = el('label');
      const cb = el('input', { type: 'checkbox', 'data-kind': k });
      cb.checked = self.kindsOn.has(k);
      cb.addEventListener('change', function () { if (cb.checked) self.kindsOn.add(k); else self.kindsOn.delete(k); self.draw(); });
      lab.append(cb, KINDS[k] || k);
      fsK.appendChild(lab);
    });
    const fsY = el('fieldset');
    fsY.appendChild(el('legend', null, 'Y'));
    const bMag = el('button', { type: 'button', class: 'ghost', 'data-y': 'mag' }, 'Magnitude');
    const bFlux = el('button', { type: 'button', class: 'ghost', 'data-y': 'flux' }, 'Flux');
    function setY(flux) {
      self.flux = flux;
      bMag.setAttribute('aria-pressed', String(!flux));
      bFlux.setAttribute('aria-pressed', String(flux));
      self.draw();
    }
    bMag.addEventListener('click', function () { setY(false); });
    bFlux.addEventListener('click', function () { setY(true); });
    fsY.append(bMag, bFlux);
    const fsZ = el('fieldset');
    fsZ.appendChild(el('legend', null, 'Time'));
    const zin = el('button', { type: 'button', class: 'ghost', 'data-zoom': 'in', title: 'zoom in' }, '+');
    const zout = el('button', { type: 'button', class: 'ghost', 'data-zoom': 'out', title: 'zoom out' }, '\u2212');
    const zall = el('button', { type: 'button', class: 'ghost', 'data-zoom': 'all', title: 'every measurement' }, 'All');
    zin.addEventListener('click', function () { self.zoom(0.5); });
    zout.addEventListener('click', function () { self.zoom(2); });
    zall.addEventListener('click', function () { self.x = self.full.slice(); self.draw(); });
    fsZ.append(zin, zout, zall, el('span', { class: 'muted' }, 'or drag across the plot'));
    ctl.append(fsB, fsK, fsY, fsZ);

    this.svg = sv('svg', { class: 'plot', role: 'img', 'aria-label': 'interactive light curve' });
    this.tip = el('div', { class: 'tip', role: 'status' });
    this.tip.hidden = true;
    box.prepend(ctl);
    box.append(this.svg, this.tip);
    box.classList.add('interactive');
    bMag.setAttribute('aria-pressed', String(!this.flux));
    bFlux.setAttribute('aria-pressed', String(this.flux));

    this.bind();
    this.draw();
    let lastW = box.clientWidth;
    window.addEventListener('resize', function () {
      if (box.clientWidth !== lastW) { lastW = box.clientWidth; self.draw(); }
    });
    box.dataset.ready = '1';
    if (window.performance && performance.mark) performance.mark('skysieve-lc-ready'); // tools/bench_pages.py
  }

  Plot.prototype.zoom = function (factor) {
    const c = (this.x[0] + this.x[1]) / 2;
    let h = (this.x[1] - this.x[0]) / 2 * factor;
    const fullH = (this.full[1] - this.full[0]) / 2;
    if (h < 0.002) h = 0.002;
    if (h >= fullH) { this.x = this.full.slice(); this.draw(); return; }
    this.x = [c - h, c + h];
    this.draw();
  };

  // y of a point (and its error), or null when it has none in this mode
  Plot.prototype.y = function (p) {
    const it = p.it;
    if (this.flux) {
      if (p.kind === 'upper_limit') return p.flim != null ? { v: p.flim, e: null } : null;
      return p.f != null ? { v: p.f, e: p.fe } : null;
    }
    if (p.kind === 'upper_limit') return it.maglim != null ? { v: it.maglim, e: null } : null;
    return it.mag != null ? { v: it.mag, e: it.magerr } : null;
  };

  Plot.prototype.visible = function () {
    const self = this, out = [];
    const pad = (this.x[1] - this.x[0]) * 0.02 + 1e-9;
    this.pts.forEach(function (p) {
      if (!self.bandsOn.has(p.band) || !self.kindsOn.has(p.kind)) return;
      if (p.it.mjd < self.x[0] - pad || p.it.mjd > self.x[1] + pad) return;
      const y = self.y(p);
      if (y && isFinite(y.v)) out.push({ p: p, y: y });
    });
    return out;
  };

  Plot.prototype.draw = function () {
    const self = this, svg = this.svg;
    const W = Math.max(280, this.box.clientWidth || 600);
    const H = Math.round(Math.min(420, Math.max(220, W * 0.5)));
    const m = { l: 58, r: 12, t: 10, b: 36 };
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    svg.textContent = '';
    const vis = this.visible();
    let x0 = this.x[0], x1 = this.x[1];
    if (x1 - x0 < 1e-6) { x0 -= 0.5; x1 += 0.5; }
    const xp = (x1 - x0) * 0.03;
    x0 -= xp; x1 += xp;
    let y0 = Infinity, y1 = -Infinity;
    vis.forEach(function (q) {
      const e = q.y.e && isFinite(q.y.e) ? q.y.e : 0;
      y0 = Math.min(y0, q.y.v - e);
      y1 = Math.max(y1, q.y.v + e);
    });
    if (!isFinite(y0)) { y0 = 0; y1 = 1; }
    if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
    const yp = (y1 - y0) * 0.08;
    y0 -= yp; y1 += yp;
    const inv = !this.flux; // magnitudes: brighter up
    const X = function (v) { return m.l + (v - x0) / (x1 - x0) * (W - m.l - m.r); };
    const Y = function (v) { const t = (v - y0) / (y1 - y0); return inv ? m.t + t * (H - m.t - m.b) : H - m.b - t * (H - m.t - m.b); };
    this.geom = { W: W, H: H, m: m, x0: x0, x1: x1, X: X, Y: Y };

    const grid = sv('g', { class: 'grid' }), axis = sv('g', { class: 'axis' });
    niceTicks(x0, x1, Math.max(3, Math.floor(W / 110))).forEach(function (t) {
      grid.appendChild(sv('line', { x1: X(t), x2: X(t), y1: m.t, y2: H - m.b }));
      const tx = sv('text', { x: X(t), y: H - m.b + 14, 'text-anchor': 'middle' });
      tx.textContent = String(+t.toFixed(3));
      axis.appendChild(tx);
    });
    niceTicks(y0, y1, Math.max(4, Math.floor(H / 45))).forEach(function (t) {
      grid.appendChild(sv('line', { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t) }));
      const tx = sv('text', { x: m.l - 5, y: Y(t) + 4, 'text-anchor': 'end' });
      tx.textContent = self.flux ? (Math.abs(t) >= 1e4 ? t.toExponential(1) : String(+t.toPrecision(4))) : t.toFixed(1);
      axis.appendChild(tx);
    });
    axis.appendChild(sv('path', { d: 'M' + m.l + ',' + m.t + 'V' + (H - m.b) + 'H' + (W - m.r), fill: 'none' }));
    const xl = sv('text', { x: (m.l + W - m.r) / 2, y: H - 4, 'text-anchor': 'middle' });
    xl.textContent = 'MJD';
    const yl = sv('text', { x: 12, y: (m.t + H - m.b) / 2, 'text-anchor': 'middle', transform: 'rotate(-90 12 ' + (m.t + H - m.b) / 2 + ')' });
    yl.textContent = this.flux ? 'flux (nJy)' : 'magnitude';
    axis.append(xl, yl);
    svg.append(grid, axis);
    // each tag where it was set: a dashed line at its MJD, named at the top
    const marks = sv('g', { class: 'tagmarks' });
    TAGS.forEach(function (t) {
      if (!(t.mjd >= x0 && t.mjd <= x1)) return;
      const x = X(t.mjd);
      marks.appendChild(sv('line', { x1: x, x2: x, y1: m.t, y2: H - m.b, 'data-tag': t.tag }));
      const tx = sv('text', { x: x + 3, y: m.t + 11 });
      tx.textContent = t.tag;
      marks.appendChild(tx);
    });
    svg.appendChild(marks);

    const clip = 'lcclip';
    const defs = sv('defs'), cp = sv('clipPath', { id: clip });
    cp.appendChild(sv('rect', { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b }));
    defs.appendChild(cp);
    svg.appendChild(defs);
    const g = sv('g', { 'clip-path': 'url(#' + clip + ')' });
    this.screen = [];
    vis.forEach(function (q) {
      const p = q.p, cx = X(p.it.mjd), cy = Y(q.y.v), col = self.colour[p.band];
      if (q.y.e && isFinite(q.y.e) && q.y.e > 0)
        g.appendChild(sv('line', { x1: cx, x2: cx, y1: Y(q.y.v - q.y.e), y2: Y(q.y.v + q.y.e), stroke: col, 'stroke-width': 1, opacity: 0.7 }));
      let mark;
      const common = { class: 'pt', 'data-band': p.band, 'data-kind': p.kind, 'data-alert': p.it.alert_id, 'data-i': p.i };
      if (p.kind === 'upper_limit') {
        // a limit: an open triangle pointing to fainter
        const s = 5, d = 'M' + (cx - s) + ',' + (cy - s * 0.6) + 'H' + (cx + s) + 'L' + cx + ',' + (cy + s) + 'Z';
        mark = sv('path', Object.assign({ d: d, fill: 'none', stroke: col, 'stroke-width': 1.3, opacity: 0.75 }, common));
      } else {
        mark = marker(p.band, cx, cy, col, p.kind === 'forced_photometry', common);
      }
      g.appendChild(mark);
      self.screen.push({ x: cx, y: cy, p: p, y0: q.y, node: mark });
    });
    svg.appendChild(g);
    this.ring = sv('circle', { class: 'hoverring', r: 7, cx: -20, cy: -20 });
    this.brush = sv('rect', { class: 'brush', x: 0, y: m.t, width: 0, height: H - m.t - m.b, visibility: 'hidden' });
    svg.append(this.ring, this.brush);
    this.mark();
  };

  Plot.prototype.mark = function () {
    (this.screen || []).forEach(function (s) { s.node.classList.toggle('sel', s.p.it.alert_id === selected); });
  };

  Plot.prototype.nearest = function (px, py) {
    let best = null, bd = 14 * 14;
    (this.screen || []).forEach(function (s) {
      const d = (s.x - px) * (s.x - px) + (s.y - py) * (s.y - py);
      if (d < bd) { bd = d; best = s; }
    });
    return best;
  };

  Plot.prototype.local = function (ev) {
    const r = this.svg.getBoundingClientRect(), g = this.geom;
    return { x: (ev.clientX - r.left) * g.W / r.width, y: (ev.clientY - r.top) * g.H / r.height, r: r };
  };

  Plot.prototype.hover = function (s, ev) {
    const tip = this.tip;
    if (!s) { tip.hidden = true; this.ring.setAttribute('cx', -20); return; }
    this.ring.setAttribute('cx', s.x);
    this.ring.setAttribute('cy', s.y);
    const it = s.p.it, lines = [];
    lines.push('MJD ' + fmt(it.mjd, 5) + ' \u00b7 band ' + s.p.band + ' \u00b7 ' + (KINDS[it.kind] || it.kind).replace(/s$/, ''));
    if (this.flux) {
      lines.push((it.kind === 'upper_limit' ? 'limit ' : 'flux ') + fmt(s.y0.v, 1) + (s.y0.e ? ' \u00b1 ' + fmt(s.y0.e, 1) : '') + ' nJy' + (s.p.derived ? ' (from mag)' : ''));
    } else if (it.kind === 'upper_limit') {
      lines.push('fainter than ' + fmt(it.maglim, 2) + ' mag');
    } else {
      lines.push('mag ' + fmt(it.mag, 3) + (it.magerr != null ? ' \u00b1 ' + fmt(it.magerr, 3) : ''));
    }
    lines.push('alert ' + it.alert_id);
    tip.textContent = '';
    lines.forEach(function (l, i) { if (i) tip.appendChild(el('br')); tip.append(l); });
    tip.hidden = false;
    const br = this.box.getBoundingClientRect(), sr = this.svg.getBoundingClientRect();
    let left = sr.left - br.left + s.x * sr.width / this.geom.W + 12;
    const top = sr.top - br.top + s.y * sr.height / this.geom.H + 12;
    if (left + tip.offsetWidth > br.width) left = Math.max(0, left - tip.offsetWidth - 24);
    tip.style.left = left + 'px';
    tip.style.top = top + 'px';
  };

  Plot.prototype.bind = function () {
    const self = this, svg = this.svg;
    let drag = null;
    svg.addEventListener('pointerdown', function (ev) {
      if (ev.button !== 0) return;
      const l = self.local(ev);
      drag = { x: l.x, moved: false, id: ev.pointerId, touch: ev.pointerType === 'touch' };
    });
    svg.addEventListener('pointermove', function (ev) {
      const l = self.local(ev), g = self.geom;
      if (drag && !drag.touch && Math.abs(l.x - drag.x) > 4) {
        if (!drag.moved) { drag.moved = true; try { svg.setPointerCapture(drag.id); } catch (e) { /* ignore */ } }
        const a = Math.max(g.m.l, Math.min(drag.x, l.x)), b = Math.min(g.W - g.m.r, Math.max(drag.x, l.x));
        self.brush.setAttribute('x', a);
        self.brush.setAttribute('width', Math.max(0, b - a));
        self.brush.setAttribute('visibility', 'visible');
        self.hover(null);
        return;
      }
      self.hover(self.nearest(l.x, l.y), ev);
    });
    svg.addEventListener('pointerleave', function () { if (!drag) self.hover(null); });
    svg.addEventListener('pointerup', function (ev) {
      const l = self.local(ev), g = self.geom, d = drag;
      drag = null;
      self.brush.setAttribute('visibility', 'hidden');
      if (!d) return;
      if (d.moved) {
        const inv = function (px) { return g.x0 + (px - g.m.l) / (g.W - g.m.l - g.m.r) * (g.x1 - g.x0); };
        const a = inv(Math.min(d.x, l.x)), b = inv(Math.max(d.x, l.x));
        if (b - a > 1e-4) { self.x = [a, b]; self.draw(); }
        return;
      }
      const s = self.nearest(l.x, l.y);
      if (s) {
        self.hover(s, ev);
        select(s.p.it.alert_id, { mjd: s.p.it.mjd, band: s.p.band });
      }
    });
    svg.addEventListener('pointercancel', function () { drag = null; self.brush.setAttribute('visibility', 'hidden'); });
  };
})();
