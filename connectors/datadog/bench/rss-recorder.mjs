// Loaded with `node --import` into a CLI run the bench measures: writes the process's peak RSS (KiB) to
// $BENCH_RSS_FILE when it exits. Plain JavaScript and node: modules only, so it adds nothing to what it measures.
import { writeFileSync } from "node:fs";

process.on("exit", () => writeFileSync(process.env.BENCH_RSS_FILE, String(process.resourceUsage().maxRSS)));
