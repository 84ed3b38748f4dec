// The OpenAPI 3.1 description of the reports API, served at /reports/api/openapi.json.
import { FAILURE_KINDS, GROUPS, MEASURES, PERSON_KEYS, RATES } from "./reports.repository.js";
import { CHANNELS } from "./report-query.js";

const q = (name: string, description: string, schema: object = { type: "string" }) => ({ name, in: "query", required: false, description, schema });
const FILTERS = [
  q("from", "First day (inclusive), YYYY-MM-DD in the report time zone. Default: 29 days before `to`.", { type: "string", format: "date" }),
  q("to", "Last day (inclusive). Default: today in the report time zone.", { type: "string", format: "date" }),
  q("channel", "Only this channel.", { type: "string", enum: CHANNELS }),
  q("campaign", "Only this campaign id.", { type: "integer" }),
  q("broadcast", "Only this broadcast id.", { type: "integer" }),
  q("newsletter", "Only this newsletter id.", { type: "integer" }),
  q("transactional", "Only this transactional message id.", { type: "integer" }),
  q("origin_type", "Only this kind of origin (when no id is given).", { type: "string", enum: ["campaign", "broadcast", "newsletter", "transactional", "none"] }),
  q("action", "Only this action (message) id.", { type: "integer" }),
  q("format", "`csv` for CSV (or send `Accept: text/csv`).", { type: "string", enum: ["json", "csv"] }),
];
const PAGE = [q("limit", "Rows per page (1-1000, default 50).", { type: "integer" }), q("offset", "Rows to skip.", { type: "integer" })];
const row = (properties: Record<string, object>) => ({ type: "object", properties });
const list = (item: object, paged: boolean) => ({
  description: "Rows, as JSON (or CSV).",
  content: {
    "application/json": {
      schema: {
        type: "object",
        properties: {
          timezone: { type: "string", description: "The report time zone the days are in." },
          filters: { type: "object" },
          ...(paged ? { limit: { type: "integer" }, offset: { type: "integer" }, next_offset: { type: ["integer", "null"], description: "Offset of the next page; null on the last." } } : {}),
          rows: { type: "array", items: item },
        },
      },
    },
    "text/csv": { schema: { type: "string" } },
  },
});
const ERRORS = {
  "400": { description: "Invalid parameters; `problems` names each." },
  "401": { description: "REPORTS_CREDENTIALS is set and Basic auth does not match (on either listener)." },
  "403": { description: "Admin listener, no REPORTS_CREDENTIALS, and the client is not on this machine (or a proxy says it forwarded the request)." },
  "404": { description: "Public listener without REPORTS_CREDENTIALS: reports are served on the admin listener only." },
};

const funnelRow = row({
  day: { type: "string", format: "date", description: "With group_by=day." },
  channel: { type: "string", description: "With group_by=channel ('' when unknown)." },
  origin_type: { type: "string", description: "With group_by=origin." },
  origin_id: { type: "string", description: "With group_by=origin (0 when none)." },
  action_id: { type: "string", description: "With group_by=action." },
  ...Object.fromEntries(MEASURES.map((m) => [m, { type: "integer", description: m === "deliveries" ? "Deliveries in the cohort (by the day they were sent, or first seen)." : `Deliveries that were ${m.replace("human_", "").replace("_", " ")}${m.startsWith("human_") ? " by a person (not a machine/prefetch)" : ""}.` }])),
  ...Object.fromEntries(RATES.map(([name, n, d]) => [name, { type: ["number", "null"], description: `${n} / ${d}; null when ${d} is 0.` }])),
});

