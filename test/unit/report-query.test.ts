// Report parameters: the default range, and bad values named in a 400 (never a 500).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseFilters, ReportQueryError } from "../../src/reports/report-query.js";

const problems = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ReportQueryError) return err.problems;
    throw err;
  }
  assert.fail("expected a ReportQueryError");
};

describe("report filters", () => {
  it("default to the 30 days that end on the given today", () => {
    assert.deepEqual(parseFilters({}, "2026-11-11"), { from: "2026-10-13", to: "2026-11-11" });
    assert.deepEqual(parseFilters({ to: "2026-03-01" }, "2026-11-11"), { from: "2026-01-31", to: "2026-03-01" });
    assert.deepEqual(parseFilters({ from: "2026-11-01" }, "2026-11-11"), { from: "2026-11-01", to: "2026-11-11" });
    assert.deepEqual(parseFilters({ from: "2024-02-29", to: "2024-02-29" }, "2026-11-11"), { from: "2024-02-29", to: "2024-02-29" }, "a leap day is a date");
    assert.deepEqual(parseFilters({ from: "", to: "" }, "2026-11-11"), { from: "2026-10-13", to: "2026-11-11" }, "an emptied form field is the default");
  });

  it("name a bad date instead of failing on it (PostgreSQL would refuse February 30th)", () => {
    for (const to of ["someday", "2026-13-45", "2026-02-30", "2026-04-31", "2026-02-30x", "0"]) {
      const found = problems(() => parseFilters({ to }, "2026-11-11"));
      assert.ok(found.some((p) => p.startsWith("to must be a date")), `${JSON.stringify(to)}: ${found.join("; ")}`);
      assert.ok(problems(() => parseFilters({ from: to }, "2026-11-11")).some((p) => p.startsWith("from must be a date")));
    }
  });
});
