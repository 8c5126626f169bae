"use strict";
// bastion dashboard: fetch the snapshot with the token, then follow the stream.
(function () {
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem("bastion-token") || "";
  let windowName = "today";
  let last = null;
  let chart = null;
  let source = null;

  function text(id, v) { $(id).textContent = v === null || v === undefined ? "-" : String(v); }
  function rows(id, items, cells) {
    const body = $(id).tBodies[0];
    body.replaceChildren(...items.map((it) => {
      const tr = document.createElement("tr");
      for (const c of cells(it)) {
        const td = document.createElement("td");
        td.textContent = c === null || c === undefined ? "-" : String(c);
        tr.appendChild(td);
      }
      return tr;
    }));
  }
  function time(ts) { return new Date(ts).toISOString().slice(11, 19); }

  function render(s) {
    last = s;
    $("main").hidden = false;
    text("bot", s.bot); text("mode", s.mode);
    const h = s.halt;
    $("halt-state").className = "big " + h.state;
    text("halt-state", h.state);
    text("halt-reason", h.reason ? h.reason + (h.by ? " (" + h.by + ")" : "") : "");
    text("heartbeat", s.heartbeat_age_s); text("cycles", s.cycles); text("cycles-failed", s.cycles_failed);
    $("killswitch").href = s.killswitch_url;
    text("equity", s.equity);
    rows("pnl", s.pnl.rows, (r) => [r.strategy, r.symbol, r[windowName].realised, r[windowName].unrealised, r[windowName].fees]);
    const t = s.pnl.total[windowName];
    text("pnl-realised", t.realised); text("pnl-unrealised", t.unrealised); text("pnl-fees", t.fees);
    rows("positions", s.positions, (p) => [p.strategy, p.symbol, p.qty, p.mark]);
    rows("holdings", s.holdings, (h) => [h.symbol, h.account, h.baseline, h.adopted, h.bot]);
    rows("orders", s.orders, (o) => [o.client_id, o.symbol, o.side, o.qty, o.price, o.status]);
    rows("fills", s.fills, (f) => [time(f.ts), f.strategy, f.symbol, f.side, f.qty, f.price, f.fee]);
    text("fills-total", s.fills_total);
    rows("rejections", Object.entries(s.rejections), (kv) => kv);
    const num = (v, pct) => (v === null || v === undefined ? "-" : pct ? (100 * v).toFixed(1) + "%" : v.toFixed(2));
    rows("stats", Object.entries(s.stats || {}), ([sid, t]) => [sid, t.round_trips, num(t.win_rate, true),
      num(t.sharpe), num(t.max_drawdown, true), num(t.exposure, true), num(t.turnover)]);
    const ul = $("alerts");
    ul.replaceChildren(...s.alerts.map((a) => {
      const li = document.createElement("li");
      li.textContent = time(a.ts) + " " + a.kind + (a.symbol ? " " + a.symbol : "");
      return li;
    }));
    text("alerts-total", s.alerts_total);
    rows("feeds", Object.entries(s.feeds), ([sym, f]) => [sym, f.age_s, f.stalls, f.errors, f.failovers]);
    text("rebuilds", s.rebuilds);
    const v = s.venue;
    text("venue-latency", (v.latency_p50_ms ?? "-") + " / " + (v.latency_p99_ms ?? "-"));
    text("venue-errors", Object.entries(v.errors).map(([k, n]) => k + " " + n).join(", ") || "none");
    text("venue-weight", (v.weight ?? "-") + " / " + v.weight_limit);
    text("venue-429", v.http_429);
    text("venue-reconciled", v.last_reconcile_ts ? time(v.last_reconcile_ts) : "-");
    text("venue-deltas", v.reconcile_deltas);
    drawChart(s.equity_series);
  }

  function drawChart(series) {
    if (typeof uPlot === "undefined") return;
    const xs = series.map((p) => p[0] / 1000);
    const ys = series.map((p) => p[1]);
    const width = Math.max(200, $("chart").clientWidth || 300);
    if (!chart) {
      chart = new uPlot({ width: width, height: 180, series: [{}, { label: "equity", stroke: "#0b57d0" }],
        axes: [{}, { size: 70 }] }, [xs, ys], $("chart"));
    } else {
      chart.setData([xs, ys]);
    }
  }

  async function connect() {
    const r = await fetch("/api/state", { headers: { Authorization: "Bearer " + token } });
    if (r.status === 401) {
      $("main").hidden = true;
      text("status", "Refused: wrong or missing token.");
      return;
    }
    render(await r.json());
    text("status", "Connected.");
    sessionStorage.setItem("bastion-token", token);
    if (source) source.close();
    source = new EventSource("/api/stream?token=" + encodeURIComponent(token));
    source.onmessage = (ev) => render(JSON.parse(ev.data));
    source.onerror = () => text("status", "Stream interrupted; reconnecting…");
    source.onopen = () => text("status", "Connected.");
  }

  async function latch(path) {
    const reason = $("reason").value.trim();
    if (!reason) { text("latch-result", "A reason is required."); return; }
    const r = await fetch(path, {
      method: "POST",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ reason: reason }),
    });
    const body = await r.json();
    text("latch-result", r.ok ? body.previous + " -> " + body.state : "REFUSED: " + body.error);
  }

  $("login").addEventListener("submit", (ev) => { ev.preventDefault(); token = $("token").value; connect(); });
  $("halt-btn").addEventListener("click", () => latch("/api/halt"));
  $("resume-btn").addEventListener("click", () => latch("/api/resume"));
  for (const b of document.querySelectorAll("#windows button")) {
    b.addEventListener("click", () => {
      windowName = b.dataset.window;
      for (const o of document.querySelectorAll("#windows button")) o.classList.toggle("on", o === b);
      if (last) render(last);
    });
  }
  if (token) connect();
})();
