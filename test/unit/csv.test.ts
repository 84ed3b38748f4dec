// CSV exports open safely in a spreadsheet: a cell a spreadsheet would run as a formula opens as text,
// and quoting survives a real CSV parser.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "csv-parse/sync";
import { toCsv } from "../../src/reports/report-query.js";

const HYPERLINK = '=HYPERLINK("https://evil.example/?q=1","Click me")';
/** What spreadsheets run as a formula when a cell starts with it (OWASP's list, and full-width forms). */
const TRIGGERS = ["=", "+", "-", "@", "\t", "\r", "\uFF1D", "\uFF0B", "\uFF0D", "\uFF20"];

describe("CSV export", () => {
  it("neutralises every cell that would start a formula, so it opens as its text", () => {
    const hostile = [HYPERLINK, "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "\uFF1D1+1", "\uFF0B1", "\uFF0D1", "\uFF20SUM(1)"];
    const csv = toCsv(hostile.map((href, i) => ({ href, deliveries: i })));
    const parsed = parse(csv, { columns: true }) as Array<{ href: string; deliveries: string }>;
    assert.equal(parsed.length, hostile.length);
    for (const [i, row] of parsed.entries()) {
      assert.equal(row.href, `'${hostile[i]}`, `cell ${JSON.stringify(hostile[i])} opens as text`);
      assert.ok(!TRIGGERS.includes(row.href[0]!), "no cell starts with a formula trigger");
      assert.equal(row.deliveries, String(i));
    }
  });

  it("leaves ordinary text and numbers, negative ones included, as they are", () => {
    const csv = toCsv([{ href: "https://example.com/a?b=c&d=e", reason: "550 5.1.1 <address>: user unknown", n: -3, rate: 0.25, none: null, at: new Date("2026-11-10T01:00:00Z"), ok: true }]);
    assert.equal(csv, "href,reason,n,rate,none,at,ok\nhttps://example.com/a?b=c&d=e,550 5.1.1 <address>: user unknown,-3,0.25,,2026-11-10T01:00:00.000Z,true\n");
  });

  it("quotes commas, quotes and line breaks so a parser gets each cell back whole", () => {
    const tricky = ['He said "stop", twice', "line one\nline two", "a,b", "ends with a quote\""];
    const parsed = parse(toCsv(tricky.map((reason) => ({ reason }))), { columns: true }) as Array<{ reason: string }>;
    assert.deepEqual(parsed.map((r) => r.reason), tricky);
  });

  it("answers nothing for no rows", () => {
    assert.equal(toCsv([]), "");
  });
});
