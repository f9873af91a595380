/**
 * The Datadog connector as a platform-hosted AWS Lambda function (nodejs24.x): handler
 * `dist/connectors/datadog/lambda.handler` in the deployment zip, or `import { handler } from "baton-datadog/lambda"`.
 * Cold start (settings, platform token, config, connector) runs on the first invocation and is reused after.
 */
import { createLambdaHandler } from "../../src/index.ts";
import { datadogHosted } from "./hosted.ts";

export const handler = createLambdaHandler(datadogHosted);
