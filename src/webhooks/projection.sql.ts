// Owns the SQL that stores events and projects them onto `deliveries` and `person_subscriptions`.
//
// One statement per batch: insert the events (ON CONFLICT DO NOTHING makes a retried event a no-op),
// then fold only the newly inserted ones into their delivery and person rows. Every merge rule is
// commutative and idempotent (earliest time per metric, LEAST for attributes, sums over events that
// are new, latest-wins by (time, id) for failures and subscription state), so a row is a function of
// the *set* of its events, whatever order or batching they arrive in. Rows are locked in key order
// (events by event_id, deliveries by delivery_id, people by person_key) so concurrent batches and
// instances cannot deadlock.
import { STATUS_PRECEDENCE } from "../../entities/delivery-status.js";
import type { NormalizedEvent } from "./event.js";

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
const COUNTERS: ReadonlyArray<readonly [column: string, where: string]> = [
  ["webhook_opens_human", "metric = 'opened' AND NOT machine AND source <> 'relay'"],
  ["opens_machine", "metric = 'opened' AND machine"],
  ["relay_opens", "metric = 'opened' AND source = 'relay'"],
  ["webhook_clicks_human", "metric = 'clicked' AND NOT machine AND source <> 'relay'"],
  ["clicks_machine", "metric = 'clicked' AND machine"],
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

const DELIVERY_UPSERT = `delivery_upsert AS (
  INSERT INTO deliveries AS d (${DELIVERY_COLUMNS.join(", ")})
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

const PERSON_UPSERT = `person_upsert AS (
  INSERT INTO person_subscriptions AS p (person_key, cio_id, person_id, email, identifiers, subscribed,
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

/**
 * Stores a batch of events (sorted by event_id, no duplicate ids) and applies the new ones.
 * Returns the event_ids that were new; the others were already stored.
 */
export const INGEST_SQL = `WITH ${INPUT},
inserted AS (
  INSERT INTO delivery_events (event_id, delivery_id, object_type, metric, occurred_at, received_at, customer_id,
    identifiers, href, link_id, failure_message, machine, source, payload)
  SELECT event_id, delivery_id, object_type, metric, ${ts("occurred_ms")}, ${ts("received_ms")}, customer_id,
    identifiers, href, link_id, failure_message, CASE WHEN metric IN ('opened', 'clicked') THEN machine END, source, payload
  FROM input
  ORDER BY event_id
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
),
applied AS (SELECT input.* FROM input JOIN inserted USING (event_id)),
${DELIVERY_CHANGES},
${DELIVERY_UPSERT},
${PERSON_CHANGES},
${PERSON_UPSERT}
SELECT event_id FROM inserted`;

/** Applies already stored events to the projections (replay). The caller makes sure each event is applied once. */
export const PROJECT_SQL = `WITH ${INPUT},
applied AS (SELECT * FROM input),
${DELIVERY_CHANGES},
${DELIVERY_UPSERT},
${PERSON_CHANGES},
${PERSON_UPSERT}
SELECT (SELECT count(*) FROM delivery_upsert) AS deliveries, (SELECT count(*) FROM person_upsert) AS people`;
