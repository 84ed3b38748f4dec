// The progress of a long command: a bar redrawn in place on a terminal, fitted to its width, with log
// lines above it; plain lines in a log.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Progress } from "../../scripts/lib/progress.js";

function stream(tty: boolean, columns = 80) {
  const out: string[] = [];
  return { out, s: { isTTY: tty, columns, write: (chunk: string | Buffer) => out.push(String(chunk)) } as unknown as NodeJS.WriteStream };
}

describe("progress", () => {
  it("draws a bar with its percentage in place on a terminal, never wider than the terminal", () => {
    const { out, s } = stream(true, 60);
    const p = new Progress(s, "backfill");
    p.update({ fraction: 0.5, text: "2,000 messages · 9,800/s · 1,000 metrics added · a long tail of text that does not fit" }, true);
    const line = out.join("");
    const CLEAR = "\r\x1b[K";
    assert.ok(line.startsWith(`${CLEAR}${"█".repeat(10)}${"░".repeat(10)}  50%  2,000 messages · 9,800/s`), JSON.stringify(line));
    assert.ok(line.replace("\r\x1b[K", "").length <= 59, "fits 60 columns");
    p.above().write("a log line\n");
    assert.deepEqual(out.slice(1, 3), ["\r\x1b[K", "a log line\n"], "a log line clears the bar first");
    assert.ok(out[3]!.startsWith(`${CLEAR}█`), "and the bar comes back under it");
    p.done();
    assert.equal(out[out.length - 1], "\n");
  });

  it("writes plain lines in a log: at most every few seconds, and the last state at the end", () => {
    const { out, s } = stream(false);
    const p = new Progress(s, "backfill", 3600);
    p.update({ fraction: 0.1, text: "100 messages" });
    p.update({ fraction: 0.2, text: "200 messages" });
    assert.equal(out.length, 0, "not yet: a line every 3600 s here");
    p.update({ fraction: 0.3, text: "300 messages" }, true);
    p.update({ fraction: 1, text: "1,000 messages" });
    p.done();
    assert.ok(out.every((l) => !l.includes("\r") && !l.includes("\x1b")), "no terminal codes in a log");
    assert.deepEqual(out, ["backfill: 30% 300 messages\n", "backfill: 100% 1,000 messages\n"]);
  });
});
