// skysieve: the broker page's refresh (/broker; the page is core/serve/web_broker.c). Every few
// seconds it reads /api/v1/stats (and /api/v1/filters when a broker is attached), updates the
// numbers and tables, and measures the alerts stored per hour between two reads.
'use strict';
(function () {
  const page = document.getElementById('broker-page');
  if (!page || !window.fetch) return;
  const every = Math.max(2, Number(page.dataset.refresh) || 5) * 1000;
  const attached = page.dataset.broker === '1';
  const samples = []; // [seconds, alerts stored]
  const SVGNS = 'http://www.w3.org/2000/svg';

  const { withToken, el } = window.skysieve;
  function show(v) {
    if (v == null) return '\u2014';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(+v.toPrecision(6));
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  function get(url) {
    return fetch(withToken(url), { cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }
  function setStats(scope, o) {
    if (!scope || !o) return;
    for (const dd of scope.querySelectorAll('[data-stat]')) {
      const k = dd.dataset.stat;
      if (k === 'per_hour') dd.textContent = o.uptime_s > 0 ? String(Math.round(o.alerts_in / o.uptime_s * 3600)) : '\u2014';
      else if (k === 'uptime_s') dd.textContent = show(Math.round(o.uptime_s)) + ' s';
      else if (k in o) dd.textContent = show(o[k]);
    }
  }

  function rate(stats) {
    const now = performance.now() / 1000;
    samples.push([now, stats.alerts]);
    if (samples.length > 61) samples.shift();
    const out = document.getElementById('rate');
    if (samples.length < 2 || !out) return;
    const a = samples[samples.length - 2], b = samples[samples.length - 1];
    const perHour = (b[1] - a[1]) / (b[0] - a[0]) * 3600;
    out.textContent = String(Math.max(0, Math.round(perHour)));
    out.title = 'over the last ' + (b[0] - a[0]).toFixed(1) + ' s';
    const spark = document.getElementById('rate-spark');
    if (!spark) return;
    const rates = [];
    for (let i = 1; i < samples.length; i++) rates.push(Math.max(0, (samples[i][1] - samples[i - 1][1]) / (samples[i][0] - samples[i - 1][0])));
    const top = Math.max.apply(null, rates.concat([1e-9]));
    spark.textContent = '';
    const w = 300 / 60;
    rates.forEach(function (r, i) {
      const h = Math.max(r > 0 ? 1 : 0, r / top * 38);
      const rect = document.createElementNS(SVGNS, 'rect');
      rect.setAttribute('x', (60 - rates.length + i) * w);
      rect.setAttribute('y', 40 - h);
      rect.setAttribute('width', w - 0.5);
      rect.setAttribute('height', h);
      spark.appendChild(rect);
    });
  }

  function rejected(by) {
    const body = document.querySelector('#rejected tbody');
    if (!body || !by) return;
    body.textContent = '';
    const keys = Object.keys(by);
    if (!keys.length) {
      const tr = el('tr', { class: 'empty' });
      tr.appendChild(el('td', { colspan: '2' }, 'None rejected.'));
      body.appendChild(tr);
    }
    keys.forEach(function (k) {
      const tr = el('tr');
      tr.append(el('td', null, k), el('td', { class: 'num' }, show(by[k])));
      body.appendChild(tr);
    });
  }

  function filters(items) {
    const body = document.querySelector('#filters tbody');
    if (!body || !Array.isArray(items)) return;
    body.textContent = '';
    const off = [];
    items.forEach(function (f) {
      const tr = el('tr', f.disabled ? { class: 'disabled' } : null);
      const name = el('td', { class: 'id' }, f.label);
      name.append(el('br'), el('span', { class: 'muted' }, f.name + ' ' + f.version + ' (' + f.runtime + ')'));
      tr.appendChild(name);
      ['runs', 'skipped', 'errors', 'crashes', 'timeouts', 'halts', 'properties_written'].forEach(function (k) {
        tr.appendChild(el('td', { class: 'num' }, show(f[k])));
      });
      const tags = el('td');
      Object.keys(f.tags || {}).forEach(function (t, i) {
        if (i) tags.append(', ');
        tags.append(el('a', { class: 'tag', href: withToken('/tags/' + encodeURIComponent(t)) }, t), '\u00a0' + show(f.tags[t]));
      });
      tr.appendChild(tags);
      ['p50', 'p90', 'p99'].forEach(function (p) {
        const v = f.time_us && f.time_us[p];
        tr.appendChild(el('td', { class: 'num' }, typeof v === 'number' ? v.toFixed(1) : '\u2014'));
      });
      const st = el('td');
      if (f.disabled) {
        st.append(el('strong', null, 'disabled'), ': ' + (f.disabled_reason || ''));
        off.push(f);
      } else st.append('running');
      if (f.last_error) st.append(el('br'), el('span', { class: 'muted' }, 'last error: ' + f.last_error));
      tr.appendChild(st);
      body.appendChild(tr);
    });
    const p = document.getElementById('disabled');
    if (!p) return;
    p.textContent = '';
    p.className = off.length ? 'error' : 'note';
    if (!off.length) p.textContent = 'No filter is disabled.';
    off.forEach(function (f, i) {
      p.append(i ? ', ' : 'Disabled: ', el('strong', null, f.label), ' (' + (f.disabled_reason || '') + ')');
    });
  }

  // a broker that stops answering: its numbers stay, marked as old
  function stale(down) {
    const running = document.getElementById('running');
    let note = document.getElementById('broker-stale');
    if (!running || !down) { if (note) note.remove(); return; }
    if (document.getElementById('broker-down')) return; // the server said so already
    if (!note) {
      note = el('p', { class: 'error', id: 'broker-stale' });
      running.querySelector('h2').after(note);
    }
    note.textContent = 'The broker did not answer at ' + new Date().toLocaleTimeString() +
      ': the numbers below are from before.';
  }

  function tick() {
    get('/api/v1/stats').then(function (s) {
      if (!s) return;
      setStats(document.getElementById('store'), s);
      rejected(s.rejected_by_reason);
      rate(s);
    });
    if (attached)
      get('/api/v1/filters').then(function (f) {
        stale(!f);
        if (!f) return;
        // the broker was down when the page was written: the server writes its section again
        if (!document.getElementById('filters')) { location.reload(); return; }
        setStats(document.getElementById('running'), f.broker || {});
        filters(f.items);
      });
    page.dataset.refreshed = String((Number(page.dataset.refreshed) || 0) + 1);
  }
  tick();
  setInterval(tick, every);
})();
