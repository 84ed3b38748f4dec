// Owns the SQL that stores events, projects them onto `deliveries` and `person_subscriptions`, and
// writes what comes with a new event: the calls it owes Customer.io (`outbox`) and the `unsubscribes`
// record. The generated text is checked in as projection.sql next to this file (a test compares them),
// so a change here shows up as a readable SQL diff.
//
// One statement per batch: insert the events (ON CONFLICT DO NOTHING makes a retried event a no-op),
// then fold only the newly inserted ones into their delivery and person rows, and write their outbox
// and unsubscribes rows. Webhook events take a shorter path: the statement inserts them and queues the
// new ones in projection_queue, and the projector folds the queue in large batches, deleting the rows
// it applies in the same statement (so each event is applied exactly once). Every merge rule is
// commutative and idempotent (earliest time per metric, LEAST for attributes, sums over events that
// are new, latest-wins by (time, id) for failures and subscription state), so a row is a function of
// the *set* of its events, whatever order or batching they arrive in. Rows are locked in key order
// (events by event_id, deliveries by delivery_id, people by person_key) so concurrent batches and
// instances cannot deadlock.
import { STATUS_PRECEDENCE } from "../../entities/delivery-status.js";
import path from "node:path";
import type { OutboxKind } from "../../entities/outbox-item.entity.js";
import { PROJECT_ROOT } from "../core/paths.js";
import { jsonText, type NormalizedEvent } from "./event.js";

type Column = readonly [name: string, pgType: string, get: (e: NormalizedEvent) => unknown];

const COLUMNS: readonly Column[] = [
  ["event_id", "text", (e) => e.eventId],
  ["delivery_id", "text", (e) => e.deliveryId],
  ["object_type", "text", (e) => e.objectType],
  ["metric", "text", (e) => e.metric],
  ["occurred_ms", "float8", (e) => e.occurredAt],
  ["received_ms", "float8", (e) => e.receivedAt],
  ["customer_id", "text", (e) => e.customerId],
  ["identifiers", "jsonb", (e) => e.identifiers],
  ["href", "text", (e) => e.href],
  ["link_id", "text", (e) => e.linkId],
  ["failure_message", "text", (e) => e.failureMessage],
  ["source", "text", (e) => e.source],
  ["payload", "jsonb", (e) => e.payload],
  ["channel", "text", (e) => e.channel],
  ["recipient", "text", (e) => e.recipient],
  ["subject", "text", (e) => e.subject],
  ["campaign_id", "bigint", (e) => e.origin.campaignId],
  ["broadcast_id", "bigint", (e) => e.origin.broadcastId],
  ["newsletter_id", "bigint", (e) => e.origin.newsletterId],
  ["transactional_message_id", "bigint", (e) => e.origin.transactionalMessageId],
  ["action_id", "bigint", (e) => e.origin.actionId],
  ["parent_action_id", "bigint", (e) => e.origin.parentActionId],
  ["trigger_id", "bigint", (e) => e.origin.triggerId],
  ["content_id", "bigint", (e) => e.origin.contentId],
  ["journey_id", "text", (e) => e.origin.journeyId],
  ["trigger_event_id", "text", (e) => e.origin.triggerEventId],
  ["machine", "bool", (e) => e.machine],
  ["person_key", "text", (e) => e.personKey],
  ["email", "text", (e) => e.email],
  ["preferences", "jsonb", (e) => e.preferences],
];

/** Column-wise arrays for the unnest() in the statements below. */
export function batchParams(events: readonly NormalizedEvent[]): unknown[][] {
  return COLUMNS.map(([, , get]) => events.map(get));
}

const INPUT = `input AS (
  SELECT * FROM unnest(${COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(", ")})
    AS t(${COLUMNS.map(([name]) => name).join(", ")})
)`;

