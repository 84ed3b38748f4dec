// Shared pacing toward Customer.io across every instance of the service: each request reserves the
// next free slot here, so the configured rate holds for all replicas together (Customer.io's limit is
// per workspace, not per process).
import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "rate_limits" })
export class RateLimit {
  @PrimaryColumn({ name: "name", type: "text" })
  name: string;

  /** The earliest time the next request may start. */
  @Column({ name: "next_slot", type: "timestamptz", default: () => "now()" })
  nextSlot: Date;
}
