// Owns the Data Pipelines write keys in PostgreSQL (pipelines_write_keys): a relayed call is forwarded
// with the write key it came with, but an outbox row names the key only by its reference, so the key is
// never in a payload, a listing or a log line. A key is written once, before the first call that needs it.
import { createHash } from "node:crypto";
import type pg from "pg";

type Queryable = Pick<pg.Pool, "query">;

/** `wk_` and the first 16 hex digits of the key's SHA-256: names a key without revealing it. */
export const writeKeyRef = (writeKey: string): string => `wk_${createHash("sha256").update(writeKey).digest("hex").slice(0, 16)}`;

export class PipelinesKeys {
  /** References known to be stored (a key is never removed while calls may need it). */
  private stored = new Set<string>();

  constructor(private readonly db: Queryable) {}

  /** Stores the key if it is new; resolves with its reference. */
  async remember(writeKey: string): Promise<string> {
    const ref = writeKeyRef(writeKey);
    if (this.stored.has(ref)) return ref;
    await this.db.query("INSERT INTO pipelines_write_keys (ref, write_key) VALUES ($1, $2) ON CONFLICT (ref) DO NOTHING", [ref, writeKey]);
    this.stored.add(ref);
    return ref;
  }

  /** The keys of these references (a reference with no stored key is absent). */
  async lookup(refs: readonly string[]): Promise<Map<string, string>> {
    if (refs.length === 0) return new Map();
    const { rows } = await this.db.query<{ ref: string; write_key: string }>("SELECT ref, write_key FROM pipelines_write_keys WHERE ref = ANY($1::text[])", [refs]);
    return new Map(rows.map((r) => [r.ref, r.write_key]));
  }
}