/** One event's columns as scalar parameters: cheaper to encode and to parse than 30 one-element arrays. */
const ONE_INPUT = `input AS (
  SELECT ${COLUMNS.map(([name, type], i) => `$${i + 1}::${type} AS ${name}`).join(",\n    ")}
)`;

/** One event's values for ONE_INPUT. */
export function eventParams(event: NormalizedEvent): unknown[] {
  return COLUMNS.map(([, , get]) => get(event));
}

const ts = (ms: string) => `to_timestamp(${ms} / 1000.0)`;
/** A metric's first time among the batch's events, as epoch milliseconds. */
const firstMs = (where: string) => `min(occurred_ms) FILTER (WHERE ${where})`;

// Columns of deliveries merged with LEAST: attributes every event of a delivery normally repeats. LEAST
// keeps a deterministic value if two events ever disagree (each event's own values stay in delivery_events).
const LEAST_ATTRIBUTES = [
  "channel", "customer_id", "recipient", "subject", "campaign_id", "broadcast_id", "newsletter_id",
  "transactional_message_id", "action_id", "parent_action_id", "trigger_id", "content_id", "journey_id",
  "trigger_event_id",
];
const METRIC_TIMES: ReadonlyArray<readonly [column: string, where: string]> = [
  ...STATUS_PRECEDENCE.map((m) => [`${m}_at`, `metric = '${m}'`] as const),
  ["human_opened_at", "metric = 'opened' AND NOT machine"],
  ["human_clicked_at", "metric = 'clicked' AND NOT machine"],
];
// Opens and clicks are counted per source; deliveries.opens_human / clicks_human are generated as the
// larger of the webhook and relay counts, so a relayed metric and its webhook echo count once.
// Backfilled opens and clicks (the App API's first times) are in no count: they set the *_at columns,
// and opens_human / clicks_human are at least 1 once human_opened_at / human_clicked_at is set, so a
// backfilled open and the webhook that comes for it later count once.
const COUNTERS: ReadonlyArray<readonly [column: string, where: string]> = [
  ["webhook_opens_human", "metric = 'opened' AND NOT machine AND source NOT IN ('relay', 'backfill')"],
  ["opens_machine", "metric = 'opened' AND machine AND source <> 'backfill'"],
  ["relay_opens", "metric = 'opened' AND source = 'relay'"],
  ["webhook_clicks_human", "metric = 'clicked' AND NOT machine AND source NOT IN ('relay', 'backfill')"],
  ["clicks_machine", "metric = 'clicked' AND machine AND source <> 'backfill'"],
  ["relay_clicks", "metric = 'clicked' AND source = 'relay'"],
];

/** Latest-wins: the value of the event with the greatest (time, tie-break) among the filtered ones. */
const latest = (value: string, where: string, tieBreak: string) =>
  `(array_agg(${value} ORDER BY occurred_ms DESC, ${tieBreak} DESC) FILTER (WHERE ${where}))[1]`;

const DELIVERY_CHANGES = `delivery_changes AS (
  SELECT delivery_id,
    ${LEAST_ATTRIBUTES.map((c) => `min(${c}) AS ${c}`).join(",\n    ")},
    min(identifiers::text) AS identifiers,
    ${latest("failure_message", "failure_message IS NOT NULL", "failure_message")} AS failure_message,
    max(occurred_ms) FILTER (WHERE failure_message IS NOT NULL) AS last_failure_ms,
    ${METRIC_TIMES.map(([c, w]) => `${firstMs(w)} AS ${c}`).join(",\n    ")},
    ${COUNTERS.map(([c, w]) => `count(*) FILTER (WHERE ${w}) AS ${c}`).join(",\n    ")},
    count(*) AS event_count,
    min(occurred_ms) AS first_ms,
    max(occurred_ms) AS last_ms
  FROM applied
  WHERE delivery_id IS NOT NULL
  GROUP BY delivery_id
)`;

