// The dashboard's pure helpers: y-axis ticks and where long links and reasons may break.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { breakable, yTicks } from "../../src/reports/dashboard.js";

describe("y-axis ticks", () => {
  it("are whole numbers from 0 in steps of 1, 2 or 5 × 10ⁿ, up to at least the largest value", () => {
    assert.deepEqual(yTicks(0), [0, 1]);
    assert.deepEqual(yTicks(3), [0, 1, 2, 3]);
    assert.deepEqual(yTicks(5), [0, 2, 4, 6], "no tick labelled 3 at 2.5");
    assert.deepEqual(yTicks(126), [0, 50, 100, 150]);
    for (const max of [1, 2, 7, 9, 11, 19, 99, 101, 999, 1234, 98765]) {
      const ticks = yTicks(max);
      const step = ticks[1]!;
      assert.ok(ticks.every((t, i) => Number.isInteger(t) && t === i * step), `${max}: ${ticks.join(", ")}`);
      assert.ok(/^[125]0*$/.test(String(step)), `${max}: step ${step}`);
      assert.ok(ticks.at(-1)! >= max && ticks.length <= 6, `${max}: ${ticks.join(", ")}`);
    }
  });
});

describe("long links and reasons", () => {
  const text = (html: string) => html.replace(/<wbr>/g, "").replace(/<[^>]+>/g, "").replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)));

  it("may break after / ? & = and at spaces only, and keep short text whole", () => {
    assert.equal(breakable("https://example.com/a?b=c&d=e"), "https://<wbr>example.com/<wbr>a?<wbr>b&#61;<wbr>c&#38;<wbr>d&#61;<wbr>e");
    assert.equal(breakable("550 5.1.1 <address>: user unknown"), "550 5.1.1 &#60;address&#62;: user unknown");
  });

  it("shorten parts over 20 characters and the middle of long text, with the whole text as the tooltip", () => {
    const link = "https://shop.example.com/products/extra-long-product-handle-name?utm_campaign=spring_sale_2026_final_version_b&cio=abcdefghijklmnopqrstuvwxyz";
    const html = breakable(link);
    assert.match(html, /^<span title="https:\/\/shop\.example\.com\/products\/extra-long-product-handle-name\?utm_campaign&#61;spring_sale_2026_final_version_b&#38;cio&#61;abcdefghijklmnopqrstuvwxyz">/);
    const shown = text(html.replace(/^<span title="[^"]*">/, ""));
    assert.ok(shown.includes("…"));
    assert.ok(shown.length <= 111, `${shown.length}: ${shown}`);
    for (const part of shown.split(/[/?&=#\s]+/)) assert.ok(part.length <= 20, `part "${part}"`);
  });

  it("escape what comes from outside", () => {
    assert.doesNotMatch(breakable('"><script>alert(1)</script>'), /<script>/);
    assert.doesNotMatch(breakable(`${"x".repeat(30)}"><img src=x onerror=alert(1)>`), /<img|" onerror/);
  });
});
