// The Data Pipelines write keys that relayed calls are forwarded with. A write key is a credential, so
// it is kept here once, and an outbox row names it only by its reference (`wk_` and the first 16 hex
// digits of its SHA-256): the key never appears in an outbox payload, in `npm run outbox -- list`, in
// delivery_events or in a log line.
import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "pipelines_write_keys" })
export class PipelinesWriteKey {
  /** `wk_<first 16 hex digits of sha256(write key)>`: what outbox rows carry. */
  @PrimaryColumn({ name: "ref", type: "text" })
  ref: string;

  @Column({ name: "write_key", type: "text" })
  writeKey: string;

  @Column({ name: "first_seen_at", type: "timestamptz", default: () => "now()" })
  firstSeenAt: Date;
}
