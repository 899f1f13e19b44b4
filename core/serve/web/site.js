// skysieve: what every page's script shares (loaded first, before the page's own): the access
// token carried from the page's address onto every link and request, and small DOM helpers.
'use strict';
window.skysieve = (function () {
  const token = new URLSearchParams(location.search).get('access_token');
  return {
    token: token,
    // @p url with the page's access token, when it was opened with one
    withToken: function (url) {
      if (!token) return url;
      return url + (url.indexOf('?') < 0 ? '?' : '&') + 'access_token=' + encodeURIComponent(token);
    },
    // a path segment: alert ids keep their ':' as the server writes them
    seg: function (s) { return encodeURIComponent(s).replace(/%3A/gi, ':'); },
    el: function (tag, attrs, text) {
      const e = document.createElement(tag);
      for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
      if (text != null) e.textContent = text;
      return e;
    },
  };
})();
