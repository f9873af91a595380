/**
 * `baton-file`: the file connector's CLI. The SDK's runner owns flags, env vars, logging, the sync summary,
 * service mode and exit codes; this file says how to build the connector and which flag names the input.
 * Run it with `npx node connectors/file/main.ts --input-file accounts.json -f sync.c1z`.
 */
import {
  connectorCapabilities,
  createConnectorService,
  defineConfig,
  field,
  parseByteSize,
  runConnectorCliMain,
  runServiceMode,
  runSync,
  serveCommand,
  type ConfigOf,
  type ConnectorCliSpec,
  type WithConnectorRpc,
} from "../../src/index.ts";
import pkg from "../../package.json" with { type: "json" };
import { EMPTY_INPUT, fileConnector } from "./connector.ts";
import { loadInput } from "./input.ts";

export const fileConfig = defineConfig({
  inputFile: field.string({
    description: "JSON file of the app's users, groups and roles: {users: [{id, email?, ...}], groups: [{id, members: [userId]}], roles: [...]}",
    displayName: "Input file",
    required: true,
  }),
});
export type FileConfig = ConfigOf<typeof fileConfig>;

/** Loads and checks the whole file first, so a bad entry fails before any c1z is written. */
const withRpc: WithConnectorRpc<FileConfig> = async (config, logger, provisioning, fn) => {
  const connector = fileConnector(await loadInput(config.inputFile));
  return fn(createConnectorService(connector, { logger, provisioning }));
};

export const fileCli: ConnectorCliSpec<typeof fileConfig> = {
  name: "baton-file",
  version: pkg.version,
  description: "Baton connector for apps without an API: users, groups and roles read from a JSON export",
  config: fileConfig,
  configMeta: { displayName: "File" },
  run: {
    sync: (ctx) =>
      withRpc(ctx.config, ctx.logger, false, (rpc) =>
        runSync({
          connector: rpc,
          file: ctx.sdk.file,
          maxDecodedBytes: parseByteSize(ctx.sdk.maxC1zDecodedSize),
          logger: ctx.logger,
          signal: ctx.signal,
          onProgress: ctx.progress.onProgress,
          ...ctx.syncScope,
        }),
      ),
    service: (ctx) => withRpc(ctx.config, ctx.logger, ctx.sdk.provisioning, (rpc) => runServiceMode(rpc, ctx)),
    capabilities: () => connectorCapabilities(fileConnector(EMPTY_INPUT)),
  },
  commands: [serveCommand(withRpc)],
};

export async function main(argv: string[]): Promise<void> {
  process.argv = [process.argv[0]!, process.argv[1]!, ...argv];
  await runConnectorCliMain(fileCli);
}

if (import.meta.main) await main(process.argv.slice(2));
