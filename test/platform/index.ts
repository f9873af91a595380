/** The test platform: a stand-in for the governance platform's connector API (token endpoint + BatonService). */
export { startTestPlatform, makeClientSecret } from "./platform.ts";
export type { TestPlatform, TestPlatformOptions, TaskInit, UploadRecord, TokenRequestRecord } from "./platform.ts";
export { makeTestPki } from "./pki.ts";
export type { TestPki, CertPair } from "./pki.ts";
