// Every migration, in order. Listed explicitly (no glob) so the same list works from src via tsx and
// from dist after tsc.
import { Initial1795476911859 } from "./1795476911859-Initial.js";

export const migrations = [Initial1795476911859];
