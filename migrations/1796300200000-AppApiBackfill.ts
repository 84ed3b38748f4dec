// Backfill and reconciliation from Customer.io's App API, and noticing a silent webhook:
// - backfill_runs: each pass over the App API's messages (a backfill or an hourly reconciliation), with
//   what it found missing and filled, and a backfill's checkpoint;
// - webhook_heartbeat: one row, when a reporting webhook last arrived (written at most once a minute);
// - deliveries.opens_human / clicks_human: at least 1 once the delivery has a human open / click time,
//   so a backfilled open (a first time from the App API, in no per-source count) is one open, and still
//   one when its webhook arrives later. For every existing row the value is unchanged (a human open
//   time came from a webhook or a relayed call, which are counted). Both columns are rebuilt in one
//   ALTER TABLE: one rewrite of deliveries, under a lock that holds webhooks back (they answer 503 and
//   Customer.io retries them) until it commits.
import type { MigrationInterface, QueryRunner } from "typeorm";

const OPENS_BEFORE = "GREATEST(webhook_opens_human, relay_opens)";
const CLICKS_BEFORE = "GREATEST(webhook_clicks_human, relay_clicks)";
const OPENS_AFTER = "GREATEST(webhook_opens_human, relay_opens, CASE WHEN human_opened_at IS NULL THEN 0 ELSE 1 END)";
const CLICKS_AFTER = "GREATEST(webhook_clicks_human, relay_clicks, CASE WHEN human_clicked_at IS NULL THEN 0 ELSE 1 END)";

async function humanCounts(queryRunner: QueryRunner, opens: string, clicks: string): Promise<void> {
    await queryRunner.query(`ALTER TABLE "deliveries" DROP COLUMN "opens_human", DROP COLUMN "clicks_human",
        ADD "opens_human" integer GENERATED ALWAYS AS (${opens}) STORED NOT NULL,
        ADD "clicks_human" integer GENERATED ALWAYS AS (${clicks}) STORED NOT NULL`);
    for (const [name, value] of [["opens_human", opens], ["clicks_human", clicks]]) {
        await queryRunner.query(`DELETE FROM "typeorm_metadata" WHERE "type" = $1 AND "name" = $2 AND "database" = current_database() AND "schema" = current_schema() AND "table" = $3`, ["GENERATED_COLUMN", name, "deliveries"]);
        await queryRunner.query(`INSERT INTO "typeorm_metadata"("database", "schema", "table", "type", "name", "value") VALUES (current_database(), current_schema(), $1, $2, $3, $4)`, ["deliveries", "GENERATED_COLUMN", name, value]);
    }
}

export class AppApiBackfill1796300200000 implements MigrationInterface {
    name = 'AppApiBackfill1796300200000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "backfill_runs" ("id" BIGSERIAL NOT NULL, "kind" text NOT NULL, "status" text NOT NULL DEFAULT 'running', "window_from" TIMESTAMP WITH TIME ZONE NOT NULL, "window_to" TIMESTAMP WITH TIME ZONE NOT NULL, "message_type" text, "checkpoint" jsonb, "messages_read" integer NOT NULL DEFAULT '0', "deliveries_missing" integer NOT NULL DEFAULT '0', "deliveries_created" integer NOT NULL DEFAULT '0', "metrics_missing" integer NOT NULL DEFAULT '0', "metrics_added" integer NOT NULL DEFAULT '0', "metrics_present" integer NOT NULL DEFAULT '0', "missing_by_metric" jsonb NOT NULL DEFAULT '{}', "newest_message_at" TIMESTAMP WITH TIME ZONE, "cause" text, "error" text, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_147984adae07af3d1761a0a0554" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "backfill_runs_kind_idx" ON "backfill_runs"  ("kind", "id") `);
        await queryRunner.query(`CREATE TABLE "webhook_heartbeat" ("id" integer NOT NULL DEFAULT '1', "last_received_at" TIMESTAMP WITH TIME ZONE, "watching_since" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "silence_reported_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_b8c0782f845e411da021f5fbf2e" PRIMARY KEY ("id"))`);
        await queryRunner.query(`INSERT INTO "webhook_heartbeat" ("id") VALUES (1)`);
        await humanCounts(queryRunner, OPENS_AFTER, CLICKS_AFTER);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await humanCounts(queryRunner, OPENS_BEFORE, CLICKS_BEFORE);
        await queryRunner.query(`DROP TABLE "webhook_heartbeat"`);
        await queryRunner.query(`DROP INDEX "public"."backfill_runs_kind_idx"`);
        await queryRunner.query(`DROP TABLE "backfill_runs"`);
    }

}
