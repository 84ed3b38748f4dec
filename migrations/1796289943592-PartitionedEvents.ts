// delivery_events becomes partitioned by occurred_at (one partition a month; two more catch times
// before 2000 and from 2100 on), with the primary key (event_id, delivery_id, occurred_at): a retry of
// an event has the same id, delivery and time, so it meets its first copy in the same partition.
// delivery_id is in the key so the table can be distributed by it (docs/scaling.md); events that
// belong to no delivery get '' instead of NULL.
//
// Existing rows move in batches of 50,000 in event_id order, with progress and the time taken printed
// (docs/scaling.md, *Upgrading an install from before partitions*, has the figure for the
// 2,000,000-delivery synthetic set). The service cannot store
// events while this runs (they are answered 503, and Customer.io retries them). The key's name is the
// one `typeorm migration:generate` gives the entity; the rest is written here because TypeORM does not
// create partitioned tables.
import type { MigrationInterface, QueryRunner } from "typeorm";

const COLUMNS = "event_id, delivery_id, object_type, metric, occurred_at, received_at, customer_id, identifiers, href, link_id, failure_message, source, payload, machine, person_key";

export class PartitionedEvents1796289943592 implements MigrationInterface {
    name = 'PartitionedEvents1796289943592'

    public async up(queryRunner: QueryRunner): Promise<void> {
        // Views over the table (report_link_clicks_daily) are put back as they are, over the new table.
        const views = (await queryRunner.query(
            `SELECT viewname, definition FROM pg_views WHERE schemaname = current_schema() AND definition LIKE '%delivery_events%' ORDER BY viewname`,
        )) as Array<{ viewname: string; definition: string }>;
        for (const v of views) await queryRunner.query(`DROP VIEW "${v.viewname}"`);
        await queryRunner.query(`ALTER TABLE "delivery_events" RENAME TO "delivery_events_legacy"`);
        for (const index of ["delivery_events_clicks_idx", "delivery_events_delivery_id_idx", "delivery_events_person_key_idx"]) {
            await queryRunner.query(`ALTER INDEX "${index}" RENAME TO "${index}_legacy"`);
        }
        await queryRunner.query(`ALTER TABLE "delivery_events_legacy" RENAME CONSTRAINT "PK_6d3bf311fe724a9949b0bb4bd8e" TO "delivery_events_legacy_pkey"`);

        await queryRunner.query(`CREATE TABLE "delivery_events" ("event_id" text NOT NULL, "delivery_id" text NOT NULL DEFAULT '', "object_type" text, "metric" text,
            "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "customer_id" text, "identifiers" jsonb,
            "href" text, "link_id" text, "failure_message" text, "source" text NOT NULL DEFAULT 'webhook', "payload" jsonb NOT NULL, "machine" boolean, "person_key" text,
            CONSTRAINT "PK_10163312f231aacd823393c7aee" PRIMARY KEY ("event_id", "delivery_id", "occurred_at")) PARTITION BY RANGE ("occurred_at")`);
        await queryRunner.query(`CREATE INDEX "delivery_events_delivery_id_idx" ON "delivery_events" ("delivery_id")`);
        await queryRunner.query(`CREATE INDEX "delivery_events_person_key_idx" ON "delivery_events" ("person_key") WHERE person_key IS NOT NULL`);
        await queryRunner.query(`CREATE INDEX "delivery_events_clicks_idx" ON "delivery_events" ("occurred_at", "href", "delivery_id", "source", "machine") WHERE metric = 'clicked'`);

        // Times outside 2000..2100 (a wrong clock, a test) each have a partition, so no event is refused.
        await queryRunner.query(`CREATE TABLE "delivery_events_before_2000" PARTITION OF "delivery_events" FOR VALUES FROM (MINVALUE) TO ('2000-01-01 00:00:00+00')`);
        await queryRunner.query(`CREATE TABLE "delivery_events_from_2100" PARTITION OF "delivery_events" FOR VALUES FROM ('2100-01-01 00:00:00+00') TO (MAXVALUE)`);
        // A month for every month of the existing events, through three months from now.
        await queryRunner.query(`
          DO $$
          DECLARE m timestamptz;
          BEGIN
            FOR m IN SELECT generate_series(
                date_trunc('month', least(coalesce((SELECT min(occurred_at) FROM delivery_events_legacy WHERE occurred_at >= '2000-01-01'), now()), now() - interval '1 month') AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                date_trunc('month', greatest(coalesce((SELECT max(occurred_at) FROM delivery_events_legacy WHERE occurred_at < '2100-01-01'), now()), now() + interval '3 months') AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                interval '1 month')
            LOOP
              EXECUTE format('CREATE TABLE %I PARTITION OF delivery_events FOR VALUES FROM (%L) TO (%L)',
                'delivery_events_' || to_char(m AT TIME ZONE 'UTC', 'YYYYMM'), m, (m AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC');
            END LOOP;
          END $$`);

        const started = Date.now();
        const [{ total }] = (await queryRunner.query(`SELECT count(*)::bigint AS total FROM delivery_events_legacy`)) as [{ total: string }];
        let moved = 0;
        let after = "";
        for (;;) {
            const rows = (await queryRunner.query(
                `WITH batch AS (SELECT * FROM delivery_events_legacy WHERE event_id > $1 ORDER BY event_id LIMIT 50000),
                 moved AS (
                   INSERT INTO delivery_events (${COLUMNS})
                   SELECT event_id, coalesce(delivery_id, ''), object_type, metric, occurred_at, received_at, customer_id, identifiers, href, link_id, failure_message, source, payload, machine, person_key
                   FROM batch
                   RETURNING 1)
                 SELECT (SELECT count(*) FROM moved)::int AS n, (SELECT max(event_id) FROM batch) AS last`,
                [after],
            )) as [{ n: number; last: string | null }];
            if (!rows[0].last) break;
            moved += rows[0].n;
            after = rows[0].last;
            if (moved % 500_000 < 50_000) process.stderr.write(`  delivery_events: ${moved} of ${total} rows moved (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
        }
        await queryRunner.query(`DROP TABLE "delivery_events_legacy"`);
        for (const v of views) await queryRunner.query(`CREATE VIEW "${v.viewname}" AS ${v.definition}`);
        if (moved > 0) process.stderr.write(`  delivery_events: ${moved} rows moved into partitions in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        const views = (await queryRunner.query(
            `SELECT viewname, definition FROM pg_views WHERE schemaname = current_schema() AND definition LIKE '%delivery_events%' ORDER BY viewname`,
        )) as Array<{ viewname: string; definition: string }>;
        for (const v of views) await queryRunner.query(`DROP VIEW "${v.viewname}"`);
        await queryRunner.query(`ALTER TABLE "delivery_events" RENAME TO "delivery_events_partitioned"`);
        for (const index of ["delivery_events_clicks_idx", "delivery_events_delivery_id_idx", "delivery_events_person_key_idx"]) {
            await queryRunner.query(`ALTER INDEX "${index}" RENAME TO "${index}_partitioned"`);
        }
        await queryRunner.query(`CREATE TABLE "delivery_events" (LIKE "delivery_events_partitioned" INCLUDING DEFAULTS)`);
        await queryRunner.query(`ALTER TABLE "delivery_events" ALTER COLUMN "delivery_id" DROP NOT NULL, ALTER COLUMN "delivery_id" DROP DEFAULT`);
        await queryRunner.query(`INSERT INTO "delivery_events" SELECT ${COLUMNS.replace("delivery_id,", "nullif(delivery_id, ''),")} FROM "delivery_events_partitioned"`);
        await queryRunner.query(`ALTER TABLE "delivery_events" ADD CONSTRAINT "PK_6d3bf311fe724a9949b0bb4bd8e" PRIMARY KEY ("event_id")`);
        await queryRunner.query(`DROP TABLE "delivery_events_partitioned"`);
        await queryRunner.query(`CREATE INDEX "delivery_events_delivery_id_idx" ON "delivery_events" ("delivery_id")`);
        await queryRunner.query(`CREATE INDEX "delivery_events_person_key_idx" ON "delivery_events" ("person_key") WHERE person_key IS NOT NULL`);
        await queryRunner.query(`CREATE INDEX "delivery_events_clicks_idx" ON "delivery_events" ("occurred_at", "href", "delivery_id", "source", "machine") WHERE metric = 'clicked'`);
        for (const v of views) await queryRunner.query(`CREATE VIEW "${v.viewname}" AS ${v.definition}`);
    }

}
