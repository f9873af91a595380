import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "connectors/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
    // Tests spawn bin/baton-datadog.js on the sources they test, never on a dist/ built before an edit.
    env: { RUN_SOURCES: "1" },
  },
});
