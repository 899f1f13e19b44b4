// skysieve: live tags on /tags and /tags/{tag} (core/serve/web_tags.c). The page is written by
// the server; when a broker is attached (the #live element is there), this listens to
// /api/v1/stream and puts each locus a filter tags at the top of its tag's table.
'use strict';
(function () {
  const live = document.getElementById('live');
  if (!live || !window.EventSource) return;
  const LATEST = 10; // rows per tag on /tags, as the server writes them
  const state = live.querySelector('.state');
  let events = 0;

  const { withToken, el, seg } = window.skysieve;
  function num(v, d) { return typeof v === 'number' && isFinite(v) ? (d === '+' ? (v >= 0 ? '+' : '') + v.toFixed(6) : v.toFixed(d)) : '\u2014'; }
  function td(cls, text) { return el('td', cls ? { class: cls } : null, text); }
  function link(href, text, cls) { return el('a', Object.assign({ href: withToken(href) }, cls ? { class: cls } : {}), text); }

  // the table of a tag on this page, made when the tag is new here
  function tableFor(tag) {
    const only = document.getElementById('tag-loci');
    if (only) {
      const h = document.querySelector('h1[data-tag]');
      return h && h.dataset.tag === tag ? only : null;
    }
    const list = document.getElementById('tag-list');
    if (!list) return null;
    for (const s of list.querySelectorAll('section[data-tag]')) if (s.dataset.tag === tag) return s.querySelector('table');
    const none = document.getElementById('no-tags');
    if (none) none.remove();
    const sec = el('section', { class: 'card tag', 'data-tag': tag });
    const h2 = el('h2');
    h2.append(link('/tags/' + seg(tag), tag, 'tag'), ' ', el('span', { class: 'when' }, 'new'));
    const wrap = el('div', { class: 'scroll' }), table = el('table', { class: 'loci' });
    const tr = el('tr');
    ['Locus', 'Survey ids', 'RA', 'Dec', 'Alerts', 'Detections', 'Newest (MJD)', 'Newest mag', 'Brightest mag', 'Tagged (MJD)', 'By', 'Alert']
      .forEach(function (h, i) { tr.appendChild(el('th', { class: i < 2 || i > 9 ? 'id' : 'num' }, h)); });
    table.append(el('thead'), el('tbody'));
    table.tHead.appendChild(tr);
    wrap.appendChild(table);
    sec.append(h2, wrap);
    list.prepend(sec);
    return table;
  }

  function row(d) {
    const l = d.locus || {}, a = d.alert || {};
    const tr = el('tr', { 'data-locus': l.locus_id || '', class: 'flash' });
    const first = td('id');
    first.appendChild(link('/loci/' + seg(l.locus_id || ''), l.locus_id || ''));
    const ids = td('id');
    Object.keys(l).filter(function (k) { return /_object_id$/.test(k) && typeof l[k] === 'string'; }).forEach(function (k, i) {
      if (i) ids.appendChild(el('br'));
      ids.append(l[k] + ' ');
      ids.appendChild(el('span', { class: 'survey' }, k.slice(0, -10)));
    });
    const alert = td('id');
    if (a.alert_id) alert.appendChild(link('/loci/' + seg(l.locus_id || '') + '?alert=' + encodeURIComponent(a.alert_id), a.alert_id));
    tr.append(first, ids, td('num', num(l.ra, 6)), td('num', num(l.dec, '+')), td('num', String(l.num_alerts ?? '\u2014')),
      td('num', String(l.num_mag_values ?? '\u2014')), td('num', num(l.newest_alert_observation_time, 5)),
      td('num', num(l.newest_alert_magnitude, 3)), td('num', num(l.brightest_alert_magnitude, 3)),
      td('num', num(a.mjd, 5)), td('id', d.filter || ''), alert);
    setTimeout(function () { tr.classList.remove('flash'); }, 4000);
    return tr;
  }

  function onTag(ev) {
    let d;
    try { d = JSON.parse(ev.data); } catch (e) { return; }
    if (!d || typeof d.tag !== 'string') return;
    const table = tableFor(d.tag);
    if (!table) return;
    const body = table.tBodies[0];
    const id = d.locus && d.locus.locus_id;
    for (const tr of Array.from(body.rows)) if (tr.dataset.locus === id) tr.remove();
    body.prepend(row(d));
    const none = document.getElementById('no-loci');
    if (none) none.remove();
    if (!document.getElementById('tag-loci')) while (body.rows.length > LATEST) body.deleteRow(-1);
    events++;
    live.dataset.events = String(events);
    state.textContent = 'Live: ' + events + ' tag event' + (events === 1 ? '' : 's') + ' since this page opened.';
  }

  const es = new EventSource(withToken(live.dataset.stream));
  es.addEventListener('open', function () {
    live.classList.add('on');
    live.classList.remove('off');
    live.dataset.connected = '1';
    if (!events) state.textContent = 'Live: new tags appear here as the broker sets them.';
  });
  es.addEventListener('error', function () {
    live.classList.remove('on');
    live.classList.add('off');
    state.textContent = 'Live updates paused: reconnecting to the broker\u2019s stream\u2026';
  });
  es.addEventListener('tag', onTag);
  window.addEventListener('pagehide', function () { es.close(); });
})();
