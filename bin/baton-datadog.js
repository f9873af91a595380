#!/usr/bin/env node
// Entry point for `npx baton-datadog`. Node 24 runs the TypeScript sources directly (type stripping).
import("../connectors/datadog/main.ts").then((m) => m.main(process.argv.slice(2)));
