// Owns the process's own metrics: every instrument (name, help, labels, buckets) under one prefix in one
// registry (prom-client), the functions the capabilities record through, and the switch that turns
// recording off (METRICS_ENABLED=false, for the overhead benchmark and for those who want none). What is
// read from PostgreSQL at scrape time, and the pools, belong to one service and live in src/metrics/.
//
// Names follow Prometheus' conventions: counters end in _total, durations are in seconds, times are
// Unix seconds (_timestamp_seconds). Label values are bounded: each is one of a fixed list, an HTTP
// status, or a value from outside kept to a short token and to MAX_EVENT_SERIES combinations.
import client from "prom-client";
import type { OutboxKind } from "../../entities/outbox-item.entity.js";

export const METRICS_PREFIX = "ciocompanion_";

/** The process-wide instruments; a service's /metrics merges them with its own (pools, database gauges). */
export const processRegistry = new client.Registry();

let enabled = true;
let labelsPrepared = false;
let defaultsStarted = false;

/**
 * Recording on or off for the whole process (startService applies METRICS_ENABLED). Off, every function
 * below returns at once.
 */
export function setMetricsEnabled(on: boolean): void {
  enabled = on;
  if (on && !labelsPrepared) {
    labelsPrepared = true;
    // The series alerts watch exist at 0 from the start: increase() cannot see the first increment of a
    // series that appears already at 1, so the first dead letter or 503 would go unnoticed.
    for (const outcome of WEBHOOK_OUTCOMES) webhookRequests.inc({ outcome }, 0);
    for (const kind of OUTBOX_KINDS) for (const outcome of ["delivered", "retry", "dead"]) outboxAttempts.inc({ kind, outcome }, 0);
    for (const method of ["page", "one_click", "api"]) for (const action of ["unsubscribe", "resubscribe"]) unsubscribes.inc({ method, action }, 0);
    for (const result of ["complete", "filled", "stopped", "failed"]) reconcileRuns.inc({ result }, 0);
  }
}

/**
 * prom-client's process and Node.js metrics (CPU, memory, file descriptors, start time, event-loop lag,
 * GC, heap), started by the first scrape: until someone scrapes, the process runs no event-loop monitor
 * and no GC observer. Running from start, they made an instance's first requests toward Customer.io
 * bunch (test/integration/relay.test.ts, "holds the rate limit ... across instances", 4 failures in 4
 * runs beside other test files; none without them): the limiter takes its clock offset from its first
 * round trip, and a busier event loop at that moment skews it.
 */
export function startProcessMetrics(): void {
  if (defaultsStarted) return;
  defaultsStarted = true;
  client.collectDefaultMetrics({ register: processRegistry, prefix: METRICS_PREFIX });
}

const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
  new client.Counter<L>({ name: METRICS_PREFIX + name, help, labelNames, registers: [processRegistry] });
const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
  new client.Gauge<L>({ name: METRICS_PREFIX + name, help, labelNames, registers: [processRegistry] });
const histogram = <L extends string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []) =>
  new client.Histogram<L>({ name: METRICS_PREFIX + name, help, buckets, labelNames, registers: [processRegistry] });

// Request latencies toward Customer.io and commit latencies: 1 ms to 30 s.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const WEBHOOK_OUTCOMES = ["stored", "duplicate", "bad_signature", "bad_body", "too_large", "unavailable", "other"] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];
// A record, so that a kind added to the entity and not here fails to compile.
const KINDS: Record<OutboxKind, true> = { metric: true, push_event: true, unsubscribe: true, identify: true, cdp_call: true };
export const OUTBOX_KINDS = Object.keys(KINDS) as OutboxKind[];

const webhookRequests = counter("webhook_requests_total", "Reporting webhooks answered, by outcome: stored, duplicate (200); bad_signature (401); bad_body (400); too_large (413); unavailable (503: Customer.io retries); other.", ["outcome"]);
const webhookLastReceived = gauge("webhook_last_received_timestamp_seconds", "When this instance last answered a reporting webhook 200 (Unix seconds); 0 before the first. Database-wide: ciocompanion_webhook_heartbeat_timestamp_seconds.");
const webhookLag = histogram("webhook_event_lag_seconds", "Time from an event's own timestamp to its arrival here, for stored webhook events.", [1, 5, 15, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400]);
const eventsStored = counter("events_stored_total", "Events stored (new, not duplicates), by source (webhook, relay, unsubscribe_page, backfill), object type and metric.", ["source", "object_type", "metric"]);
const batchSize = histogram("ingest_batch_size", "Writes per group-commit batch (one statement, one commit).", [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000]);
const commitDuration = histogram("ingest_commit_duration_seconds", "Time to commit one group-commit batch, as its writers wait for it (retries of the batch included).", LATENCY_BUCKETS);
const relayRequests = counter("relay_requests_total", "Calls to the relay APIs (Track API and Data Pipelines shaped), by endpoint and outcome: accepted, invalid, unauthorized, too_large, unsupported_media_type, unavailable, other.", ["endpoint", "outcome"]);
const outboxAttempts = counter("outbox_attempts_total", "Outbox rows this instance tried to deliver, by kind and outcome: delivered, retry (a retryable failure; tried again later), dead (a dead letter).", ["kind", "outcome"]);
const cioRequests = counter("customerio_requests_total", "Requests to Customer.io, by API (track, pipelines, app), endpoint and answer: the HTTP status, or timeout / network_error.", ["api", "endpoint", "status"]);
const cioDuration = histogram("customerio_request_duration_seconds", "Duration of requests to Customer.io, until the answer's body is read.", LATENCY_BUCKETS, ["api", "endpoint"]);
const rateLimitWait = histogram("customerio_rate_limit_wait_seconds", "Time a request to Customer.io waited for its slot of the rate limit shared by every instance (the reservation included).", [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], ["limit"]);
const unsubscribes = counter("unsubscribes_total", "Unsubscribe changes recorded, by method (page, one_click, api) and action (unsubscribe, resubscribe); repeats of the current state are not counted.", ["method", "action"]);
const reconcileRuns = counter("reconcile_runs_total", "Hourly reconciliations with the App API run by this instance, by result: complete (nothing missing), filled (something was missing and filled), stopped, failed.", ["result"]);
const reconcileMissing = counter("reconcile_missing_total", "What reconciliation found missing here that the App API reports (deliveries, metrics).", ["what"]);
const reconcileLastMissing = gauge("reconcile_last_missing_ratio", "Share of the App API's metrics that the last reconciliation on this instance found missing (0 to 1).");
const webhooksSilent = gauge("webhooks_silent", "1 while reporting webhooks have been silent for WEBHOOK_SILENCE_MINUTES although deliveries are still being made (the silence check), else 0.");

