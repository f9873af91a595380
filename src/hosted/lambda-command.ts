/**
 * `<connector> lambda`: the hosted runtime as a Lambda Runtime API client, for container-image functions (the
 * zip deployment uses the exported handler instead; both run the same invocation path). The connector's config
 * comes from the platform (BATON_LAMBDA_*), not from flags. A failed cold start is reported to the Runtime API as
 * an init error and exits 1. Everything hosted loads when the command runs, not with the CLI.
 */
import { defineCommand, type CommandSpec } from "../cli/spec.ts";
import type { HostedConnectorDefinition } from "./definition.ts";

export function lambdaCommand<C>(definition: () => Promise<HostedConnectorDefinition<any>>): CommandSpec<C, any> {
  return defineCommand<C>()({
    name: "lambda",
    description: "Run as an AWS Lambda function (container image): serve hosted invocations through AWS_LAMBDA_RUNTIME_API",
    async run(ctx) {
      const [{ runtimeApiClient, runtimeApiBase }, { startHosted }] = await Promise.all([import("./runtime-api.ts"), import("./invocation.ts")]);
      const env = { ...ctx.io.env } as NodeJS.ProcessEnv;
      const api = env.AWS_LAMBDA_RUNTIME_API;
      try {
        runtimeApiBase(api);
      } catch (err) {
        ctx.io.stderr.write(`lambda: ${(err as Error).message}\n`);
        return 2;
      }
      const client = runtimeApiClient(api!, { logger: ctx.logger });
      try {
        let hosted;
        const started = performance.now();
        try {
          hosted = await startHosted(await definition(), env, { logger: ctx.logger });
        } catch (err) {
          ctx.logger.error({ err: (err as Error).message }, "cold start failed");
          ctx.io.stderr.write(`lambda: cold start failed: ${(err as Error).message}\n`);
          await client.initError(err).catch((e: unknown) => ctx.logger.error({ err: (e as Error).message }, "could not report the init error"));
          return 1;
        }
        ctx.logger.info({ ms: Math.round(performance.now() - started) }, "cold start done; serving invocations");
        try {
          await client.serve(hosted.invoke, ctx.signal);
        } finally {
          await hosted.close();
        }
        return 0;
      } finally {
        await client.close();
      }
    },
  });
}
