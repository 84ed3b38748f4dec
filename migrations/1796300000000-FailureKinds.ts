// Failure reasons that mean failures: a delivery's failure is `final` when it ended bounced, failed,
// undeliverable or dropped, and `transient` when it only had a failure message on the way (an
// `attempted` or `deferred` that Customer.io retried, and that was then sent or delivered, or is still
// being retried). cio_failure_kind() says which, and report_failure_reasons_daily gets a `kind` column
// (appended, so views and queries built on it keep working). Written by hand: no entity changes.
import type { MigrationInterface, QueryRunner } from "typeorm";

const FAILURE_KIND_FUNCTION = `
CREATE OR REPLACE FUNCTION cio_failure_kind(failure_message text, bounced_at timestamptz, failed_at timestamptz, undeliverable_at timestamptz, dropped_at timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT CASE
    WHEN bounced_at IS NOT NULL OR failed_at IS NOT NULL OR undeliverable_at IS NOT NULL OR dropped_at IS NOT NULL THEN 'final'
    WHEN failure_message IS NOT NULL THEN 'transient'
  END
$fn$`;

const ORIGIN_COLUMNS = `coalesce(channel, '') AS channel,
          CASE WHEN campaign_id IS NOT NULL THEN 'campaign' WHEN broadcast_id IS NOT NULL THEN 'broadcast'
               WHEN newsletter_id IS NOT NULL THEN 'newsletter' WHEN transactional_message_id IS NOT NULL THEN 'transactional' ELSE 'none' END AS origin_type,
          coalesce(campaign_id, broadcast_id, newsletter_id, transactional_message_id, 0) AS origin_id`;

const VIEW_WITH_KIND = `CREATE OR REPLACE VIEW report_failure_reasons_daily AS
   SELECT (last_failure_at AT TIME ZONE cio_report_timezone())::date AS day, ${ORIGIN_COLUMNS},
          status, failure_reason AS reason, count(*)::int AS deliveries, min(failure_message) AS example,
          cio_failure_kind(failure_message, bounced_at, failed_at, undeliverable_at, dropped_at) AS kind
   FROM deliveries WHERE failure_reason IS NOT NULL
   GROUP BY 1, 2, 3, 4, 5, 6, 9`;

const VIEW_BEFORE = `CREATE VIEW report_failure_reasons_daily AS
   SELECT (last_failure_at AT TIME ZONE cio_report_timezone())::date AS day, ${ORIGIN_COLUMNS},
          status, failure_reason AS reason, count(*)::int AS deliveries, min(failure_message) AS example
   FROM deliveries WHERE failure_reason IS NOT NULL
   GROUP BY 1, 2, 3, 4, 5, 6`;

export class FailureKinds1796300000000 implements MigrationInterface {
    name = 'FailureKinds1796300000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(FAILURE_KIND_FUNCTION);
        await queryRunner.query(VIEW_WITH_KIND);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP VIEW report_failure_reasons_daily`);
        await queryRunner.query(VIEW_BEFORE);
        await queryRunner.query(`DROP FUNCTION cio_failure_kind(text, timestamptz, timestamptz, timestamptz, timestamptz)`);
    }

}
