"""The phone page: what is at risk, and one button that flattens it.

Self-contained (no external script, style or font: it must load on a bad
connection, and the Content-Security-Policy forbids anything else). The token
is typed by the user and sent in the ``Authorization`` header of the one
request; it is never part of the page, the URL or the browser's storage.
A kill takes two taps: the big button, then an explicit confirmation.
"""

from __future__ import annotations

CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>bastion kill switch</title>
<style>
 body{font-family:system-ui,sans-serif;margin:0;padding:16px;background:#111;color:#eee}
 h1{font-size:1.3rem;margin:0 0 12px}
 table{width:100%;border-collapse:collapse;margin:8px 0 16px}
 td,th{padding:6px 4px;border-bottom:1px solid #333;text-align:left;font-size:1rem}
 .muted{color:#999;font-size:.9rem}
 input{width:100%;box-sizing:border-box;font-size:1.2rem;padding:12px;margin:8px 0;
  border-radius:8px;border:1px solid #555;background:#222;color:#eee}
 button{width:100%;font-size:1.6rem;font-weight:700;padding:22px;border:0;border-radius:14px;
  margin:8px 0;color:#fff}
 #kill{background:#c00}
 #confirm{background:#800;font-size:1.3rem}
 #cancel{background:#444;font-size:1.1rem;padding:14px}
 #result{font-size:1.2rem;margin-top:12px;white-space:pre-wrap}
 .ok{color:#4c4}.bad{color:#f66}
 .guard{font-size:1.05rem;margin:0 0 8px}.guard b{color:#fc6}
</style>
</head>
<body>
<h1>bastion kill switch</h1>
<div id="guard" class="guard">?</div>
<div id="state" class="muted">loading…</div>
<table>
 <thead><tr><th>symbol</th><th>position</th></tr></thead>
 <tbody id="positions"></tbody>
</table>
<div class="muted">open orders: <span id="orders">?</span></div>
<div id="share" class="muted"></div>
<label for="token" class="muted">kill token</label>
<input id="token" type="password" autocomplete="off" autocapitalize="off" spellcheck="false">
<button id="kill" type="button">KILL</button>
<div id="ask" hidden>
 <div>Cancel every order and close every position?</div>
 <button id="confirm" type="button">Yes, flatten everything</button>
 <button id="cancel" type="button">No</button>
</div>
<div id="result" role="status"></div>
<script>
const $ = (id) => document.getElementById(id);
function text(el, value) { el.textContent = value; }
async function refresh() {
  if (!$('token').value) { text($('state'), 'enter the kill token to see the status'); return; }
  try {
    const r = await fetch('/status', {cache: 'no-store',
      headers: {'Authorization': 'Bearer ' + $('token').value}});
    if (r.status === 401) { text($('state'), 'enter the kill token to see the status'); return; }
    const s = await r.json();
    const rows = Object.entries(s.positions || {});
    const body = $('positions');
    body.replaceChildren();
    const row = (cells) => {
      const tr = document.createElement('tr');
      for (const v of cells) {
        const td = document.createElement('td');
        text(td, v);
        tr.append(td);
      }
      body.append(tr);
    };
    for (const [sym, qty] of rows) row([sym, qty]);
    if (!rows.length) row([s.exchange_error ? 'exchange unreadable' : 'flat', '']);
    text($('orders'), String((s.open_orders || []).length));
    // The bot's share against the account: what a kill in bot scope closes.
    text($('share'), Object.entries(s.share || {}).filter(([k]) => k !== 'error')
      .map(([sym, v]) => 'bot ' + sym + ' ' + v.bot + ' of ' + v.holding +
        ' (baseline ' + v.baseline + ')').join(' · ') || (s.share || {}).error || '');
    showGuard(s);
    const hb = s.heartbeat || {};
    text($('state'), 'latch ' + ((s.halt || {}).state || '?') +
      (s.killed_flag ? ' (KILLED flag)' : '') +
      (hb.last_cycle_ms ? ' · bot cycled ' + hb.age_s + ' s ago' : ' · no bot cycle seen') +
      (hb.lost ? ' · HEARTBEAT LOST' : ''));
  } catch (e) { text($('state'), 'sentinel unreachable'); }
}
// Which bot, exchange and mode this page guards: a paper page must not pass
// for a live one (a kill on a paper config touches only the paper book).
function showGuard(s) {
  const g = $('guard');
  g.replaceChildren();
  const mode = document.createElement('b');
  text(mode, String(s.mode || '?').toUpperCase());
  g.append('bot ' + (s.bot || '?') + ' on ' + (s.exchange || '?') + ' · ', mode);
  if (s.acts_on) g.append(' · kill acts on ' + s.acts_on);
}
$('kill').onclick = () => { $('ask').hidden = false; text($('result'), ''); };
$('cancel').onclick = () => { $('ask').hidden = true; };
$('confirm').onclick = async () => {
  $('ask').hidden = true;
  const out = $('result');
  out.className = ''; text(out, 'killing…');
  try {
    const r = await fetch('/kill', {method: 'POST', headers: {
      'Authorization': 'Bearer ' + $('token').value, 'Content-Type': 'application/json'},
      body: JSON.stringify({reason: 'phone page'})});
    if (r.status === 401) { out.className = 'bad'; text(out, 'REFUSED: wrong token'); return; }
    const k = await r.json();
    out.className = k.ok ? 'ok' : 'bad';
    const left = k.remaining_positions || {};
    text(out, (k.ok ? 'FLAT' : 'NOT FLAT') + ' in ' + k.elapsed_s + ' s\\n' +
      (k.cancelled || []).length + ' orders cancelled, ' +
      (k.closes || []).length + ' closing orders' +
      (Object.keys(k.dust || {}).length ? '\\ndust: ' + JSON.stringify(k.dust) : '') +
      (Object.keys(left).length ? '\\nremaining: ' + JSON.stringify(left) : ''));
  } catch (e) { out.className = 'bad'; text(out, 'request failed: ' + e); }
  refresh();
};
$('token').addEventListener('change', refresh);
refresh();
setInterval(refresh, 5000);
</script>
</body>
</html>
"""
