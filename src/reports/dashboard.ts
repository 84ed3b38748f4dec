// Owns the dashboard page: server-rendered HTML with inline SVG charts (no script, no charting library),
// readable with no data and with thousands of origins (only the top ones are listed; any other is one
// id away in the filter form).
import { escapeHtml as e } from "../unsubscribe/pages.js";
import type { Params } from "./report-query.js";
import { CHANNELS } from "./report-query.js";
import type { Filters, FunnelRow } from "./reports.repository.js";

interface DashboardData {
  filters: Filters;
  params: Params;
  problem: string | null;
  total: FunnelRow;
  daily: FunnelRow[];
  origins: FunnelRow[];
  links: FunnelRow[];
  /** Final failures: the deliveries ended bounced, failed, undeliverable or dropped. */
  failures: FunnelRow[];
  /** Failures on the way that were retried (then sent or delivered, or still being retried). */
  transient: FunnelRow[];
  timezone: string;
  /** The CSP nonce for the page's <style>. */
  nonce: string;
}

const n = (v: unknown) => Number(v ?? 0);
const fmt = (v: unknown) => n(v).toLocaleString("en-US");
const pct = (num: unknown, den: unknown) => (n(den) > 0 ? `${((100 * n(num)) / n(den)).toFixed(1)}%` : "–");

const SERIES = [
  { key: "sent", label: "Sent", colour: "#5b6b7f" },
  { key: "delivered", label: "Delivered", colour: "#1f4fd1" },
  { key: "human_opened", label: "Opened (people)", colour: "#0f7b6c" },
  { key: "human_clicked", label: "Clicked (people)", colour: "#b35900" },
] as const;

function funnelChart(total: FunnelRow): string {
  const steps: Array<[string, string, string]> = [
    ["sent", "Sent", ""],
    ["delivered", "Delivered", pct(total["delivered"], total["sent"])],
    ["human_opened", "Opened by people", pct(total["human_opened"], total["delivered"])],
    ["human_clicked", "Clicked by people", pct(total["human_clicked"], total["delivered"])],
    ["converted", "Converted", pct(total["converted"], total["delivered"])],
  ];
  const max = Math.max(1, ...steps.map(([k]) => n(total[k])));
  const width = 560;
  const bars = steps
    .map(([key, label, rate], i) => {
      const w = Math.max(2, Math.round((n(total[key]) / max) * (width - 190)));
      const y = 8 + i * 34;
      return `<text x="0" y="${y + 17}" class="lbl">${e(label)}</text>` +
        `<rect x="150" y="${y}" width="${w}" height="24" rx="3" fill="${SERIES[Math.min(i, 3)]!.colour}"><title>${e(label)}: ${fmt(total[key])}</title></rect>` +
        `<text x="${156 + w}" y="${y + 17}" class="val">${fmt(total[key])}${rate ? ` · ${rate}` : ""}</text>`;
    })
    .join("");
  return `<svg viewBox="0 0 ${width + 120} ${8 + steps.length * 34}" role="img" aria-labelledby="funnel-title"><title id="funnel-title">Funnel: ${steps.map(([k, l]) => `${l} ${fmt(total[k])}`).join(", ")}</title>${bars}</svg>`;
}

