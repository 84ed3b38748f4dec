import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";
import { PROJECTION_SQL_SNAPSHOT, projectionSqlSnapshot } from "../../src/events/projection.sql.js";

describe("the generated ingest SQL", () => {
  it("matches the checked-in snapshot, so every change to it is reviewed as SQL", () => {
    const checkedIn = fs.readFileSync(PROJECTION_SQL_SNAPSHOT, "utf8");
    assert.ok(checkedIn === projectionSqlSnapshot(), "src/events/projection.sql is out of date: run `npm run sql:snapshot` and review the diff");
  });
});
