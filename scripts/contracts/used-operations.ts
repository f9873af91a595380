/**
 * Which Datadog operations the contract must hold, read from the code rather than listed by hand:
 *   - the client's operation table (`OPERATIONS`, connectors/datadog/client/operations.ts), which every
 *     connector request goes through;
 *   - every route the simulator serves (`sim.routes()` of a simulator started on loopback and closed at once),
 *     which includes reads the connector does not make (GetRole, GetTeam, GetAPIKey) but the simulator's
 *     contract tests call.
 * Adding an operation to either makes the committed contract stale (test/contract/committed-contract.test.ts).
 */
import { OPERATIONS } from "../../connectors/datadog/client/operations.ts";
import { startSimulator } from "../../connectors/datadog/simulator/index.ts";
import type { OperationRef } from "./datadog.ts";

export interface UsedOperation extends OperationRef {
  /** "client ListUsers", "simulator": where the code uses it. */
  usedBy: string[];
}

export async function usedOperations(): Promise<UsedOperation[]> {
  const byKey = new Map<string, UsedOperation>();
  const add = (method: string, path: string, by: string) => {
    const key = `${method.toUpperCase()} ${path}`;
    let entry = byKey.get(key);
    if (!entry) byKey.set(key, (entry = { method: method.toUpperCase(), path, usedBy: [] }));
    entry.usedBy.push(by);
  };
  for (const [id, info] of Object.entries(OPERATIONS)) add(info.method, info.path, `client ${id}`);
  const sim = await startSimulator({ counts: { users: 1, teams: 1, roles: 1, schedules: 0, apiKeys: 0, appKeys: 0, serviceAccounts: 0 } });
  try {
    for (const route of sim.routes()) add(route.method, route.template, "simulator");
  } finally {
    await sim.close();
  }
  return [...byKey.values()].sort((a, b) => (a.path === b.path ? a.method.localeCompare(b.method) : a.path < b.path ? -1 : 1));
}
