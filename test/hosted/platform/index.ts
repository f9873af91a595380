/**
 * The hosted-mode test platform (issue 15 item 8): a stand-in for the platform a Lambda-hosted connector talks to
 * (token endpoint, ConnectorConfigService, BatonSessionService, invocation signer), a local Lambda Runtime API,
 * and the platform's invoker. See platform.ts, runtime-api-emulator.ts and invoker.ts.
 */
export { startHostedPlatform } from "./platform.ts";
export type { HostedPlatform, HostedPlatformOptions } from "./platform.ts";
export type { PolicyInit, ConfigRequestRecord, ConfigVersion } from "./config-service.ts";
export type { TokenRequestRecord } from "./token-endpoint.ts";
export type { MintOverrides } from "./invocation-signer.ts";
export { startRuntimeApiEmulator } from "./runtime-api-emulator.ts";
export type { RuntimeApiEmulator, RuntimeInvokeResult, FunctionError } from "./runtime-api-emulator.ts";
export { invoke, invokeRaw, buildEvent, decodeResult, findMethod, readHeaderStruct } from "./invoker.ts";
export type { InvokeOptions, InvokeResult, InvokeTarget, LambdaHandler, Encoding } from "./invoker.ts";
export { invokerRegistry } from "./registry.ts";
