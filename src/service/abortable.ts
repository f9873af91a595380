/**
 * A ConnectorRpc bound to a task's AbortSignal: every call fails at once when the task was cancelled and
 * settles as soon as it is cancelled, even when the connector underneath does not watch its signal. This is what
 * makes a platform cancellation stop a running sync at its next connector call, not at the end of a listing.
 */
import { connectorServices, type ConnectorRpc, type RpcOptions } from "../connector/rpc.ts";
import { eitherSignal, raceAbort } from "../http/abort.ts";

type AnyRpc = (request: unknown, options?: RpcOptions) => Promise<unknown>;

export function abortableRpc(rpc: ConnectorRpc, signal: AbortSignal): ConnectorRpc {
  const out: Record<string, AnyRpc> = {};
  for (const service of connectorServices) {
    for (const method of service.methods) {
      const fn = (rpc as unknown as Record<string, AnyRpc>)[method.localName];
      out[method.localName] = (request, options) => {
        signal.throwIfAborted();
        const combined = eitherSignal(signal, options?.signal);
        const call = fn.call(rpc, request, { ...options, signal: combined });
        return raceAbort(call, combined);
      };
    }
  }
  return out as unknown as ConnectorRpc;
}
