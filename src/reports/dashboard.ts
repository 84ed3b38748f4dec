// Owns the dashboard page: server-rendered HTML with inline SVG (no script, no charting library),
// readable on a phone and with no data, and with thousands of origins (only the top ones are listed;
// any other is one id away in the filter form).
//
// Text is HTML, never SVG text: an SVG scaled down to a phone's width would shrink its labels with it.
// Sizes and positions are classes in the page's one <style> (its nonce is all the CSP allows), which a
// Sheet collects while the page is rendered.
import { escapeHtml as e } from "../unsubscribe/pages.js";
import type { Params } from "./report-query.js";
import { CHANNELS } from "./report-query.js";
import type { Filters, FunnelRow } from "./reports.repository.js";
import type { Completeness } from "../backfill/completeness.js";

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
  /** Whether webhooks arrive, and the last reconciliation with the App API. */
  completeness?: Completeness;
}

const n = (v: unknown) => Number(v ?? 0);
const fmt = (v: unknown) => n(v).toLocaleString("en-US");
const pct = (num: unknown, den: unknown) => (n(den) > 0 ? `${((100 * n(num)) / n(den)).toFixed(1)}%` : "–");

/** Every series has its own colour, the same in the funnel, the daily chart and the legend (each ≥ 4.8:1 on white). */
export const SERIES = [
  { key: "sent", label: "Sent", colour: "#5b6b7f" },
  { key: "delivered", label: "Delivered", colour: "#1f4fd1" },
  { key: "human_opened", label: "Opened by people", colour: "#0f7b6c" },
  { key: "human_clicked", label: "Clicked by people", colour: "#b35900" },
  { key: "converted", label: "Converted", colour: "#c2185b" },
] as const;

/** CSS rules made while rendering (widths, positions), each under a short class name, deduplicated. */
class Sheet {
  private readonly rules = new Map<string, string>();
  cls(declarations: string): string {
    let name = this.rules.get(declarations);
    if (!name) {
      name = `g${this.rules.size}`;
      this.rules.set(declarations, name);
    }
    return name;
  }
  css(): string {
    return [...this.rules].map(([d, name]) => `.${name}{${d}}`).join("");
  }
}

const percent = (fraction: number) => `${(Math.round(fraction * 10000) / 100).toString()}%`;

function funnelChart(total: FunnelRow, sheet: Sheet): string {
  const rates: Record<string, string> = {
    delivered: pct(total["delivered"], total["sent"]),
    human_opened: pct(total["human_opened"], total["delivered"]),
    human_clicked: pct(total["human_clicked"], total["delivered"]),
    converted: pct(total["converted"], total["delivered"]),
  };
  const max = Math.max(1, ...SERIES.map((s) => n(total[s.key])));
  const steps = SERIES.map((s, i) => {
    const width = n(total[s.key]) > 0 ? Math.max(0.005, n(total[s.key]) / max) : 0;
    return `<div class="step"><span class="step-label">${e(s.label)}</span><span class="step-value">${fmt(total[s.key])}${rates[s.key] ? ` · ${rates[s.key]}` : ""}</span>` +
      `<span class="track"><span class="bar c${i} ${sheet.cls(`width:${percent(width)}`)}"></span></span></div>`;
  }).join("");
  const summary = `Funnel: ${SERIES.map((s) => `${s.label} ${fmt(total[s.key])}`).join(", ")}`;
  return `<figure class="funnel" aria-labelledby="funnel-title"><figcaption id="funnel-title" class="sr-only">${e(summary)}</figcaption>${steps}</figure>`;
}

/** Whole-number ticks from 0 in steps of 1, 2 or 5 × 10ⁿ, about four of them, the top one at or above max. */
export function yTicks(max: number): number[] {
  const rough = Math.max(1, max) / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude);
  const top = Math.max(step, Math.ceil(max / step) * step);
  return Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step);
}

/**
 * How the days are drawn. A short range: a group of bars per day. A long range with data on a few days
 * only: bars for just those days, each labelled (one day of data in 30 is then a bar, not a flat line
 * with a spike at its edge). Otherwise a line per series, with a point on each day that has data while
 * the points stay apart.
 */
