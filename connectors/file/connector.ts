/**
 * A connector for an app with no API: its accounts, groups and roles come from an export file. The SDK does
 * the rest (sync engine, c1z, gRPC, service mode) through its public API alone.
 */
import type { Connector } from "../../src/index.ts";
import { groupSyncer } from "./groups.ts";
import type { Input } from "./input.ts";
import { roleSyncer } from "./roles.ts";
import { userSyncer } from "./users.ts";

export const EMPTY_INPUT: Input = { users: [], groups: [], roles: [] };

export function fileConnector(input: Input): Connector {
  return {
    info: {
      displayName: "File",
      description: "Users, groups and roles of an application, read from a JSON export file",
    },
    syncers: [userSyncer(input.users), groupSyncer(input.groups), roleSyncer(input.roles)],
    // The file was checked when it was loaded; there is nothing further to reach.
    async validate() {},
  };
}
