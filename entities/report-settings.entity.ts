// One row: the time zone whose calendar days the report rollup counts in. Change it with
// `npm run report -- timezone <IANA zone>`, which rebuilds the rollup in the same transaction.
import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "report_settings" })
export class ReportSettings {
  @PrimaryColumn({ name: "id", type: "integer", default: 1 })
  id: number;

  @Column({ name: "timezone", type: "text", default: "UTC" })
  timezone: string;
}
