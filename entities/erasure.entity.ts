// One row per person erased (`npm run erase`): when, how many rows of which table changed, and a keyed
// hash of the identifier (HMAC-SHA256 with ERASURE_SECRET) instead of the identifier itself, so events
// for that person that arrive later (Customer.io retries for 7 days) are recognised and stored without
// personal data, while the record holds none.
import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";

@Entity({ name: "erasures" })
@Index("erasures_subject_hash_idx", ["subjectHash"])
export class Erasure {
  @PrimaryGeneratedColumn({ name: "id", type: "bigint" })
  id: string;

  /** HMAC-SHA256 (hex) of `<kind>:<identifier>` (an email address in lower case). */
  @Column({ name: "subject_hash", type: "text" })
  subjectHash: string;

  /** email, customer_id or cio_id: what the erasure was asked by. */
  @Column({ name: "identifier_kind", type: "text" })
  identifierKind: string;

  @Column({ name: "erased_at", type: "timestamptz", default: () => "now()" })
  erasedAt: Date;

  /** Table -> rows changed or removed. */
  @Column({ name: "changes", type: "jsonb" })
  changes: Record<string, number>;
}
