(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const utc = (s) => uPlot.tzDate(new Date(s * 1e3), "Etc/UTC");
  const width = () => Math.max(600, document.body.clientWidth - 40);
  const halts = data.halts || [];
  const haltColor = { HALTED: "#b2182b", REDUCING: "#e08214", ACTIVE: "#1a7837" };
  const markHalts = (u) => {
    const ctx = u.ctx;
    ctx.save();
    ctx.lineWidth = 2;
    ctx.setLineDash([6, 4]);
    for (const h of halts) {
      const x = u.valToPos(h.ts, "x", true);
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.strokeStyle = haltColor[h.state] || "#555";
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillText(h.state + ": " + h.reason, x + 4, u.bbox.top + 12);
    }
    ctx.restore();
  };
  const line = (label, stroke, extra) => Object.assign({ label, stroke, width: 1.5 }, extra || {});
  const dots = (label, fill) => ({
    label, stroke: fill, fill, paths: () => null, points: { show: true, size: 8, fill },
  });
  if (data.equity) {
    const e = data.equity;
    const series = [{}, line("equity", "#2166ac")];
    const cols = [e.x, e.equity];
    if (e.benchmark) { series.push(line("buy and hold", "#999", { dash: [5, 4] })); cols.push(e.benchmark); }
    new uPlot({ width: width(), height: 320, tzDate: utc, axes: [{}, { size: 80 }], series,
      hooks: { draw: [markHalts] } }, cols, document.getElementById("chart-equity"));
    new uPlot({ width: width(), height: 180, tzDate: utc, axes: [{}, { size: 80 }],
      series: [{}, line("drawdown %", "#d73027", { fill: "rgba(215,48,39,0.25)" })],
      hooks: { draw: [markHalts] } }, [e.x, e.drawdown], document.getElementById("chart-drawdown"));
  }
  const prices = document.getElementById("chart-prices");
  for (const p of data.prices) {
    const box = document.createElement("div");
    box.className = "chart";
    prices.appendChild(box);
    new uPlot({ title: p.symbol, width: width(), height: 280, tzDate: utc, axes: [{}, { size: 80 }],
      series: [{}, line(p.symbol, "#4d4d4d", { width: 1 }), dots("buys", "#1a9850"), dots("sells", "#d73027")],
      hooks: { draw: [markHalts] } }, [p.x, p.price, p.buys, p.sells], box);
  }
  const when = (s) => new Date(s * 1e3).toISOString().slice(0, 16).replace("T", " ");
  const span = (s) => {
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return (d ? d + "d " : "") + String(h).padStart(2, "0") + ":" + String(m).padStart(2, "0");
  };
  const money = (v) => v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const trades = data.trades, per = 100, tbody = document.querySelector("#trades tbody");
  const pager = document.getElementById("trades-pager");
  let page = Math.max(0, Math.ceil(trades.length / per) - 1);
  const show = () => {
    tbody.textContent = "";
    for (const t of trades.slice(page * per, page * per + per)) {
      const tr = document.createElement("tr");
      const cells = [t[0], t[1], t[2], when(t[3]), when(t[4]), span(t[4] - t[3]), t[5], t[6], t[7], money(t[8]), money(t[9])];
      cells.forEach((c, i) => {
        const td = document.createElement("td");
        td.textContent = c;
        if (i === 9) td.className = t[8] < 0 ? "neg" : t[8] > 0 ? "pos" : "";
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    }
    pager.textContent = "";
    const pages = Math.max(1, Math.ceil(trades.length / per));
    const button = (label, to) => {
      const b = document.createElement("button");
      b.textContent = label;
      b.disabled = to < 0 || to >= pages || to === page;
      b.addEventListener("click", () => { page = to; show(); });
      pager.appendChild(b);
    };
    button("« first", 0); button("‹ previous", page - 1);
    pager.appendChild(document.createTextNode(
      " " + trades.length.toLocaleString("en-US") + " round trips, page " + (page + 1) + " of " + pages + " "));
    button("next ›", page + 1); button("last »", pages - 1);
  };
  show();
})();
