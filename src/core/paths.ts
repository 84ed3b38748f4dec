// Owns where the project's own files live, whether running from src/ (tsx) or dist/ (compiled).
import fs from "node:fs";
import path from "node:path";

function findProjectRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findProjectRoot(import.meta.dirname);
/** Local state of a trial install (embedded database, generated keys); git-ignored. */
export const DATA_DIR = path.join(PROJECT_ROOT, ".data");
