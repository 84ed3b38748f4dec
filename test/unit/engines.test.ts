// What we say we run on, and whether every installed package agrees: npm warns (EBADENGINE) for any
// package whose `engines` excludes the Node.js that runs `npm ci`.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import semver from "semver";
import { PROJECT_ROOT } from "../../src/core/paths.js";

const read = (file: string) => fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8");
const pkg = JSON.parse(read("package.json")) as { engines: { node: string } };
const lock = JSON.parse(read("package-lock.json")) as { packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean; os?: string[]; cpu?: string[] }> };

describe("supported Node.js versions", () => {
  it("the README names the same minimum as package.json engines, and this Node.js is within it", () => {
    const minimum = semver.minVersion(pkg.engines.node)!;
    const readme = read("README.md");
    const named = /Node\.js (\d+\.\d+)\+/.exec(readme);
    assert.ok(named, "the README names a minimum Node.js version");
    assert.equal(`${minimum.major}.${minimum.minor}`, named[1]);
    assert.ok(semver.satisfies(process.version, pkg.engines.node), `${process.version} satisfies ${pkg.engines.node}`);
  });

  it("every locked package (dev dependencies included) accepts the minimum and this Node.js, so npm ci prints no engine warning", () => {
    const versions = [semver.minVersion(pkg.engines.node)!.version, process.versions.node];
    const refusing: string[] = [];
    for (const [where, entry] of Object.entries(lock.packages)) {
      const range = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
      if (!where || !range) continue;
      for (const v of versions) if (!semver.satisfies(v, range)) refusing.push(`${where.replace(/^.*node_modules\//, "")} needs node ${range} (not ${v})`);
    }
    assert.deepEqual(refusing, []);
  });
});