function seriesChart(daily: FunnelRow[], filters: Filters): string {
  if (daily.length === 0) return `<p class="empty">No deliveries from ${e(filters.from)} to ${e(filters.to)}.</p>`;
  const W = 680;
  const H = 220;
  const pad = { l: 56, r: 12, t: 12, b: 28 };
  const days: string[] = [];
  for (let t = Date.parse(`${filters.from}T00:00:00Z`); t <= Date.parse(`${filters.to}T00:00:00Z`); t += 86400_000) days.push(new Date(t).toISOString().slice(0, 10));
  const byDay = new Map(daily.map((r) => [String(r["day"]), r]));
  const max = Math.max(1, ...daily.map((r) => n(r["sent"])), ...daily.map((r) => n(r["delivered"])));
  const x = (i: number) => pad.l + (days.length === 1 ? (W - pad.l - pad.r) / 2 : (i * (W - pad.l - pad.r)) / (days.length - 1));
  const y = (v: number) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const lines = SERIES.map((s) => {
    const points = days.map((d, i) => `${x(i).toFixed(1)},${y(n(byDay.get(d)?.[s.key])).toFixed(1)}`).join(" ");
    return `<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${points}"><title>${e(s.label)}</title></polyline>`;
  }).join("");
  const grid = [0, 0.5, 1].map((f) => `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(max * f)}" y2="${y(max * f)}" class="grid"/><text x="${pad.l - 6}" y="${y(max * f) + 4}" class="axis" text-anchor="end">${fmt(Math.round(max * f))}</text>`).join("");
  const ticks = [0, Math.floor((days.length - 1) / 2), days.length - 1]
    .filter((v, i, a) => a.indexOf(v) === i)
    .map((i) => `<text x="${x(i)}" y="${H - 8}" class="axis" text-anchor="${i === 0 && days.length > 1 ? "start" : i === days.length - 1 && days.length > 1 ? "end" : "middle"}">${e(days[i]!)}</text>`)
    .join("");
  const legend = SERIES.map((s, i) => `<span class="key"><span class="swatch c${i}"></span>${e(s.label)}</span>`).join("");
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="series-title"><title id="series-title">Daily deliveries from ${e(filters.from)} to ${e(filters.to)}</title>${grid}${lines}${ticks}</svg><div class="legend">${legend}</div>`;
}

function table(rows: FunnelRow[], columns: Array<[string, string, (r: FunnelRow) => string]>, empty: string): string {
  if (rows.length === 0) return `<p class="empty">${e(empty)}</p>`;
  return `<table><thead><tr>${columns.map(([, h]) => `<th scope="col">${e(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${columns.map(([k, , cell]) => `<td class="${k}">${cell(r)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

const query = (p: Record<string, string | undefined>) =>
  Object.entries(p).filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v!)}`).join("&");

export function dashboardPage(d: DashboardData): string {
  const nonce = d.nonce;
  const f = d.filters;
  const originParam = (r: FunnelRow) => (r["origin_type"] === "transactional" ? "transactional" : String(r["origin_type"]));
  const originLink = (r: FunnelRow) =>
    r["origin_type"] === "none"
      ? "no origin"
      : `<a href="?${e(query({ from: f.from, to: f.to, channel: f.channel, [originParam(r)]: String(r["origin_id"]) }))}">${e(String(r["origin_type"]))} ${e(String(r["origin_id"]))}</a>`;
  const selected = f.originType && f.originId ? `${f.originType} ${f.originId}` : f.originType ? `all ${f.originType}s` : "all origins";
  const t = d.total;
  const stat = (label: string, v: unknown, of: unknown) => `<div class="stat"><span class="num">${fmt(v)}</span><span>${e(label)} · ${pct(v, of)}</span></div>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">
<title>Deliveries ${e(f.from)} – ${e(f.to)}</title>
<style nonce="${nonce}">
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f4f5f7}
header,main{max-width:76rem;margin:0 auto;padding:1rem 1.25rem}h1{font-size:1.4rem;margin:.5rem 0}h2{font-size:1.05rem;margin:0 0 .75rem}
form{display:flex;flex-wrap:wrap;gap:.75rem;align-items:end;background:#fff;padding:.75rem;border-radius:10px}
label{display:flex;flex-direction:column;font-size:.85rem;gap:.2rem}input,select,button{font:inherit;padding:.4rem .5rem;border:1px solid #8a8a8a;border-radius:6px;background:#fff}
input[type=text]{width:8rem}button{background:#1f4fd1;color:#fff;border-color:#1f4fd1;font-weight:600}
:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem;margin-top:1rem}
section{background:#fff;border-radius:10px;padding:1rem;overflow:hidden}svg{width:100%;height:auto}
.lbl,.val,.axis{font-size:13px;fill:#1a1a1a}.axis{fill:#4a4a4a}.grid{stroke:#e3e5e8}
.stats{display:flex;flex-wrap:wrap;gap:1.5rem;margin-top:.75rem}.stat{display:flex;flex-direction:column}.num{font-size:1.25rem;font-weight:700}
.legend{display:flex;flex-wrap:wrap;gap:1rem;font-size:.85rem}.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px}
${SERIES.map((s, i) => `.c${i}{background:${s.colour}}`).join("")}
table{width:100%;border-collapse:collapse;font-size:.9rem}th,td{text-align:left;padding:.35rem .4rem;border-bottom:1px solid #e3e5e8;vertical-align:top}
td.deliveries,td.clicks,td.human_clicks,th:not(:first-child){text-align:right}td.href,td.reason{word-break:break-all}
.empty,.note{color:#4a4a4a}.note{font-size:.85rem;margin:-.25rem 0 .5rem}.problem{background:#fff4e5;border:1px solid #b35900;padding:.5rem .75rem;border-radius:6px}
footer{max-width:76rem;margin:0 auto;padding:1rem 1.25rem 2rem;color:#4a4a4a;font-size:.85rem}a{color:#1a3fb0}
</style></head>
<body>
<header>
<h1>Deliveries: ${e(selected)}${f.channel ? `, ${e(f.channel)}` : ""}, ${e(f.from)} to ${e(f.to)}</h1>
${d.problem ? `<p class="problem" role="alert">${e(d.problem)} Showing the last 30 days instead.</p>` : ""}
<form method="get" action="">
<label>From<input type="date" name="from" value="${e(f.from)}"></label>
<label>To<input type="date" name="to" value="${e(f.to)}"></label>
<label>Channel<select name="channel"><option value="">All</option>${CHANNELS.map((c) => `<option${f.channel === c ? " selected" : ""}>${c}</option>`).join("")}</select></label>
${(["campaign", "broadcast", "newsletter", "transactional"] as const).map((o) => `<label>${o[0]!.toUpperCase()}${o.slice(1)} id<input type="text" inputmode="numeric" name="${o}" value="${f.originType === o && f.originId ? e(f.originId) : ""}"></label>`).join("")}
<button type="submit">Show</button>
</form>
</header>
<main>
<div class="grid2">
<section aria-labelledby="h-funnel"><h2 id="h-funnel">Funnel</h2>${funnelChart(t)}
<div class="stats">${stat("bounced", t["bounced"], t["sent"])}${stat("failed", n(t["failed"]) + n(t["undeliverable"]) + n(t["dropped"]), t["sent"])}${stat("unsubscribed", t["unsubscribed"], t["delivered"])}${stat("spam reports", t["spammed"], t["delivered"])}${stat("opened by machines only", n(t["opened"]) - n(t["human_opened"]), t["delivered"])}</div></section>
<section aria-labelledby="h-series"><h2 id="h-series">Per day</h2>${seriesChart(d.daily, f)}</section>
</div>
<div class="grid2">
<section aria-labelledby="h-origins"><h2 id="h-origins">Top origins</h2>${table(d.origins, [["origin", "Origin", originLink], ["deliveries", "Deliveries", (r) => fmt(r["deliveries"])]], "No origins in this range.")}</section>
<section aria-labelledby="h-links"><h2 id="h-links">Top links</h2>${table(d.links, [["href", "Link", (r) => e(String(r["href"]))], ["deliveries", "Deliveries", (r) => fmt(r["deliveries"])], ["clicks", "Clicks", (r) => fmt(r["clicks"])]], "No clicks in this range.")}</section>
<section aria-labelledby="h-failures"><h2 id="h-failures">Top failure reasons</h2><p class="note">Deliveries that ended bounced, failed, undeliverable or dropped: not delivered.</p>${table(d.failures, [["reason", "Reason", (r) => e(String(r["reason"]))], ["status", "Status", (r) => e(String(r["status"]))], ["deliveries", "Deliveries", (r) => fmt(r["deliveries"])]], "No failures in this range.")}</section>
<section aria-labelledby="h-transient"><h2 id="h-transient">Transient failures</h2><p class="note">Failed on the way and retried; not failures of the delivery. "Now" is where the deliveries stand.</p>${table(d.transient, [["reason", "Reason", (r) => e(String(r["reason"]))], ["status", "Now", (r) => e(String(r["status"]))], ["deliveries", "Deliveries", (r) => fmt(r["deliveries"])]], "No transient failures in this range.")}</section>
</div>
</main>
<footer>Days are calendar days in ${e(d.timezone)}. Same data as JSON or CSV: <a href="/reports/api/funnel?${e(query(d.params))}">/reports/api/funnel</a> (<a href="/reports/api/openapi.json">OpenAPI</a>).</footer>
</body></html>`;
  return html;
}