const DELIVERY_COLUMNS = [
  "delivery_id", ...LEAST_ATTRIBUTES, "identifiers", "failure_message", "last_failure_at",
  ...METRIC_TIMES.map(([c]) => c), ...COUNTERS.map(([c]) => c), "event_count", "first_event_at", "last_event_at", "updated_at",
];

const failureIsNewer =
  "d.last_failure_at IS NULL OR (EXCLUDED.last_failure_at, EXCLUDED.failure_message) > (d.last_failure_at, d.failure_message)";

const deliveryUpsert = (table: string) => `delivery_upsert AS (
  INSERT INTO ${table} AS d (${DELIVERY_COLUMNS.join(", ")})
  SELECT delivery_id, ${LEAST_ATTRIBUTES.join(", ")}, identifiers::jsonb, failure_message, ${ts("last_failure_ms")},
    ${METRIC_TIMES.map(([c]) => ts(c)).join(", ")},
    ${COUNTERS.map(([c]) => c).join(", ")}, event_count, ${ts("first_ms")}, ${ts("last_ms")}, now()
  FROM delivery_changes
  ORDER BY delivery_id
  ON CONFLICT (delivery_id) DO UPDATE SET
    ${LEAST_ATTRIBUTES.map((c) => `${c} = LEAST(d.${c}, EXCLUDED.${c})`).join(",\n    ")},
    identifiers = LEAST(d.identifiers::text, EXCLUDED.identifiers::text)::jsonb,
    failure_message = CASE WHEN ${failureIsNewer} THEN EXCLUDED.failure_message ELSE d.failure_message END,
    last_failure_at = CASE WHEN ${failureIsNewer} THEN EXCLUDED.last_failure_at ELSE d.last_failure_at END,
    ${METRIC_TIMES.map(([c]) => `${c} = LEAST(d.${c}, EXCLUDED.${c})`).join(",\n    ")},
    ${[...COUNTERS.map(([c]) => c), "event_count"].map((c) => `${c} = d.${c} + EXCLUDED.${c}`).join(",\n    ")},
    first_event_at = LEAST(d.first_event_at, EXCLUDED.first_event_at),
    last_event_at = GREATEST(d.last_event_at, EXCLUDED.last_event_at),
    updated_at = now()
  RETURNING 1
)`;

const SUBSCRIPTION = "metric IN ('subscribed', 'unsubscribed')";
const PREFERENCES = "metric = 'cio_subscription_preferences_changed'";

const PERSON_CHANGES = `person_changes AS (
  SELECT person_key,
    min(identifiers->>'cio_id') AS cio_id,
    min(identifiers->>'id') AS person_id,
    min(email) AS email,
    min(identifiers::text) AS identifiers,
    ${latest("metric = 'subscribed'", SUBSCRIPTION, "event_id")} AS subscribed,
    max(occurred_ms) FILTER (WHERE ${SUBSCRIPTION}) AS subscription_ms,
    ${latest("event_id", SUBSCRIPTION, "event_id")} AS subscription_event_id,
    ${latest("preferences::text", PREFERENCES, "event_id")} AS preferences,
    max(occurred_ms) FILTER (WHERE ${PREFERENCES}) AS preferences_ms,
    ${latest("event_id", PREFERENCES, "event_id")} AS preferences_event_id
  FROM applied
  WHERE person_key IS NOT NULL
  GROUP BY person_key
)`;

const newer = (facet: "subscription" | "preferences") =>
  `EXCLUDED.${facet}_event_id IS NOT NULL AND (p.${facet}_event_id IS NULL OR ` +
  `(EXCLUDED.${facet}_changed_at, EXCLUDED.${facet}_event_id) > (p.${facet}_changed_at, p.${facet}_event_id))`;
const takeNewer = (facet: "subscription" | "preferences", column: string) =>
  `${column} = CASE WHEN ${newer(facet)} THEN EXCLUDED.${column} ELSE p.${column} END`;

