// Webhook events stored but not yet applied to deliveries and person_subscriptions. The ingest
// statement writes an event and its row here in one commit, so a webhook is answered as soon as its
// raw event is durable; the projector (src/events/projector.ts) then applies queued rows in large
// batches, deleting them in the same statement, so each event is applied exactly once. The table stays
// small: it holds the last fraction of a second of events (docs/schema.md says how to watch it).
// Its columns are the projection's input (src/events/projection.sql.ts, QUEUE_COLUMNS).
import { Column, Entity, PrimaryGeneratedColumn } from "typeorm";

const text = (name: string) => Column({ name, type: "text", nullable: true });
const bigintId = (name: string) => Column({ name, type: "bigint", nullable: true });

@Entity({ name: "projection_queue" })
export class ProjectionQueueItem {
  /** Order of arrival: the projector takes the oldest first. */
  @PrimaryGeneratedColumn({ name: "seq", type: "bigint" })
  seq: string;

  @Column({ name: "event_id", type: "text" })
  eventId: string;

  @text("delivery_id") deliveryId: string | null;
  @text("metric") metric: string | null;

  /** Epoch milliseconds, as the projection reads them. */
  @Column({ name: "occurred_ms", type: "float8" })
  occurredMs: number;

  @Column({ name: "received_ms", type: "float8" })
  receivedMs: number;

  @text("customer_id") customerId: string | null;

  @Column({ name: "identifiers", type: "jsonb", nullable: true })
  identifiers: Record<string, unknown> | null;

  @text("failure_message") failureMessage: string | null;

  @Column({ name: "source", type: "text" })
  source: string;

  @text("channel") channel: string | null;
  @text("recipient") recipient: string | null;
  @text("subject") subject: string | null;
  @bigintId("campaign_id") campaignId: string | null;
  @bigintId("broadcast_id") broadcastId: string | null;
  @bigintId("newsletter_id") newsletterId: string | null;
  @bigintId("transactional_message_id") transactionalMessageId: string | null;
  @bigintId("action_id") actionId: string | null;
  @bigintId("parent_action_id") parentActionId: string | null;
  @bigintId("trigger_id") triggerId: string | null;
  @bigintId("content_id") contentId: string | null;
  @text("journey_id") journeyId: string | null;
  @text("trigger_event_id") triggerEventId: string | null;

  @Column({ name: "machine", type: "boolean", nullable: true })
  machine: boolean | null;

  @text("person_key") personKey: string | null;
  @text("email") email: string | null;

  @Column({ name: "preferences", type: "jsonb", nullable: true })
  preferences: Record<string, boolean> | null;
}
