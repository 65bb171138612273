// Keeps a sidekick status page current without a reload: fetches the page again every data-refresh ms and swaps
// in its live parts ([data-live] by id). When the program does not answer it says so and keeps trying, so the
// page picks up again after the program restarts. The page is complete without this script.
'use strict';
(function () {
  var root = document.documentElement;
  var every = Math.max(250, Number(root.getAttribute('data-refresh')) || 2000);
  var conn = document.getElementById('conn');
  var program = (document.querySelector('.brand strong') || {}).textContent || 'the program';
  var lastGood = new Date();
  var failingSince = null;
  var okTimer = 0;

  function clock(d) {
    return d.toTimeString().slice(0, 8);
  }

  function say(kind, text) {
    clearTimeout(okTimer);
    conn.className = 'conn ' + kind;
    conn.textContent = text;
    conn.hidden = false;
    if (kind === 'ok') okTimer = setTimeout(function () { conn.hidden = true; }, 4000);
  }

  function failed(why) {
    if (failingSince === null) failingSince = new Date();
    say('bad', 'Cannot reach ' + program + ' (' + why + ') since ' + clock(failingSince) +
      '; retrying every ' + Math.round(every / 100) / 10 + 's. What you see is from ' + clock(lastGood) + '.');
    var main = document.getElementById('main');
    if (main) main.classList.add('stale');
  }

  function swap(doc) {
    var oldMain = document.getElementById('main');
    var newMain = doc.getElementById('main');
    var restarted = oldMain && newMain && oldMain.getAttribute('data-started') !== newMain.getAttribute('data-started');
    var parts = doc.querySelectorAll('[data-live]');
    for (var i = 0; i < parts.length; i++) {
      var mine = document.getElementById(parts[i].id);
      if (mine) mine.replaceWith(document.adoptNode(parts[i]));
    }
    document.title = doc.title;
    lastGood = new Date();
    if (failingSince !== null || restarted) {
      say('ok', (restarted ? program + ' restarted; ' : '') + 'connected again at ' + clock(lastGood) + '.');
    }
    failingSince = null;
  }

  var busy = false;
  async function tick() {
    if (busy) return;
    if (document.hidden) return schedule();
    busy = true;
    var abort = new AbortController();
    var timer = setTimeout(function () { abort.abort(); }, Math.max(5000, 3 * every));
    try {
      var res = await fetch(location.pathname + location.search, { cache: 'no-store', signal: abort.signal, headers: { accept: 'text/html' } });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      var doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      if (!doc.getElementById('main')) throw new Error('not a status page');
      swap(doc);
    } catch (err) {
      failed(err && err.name === 'AbortError' ? 'no answer' : err && /^HTTP|status page/.test(err.message) ? err.message : 'no connection');
    } finally {
      clearTimeout(timer);
      busy = false;
    }
    schedule();
  }

  var next = 0;
  function schedule() {
    clearTimeout(next);
    next = setTimeout(tick, every);
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) {
      clearTimeout(next);
      tick();
    }
  });
  root.classList.add('live');
  schedule();
})();