const FEW_DAYS = 14;
const FEW_DAYS_WITH_DATA = 4;
const POINTS_UP_TO_DAYS = 62;

const shortDay = (day: string) => new Date(`${day}T00:00:00Z`).toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });

function seriesChart(daily: FunnelRow[], filters: Filters, sheet: Sheet): string {
  if (daily.length === 0) return `<p class="empty">No deliveries from <span class="nowrap">${e(filters.from)}</span> to <span class="nowrap">${e(filters.to)}</span>.</p>`;
  const days: string[] = [];
  for (let t = Date.parse(`${filters.from}T00:00:00Z`); t <= Date.parse(`${filters.to}T00:00:00Z`); t += 86400_000) days.push(new Date(t).toISOString().slice(0, 10));
  const byDay = new Map(daily.map((r) => [String(r["day"]), r]));
  const value = (day: string, key: string) => n(byDay.get(day)?.[key]);
  const ticks = yTicks(Math.max(...daily.flatMap((r) => SERIES.map((s) => n(r[s.key])))));
  const top = ticks[ticks.length - 1]!;
  const withData = days.filter((d) => byDay.has(d));
  const kind = days.length <= FEW_DAYS ? "bars" : withData.length <= FEW_DAYS_WITH_DATA ? "bars-days-with-data" : "lines";

  // The plot is drawn in a 1000 × H box stretched to the plot area (preserveAspectRatio="none"): lines
  // and points keep their size (non-scaling-stroke), bars stretch, and no text is inside it.
  const W = 1000;
  const H = 300;
  const y = (v: number) => H * (1 - v / top);
  const grid = ticks.map((t) => `<line x1="0" x2="${W}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" class="gridline"/>`).join("");
  let marks: string;
  let labelled: Array<[day: string, at: number]>;
  if (kind === "lines") {
    const xAt = (i: number) => i / (days.length - 1);
    marks = SERIES.map((s) => {
      const points = days.map((d, i) => `${(xAt(i) * W).toFixed(1)},${y(value(d, s.key)).toFixed(1)}`);
      // A point is a zero-length line with round caps: round on screen however the box is stretched.
      const dots = days.length <= POINTS_UP_TO_DAYS ? days.flatMap((d, i) => (byDay.has(d) ? [`M${points[i]}h0`] : [])).join("") : "";
      return `<polyline fill="none" stroke="${s.colour}" stroke-width="2" vector-effect="non-scaling-stroke" points="${points.join(" ")}" class="mark" data-series="${s.key}"><title>${e(s.label)}</title></polyline>` +
        (dots ? `<path d="${dots}" fill="none" stroke="${s.colour}" stroke-width="7" stroke-linecap="round" vector-effect="non-scaling-stroke" class="mark point" data-series="${s.key}"/>` : "");
    }).join("");
    labelled = [...new Set([0, Math.floor((days.length - 1) / 2), days.length - 1])].map((i) => [days[i]!, xAt(i)]);
  } else {
    const columns = kind === "bars" ? days : withData;
    const slot = W / columns.length;
    const group = Math.min(slot * 0.8, 300);
    const barWidth = group / SERIES.length;
    const xAt = (i: number) => (i + 0.5) / columns.length;
    marks = columns.flatMap((d, i) => SERIES.flatMap((s, k) => {
      const v = value(d, s.key);
      if (v === 0) return [];
      const h = Math.max(H * (v / top), 2); // a 1 among thousands still shows
      return [`<rect x="${(xAt(i) * W - group / 2 + k * barWidth).toFixed(2)}" y="${(H - h).toFixed(2)}" width="${barWidth.toFixed(2)}" height="${h.toFixed(2)}" fill="${s.colour}" class="mark" data-series="${s.key}"><title>${e(s.label)}, ${e(d)}: ${fmt(v)}</title></rect>`];
    })).join("");
    const shown = kind === "bars" ? [...new Set([0, Math.floor((columns.length - 1) / 2), columns.length - 1])] : columns.map((_, i) => i);
    labelled = shown.map((i) => [columns[i]!, xAt(i)]);
  }
  const yLabels = ticks.map((t) => `<span class="ytick ${sheet.cls(`top:${percent(1 - t / top)}`)}">${fmt(t)}</span>`).join("");
  const widest = Math.max(...ticks.map((t) => fmt(t).length));
  const xLabels = labelled.map(([day, at], i) => {
    // On a line, the first and last days sit on the plot's edges: their labels align to them.
    const place = kind === "lines" && labelled.length > 1 && i === 0 ? "first" : kind === "lines" && labelled.length > 1 && i === labelled.length - 1 ? "last" : sheet.cls(`left:${percent(at)}`);
    return `<span class="xtick ${place}">${e(shortDay(day))}</span>`;
  }).join("");
  const legend = SERIES.map((s, i) => `<span class="key"><span class="swatch c${i}"></span>${e(s.label)}</span>`).join("");
  const note = kind === "bars-days-with-data" ? `<p class="note">Only the ${withData.length === 1 ? "day" : `${withData.length} days`} with deliveries ${withData.length === 1 ? "is" : "are"} shown; the other ${days.length - withData.length} days of the range had none.</p>` : "";
  const how = kind === "lines" ? "as lines" : "as bars";
  return `<figure class="chart" aria-labelledby="series-title" data-kind="${kind}">` +
    `<figcaption id="series-title" class="sr-only">Daily deliveries from ${e(filters.from)} to ${e(filters.to)}, ${how}</figcaption>` +
    `<div class="plotwrap"><div class="yaxis ${sheet.cls(`width:calc(${widest}ch + .5rem)`)}" aria-hidden="true">${yLabels}</div>` +
    `<div class="plot"><svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" aria-hidden="true" focusable="false">${grid}${marks}</svg></div>` +
    `<div class="xaxis" aria-hidden="true">${xLabels}</div></div>` +
    `${note}<div class="legend">${legend}</div></figure>`;
}

