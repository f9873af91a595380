import { redactText } from "../log/secrets.ts";

/** One problem with the config. `label` names the field the way the user can set it ("--api-key / BATON_API_KEY"). */
export interface ConfigIssue {
  key?: string;
  label: string;
  message: string;
}

/**
 * Invalid configuration (the CLI exits 2). The message is one line naming every problem; it never contains a
 * secret value (issues are written without values for secret fields, and the text is scrubbed as well).
 */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(redactText(issues.map((i) => (i.label ? `${i.label}: ${i.message}` : i.message)).join("; ")));
    this.name = "ConfigError";
    this.issues = issues.map((i) => ({ ...i, message: redactText(i.message) }));
  }
}
