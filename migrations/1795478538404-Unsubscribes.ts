// unsubscribes: every unsubscribe and resubscribe recorded by the hosted page, one-click or the JSON API.
import type { MigrationInterface, QueryRunner } from "typeorm";

export class Unsubscribes1795478538404 implements MigrationInterface {
    name = 'Unsubscribes1795478538404'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "unsubscribes" ("id" BIGSERIAL NOT NULL, "delivery_id" text NOT NULL, "unsubscribe" boolean NOT NULL, "method" text NOT NULL, "event_id" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "attributes_update" text, "client_ip" text, "user_agent" text, CONSTRAINT "PK_bb19c8e19578ff230f3e1a4aea3" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "unsubscribes_delivery_id_idx" ON "unsubscribes"  ("delivery_id", "id") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "public"."unsubscribes_delivery_id_idx"`);
        await queryRunner.query(`DROP TABLE "unsubscribes"`);
    }

}
