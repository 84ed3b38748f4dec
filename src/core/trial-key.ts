// Owns the signing key of a trial install: generated once, kept under .data/ (git-ignored), printed at
// start and read by `npm run send-sample`. Never used in production (config.ts refuses that).
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DATA_DIR } from "./paths.js";

export const TRIAL_KEY_FILE = path.join(DATA_DIR, "trial-signing-key");

export function readTrialKey(): string | undefined {
  try {
    const key = fs.readFileSync(TRIAL_KEY_FILE, "utf8").trim();
    return key.length > 0 ? key : undefined;
  } catch {
    return undefined;
  }
}

export function trialSigningKey(): string {
  const existing = readTrialKey();
  if (existing) return existing;
  const key = `trial_${randomBytes(24).toString("hex")}`;
  fs.mkdirSync(DATA_DIR, { recursive: true });
  fs.writeFileSync(TRIAL_KEY_FILE, `${key}\n`, { mode: 0o600 });
  return key;
}
