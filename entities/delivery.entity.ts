// One row per delivery_id: where that message stands. Written only by the projection in
// src/webhooks/projection.sql.ts, which merges each event with commutative, idempotent rules, so the
// row is a function of the set of the delivery's events (see docs/schema.md).
import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { STATUS_SQL } from "./delivery-status.js";

const at = (name: string) => Column({ name, type: "timestamptz", nullable: true });
const bigintId = (name: string) => Column({ name, type: "bigint", nullable: true });
const counter = (name: string) => Column({ name, type: "integer", default: 0 });

/** The generated human counts: the larger per-source count, and at least 1 once there is a first time. */
export const OPENS_HUMAN_SQL = "GREATEST(webhook_opens_human, relay_opens, CASE WHEN human_opened_at IS NULL THEN 0 ELSE 1 END)";
export const CLICKS_HUMAN_SQL = "GREATEST(webhook_clicks_human, relay_clicks, CASE WHEN human_clicked_at IS NULL THEN 0 ELSE 1 END)";

@Entity({ name: "deliveries" })
// Per-person lookups compare whole values that come from outside and may be long: hash indexes take
// any length (a btree entry must stay under ~2.7 KB) and serve equality, which is all they are used for.
@Index("deliveries_customer_id_idx", ["customerId"], { type: "hash" })
@Index("deliveries_email_idx", ["email"], { type: "hash" })
@Index("deliveries_cio_id_idx", ["cioId"], { type: "hash" })
@Index("deliveries_campaign_id_idx", ["campaignId"])
@Index("deliveries_broadcast_id_idx", ["broadcastId"])
@Index("deliveries_newsletter_id_idx", ["newsletterId"])
@Index("deliveries_transactional_message_id_idx", ["transactionalMessageId"])
@Index("deliveries_failures_idx", ["lastFailureAt"], { where: "failure_reason IS NOT NULL" })
export class Delivery {
  @PrimaryColumn({ name: "delivery_id", type: "text" })
  deliveryId: string;

  @Column({ name: "channel", type: "text", nullable: true })
  channel: string | null;

  @Column({ name: "status", type: "text", generatedType: "STORED", asExpression: STATUS_SQL, insert: false, update: false })
  status: string;

  @Column({ name: "customer_id", type: "text", nullable: true })
  customerId: string | null;

  @Column({ name: "identifiers", type: "jsonb", nullable: true })
  identifiers: Record<string, unknown> | null;

  /** identifiers->>'email' and identifiers->>'cio_id', as indexed columns for per-person lookups. */
  @Column({ name: "email", type: "text", nullable: true, generatedType: "STORED", asExpression: "identifiers ->> 'email'", insert: false, update: false })
  email: string | null;

  @Column({ name: "cio_id", type: "text", nullable: true, generatedType: "STORED", asExpression: "identifiers ->> 'cio_id'", insert: false, update: false })
  cioId: string | null;

  @Column({ name: "recipient", type: "text", nullable: true })
  recipient: string | null;

  @Column({ name: "subject", type: "text", nullable: true })
  subject: string | null;

  @bigintId("campaign_id") campaignId: string | null;
  @bigintId("broadcast_id") broadcastId: string | null;
  @bigintId("newsletter_id") newsletterId: string | null;
  @bigintId("transactional_message_id") transactionalMessageId: string | null;
  @bigintId("action_id") actionId: string | null;
  @bigintId("parent_action_id") parentActionId: string | null;
  @bigintId("trigger_id") triggerId: string | null;
  @bigintId("content_id") contentId: string | null;

  @Column({ name: "journey_id", type: "text", nullable: true })
  journeyId: string | null;

  @Column({ name: "trigger_event_id", type: "text", nullable: true })
  triggerEventId: string | null;

  @Column({ name: "failure_message", type: "text", nullable: true })
  failureMessage: string | null;

  @at("last_failure_at") lastFailureAt: Date | null;

  /** failure_message normalized for grouping (SMTP code kept; addresses and ids masked). */
  @Column({ name: "failure_reason", type: "text", nullable: true, generatedType: "STORED", asExpression: "cio_failure_reason(failure_message)", insert: false, update: false })
  failureReason: string | null;

  @at("drafted_at") draftedAt: Date | null;
  @at("attempted_at") attemptedAt: Date | null;
  @at("sent_at") sentAt: Date | null;
  @at("deferred_at") deferredAt: Date | null;
  @at("delivered_at") deliveredAt: Date | null;
  @at("opened_at") openedAt: Date | null;
  @at("human_opened_at") humanOpenedAt: Date | null;
  @at("clicked_at") clickedAt: Date | null;
  @at("human_clicked_at") humanClickedAt: Date | null;
  @at("replied_at") repliedAt: Date | null;
  @at("converted_at") convertedAt: Date | null;
  @at("dropped_at") droppedAt: Date | null;
  @at("undeliverable_at") undeliverableAt: Date | null;
  @at("failed_at") failedAt: Date | null;
  @at("bounced_at") bouncedAt: Date | null;
  @at("unsubscribed_at") unsubscribedAt: Date | null;
  @at("spammed_at") spammedAt: Date | null;

  // A metric reported through the relay comes back later as a webhook (a new event_id) for the same
  // delivery. Opens and clicks are therefore counted per source, and the human counts are the larger
  // of the two: the echo of a relayed open does not count it twice, and an open Customer.io saw that
  // we did not relay still counts. A delivery with a human open time has at least one human open: a
  // backfilled open (the App API gives a first time, no count) is 1, and so is it with its webhook.
  @Column({ name: "opens_human", type: "integer", generatedType: "STORED", asExpression: OPENS_HUMAN_SQL, insert: false, update: false })
  opensHuman: number;

  @Column({ name: "clicks_human", type: "integer", generatedType: "STORED", asExpression: CLICKS_HUMAN_SQL, insert: false, update: false })
  clicksHuman: number;

  @counter("opens_machine") opensMachine: number;
  @counter("clicks_machine") clicksMachine: number;
  @counter("webhook_opens_human") webhookOpensHuman: number;
  @counter("webhook_clicks_human") webhookClicksHuman: number;
  @counter("relay_opens") relayOpens: number;
  @counter("relay_clicks") relayClicks: number;
  @counter("event_count") eventCount: number;

  @Column({ name: "first_event_at", type: "timestamptz" })
  firstEventAt: Date;

  @Column({ name: "last_event_at", type: "timestamptz" })
  lastEventAt: Date;

  @Column({ name: "updated_at", type: "timestamptz", default: () => "now()" })
  updatedAt: Date;
}
