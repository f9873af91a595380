/**
 * Records everything a piece of code exchanges with the Datadog simulator: a simulator (or the one given) is
 * put behind the recording proxy, `run` gets the proxy's base URL to point the connector at, and the recorded
 * exchanges come back for checkExchanges(). The simulator and proxy are closed afterwards, also on failure.
 */
import { startSimulator, type Simulator, type SimulatorOptions } from "../../connectors/datadog/simulator/index.ts";
import { startRecordingProxy, type RecordedExchange } from "./recorder.ts";

/** A small org with every resource type, schedules and keys included (seed 1). */
export const CONTRACT_ORG: SimulatorOptions = {
  seed: 1,
  // Two SAML mappings (a role and a team): their listings answer with included roles, teams and attributes.
  counts: { users: 30, teams: 4, roles: 4, schedules: 3, apiKeys: 5, appKeys: 5, serviceAccounts: 3, authnMappings: 2 },
};

export interface RecordedRun {
  exchanges: RecordedExchange[];
}

/**
 * Runs `startConnectorAgainst(baseUrl, sim)` (typically: build the connector with --base-url set to `baseUrl`
 * and the simulator's keys, then run a full sync) and returns every exchange it caused.
 */
export async function recordFullSync(
  startConnectorAgainst: (baseUrl: string, sim: Simulator) => Promise<void>,
  options: { simulator?: Simulator; simulatorOptions?: SimulatorOptions } = {},
): Promise<RecordedRun> {
  const sim = options.simulator ?? (await startSimulator(options.simulatorOptions ?? CONTRACT_ORG));
  try {
    const proxy = await startRecordingProxy(sim.baseUrl);
    try {
      await startConnectorAgainst(proxy.baseUrl, sim);
      return { exchanges: [...proxy.exchanges] };
    } finally {
      await proxy.close();
    }
  } finally {
    if (!options.simulator) await sim.close();
  }
}
