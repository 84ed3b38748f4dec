// The status precedence of a delivery, highest first. A delivery's status is the first metric in this
// list that it has ever had, so the status is a function of the set of its events, never of their
// arrival order: a late `delivered` cannot move an `opened` delivery back, and a later `sent` cannot
// hide a `bounced` or `failed` outcome. Negative outcomes rank above engagement because they are what a
// sender must act on.
export const STATUS_PRECEDENCE = [
  "spammed",
  "unsubscribed",
  "bounced",
  "failed",
  "undeliverable",
  "dropped",
  "converted",
  "replied",
  "clicked",
  "opened",
  "delivered",
  "deferred",
  "sent",
  "attempted",
  "drafted",
] as const;

export type DeliveryMetric = (typeof STATUS_PRECEDENCE)[number];

/** The SQL of the generated `deliveries.status` column. */
export const STATUS_SQL =
  "CASE " + STATUS_PRECEDENCE.map((m) => `WHEN ${m}_at IS NOT NULL THEN '${m}'`).join(" ") + " ELSE 'unknown' END";
