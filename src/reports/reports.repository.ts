// Owns the reports' SQL. The funnel and its daily series read the daily rollup (delivery_stats_daily),
// so they cost the same whatever the history; links, failure reasons, a delivery's timeline and a
// person's deliveries read indexed ranges of delivery_events / deliveries. Days are calendar days of
// the report time zone (report_settings.timezone, UTC unless changed with `npm run report -- timezone`).
import type pg from "pg";

type Queryable = Pick<pg.Pool, "query">;

export const ORIGIN_TYPES = ["campaign", "broadcast", "newsletter", "transactional", "none"] as const;
export type OriginType = (typeof ORIGIN_TYPES)[number];

export interface Filters {
  /** Local dates, inclusive. */
  from: string;
  to: string;
  channel?: string;
  originType?: OriginType;
  originId?: string;
  actionId?: string;
}

export const MEASURES = ["deliveries", "sent", "delivered", "opened", "human_opened", "clicked", "human_clicked", "converted", "replied", "bounced", "failed", "undeliverable", "dropped", "spammed", "unsubscribed"] as const;
export const RATES: ReadonlyArray<readonly [name: string, numerator: string, denominator: string]> = [
  ["delivery_rate", "delivered", "sent"],
  ["open_rate", "opened", "delivered"],
  ["human_open_rate", "human_opened", "delivered"],
  ["click_rate", "human_clicked", "delivered"],
  ["click_to_open_rate", "human_clicked", "human_opened"],
  ["conversion_rate", "converted", "delivered"],
  ["bounce_rate", "bounced", "sent"],
  ["unsubscribe_rate", "unsubscribed", "delivered"],
  ["spam_rate", "spammed", "delivered"],
];
export const GROUPS = ["day", "channel", "origin", "action"] as const;
export type Group = (typeof GROUPS)[number];

export type FunnelRow = Record<string, string | number | null>;

const ORIGIN_CASE = (d: string) =>
  `CASE WHEN ${d}.campaign_id IS NOT NULL THEN 'campaign' WHEN ${d}.broadcast_id IS NOT NULL THEN 'broadcast' ` +
  `WHEN ${d}.newsletter_id IS NOT NULL THEN 'newsletter' WHEN ${d}.transactional_message_id IS NOT NULL THEN 'transactional' ELSE 'none' END`;
const ORIGIN_ID = (d: string) => `coalesce(${d}.campaign_id, ${d}.broadcast_id, ${d}.newsletter_id, ${d}.transactional_message_id, 0)`;

/** The deliveries column of each origin type, so an origin filter can use that column's index. */
const ORIGIN_COLUMN: Record<string, string> = { campaign: "campaign_id", broadcast: "broadcast_id", newsletter: "newsletter_id", transactional: "transactional_message_id" };