const personUpsert = (table: string) => `person_upsert AS (
  INSERT INTO ${table} AS p (person_key, cio_id, person_id, email, identifiers, subscribed,
    subscription_changed_at, subscription_event_id, preferences, preferences_changed_at, preferences_event_id, updated_at)
  SELECT person_key, cio_id, person_id, email, identifiers::jsonb, subscribed, ${ts("subscription_ms")},
    subscription_event_id, preferences::jsonb, ${ts("preferences_ms")}, preferences_event_id, now()
  FROM person_changes
  ORDER BY person_key
  ON CONFLICT (person_key) DO UPDATE SET
    cio_id = LEAST(p.cio_id, EXCLUDED.cio_id),
    person_id = LEAST(p.person_id, EXCLUDED.person_id),
    email = LEAST(p.email, EXCLUDED.email),
    identifiers = LEAST(p.identifiers::text, EXCLUDED.identifiers::text)::jsonb,
    ${takeNewer("subscription", "subscribed")},
    ${takeNewer("subscription", "subscription_changed_at")},
    ${takeNewer("subscription", "subscription_event_id")},
    ${takeNewer("preferences", "preferences")},
    ${takeNewer("preferences", "preferences_changed_at")},
    ${takeNewer("preferences", "preferences_event_id")},
    updated_at = now()
  RETURNING 1
)`;

/** A call owed to Customer.io, queued in the same commit as the event that causes it. */
export interface OutboxEntry {
  /** The event this call reports, when it reports one: at most one call per event. */
  eventId: string | null;
  kind: OutboxKind;
  deliveryId: string | null;
  payload: Record<string, unknown>;
  /** Calls of one key carry a state: the newest supersedes older pending ones (see outbox.repository.ts). */
  orderingKey?: string;
  /** 0 = urgent (unsubscribes), 1 = metrics (the default). */
  priority?: number;
}

/** A row of `unsubscribes`, written with its event. */
export interface UnsubscribeEntry {
  deliveryId: string;
  unsubscribe: boolean;
  method: string;
  attributesUpdate: string | null;
  clientIp: string | null;
  userAgent: string | null;
}

/** One event and what is written with it when it is new. */
export interface Write {
  event: NormalizedEvent;
  outbox?: readonly OutboxEntry[];
  unsubscribe?: UnsubscribeEntry;
  /**
   * Channels this event is not valid for: when its delivery's known channel is one of them, nothing is
   * written and the channel is returned (a relayed metric Customer.io takes for some channels only).
   * Checked in the statement itself, so it costs no round trip.
   */
  notForChannels?: readonly string[];
}

type SideColumn<T> = readonly [name: string, pgType: string, get: (cause: string, row: T) => unknown];
const OUTBOX_COLUMNS: readonly SideColumn<OutboxEntry>[] = [
  ["cause", "text", (cause) => cause],
  ["event_id", "text", (_, o) => o.eventId],
  ["kind", "text", (_, o) => o.kind],
  ["delivery_id", "text", (_, o) => o.deliveryId],
  ["payload", "jsonb", (_, o) => jsonText(o.payload)],
  ["ordering_key", "text", (_, o) => o.orderingKey ?? null],
  ["priority", "smallint", (_, o) => o.priority ?? 1],
];
const UNSUBSCRIBE_COLUMNS: readonly SideColumn<UnsubscribeEntry>[] = [
  ["event_id", "text", (cause) => cause],
  ["delivery_id", "text", (_, u) => u.deliveryId],
  ["unsubscribe", "bool", (_, u) => u.unsubscribe],
  ["method", "text", (_, u) => u.method],
  ["attributes_update", "text", (_, u) => u.attributesUpdate],
  ["client_ip", "text", (_, u) => u.clientIp],
  ["user_agent", "text", (_, u) => u.userAgent],
];

const GUARD_COLUMNS: readonly SideColumn<readonly string[]>[] = [
  ["event_id", "text", (cause) => cause],
  ["channels", "jsonb", (_, channels) => JSON.stringify(channels)],
];

