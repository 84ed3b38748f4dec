// The schema stays ready for distributed PostgreSQL (Citus), which cannot be installed here: the rules
// Citus sets for distributed tables are checked on the migrated schema and on our statements. The plan
// is in docs/scaling.md.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { INGEST_SQL, INGEST_WITH_SIDE_ROWS_SQL, PROJECT_DELIVERIES_SQL, PROJECT_PEOPLE_SQL } from "../../src/events/projection.sql.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

/** Each table to distribute, by its distribution column; events are co-located with their deliveries. */
const DISTRIBUTION = { delivery_events: "delivery_id", deliveries: "delivery_id", person_subscriptions: "person_key" } as const;

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db.drop();
});

describe("distribution keys (Citus)", () => {
  it("puts the distribution column, NOT NULL, in every primary key and unique index of each table to distribute", async () => {
    for (const [table, column] of Object.entries(DISTRIBUTION)) {
      const uniques = await db.query<{ index: string; columns: string[] }>(
        `SELECT i.relname AS index, array_agg(a.attname::text ORDER BY a.attnum) AS columns
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (x.indkey)
         WHERE t.relname = $1 AND t.relnamespace = current_schema()::regnamespace AND x.indisunique
         GROUP BY i.relname`,
        [table],
      );
      assert.ok(uniques.length > 0, `${table} has a primary key`);
      for (const u of uniques) assert.ok(u.columns.includes(column), `${table}.${u.index} (${u.columns.join(", ")}) includes ${column}`);
      const [{ nullable }] = (await db.query<{ nullable: string }>(
        "SELECT is_nullable AS nullable FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
        [table, column],
      )) as [{ nullable: string }];
      assert.equal(nullable, "NO", `${table}.${column} is NOT NULL`);
    }
  });

  it("co-locates events with their deliveries: the same column, the same type", async () => {
    const types = await db.query<{ table_name: string; data_type: string }>(
      "SELECT table_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'delivery_id' AND table_name IN ('delivery_events', 'deliveries') ORDER BY table_name",
    );
    assert.deepEqual(types, [{ table_name: "deliveries", data_type: "text" }, { table_name: "delivery_events", data_type: "text" }]);
  });

  it("needs no cross-shard unique check: every ON CONFLICT on a table to distribute names its distribution column", () => {
    let checked = 0;
    for (const sql of [INGEST_SQL, INGEST_WITH_SIDE_ROWS_SQL, PROJECT_DELIVERIES_SQL, PROJECT_PEOPLE_SQL]) {
      for (const m of sql.matchAll(/INSERT INTO (\w+)[\s\S]*?ON CONFLICT \(([^)]*)\)/g)) {
        const table = m[1] as keyof typeof DISTRIBUTION;
        if (!(table in DISTRIBUTION)) continue;
        const target = m[2]!.split(",").map((c) => c.trim());
        assert.ok(target.includes(DISTRIBUTION[table]), `ON CONFLICT (${target.join(", ")}) on ${table} names ${DISTRIBUTION[table]}`);
        checked++;
      }
    }
    assert.ok(checked >= 3, `${checked} conflict targets checked`);
  });
});