/** A long link or reason may break after these, and at spaces; never inside a word. */
const TOKEN = /[^/?&=#\s]*[/?&=#]+|\s+|[^/?&=#\s]+/g;
/** A part longer than this is shortened with "…" (the full text is in the tooltip). */
const LONGEST_PART = 20;
/** Past this, parts in the middle give way to one "…". */
const LONGEST_TEXT = 110;

/**
 * A link or failure reason as HTML that breaks only after / ? & = # (and at spaces): a part longer than
 * LONGEST_PART keeps its start and "…", a text longer than LONGEST_TEXT keeps its first and last parts
 * around "…"; when anything was shortened, the whole text is the tooltip.
 */
export function breakable(text: string): string {
  let shortened = false;
  let tokens = (text.match(TOKEN) ?? []).map((token) => {
    const separators = /[/?&=#]*$/.exec(token)![0];
    const word = token.slice(0, token.length - separators.length);
    if (word.length <= LONGEST_PART || /^\s+$/.test(token)) return token;
    shortened = true;
    return `${word.slice(0, LONGEST_PART - 2)}…${separators}`;
  });
  const length = (list: string[]) => list.reduce((sum, t) => sum + t.length, 0);
  if (length(tokens) > LONGEST_TEXT) {
    shortened = true;
    const head: string[] = [];
    const tail: string[] = [];
    for (const t of tokens) {
      if (length(head) + t.length > LONGEST_TEXT * 0.6) break;
      head.push(t);
    }
    for (const t of [...tokens].reverse()) {
      if (length(tail) + t.length > LONGEST_TEXT * 0.3 || head.length + tail.length >= tokens.length) break;
      tail.unshift(t);
    }
    tokens = [...head, "…", ...tail];
  }
  const html = tokens.map((t, i) => (i > 0 && !/^\s/.test(t) && !/\s$/.test(tokens[i - 1]!) ? `<wbr>${e(t)}` : e(t))).join("");
  return shortened ? `<span title="${e(text)}">${html}</span>` : html;
}

function table(rows: FunnelRow[], columns: Array<[string, string, (r: FunnelRow) => string]>, empty: string): string {
  if (rows.length === 0) return `<p class="empty">${e(empty)}</p>`;
  return `<table><thead><tr>${columns.map(([k, h]) => `<th scope="col" class="${k}">${e(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${columns.map(([k, , cell]) => `<td class="${k}">${cell(r)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

const query = (p: Record<string, string | undefined>) =>
  Object.entries(p).filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v!)}`).join("&");

/** A sentence ends with a full stop. */
const sentence = (s: string) => (/[.!?]$/.test(s) ? s : `${s}.`);

const utc = (at: string) => `${at.slice(0, 16).replace("T", " ")} UTC`;
/** Escaped text in which a date and time ("2026-12-03 08:06 UTC") never breaks across lines. */
const text = (s: string) => e(s).replace(/\d{4}-\d\d-\d\d( \d\d:\d\d( UTC)?)?/g, (t) => `<span class="nowrap">${t}</span>`);

function ago(minutes: number): string {
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const h = Math.floor(minutes / 60);
  return h < 48 ? `${h} h ${minutes % 60} min ago` : `${Math.floor(h / 24)} days ago`;
}

/** The banner when reporting webhooks stopped while deliveries are still being made. */
function silenceBanner(c: Completeness | undefined): string {
  const w = c?.webhooks;
  if (!w?.silent || !w.message) return "";
  const since = w.last_received_at ? utc(w.last_received_at) : `${utc(w.watching_since)} (none has arrived yet)`;
  const rest = w.message.replace(/^No reporting webhooks since [^,]*, /, "");
  return `<div class="banner" role="alert"><p><strong>No reporting webhooks since ${text(since)}</strong>, ${text(rest)}</p></div>`;
}

/** What reconciliation with Customer.io found last, and when a webhook last arrived. */
function completenessSection(c: Completeness | undefined): string {
  if (!c) return "";
  const r = c.reconciliation;
  const run = r.last_run;
  const webhook = c.webhooks.last_received_at
    ? `Last reporting webhook: <span class="nowrap">${e(utc(c.webhooks.last_received_at))}</span> <span class="nowrap">(${e(ago(c.webhooks.quiet_minutes))})</span>.`
    : "No reporting webhook has arrived yet.";
  let body: string;
  if (!r.enabled) {
    body = r.off_because === "CIO_APP_API_KEY is not set"
      ? `<p>Not checked: set <code>CIO_APP_API_KEY</code> (an App API key) to compare the last ${r.window_hours} hours with Customer.io every hour and fill what webhooks missed; <code>npm run backfill</code> fills older history.</p>`
      : `<p>Not checked: ${e(r.off_because ?? "reconciliation is off")}.</p>`;
  } else if (!run) {
    body = `<p>No check has run yet: the first runs on <code>RECONCILE_SCHEDULE</code> (${e(r.schedule)}).</p>`;
  } else {
    const window = `messages sent from <span class="nowrap">${e(utc(run.window_from))}</span> to <span class="nowrap">${e(utc(run.window_to))}</span>`;
    const when = `Last check <span class="nowrap">${e(utc(run.finished_at ?? run.started_at))}</span>: ${window}.`;
    const byMetric = Object.entries(run.missing_by_metric).sort((a, b) => b[1] - a[1]).map(([m, k]) => `${m} ${fmt(k)}`).join(", ");
    const stats =
      `<div class="stats"><div class="stat"><span class="num">${fmt(run.messages_checked)}</span><span>messages checked</span></div>` +
      `<div class="stat"><span class="num">${fmt(run.deliveries_missing)}</span><span>deliveries missing</span></div>` +
      `<div class="stat"><span class="num">${fmt(run.metrics_missing)}</span><span>metrics missing${run.metrics_missing > 0 ? ` · ${run.missing_percent}%` : ""}</span></div>` +
      `<div class="stat"><span class="num">${fmt(run.metrics_added)}</span><span>metrics filled</span></div></div>`;
    if (run.status === "failed") body = `<p class="gap">${when} It did not finish: ${text(sentence(run.error ?? "unknown error"))} The next one runs on schedule.</p>${stats}`;
    else if (run.status === "running") body = `<p>${when} Running now.</p>${stats}`;
    else if (run.deliveries_missing + run.metrics_missing === 0) body = `<p class="fine">${when} Nothing was missing.</p>${stats}`;
    else body = `<p${run.alert ? ' class="gap"' : ""}>${when} Missing here and filled now: ${e(byMetric)}.${run.cause ? ` Likely cause: ${text(sentence(run.cause))}` : ""}</p>${stats}`;
  }
  return `<section aria-labelledby="h-complete" class="complete"><h2 id="h-complete">Checked against Customer.io</h2>${body}<p class="note">${webhook}</p></section>`;
}

export function dashboardPage(d: DashboardData): string {
  const nonce = d.nonce;
  const f = d.filters;
  const sheet = new Sheet();
  const originLink = (r: FunnelRow) =>
    r["origin_type"] === "none"
      ? "no origin"
      : `<a href="?${e(query({ from: f.from, to: f.to, channel: f.channel, [String(r["origin_type"])]: String(r["origin_id"]) }))}">${e(String(r["origin_type"]))} ${e(String(r["origin_id"]))}</a>`;
  const selected = f.originType && f.originId ? `${f.originType} ${f.originId}` : f.originType ? `all ${f.originType}s` : "all origins";
  const t = d.total;
  const stat = (label: string, v: unknown, of: unknown) => `<div class="stat"><span class="num">${fmt(v)}</span><span>${e(label)} · ${pct(v, of)}</span></div>`;
  const funnel = funnelChart(t, sheet);
  const series = seriesChart(d.daily, f, sheet);
  const count = (r: FunnelRow) => fmt(r["deliveries"]);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">
<title>Deliveries ${e(f.from)} – ${e(f.to)}</title>
<style nonce="${nonce}">
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f4f5f7}
header,main{max-width:76rem;margin:0 auto;padding:1rem 1.25rem}main{padding-top:0}.nowrap{white-space:nowrap}h1{font-size:1.4rem;margin:.5rem 0}h2{font-size:1.05rem;margin:0 0 .75rem}
form{display:flex;flex-wrap:wrap;gap:.75rem;align-items:end;background:#fff;padding:.75rem;border-radius:10px}
label{display:flex;flex-direction:column;font-size:.85rem;gap:.2rem}input,select,button{font:inherit;padding:.4rem .5rem;border:1px solid #8a8a8a;border-radius:6px;background:#fff}
input[type=text]{width:8rem}button{background:#1f4fd1;color:#fff;border-color:#1f4fd1;font-weight:600}
:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,22rem),1fr));gap:1rem;margin-top:1rem}
section{background:#fff;border-radius:10px;padding:1rem;min-width:0}figure{margin:0}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.step{display:grid;grid-template-columns:1fr auto;gap:0 .75rem;margin-bottom:.6rem}.step-value{font-variant-numeric:tabular-nums}
.track{grid-column:1/-1;height:1.25rem;background:#eef0f3;border-radius:3px;overflow:hidden}.bar{display:block;height:100%;border-radius:3px}
.plotwrap{display:grid;grid-template-columns:auto 1fr;grid-template-rows:13rem auto;margin:.5rem 0}
.yaxis{position:relative;margin-right:.4rem}.ytick{position:absolute;right:0;transform:translateY(-50%);font-size:.8rem;color:#4a4a4a;font-variant-numeric:tabular-nums;line-height:1}
.plot{position:relative;border-bottom:1px solid #8a8a8a}.plot svg{position:absolute;inset:0;width:100%;height:100%;overflow:visible}
.gridline{stroke:#e3e5e8;stroke-width:1;vector-effect:non-scaling-stroke}
.xaxis{grid-column:2;position:relative;height:1.4rem;margin-top:.3rem}.xtick{position:absolute;top:0;transform:translateX(-50%);font-size:.8rem;color:#4a4a4a;white-space:nowrap}
.xtick.first{left:0;transform:none}.xtick.last{right:0;transform:none}
.legend{display:flex;flex-wrap:wrap;gap:.4rem 1rem;font-size:.85rem}.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px}
${SERIES.map((s, i) => `.c${i}{background:${s.colour}}`).join("")}
.stats{display:flex;flex-wrap:wrap;gap:.75rem 1.5rem;margin-top:.75rem}.stat{display:flex;flex-direction:column}.num{font-size:1.25rem;font-weight:700}
table{width:100%;border-collapse:collapse;font-size:.9rem}th,td{text-align:left;padding:.35rem .4rem;border-bottom:1px solid #e3e5e8;vertical-align:top}
th.deliveries,th.clicks,td.deliveries,td.clicks{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}td.status{white-space:nowrap}
td.href,td.reason{overflow-wrap:normal;word-break:normal}
.empty,.note{color:#4a4a4a}.note{font-size:.85rem;margin:-.25rem 0 .5rem}.problem{background:#fff4e5;border:1px solid #b35900;padding:.5rem .75rem;border-radius:6px}
footer{max-width:76rem;margin:0 auto;padding:1rem 1.25rem 2rem;color:#4a4a4a;font-size:.85rem}a{color:#1a3fb0}
.banner{background:#fdecea;border:1px solid #b3261e;border-left-width:6px;color:#1a1a1a;padding:.6rem .9rem;border-radius:6px;margin:.25rem 0 .75rem}.banner p{margin:0}
.complete{margin-top:1rem}.complete p{margin:.25rem 0 .5rem;overflow-wrap:anywhere}.complete .note{margin:.5rem 0 0}.fine::before{content:"✓ ";color:#0f7b6c;font-weight:700}
.gap{background:#fff4e5;border-left:4px solid #b35900;padding:.4rem .6rem;border-radius:4px}code{font-size:.85em;background:#eef0f3;padding:0 .25rem;border-radius:3px}
@media (max-width:600px){header,main{padding:.75rem}main{padding-top:0}section{padding:.75rem}h1{font-size:1.2rem}table{font-size:.85rem}th,td{padding:.35rem .3rem}}
${sheet.css()}
</style></head>
<body>
<header>
<h1>Deliveries: ${e(selected)}${f.channel ? `, ${e(f.channel)}` : ""}, <span class="nowrap">${e(f.from)}</span> to <span class="nowrap">${e(f.to)}</span></h1>
${silenceBanner(d.completeness)}${d.problem ? `<p class="problem" role="alert">${e(sentence(d.problem))} Showing the last 30 days instead.</p>` : ""}
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
<section aria-labelledby="h-funnel"><h2 id="h-funnel">Funnel</h2>${funnel}
<div class="stats">${stat("bounced", t["bounced"], t["sent"])}${stat("failed", n(t["failed"]) + n(t["undeliverable"]) + n(t["dropped"]), t["sent"])}${stat("unsubscribed", t["unsubscribed"], t["delivered"])}${stat("spam reports", t["spammed"], t["delivered"])}${stat("opened by machines only", n(t["opened"]) - n(t["human_opened"]), t["delivered"])}</div></section>
<section aria-labelledby="h-series"><h2 id="h-series">Per day</h2>${series}</section>
</div>
<div class="grid2">
<section aria-labelledby="h-origins"><h2 id="h-origins">Top origins</h2>${table(d.origins, [["origin", "Origin", originLink], ["deliveries", "Deliveries", count]], "No origins in this range.")}</section>
<section aria-labelledby="h-links"><h2 id="h-links">Top links</h2>${table(d.links, [["href", "Link", (r) => breakable(String(r["href"]))], ["deliveries", "Deliveries", count], ["clicks", "Clicks", (r) => fmt(r["clicks"])]], "No clicks in this range.")}</section>
</div>
<div class="grid2">
<section aria-labelledby="h-failures"><h2 id="h-failures">Top failure reasons</h2><p class="note">Deliveries that ended bounced, failed, undeliverable or dropped: not delivered.</p>${table(d.failures, [["reason", "Reason", (r) => breakable(String(r["reason"]))], ["status", "Status", (r) => e(String(r["status"]))], ["deliveries", "Deliveries", count]], "No failures in this range.")}</section>
<section aria-labelledby="h-transient"><h2 id="h-transient">Transient failures</h2><p class="note">Failed on the way and retried; not failures of the delivery. "Now" is where those deliveries stand.</p>${table(d.transient, [["reason", "Reason", (r) => breakable(String(r["reason"]))], ["status", "Now", (r) => e(String(r["status"]))], ["deliveries", "Deliveries", count]], "No transient failures in this range.")}</section>
</div>
${completenessSection(d.completeness)}
</main>
<footer>Days are calendar days in ${e(d.timezone)}. Same data as JSON or CSV: <a href="/reports/api/funnel?${e(query(d.params))}">/reports/api/funnel</a> (<a href="/reports/api/openapi.json">OpenAPI</a>).</footer>
</body></html>`;
  return html;
}