/** WHERE conditions for the optional filters, on rollup columns or on a deliveries alias. */
function filterSql(f: Filters, params: unknown[], on: { channel: string; originType: string; originId: string; actionId: string; deliveries?: string }): string {
  const where: string[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (f.channel !== undefined) add(`${on.channel} = ?`, f.channel);
  if (on.deliveries && f.originType && f.originId !== undefined && ORIGIN_COLUMN[f.originType]) {
    // Each delivery has one origin: its own column says it all, and is indexed.
    add(`${on.deliveries}.${ORIGIN_COLUMN[f.originType]} = ?::bigint`, f.originId);
  } else {
    if (f.originType !== undefined) add(`${on.originType} = ?`, f.originType);
    if (f.originId !== undefined) add(`${on.originId} = ?::bigint`, f.originId);
  }
  if (f.actionId !== undefined) add(`${on.actionId} = ?::bigint`, f.actionId);
  return where.map((w) => ` AND ${w}`).join("");
}

/** [from, to] local days as instants, for timestamp columns. */
const INSTANT_RANGE = (column: string) =>
  `${column} >= $1::date::timestamp AT TIME ZONE cio_report_timezone() AND ${column} < ($2::date + 1)::timestamp AT TIME ZONE cio_report_timezone()`;

const ROLLUP_COLUMNS = { channel: "channel", originType: "origin_type", originId: "origin_id", actionId: "action_id" };
const DELIVERY_COLUMNS = { channel: "coalesce(d.channel, '')", originType: ORIGIN_CASE("d"), originId: ORIGIN_ID("d"), actionId: "coalesce(d.action_id, 0)", deliveries: "d" };

const GROUP_SQL: Record<Group, string[]> = {
  day: ["to_char(day, 'YYYY-MM-DD') AS day"],
  channel: ["channel"],
  origin: ["origin_type", "origin_id::text AS origin_id"],
  action: ["action_id::text AS action_id"],
};

/** Funnel counts and rates from the rollup, grouped as asked (no group: one total row). */
export async function funnel(db: Queryable, f: Filters, groups: readonly Group[] = []): Promise<FunnelRow[]> {
  const params: unknown[] = [f.from, f.to];
  const dims = groups.flatMap((g) => GROUP_SQL[g]);
  const positions = dims.map((_, i) => i + 1).join(", ");
  const sums = MEASURES.map((m) => `sum(${m})::int AS ${m}`);
  const rates = RATES.map(([name, n, d]) => `round(sum(${n})::numeric / nullif(sum(${d}), 0), 4)::float8 AS ${name}`);
  const sql = `SELECT ${[...dims, ...sums, ...rates].join(", ")}
    FROM delivery_stats_daily
    WHERE day BETWEEN $1::date AND $2::date${filterSql(f, params, ROLLUP_COLUMNS)}
    ${dims.length > 0 ? `GROUP BY ${positions} ORDER BY ${positions}` : ""}`;
  const { rows } = await db.query<FunnelRow>(sql, params);
  // Without a group, an empty range still answers one row of zeros.
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, (MEASURES as readonly string[]).includes(k) ? Number(v ?? 0) : v])));
}

/**
 * The same funnel computed straight from delivery_events, without the rollup or the deliveries table:
 * the benchmark's reference, and a cross-check in tests.
 */
export async function funnelFromEvents(db: Queryable, f: Filters, groups: ReadonlyArray<"day" | "channel"> = []): Promise<FunnelRow[]> {
  const params: unknown[] = [f.from, f.to];
  const flag = (metric: string, extra = "") => `bool_or(e.metric = '${metric}'${extra})`;
  // delivery_events.machine: a webhook's prefetched / machine flag, or a backfilled metric's.
  const human = (metric: string) => flag(metric, " AND e.machine IS NOT TRUE");
  const dims = groups.map((g) => (g === "day" ? "to_char(d.cohort_at AT TIME ZONE cio_report_timezone(), 'YYYY-MM-DD') AS day" : "coalesce(d.channel, '') AS channel"));
  // A webhook's data, or a backfilled event's App API message.
  const id = (field: string) => {
    const value = `coalesce(e.payload #>> '{data,${field}}', e.payload #>> '{message,${field}}')`;
    return `min(CASE WHEN ${value} ~ '^-?[0-9]{1,18}$' THEN (${value})::bigint END)`;
  };
  const sql = `
    WITH per_delivery AS (
      SELECT e.delivery_id,
        coalesce(min(e.occurred_at) FILTER (WHERE e.metric = 'sent'), min(e.occurred_at)) AS cohort_at,
        ${flag("sent")} AS sent, ${flag("delivered")} AS delivered, ${flag("opened")} AS opened, ${human("opened")} AS human_opened,
        ${flag("clicked")} AS clicked, ${human("clicked")} AS human_clicked, ${flag("converted")} AS converted, ${flag("replied")} AS replied,
        ${flag("bounced")} AS bounced, ${flag("failed")} AS failed, ${flag("undeliverable")} AS undeliverable, ${flag("dropped")} AS dropped,
        ${flag("spammed")} AS spammed, ${flag("unsubscribed")} AS unsubscribed,
        min(e.object_type) FILTER (WHERE e.object_type IN ('email', 'push', 'in_app', 'sms', 'slack', 'webhook', 'whatsapp')) AS channel,
        ${id("campaign_id")} AS campaign_id, ${id("broadcast_id")} AS broadcast_id, ${id("newsletter_id")} AS newsletter_id,
        ${id("transactional_message_id")} AS transactional_message_id, ${id("action_id")} AS action_id
      FROM delivery_events e WHERE e.delivery_id IS NOT NULL GROUP BY e.delivery_id
    )
    SELECT ${dims.map((d) => `${d}, `).join("")}count(*)::int AS deliveries, ${MEASURES.slice(1).map((m) => `count(*) FILTER (WHERE ${m})::int AS ${m}`).join(", ")}
    FROM per_delivery d
    WHERE ${INSTANT_RANGE("d.cohort_at")}${filterSql(f, params, DELIVERY_COLUMNS)}
    ${dims.length > 0 ? `GROUP BY ${dims.map((_, i) => i + 1).join(", ")} ORDER BY ${dims.map((_, i) => i + 1).join(", ")}` : ""}`;
  const { rows } = await db.query<FunnelRow>(sql, params);
  return rows;
}

