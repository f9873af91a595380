/**
 * Where the Datadog API client gets the headers that authenticate a request. Static keys today; delegated
 * (cloud identity) credentials implement the same interface.
 */

export interface CredentialProvider {
  /** Headers that authenticate one request (e.g. DD-API-KEY + DD-APPLICATION-KEY, or Authorization: Bearer). */
  headers(signal?: AbortSignal): Promise<Record<string, string>>;
  /** The API answered 401 to a request sent with `used`; return true to retry once with fresh headers. */
  onUnauthorized?(used: Record<string, string>, signal?: AbortSignal): Promise<boolean>;
  /** Header names whose values must never be logged. */
  readonly secretHeaderNames: readonly string[];
  describe(): string;
}

export const API_KEY_HEADER = "DD-API-KEY";
export const APP_KEY_HEADER = "DD-APPLICATION-KEY";

/** The two static keys of a Datadog org. Values are held privately and never appear in describe() or errors. */
export class StaticKeyProvider implements CredentialProvider {
  readonly secretHeaderNames: readonly string[] = [API_KEY_HEADER, APP_KEY_HEADER];
  readonly #apiKey: string;
  readonly #appKey: string;

  constructor(apiKey: string, appKey: string) {
    const api = apiKey.trim();
    const app = appKey.trim();
    if (api === "") throw new Error("the Datadog API key is empty (set --api-key / BATON_API_KEY)");
    if (app === "") throw new Error("the Datadog application key is empty (set --app-key / BATON_APP_KEY)");
    if (/[\r\n]/.test(api) || /[\r\n]/.test(app)) throw new Error("a Datadog key contains a line break; check how the secret was stored");
    this.#apiKey = api;
    this.#appKey = app;
  }

  async headers(): Promise<Record<string, string>> {
    return { [API_KEY_HEADER]: this.#apiKey, [APP_KEY_HEADER]: this.#appKey };
  }

  describe(): string {
    return "static API and application keys";
  }

  /** Keeps the keys out of JSON dumps and util.inspect output. */
  toJSON(): Record<string, string> {
    return { kind: "StaticKeyProvider" };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "StaticKeyProvider { [keys hidden] }";
  }
}