export const OPENAPI = {
  openapi: "3.1.0",
  info: {
    title: "cio-companion reports",
    version: "1.0.0",
    description:
      "Read-only reports on Customer.io deliveries stored by cio-companion. Served on the admin listener (ADMIN_HOST:ADMIN_PORT, 127.0.0.1:3001 by default), " +
      "and on the public listener only when REPORTS_CREDENTIALS is set (Basic auth). Days are calendar days in the report time zone (UTC unless changed); " +
      "a range without `to` ends today in that zone.",
  },
  components: { securitySchemes: { basic: { type: "http", scheme: "basic" } } },
  security: [{ basic: [] }],
  paths: {
    "/reports/api/funnel": {
      get: {
        summary: "Funnel counts and rates (sent, delivered, opened, clicked, converted, bounced, ...)",
        parameters: [...FILTERS, q("group_by", `Comma-separated: ${GROUPS.join(", ")}. None: one total row.`)],
        responses: { "200": list(funnelRow, false), ...ERRORS },
      },
    },
    "/reports/api/links": {
      get: {
        summary: "Links clicked, most clicked first",
        parameters: [...FILTERS, ...PAGE],
        responses: { "200": list(row({ href: { type: "string" }, deliveries: { type: "integer", description: "Deliveries that clicked it." }, clicks: { type: "integer", description: "Click webhooks." }, human_clicks: { type: "integer" } }), true), ...ERRORS },
      },
    },
    "/reports/api/failures": {
      get: {
        summary: "Bounce and failure reasons (normalized), most frequent first",
        description:
          "Grouped by kind, normalized reason and the deliveries' current status, final failures first. `final`: the delivery ended bounced, failed, undeliverable or dropped. " +
          "`transient`: it only had a failure message on the way (an `attempted` or `deferred` that Customer.io retried); `status` says where it stands now (`delivered`, `sent`, ... or still `attempted`).",
        parameters: [...FILTERS, ...PAGE, q("kind", "Only `final` or only `transient` failures. Default: both.", { type: "string", enum: FAILURE_KINDS })],
        responses: {
          "200": list(
            row({
              kind: { type: "string", enum: FAILURE_KINDS, description: "`final`: not delivered, for good. `transient`: failed on the way, then retried." },
              reason: { type: "string", description: "The failure message, normalized (addresses and ids masked)." },
              status: { type: "string", description: "The deliveries' status now." },
              deliveries: { type: "integer" },
              example: { type: "string", description: "One original message." },
            }),
            true,
          ),
          ...ERRORS,
        },
      },
    },
    "/reports/api/origins": {
      get: {
        summary: "Origins (campaigns, broadcasts, newsletters, transactional messages) with the most deliveries",
        parameters: [...FILTERS, q("limit", "How many (default 20).", { type: "integer" })],
        responses: { "200": list(row({ origin_type: { type: "string" }, origin_id: { type: "string" }, deliveries: { type: "integer" } }), false), ...ERRORS },
      },
    },
    "/reports/api/deliveries/{delivery_id}": {
      get: {
        summary: "One delivery and its timeline of events",
        parameters: [{ name: "delivery_id", in: "path", required: true, schema: { type: "string" } }, q("format", "`csv` for the events as CSV.")],
        responses: { "200": { description: "`{delivery, events}`: the deliveries row and its delivery_events in time order." }, ...ERRORS, "404": { description: "Unknown delivery (or, on the public listener without REPORTS_CREDENTIALS, no reports at all)." } },
      },
    },
    "/reports/api/people/{by}/{value}/deliveries": {
      get: {
        summary: "One person's deliveries, newest first",
        parameters: [
          { name: "by", in: "path", required: true, schema: { type: "string", enum: PERSON_KEYS } },
          { name: "value", in: "path", required: true, schema: { type: "string" } },
          ...PAGE,
          q("format", "`csv` for CSV."),
        ],
        responses: { "200": list(row({ delivery_id: { type: "string" }, channel: { type: "string" }, status: { type: "string" }, subject: { type: "string" }, sent_at: { type: "string", format: "date-time" } }), true), ...ERRORS },
      },
    },
    "/reports/api/reconciliation": {
      get: {
        summary: "Missing deliveries: whether reporting webhooks arrive, and the last reconciliation with Customer.io's App API",
        description:
          "`webhooks`: when a reporting webhook last arrived, and `silent` when none has for WEBHOOK_SILENCE_MINUTES while deliveries are still being made " +
          "(a relayed metric, or a message the last reconciliation read, came after it); `message` says what to check. `reconciliation`: whether it runs " +
          "(CIO_APP_API_KEY), its settings, and `last_run`: its window, messages checked, deliveries and metrics missing, what was filled, the share of " +
          "Customer.io's metrics that were missing (`alert` above RECONCILE_ALERT_PERCENT), and the likely `cause`.",
        responses: { "200": { description: "`{webhooks, reconciliation}` (JSON only)." }, ...ERRORS },
      },
    },
    "/reports/api/openapi.json": { get: { summary: "This document", responses: { "200": { description: "OpenAPI 3.1" } } } },
    "/reports": { get: { summary: "The dashboard (HTML), with the same filters as the API", parameters: FILTERS.slice(0, 9), responses: { "200": { description: "HTML" }, ...ERRORS } } },
  },
} as const;
