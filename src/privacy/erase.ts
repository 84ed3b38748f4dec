// Owns erasing a person (GDPR, CCPA): every trace of them goes, in one transaction, from event payloads
// and columns, deliveries (recipient, identifiers, subject, addresses in failure messages),
// person_subscriptions, unsubscribes, and the outbox (calls not yet sent are dropped, sent ones keep no
// personal data). What is not about the person stays, so every count (the report rollup, the funnel)
// is unchanged. An erasure record keeps a keyed hash of each identifier found, so events for the person
// that arrive later are stored without personal data (src/events/erasures.ts).
import type pg from "pg";
import { checkout } from "../core/database.js";
import { subjectHash, type IdentifierKind } from "../events/erasures.js";
import { boundedKey } from "../events/event.js";
import { applyQueued, DEFAULT_PROJECTOR } from "../events/projector.js";

export interface ErasureRequest {
  kind: IdentifierKind;
  value: string;
}

/** A person's identifiers, by kind. */
export interface Identifiers {
  emails: string[];
  customerIds: string[];
  cioIds: string[];
}

export interface ErasureResult {
  /** Every identifier of the person found (kept in memory for the second pass, never stored). */
  found: Identifiers;
  deliveries: number;
  /** Table -> rows changed or removed. */
  changes: Record<string, number>;
  dryRun: boolean;
}

export const seedOf = (request: ErasureRequest): Identifiers => {
  const value = request.kind === "email" ? request.value.trim().toLowerCase() : request.value.trim();
  return { emails: request.kind === "email" ? [value] : [], customerIds: request.kind === "customer_id" ? [value] : [], cioIds: request.kind === "cio_id" ? [value] : [] };
};

/** The person's identifiers: those given, and every other one their deliveries and rows carry. */
async function identify(client: pg.PoolClient, seed: Identifiers): Promise<Identifiers & { personKeys: string[]; deliveryIds: string[] }> {
  const emails = new Set(seed.emails);
  const customerIds = new Set(seed.customerIds);
  const cioIds = new Set(seed.cioIds);
  const add = (set: Set<string>, v: string | null | undefined) => {
    if (v) set.add(v);
  };
  // Two rounds: a delivery found by email names the customer id that finds the others.
  for (let round = 0; round < 2; round++) {
    const { rows } = await client.query<{ email: string | null; customer_id: string | null; person_id: string | null; cio_id: string | null }>(
      `SELECT lower(email) AS email, customer_id, identifiers ->> 'id' AS person_id, cio_id FROM deliveries
       WHERE lower(email) = ANY($1) OR customer_id = ANY($2) OR cio_id = ANY($3) OR lower(recipient) = ANY($1)
       UNION
       SELECT lower(email), person_id, person_id, cio_id FROM person_subscriptions
       WHERE lower(email) = ANY($1) OR person_id = ANY($2) OR cio_id = ANY($3)`,
      [[...emails], [...customerIds], [...cioIds]],
    );
    for (const r of rows) {
      add(emails, r.email);
      add(customerIds, r.customer_id);
      add(customerIds, r.person_id);
      add(cioIds, r.cio_id);
    }
  }
  const deliveries = await client.query<{ delivery_id: string }>(
    `SELECT delivery_id FROM deliveries WHERE lower(email) = ANY($1) OR customer_id = ANY($2) OR cio_id = ANY($3) OR lower(recipient) = ANY($1)`,
    [[...emails], [...customerIds], [...cioIds]],
  );
  const people = await client.query<{ person_key: string }>(
    `SELECT person_key FROM person_subscriptions WHERE lower(email) = ANY($1) OR person_id = ANY($2) OR cio_id = ANY($3)
     UNION SELECT unnest($4::text[])`,
    [[...emails], [...customerIds], [...cioIds], [...[...cioIds].map((c) => `cio_id:${boundedKey(c)}`), ...[...customerIds].map((c) => `id:${boundedKey(c)}`), ...[...emails].map((e) => `email:${boundedKey(e)}`)]],
  );
  return { emails: [...emails], customerIds: [...customerIds], cioIds: [...cioIds], personKeys: people.rows.map((r) => r.person_key), deliveryIds: deliveries.rows.map((r) => r.delivery_id) };
}

