// The alert rules (docs/ops/alerts.yml) and the Grafana dashboard (docs/ops/grafana-dashboard.json)
// name only metrics a running service exposes: a renamed metric would otherwise leave an alert that
// never fires and a panel that stays empty. Names are taken from a real scrape, not from a list.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { PROJECT_ROOT } from "../../src/core/paths.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { parsePrometheusText } from "../helpers/prometheus-text.js";
import { startTestService } from "../helpers/service.js";

const read = (file: string) => fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8");

const AGGREGATIONS = ["sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile"];
const KEYWORDS = new Set([...AGGREGATIONS, "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"]);

/** The metric names a PromQL expression reads: identifiers that are not functions, keywords, labels or values. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // ranges, $__rate_interval
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " "); // label lists
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice(m.index + m[0].length).trimStart();
    if (after.startsWith("(") || KEYWORDS.has(m[0].toLowerCase())) continue;
    if (/\d/.test(bare[m.index - 1] ?? "")) continue; // a number's exponent or a duration's unit
    names.add(m[0]);
  }
  return [...names];
}

let exposed: Set<string>;
let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
  const svc = await startTestService(db.url, { REPORTER_ENABLED: "false" });
  try {
    const families = parsePrometheusText(await (await fetch(`${svc.adminUrl}/metrics`)).text());
    exposed = new Set();
    for (const f of families.values()) {
      exposed.add(f.name);
      if (f.type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) exposed.add(f.name + suffix);
    }
  } finally {
    await svc.stop();
  }
});
after(async () => {
  await db.drop();
});

function assertExposed(where: string, expr: string): void {
  const names = metricNamesIn(expr);
  assert.ok(names.length > 0, `${where}: no metric in ${expr}`);
  for (const name of names) assert.ok(exposed.has(name), `${where}: ${name} is not exposed by the service (${expr})`);
}

describe("docs/ops", () => {
  it("metricNamesIn finds the metrics of an expression and nothing else", () => {
    assert.deepEqual(
      metricNamesIn('histogram_quantile(0.99, sum by (instance, le) (rate(a_seconds_bucket{x="y", le=~"1e3"}[5m]))) > 1e3 and on(instance) b offset 5m'),
      ["a_seconds_bucket", "b"],
    );
    assert.deepEqual(metricNamesIn("time() - max(c_timestamp_seconds) > 3600"), ["c_timestamp_seconds"]);
  });

  it("alerts.yml is Prometheus rule syntax, has the alerts operators need, and reads only exposed metrics", () => {
    const doc = parseYaml(read("docs/ops/alerts.yml")) as { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> };
    assert.ok(Array.isArray(doc.groups) && doc.groups.length > 0);
    const names: string[] = [];
    for (const group of doc.groups) {
      assert.equal(typeof group.name, "string");
      for (const rule of group.rules) {
        const name = String(rule["alert"]);
        names.push(name);
        assert.match(name, /^CioCompanion[A-Z][A-Za-z0-9]+$/);
        assert.deepEqual(Object.keys(rule).filter((k) => !["alert", "expr", "for", "keep_firing_for", "labels", "annotations"].includes(k)), [], `${name}: unknown keys`);
        assert.equal(typeof rule["expr"], "string", `${name}: expr`);
        if (rule["for"] !== undefined) assert.match(String(rule["for"]), /^\d+[smhd]$/, `${name}: for`);
        const labels = rule["labels"] as Record<string, string>;
        assert.ok(["info", "warning", "critical"].includes(labels["severity"]!), `${name}: severity`);
        const annotations = rule["annotations"] as Record<string, string>;
        assert.ok(annotations["summary"] && annotations["description"], `${name}: summary and description`);
        assertExposed(name, rule["expr"] as string);
      }
    }
    assert.equal(new Set(names).size, names.length, "alert names are unique");
    for (const needed of ["CioCompanionNoWebhooks", "CioCompanionOutboxBacklog", "CioCompanionDeadLetters", "CioCompanionSlowCommits", "CioCompanionWebhook503", "CioCompanionRestarting"]) {
      assert.ok(names.includes(needed), `${needed} is missing`);
    }
    // Every alert is explained, with the first thing to check, in the operations guide.
    const guide = read("docs/operations.md");
    for (const name of names) assert.match(guide, new RegExp(`### ${name}\\b`), `docs/operations.md does not explain ${name}`);
  });

  it("grafana-dashboard.json is valid JSON whose every panel reads only exposed metrics", () => {
    const dashboard = JSON.parse(read("docs/ops/grafana-dashboard.json")) as { title: string; panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }>; panels?: unknown[] }> };
    assert.equal(dashboard.title, "cio-companion");
    const panels = dashboard.panels.flatMap((p) => [p, ...((p.panels ?? []) as typeof dashboard.panels)]).filter((p) => p.type !== "row");
    assert.ok(panels.length >= 10, `${panels.length} panels`);
    const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id);
    assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
    const read_ = new Set<string>();
    for (const panel of panels) {
      assert.ok(panel.targets && panel.targets.length > 0, `${panel.title}: no query`);
      for (const t of panel.targets) {
        assertExposed(panel.title, t.expr);
        for (const n of metricNamesIn(t.expr)) read_.add(n);
      }
    }
    // What the issue asks the dashboard to show.
    for (const name of ["ciocompanion_webhook_requests_total", "ciocompanion_ingest_commit_duration_seconds_bucket", "ciocompanion_outbox_rows", "ciocompanion_outbox_oldest_pending_age_seconds", "ciocompanion_customerio_requests_total", "ciocompanion_unsubscribes_total"]) {
      assert.ok(read_.has(name), `no panel shows ${name}`);
    }
  });
});