/** How many object type / metric combinations are kept apart; any further one is counted as "other". */
const MAX_EVENT_SERIES = 500;
const eventSeries = new Set<string>();
const TOKEN = /^[a-z0-9_]{1,40}$/;
const token = (v: string | null) => (v === null ? "none" : TOKEN.test(v) ? v : "other");

export const metrics = {
  webhookAnswered(outcome: WebhookOutcome): void {
    if (!enabled) return;
    webhookRequests.inc({ outcome });
    if (outcome === "stored" || outcome === "duplicate") webhookLastReceived.set(Date.now() / 1000);
  },
  /** A webhook event stored now: how late it came (its own time may be in the future; that is 0). */
  webhookEventLag(occurredAtMs: number, receivedAtMs: number): void {
    if (!enabled) return;
    webhookLag.observe(Math.max(0, (receivedAtMs - occurredAtMs) / 1000));
  },
  eventStored(event: { source: string; objectType: string | null; metric: string | null }): void {
    if (!enabled) return;
    let objectType = token(event.objectType);
    let metric = token(event.metric);
    const key = `${objectType}\u0000${metric}`;
    if (!eventSeries.has(key)) {
      if (eventSeries.size >= MAX_EVENT_SERIES) objectType = metric = "other";
      else eventSeries.add(key);
    }
    eventsStored.inc({ source: event.source, object_type: objectType, metric });
  },
  /** A group-commit batch starts; call the returned function once its writers have their answer. */
  batchStarted(writes: number): () => void {
    if (!enabled) return () => undefined;
    batchSize.observe(writes);
    return commitDuration.startTimer();
  },
  relayAnswered(endpoint: string, outcome: string): void {
    if (enabled) relayRequests.inc({ endpoint, outcome });
  },
  outboxAttempted(kind: string, outcome: "delivered" | "retry" | "dead", rows = 1): void {
    if (enabled && rows > 0) outboxAttempts.inc({ kind, outcome }, rows);
  },
  /** A request to Customer.io starts; call the returned function with its answer. */
  customerIoRequest(api: "track" | "pipelines" | "app", endpoint: string): (status: number | "timeout" | "network_error") => void {
    if (!enabled) return () => undefined;
    const end = cioDuration.startTimer({ api, endpoint });
    return (status) => {
      end();
      cioRequests.inc({ api, endpoint, status: String(status) });
    };
  },
  rateLimitWaited(limit: string, seconds: number): void {
    if (enabled) rateLimitWait.observe({ limit }, seconds);
  },
  unsubscribeRecorded(method: string, unsubscribe: boolean): void {
    if (enabled) unsubscribes.inc({ method, action: unsubscribe ? "unsubscribe" : "resubscribe" });
  },
  reconciled(result: "complete" | "filled" | "stopped" | "failed", found?: { deliveriesMissing: number; metricsMissing: number; missingRatio: number }): void {
    if (!enabled) return;
    reconcileRuns.inc({ result });
    if (!found) return;
    reconcileMissing.inc({ what: "deliveries" }, found.deliveriesMissing);
    reconcileMissing.inc({ what: "metrics" }, found.metricsMissing);
    reconcileLastMissing.set(found.missingRatio);
  },
  silenceChecked(silent: boolean): void {
    if (enabled) webhooksSilent.set(silent ? 1 : 0);
  },
};

/**
 * A Customer.io path as a label: the ids in it (a delivery, a customer, a device, a segment, a form)
 * replaced by a placeholder, and no query string, so the label has a few values whatever the traffic.
 */
export function endpointLabel(method: string, path: string): string {
  const bare = path.split("?")[0]!;
  const generic = bare.replace(/\/(unsubscribe|customers|devices|segments|forms)\/[^/]+/g, "/$1/{id}");
  return `${method} ${generic}`;
}