export interface Page {
  limit: number;
  offset: number;
}

/**
 * Links clicked in the range, most clicked first. `deliveries` counts each delivery once per link;
 * `clicks` counts click webhooks (a relayed click and its echo once). Three plans, by selectivity:
 * one origin drives from that origin's deliveries (indexed); no delivery filter is an index-only scan
 * of the covering clicks index (the channel is the event's object_type); otherwise join deliveries.
 */
export async function links(db: Queryable, f: Filters, page: Page): Promise<FunnelRow[]> {
  const params: unknown[] = [f.from, f.to];
  const add = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  let where = f.channel !== undefined ? ` AND e.object_type = ${add(f.channel)}` : "";
  const originColumn = f.originType && f.originId !== undefined ? ORIGIN_COLUMN[f.originType] : undefined;
  let from = "delivery_events e";
  let cte = "";
  if (originColumn) {
    // Materialized, so the planner sees a few thousand deliveries instead of probing deliveries once
    // per click (it underestimates clicks in a range: href and metric are correlated).
    const action = f.actionId !== undefined ? ` AND d.action_id = ${add(f.actionId)}::bigint` : "";
    cte = `WITH ds AS MATERIALIZED (SELECT delivery_id FROM deliveries d WHERE d.${originColumn} = ${add(f.originId)}::bigint${action}) `;
    from = "ds JOIN delivery_events e ON e.delivery_id = ds.delivery_id";
  } else if (f.originType !== undefined || f.actionId !== undefined) {
    from = "delivery_events e JOIN deliveries d ON d.delivery_id = e.delivery_id";
    where += filterSql({ from: f.from, to: f.to, originType: f.originType, actionId: f.actionId }, params, DELIVERY_COLUMNS);
  }
  params.push(page.limit, page.offset);
  const { rows } = await db.query<FunnelRow>(
    `${cte}SELECT e.href,
            count(DISTINCT e.delivery_id)::int AS deliveries,
            count(*) FILTER (WHERE e.source = 'webhook')::int AS clicks,
            count(*) FILTER (WHERE e.source = 'webhook' AND e.machine IS NOT TRUE)::int AS human_clicks
     FROM ${from}
     WHERE e.metric = 'clicked' AND e.href IS NOT NULL AND ${INSTANT_RANGE("e.occurred_at")}${where}
     GROUP BY e.href ORDER BY deliveries DESC, clicks DESC, e.href
     LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  return rows;
}

/**
 * What a failure reason stands for. `final`: the delivery ended bounced, failed, undeliverable or
 * dropped. `transient`: it only had a failure message on the way (an `attempted` or `deferred` that was
 * retried, then sent or delivered, or is still being retried); its `status` says where it stands now.
 */
export const FAILURE_KINDS = ["final", "transient"] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];
const FAILURE_KIND_SQL = "cio_failure_kind(d.failure_message, d.bounced_at, d.failed_at, d.undeliverable_at, d.dropped_at)";

/**
 * Failure and bounce reasons (normalized) of deliveries whose last failure message falls in the range,
 * final failures first; `kind` keeps only one kind.
 */
export async function failures(db: Queryable, f: Filters, page: Page, kind?: FailureKind): Promise<FunnelRow[]> {
  const params: unknown[] = [f.from, f.to];
  let where = filterSql(f, params, DELIVERY_COLUMNS);
  if (kind !== undefined) {
    params.push(kind);
    where += ` AND ${FAILURE_KIND_SQL} = $${params.length}`;
  }
  params.push(page.limit, page.offset);
  const { rows } = await db.query<FunnelRow>(
    `SELECT ${FAILURE_KIND_SQL} AS kind, d.failure_reason AS reason, d.status, count(*)::int AS deliveries, min(d.failure_message) AS example
     FROM deliveries d
     WHERE d.failure_reason IS NOT NULL AND ${INSTANT_RANGE("d.last_failure_at")}${where}
     GROUP BY 1, 2, 3 ORDER BY kind, deliveries DESC, reason, status
     LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  return rows;
}

/** Origins with the most deliveries in the range (for choosing one on the dashboard). */
export async function topOrigins(db: Queryable, f: Filters, limit: number): Promise<FunnelRow[]> {
  const params: unknown[] = [f.from, f.to];
  const where = filterSql({ ...f, originType: undefined, originId: undefined, actionId: undefined }, params, ROLLUP_COLUMNS);
  params.push(limit);
  const { rows } = await db.query<FunnelRow>(
    `SELECT origin_type, origin_id::text AS origin_id, sum(deliveries)::int AS deliveries
     FROM delivery_stats_daily
     WHERE day BETWEEN $1::date AND $2::date${where}
     GROUP BY 1, 2 ORDER BY deliveries DESC, 1, 2 LIMIT $${params.length}`,
    params,
  );
  return rows;
}

/** One delivery and every event of it, in the order they happened. */
export async function deliveryTimeline(db: Queryable, deliveryId: string): Promise<{ delivery: FunnelRow; events: FunnelRow[] } | null> {
  const { rows } = await db.query<FunnelRow>("SELECT * FROM deliveries WHERE delivery_id = $1", [deliveryId]);
  if (rows.length === 0) return null;
  const events = await db.query<FunnelRow>(
    `SELECT event_id, metric, object_type, source, occurred_at, received_at, href, failure_message
     FROM delivery_events WHERE delivery_id = $1 ORDER BY occurred_at, event_id`,
    [deliveryId],
  );
  return { delivery: rows[0]!, events: events.rows };
}

export const PERSON_KEYS = ["customer_id", "email", "cio_id"] as const;
export type PersonKey = (typeof PERSON_KEYS)[number];

/** A person's deliveries, newest first, by customer id, email or cio_id. */
export async function personDeliveries(db: Queryable, by: PersonKey, value: string, page: Page): Promise<FunnelRow[]> {
  const { rows } = await db.query<FunnelRow>(
    `SELECT delivery_id, channel, status, subject, recipient, campaign_id, broadcast_id, newsletter_id, transactional_message_id,
            action_id, sent_at, delivered_at, opened_at, clicked_at, converted_at, bounced_at, unsubscribed_at, failure_message,
            first_event_at, last_event_at
     FROM deliveries WHERE ${by} = $1 ORDER BY first_event_at DESC, delivery_id LIMIT $2 OFFSET $3`,
    [value, page.limit, page.offset],
  );
  return rows;
}

export async function reportTimezone(db: Queryable): Promise<string> {
  return (await reportClock(db)).timezone;
}

/**
 * The report time zone and today's date in it, as PostgreSQL reads the zone (the rollup's days come
 * from the same reading). `now` is for tests.
 */
export async function reportClock(db: Queryable, now: Date = new Date()): Promise<{ timezone: string; today: string }> {
  const { rows } = await db.query<{ timezone: string; today: string }>(
    "SELECT cio_report_timezone() AS timezone, to_char($1::timestamptz AT TIME ZONE cio_report_timezone(), 'YYYY-MM-DD') AS today",
    [now.toISOString()],
  );
  return rows[0]!;
}

/** Sets the report time zone and rebuilds the rollup in it, in one transaction. Returns the rollup's rows. */
export async function setReportTimezone(db: pg.PoolClient | pg.Client, timezone: string): Promise<number> {
  await db.query("BEGIN");
  try {
    await db.query("SELECT now() AT TIME ZONE $1", [timezone]); // rejects an unknown zone
    await db.query("LOCK TABLE deliveries IN SHARE MODE"); // no delivery changes while the rollup is rebuilt
    await db.query("UPDATE report_settings SET timezone = $1 WHERE id = 1", [timezone]);
    const { rows } = await db.query<{ n: number }>("SELECT cio_rebuild_delivery_stats() AS n");
    await db.query("COMMIT");
    return rows[0]!.n;
  } catch (err) {
    await db.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