/** Parameters of INGEST_WITH_SIDE_ROWS_SQL: the events' columns, then the outbox rows', the unsubscribes rows' and the channel guards'. */
export function ingestParams(writes: readonly Write[]): unknown[][] {
  const outbox = writes.flatMap((w) => (w.outbox ?? []).map((o) => [w.event.eventId, o] as const));
  const unsubscribes = writes.flatMap((w) => (w.unsubscribe ? [[w.event.eventId, w.unsubscribe] as const] : []));
  const guards = writes.flatMap((w) => (w.notForChannels?.length ? [[w.event.eventId, w.notForChannels] as const] : []));
  return [
    ...batchParams(writes.map((w) => w.event)),
    ...OUTBOX_COLUMNS.map(([, , get]) => outbox.map(([cause, o]) => get(cause, o))),
    ...UNSUBSCRIBE_COLUMNS.map(([, , get]) => unsubscribes.map(([cause, u]) => get(cause, u))),
    ...GUARD_COLUMNS.map(([, , get]) => guards.map(([cause, g]) => get(cause, g))),
  ];
}

/** unnest() of a set of side columns whose parameters start at $first, in arrival order (`n`). */
const sideInput = <T>(columns: readonly SideColumn<T>[], first: number) =>
  `unnest(${columns.map(([, type], i) => `$${first + i}::${type}[]`).join(", ")}) WITH ORDINALITY AS s(${columns.map(([name]) => name).join(", ")}, n)`;

const OUTBOX_FIRST = COLUMNS.length + 1;
const UNSUBSCRIBE_FIRST = OUTBOX_FIRST + OUTBOX_COLUMNS.length;
const GUARD_FIRST = UNSUBSCRIBE_FIRST + UNSUBSCRIBE_COLUMNS.length;

// Events whose delivery's known channel is one they are not valid for: not stored.
const REFUSED = `refused AS (
  SELECT s.event_id, d.channel
  FROM ${sideInput(GUARD_COLUMNS, GUARD_FIRST)}
  JOIN input i USING (event_id)
  JOIN deliveries d ON d.delivery_id = i.delivery_id
  WHERE s.channels ? d.channel
)`;

const OUTBOX_INSERT = `outbox_queued AS (
  INSERT INTO outbox (event_id, kind, delivery_id, payload, ordering_key, priority)
  SELECT s.event_id, s.kind, s.delivery_id, s.payload, s.ordering_key, s.priority
  FROM ${sideInput(OUTBOX_COLUMNS, OUTBOX_FIRST)}
  WHERE s.cause IN (SELECT event_id FROM inserted)
  ORDER BY s.n
  ON CONFLICT (event_id) DO NOTHING
  RETURNING 1
)`;

const UNSUBSCRIBE_INSERT = `unsubscribes_recorded AS (
  INSERT INTO unsubscribes (delivery_id, unsubscribe, method, event_id, attributes_update, client_ip, user_agent)
  SELECT s.delivery_id, s.unsubscribe, s.method, s.event_id, s.attributes_update, s.client_ip, s.user_agent
  FROM ${sideInput(UNSUBSCRIBE_COLUMNS, UNSUBSCRIBE_FIRST)}
  WHERE s.event_id IN (SELECT event_id FROM inserted)
  ORDER BY s.n
  RETURNING 1
)`;

const INSERT_EVENTS = (where: string) => `inserted AS (
  INSERT INTO delivery_events (event_id, delivery_id, object_type, metric, occurred_at, received_at, customer_id,
    identifiers, href, link_id, failure_message, machine, source, person_key, payload)
  SELECT event_id, coalesce(delivery_id, ''), object_type, metric, ${ts("occurred_ms")}, ${ts("received_ms")}, customer_id,
    identifiers, href, link_id, failure_message, CASE WHEN metric IN ('opened', 'clicked') THEN machine END, source, person_key, payload
  FROM input${where}
  ORDER BY event_id
  ON CONFLICT (event_id, delivery_id, occurred_at) DO NOTHING
  RETURNING event_id
)`;

