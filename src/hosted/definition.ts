/**
 * What a connector gives the hosted runtime: its name and version, its config fields (the same definition the
 * CLI and config_schema.json use) and how to build it from a validated config. The runtime calls build() once
 * per config generation and reuses the result for every invocation until a reload replaces it.
 */
import type { Logger } from "pino";
import type { ConfigDefinition, ConfigOf } from "../config/define.ts";
import type { FieldMap } from "../config/fields.ts";
import type { ConnectorRpc } from "../connector/rpc.ts";
import type { SessionBackend } from "../connector/session.ts";
import type { EgressPolicy } from "../http/egress.ts";

export interface HostedBuildEnv {
  logger: Logger;
  /** The config enabled provisioning (grant, revoke, create, delete, rotate). */
  provisioning: boolean;
  /** What the platform's served policy lets the connector's HTTP clients reach. */
  egress: EgressPolicy;
  /** ctx.session's backend: the platform's session service. */
  sessions: SessionBackend;
}

export interface HostedBuilt {
  rpc: ConnectorRpc;
  close(): Promise<void>;
}

export interface HostedConnectorDefinition<C> {
  name: string;
  version: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the field map's type is the definition's own
  config: ConfigDefinition<any>;
  build(config: C, env: HostedBuildEnv): Promise<HostedBuilt>;
}

/** Declares a hosted connector with its config type inferred from the definition. */
export function defineHostedConnector<F extends FieldMap>(def: {
  name: string;
  version: string;
  config: ConfigDefinition<F>;
  build(config: ConfigOf<ConfigDefinition<F>>, env: HostedBuildEnv): Promise<HostedBuilt>;
}): HostedConnectorDefinition<ConfigOf<ConfigDefinition<F>>> {
  return def as unknown as HostedConnectorDefinition<ConfigOf<ConfigDefinition<F>>>;
}
