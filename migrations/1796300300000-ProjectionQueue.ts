// projection_queue: webhook events stored but not yet applied to deliveries and person_subscriptions.
// The webhook statement inserts the event and its row here in one commit; the projector
// (src/events/projector.ts) applies the rows in large batches and deletes them in the same statement.
// Rows come and go within a fraction of a second, so autovacuum cleans it after a fixed number of dead
// rows rather than a fraction of a table that is nearly always empty.
import type { MigrationInterface, QueryRunner } from "typeorm";

export class ProjectionQueue1796300300000 implements MigrationInterface {
    name = 'ProjectionQueue1796300300000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "projection_queue" ("seq" BIGSERIAL NOT NULL, "event_id" text NOT NULL, "delivery_id" text, "metric" text, "occurred_ms" double precision NOT NULL, "received_ms" double precision NOT NULL, "customer_id" text, "identifiers" jsonb, "failure_message" text, "source" text NOT NULL, "channel" text, "recipient" text, "subject" text, "campaign_id" bigint, "broadcast_id" bigint, "newsletter_id" bigint, "transactional_message_id" bigint, "action_id" bigint, "parent_action_id" bigint, "trigger_id" bigint, "content_id" bigint, "journey_id" text, "trigger_event_id" text, "machine" boolean, "person_key" text, "email" text, "preferences" jsonb, CONSTRAINT "PK_8c73c800cfa00f1915dd7b98029" PRIMARY KEY ("seq"))`);
        await queryRunner.query(`ALTER TABLE "projection_queue" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000, autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000)`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP TABLE "projection_queue"`);
    }

}