/** The columns the projection reads (every input column but those only delivery_events keeps). */
export const QUEUE_COLUMNS = COLUMNS.map(([name]) => name).filter((c) => !["object_type", "href", "link_id", "payload"].includes(c));

/**
 * Stores a batch of events (no duplicate ids) and queues the new ones for the projector
 * (src/events/projector.ts), which folds them into deliveries and person_subscriptions in large batches
 * (PROJECT_QUEUE_SQL). The webhook path: a lone event costs little more than a plain insert. Returns the
 * event_ids that were new; the others were already stored. Parameters: the events' columns only.
 */
const ingestQueued = (input: string) => `WITH ${input},
${INSERT_EVENTS("")},
queued AS (
  INSERT INTO projection_queue (${QUEUE_COLUMNS.join(", ")})
  SELECT ${QUEUE_COLUMNS.map((c) => `input.${c}`).join(", ")}
  FROM input JOIN inserted USING (event_id)
  ORDER BY input.received_ms, input.event_id
  RETURNING 1
)
SELECT event_id, NULL AS refused_channel FROM inserted`;

export const INGEST_QUEUED_SQL = ingestQueued(INPUT);

/** INGEST_QUEUED_SQL for a batch of one event (a lone webhook): parameters from eventParams. */
export const INGEST_ONE_QUEUED_SQL = ingestQueued(ONE_INPUT);

const ingestSql = (withSideRows: boolean) => `WITH ${INPUT},${withSideRows ? `\n${REFUSED},` : ""}
${INSERT_EVENTS(withSideRows ? "\n  WHERE event_id NOT IN (SELECT event_id FROM refused)" : "")},
applied AS (SELECT input.* FROM input JOIN inserted USING (event_id)),
${DELIVERY_CHANGES},
${deliveryUpsert("deliveries")},
${PERSON_CHANGES},
${personUpsert("person_subscriptions")}${withSideRows ? `,\n${OUTBOX_INSERT},\n${UNSUBSCRIBE_INSERT}` : ""}
SELECT event_id, NULL AS refused_channel FROM inserted${withSideRows ? "\nUNION ALL\nSELECT event_id, channel FROM refused" : ""}`;

/**
 * Stores a batch of events (no duplicate ids) and applies the new ones at once, in the same commit.
 * Returns the event_ids that were new; the others were already stored. For batches of events alone that
 * are written in bulk (backfill): parameters are the events' columns only.
 */
export const INGEST_SQL = ingestSql(false);

/**
 * INGEST_SQL, plus the outbox and unsubscribes rows of the new events (a retried call queues nothing
 * twice) and the channel guards: also returns the event_ids refused by their guard, with the delivery's
 * channel (refused_channel). For batches holding relayed calls or unsubscribes, applied at once so the
 * delivery row shows a relayed metric or an unsubscribe as soon as it is acknowledged; parameters from
 * ingestParams.
 */
export const INGEST_WITH_SIDE_ROWS_SQL = ingestSql(true);

/**
 * Takes up to $1 queued events, oldest first, and applies them to deliveries and person_subscriptions,
 * in one statement: the queue rows go in the same commit as what they change, so each event is applied
 * exactly once, whichever instance runs it (rows taken by another projector are skipped). Returns how
 * many were applied.
 */
export const PROJECT_QUEUE_SQL = `WITH applied AS (
  DELETE FROM projection_queue
  WHERE seq IN (SELECT seq FROM projection_queue ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
  RETURNING ${QUEUE_COLUMNS.join(", ")}
),
${DELIVERY_CHANGES},
${deliveryUpsert("deliveries")},
${PERSON_CHANGES},
${personUpsert("person_subscriptions")}
SELECT count(*)::int AS events FROM applied`;