/** The person's rows made anonymous; each statement returns how many rows it changed. */
async function scrubRows(client: pg.PoolClient, ids: Awaited<ReturnType<typeof identify>>): Promise<Record<string, number>> {
  const changes: Record<string, number> = {};
  const run = async (table: string, sql: string, params: unknown[]) => {
    const result = await client.query(sql, params);
    changes[table] = (changes[table] ?? 0) + (result.rowCount ?? 0);
  };
  // Events: the payload keeps only what is not about the person; links lose their query string
  // (tracking parameters may name the person); failure messages keep their normalized reason.
  await run(
    "delivery_events",
    `UPDATE delivery_events SET
       payload = jsonb_build_object('erased', true, 'event_id', event_id, 'object_type', object_type, 'metric', metric,
                                    'timestamp', extract(epoch FROM occurred_at)::bigint, 'delivery_id', delivery_id),
       identifiers = NULL, customer_id = NULL, person_key = NULL,
       href = CASE WHEN href IS NOT NULL THEN substring(href FROM '^[^?#]*') END,
       failure_message = cio_failure_reason(failure_message)
     WHERE (delivery_id = ANY($1) AND delivery_id <> '') OR person_key = ANY($2)`,
    [ids.deliveryIds, ids.personKeys],
  );
  // Deliveries: every metric time and count stays (the rollup does not change).
  await run(
    "deliveries",
    `UPDATE deliveries SET recipient = NULL, identifiers = NULL, customer_id = NULL, subject = NULL,
       failure_message = cio_failure_reason(failure_message), updated_at = now()
     WHERE delivery_id = ANY($1)`,
    [ids.deliveryIds],
  );
  await run("person_subscriptions", `DELETE FROM person_subscriptions WHERE person_key = ANY($1)`, [ids.personKeys]);
  await run("unsubscribes", `DELETE FROM unsubscribes WHERE delivery_id = ANY($1)`, [ids.deliveryIds]);
  // Calls not yet made for the person are dropped; those made keep no personal data.
  // Calls relayed to the Data Pipelines API name the person as userId, or by email in their traits.
  const forPerson = `(delivery_id = ANY($1) OR (kind = 'identify' AND payload ->> 'customer_id' = ANY($2))
    OR (kind = 'cdp_call' AND (payload -> 'call' ->> 'userId' = ANY($2) OR lower(payload -> 'call' -> 'traits' ->> 'email') = ANY($3))))`;
  const emails = ids.emails.map((e) => e.toLowerCase());
  await run("outbox", `DELETE FROM outbox WHERE status = 'pending' AND ${forPerson}`, [ids.deliveryIds, ids.customerIds, emails]);
  await run("outbox", `UPDATE outbox SET payload = jsonb_build_object('erased', true), last_error = NULL, updated_at = now() WHERE status <> 'pending' AND ${forPerson}`, [ids.deliveryIds, ids.customerIds, emails]);
  return changes;
}

/**
 * Erases a person in one transaction (rolled back with dryRun) and records the erasure (keyed hashes of
 * every identifier found). Run it again with `found` as the seed and `record: false` a few seconds
 * later, once every instance has re-read the erased set: that scrubs anything stored meanwhile.
 */
export async function erasePerson(pool: pg.Pool, secret: string, seed: Identifiers, options: { dryRun?: boolean; record?: boolean } = {}): Promise<ErasureResult> {
  const client = await checkout(pool);
  try {
    await client.query("BEGIN");
    await client.query("SET LOCAL statement_timeout = 0");
    // Events still queued for the projector are applied first, in this transaction, so the person's
    // newest deliveries are found and scrubbed too (rows a projector is applying right now are left to
    // it: the second pass finds them).
    while ((await applyQueued(client, DEFAULT_PROJECTOR.batch)) > 0);
    const ids = await identify(client, seed);
    const changes = await scrubRows(client, ids);
    if (options.record ?? true) {
      const hashes = [
        ...ids.emails.map((v) => [subjectHash(secret, "email", v), "email"]),
        ...ids.customerIds.map((v) => [subjectHash(secret, "customer_id", v), "customer_id"]),
        ...ids.cioIds.map((v) => [subjectHash(secret, "cio_id", v), "cio_id"]),
      ];
      await client.query(
        `INSERT INTO erasures (subject_hash, identifier_kind, changes) SELECT h, k, $3 FROM unnest($1::text[], $2::text[]) AS t(h, k)`,
        [hashes.map((h) => h[0]), hashes.map((h) => h[1]), JSON.stringify(changes)],
      );
    }
    await client.query(options.dryRun ? "ROLLBACK" : "COMMIT");
    return {
      found: { emails: ids.emails, customerIds: ids.customerIds, cioIds: ids.cioIds },
      deliveries: ids.deliveryIds.length,
      changes,
      dryRun: options.dryRun ?? false,
    };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