/** Whether a batch needs INGEST_WITH_SIDE_ROWS_SQL (webhooks alone take the shorter statement). */
export const hasSideRows = (writes: readonly Write[]) => writes.some((w) => w.outbox?.length || w.unsubscribe || w.notForChannels?.length);

/** Where replay builds a chunk's rows before comparing them with the live ones (temporary tables). */
export const REPLAY_TABLES = { deliveries: "replay_new_deliveries", person_subscriptions: "replay_new_person_subscriptions" } as const;

/** Applies events to a table shaped like `deliveries`; the caller makes sure each event is applied once. */
export const deliveryProjectionSql = (table: string) => `WITH ${INPUT},
applied AS (SELECT * FROM input),
${DELIVERY_CHANGES},
${deliveryUpsert(table)}
SELECT count(*) AS deliveries FROM delivery_upsert`;

/** Applies stored events to replay's copy of `deliveries` (one chunk of deliveries; each event once). */
export const PROJECT_DELIVERIES_SQL = deliveryProjectionSql(REPLAY_TABLES.deliveries);

/** Applies stored events to replay's copy of `person_subscriptions` (one chunk of people). */
export const PROJECT_PEOPLE_SQL = `WITH ${INPUT},
applied AS (SELECT * FROM input),
${PERSON_CHANGES},
${personUpsert(REPLAY_TABLES.person_subscriptions)}
SELECT count(*) AS people FROM person_upsert`;

/** Where the generated statements are checked in (see scripts/sql-snapshot.ts). */
export const PROJECTION_SQL_SNAPSHOT = path.join(PROJECT_ROOT, "src", "events", "projection.sql");

/** The generated statements, as checked in. */
export function projectionSqlSnapshot(): string {
  return [
    "-- Generated by src/events/projection.sql.ts (npm run sql:snapshot); do not edit.",
    `-- $1..$${COLUMNS.length}: the events' columns (${COLUMNS.map(([name]) => name).join(", ")});`,
    `-- $${OUTBOX_FIRST}..$${UNSUBSCRIBE_FIRST - 1}: the outbox rows' (${OUTBOX_COLUMNS.map(([name]) => name).join(", ")});`,
    `-- $${UNSUBSCRIBE_FIRST}..$${GUARD_FIRST - 1}: the unsubscribes rows' (${UNSUBSCRIBE_COLUMNS.map(([name]) => name).join(", ")});`,
    `-- $${GUARD_FIRST}..$${GUARD_FIRST + GUARD_COLUMNS.length - 1}: the channel guards' (${GUARD_COLUMNS.map(([name]) => name).join(", ")}).`,
    "",
    "-- INGEST_QUEUED_SQL: store a batch of events and queue the new ones for the projector ($1..$30 only).",
    `${INGEST_QUEUED_SQL};`,
    "",
    "-- INGEST_ONE_QUEUED_SQL: the same for one event, its columns as scalars ($1..$30, in the same order).",
    `${INGEST_ONE_QUEUED_SQL};`,
    "",
    "-- INGEST_SQL: store a batch of events and apply the new ones at once ($1..$30 only).",
    `${INGEST_SQL};`,
    "",
    "-- INGEST_WITH_SIDE_ROWS_SQL: the same, with the new events' outbox and unsubscribes rows and the channel guards.",
    `${INGEST_WITH_SIDE_ROWS_SQL};`,
    "",
    "-- PROJECT_QUEUE_SQL: apply up to $1 queued events to deliveries and person_subscriptions, exactly once.",
    `${PROJECT_QUEUE_SQL};`,
    "",
    "-- PROJECT_DELIVERIES_SQL: apply already stored events to replay's copy of deliveries.",
    `${PROJECT_DELIVERIES_SQL};`,
    "",
    "-- PROJECT_PEOPLE_SQL: apply already stored events to replay's copy of person_subscriptions.",
    `${PROJECT_PEOPLE_SQL};`,
    "",
  ].join("\n");
}
