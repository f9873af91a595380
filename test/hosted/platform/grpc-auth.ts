/**
 * What the platform checks on every gRPC call from the function (HOSTED-LAMBDA.md §2.5): `authorization:
 * <token_type> <access token>` naming a token it issued and that has not expired, and a `dpop` proof for exactly
 * this call (htm POST, htu https://<configuration host>/<pkg.Service>/<Method>, ath of the token, fresh jti) made
 * with the key the token is bound to. Refusals are UNAUTHENTICATED and say what is wrong.
 */
import { Code, ConnectorError } from "../../../src/connector/errors.ts";
import type { CallContext, ServerInterceptorFn } from "../../../src/grpc/adapter.ts";
import { JtiReplayCache, verifyDpopProof } from "./dpop.ts";
import type { IssuedToken } from "./token-endpoint.ts";

export interface GrpcCallRecord {
  at: number;
  method: string;
  outcome: "ok" | "unauthenticated" | "failed-on-purpose";
  reason?: string;
  /** The caller's user-agent (the SDK sends `baton-lambda/<client id> v0.25.0 grpc-go/…`). */
  userAgent?: string;
}

export interface GrpcAuthOptions {
  configurationHost: string;
  tokenType: string;
  issued: Map<string, IssuedToken>;
  calls: GrpcCallRecord[];
  /** Called before the auth check; may throw (failure injection). */
  before?: (ctx: CallContext) => Promise<void>;
}

/** The verified caller, for the services (config is encrypted to `token.jwk`). */
export const callerOf = new WeakMap<CallContext, IssuedToken>();

export function platformAuth(opts: GrpcAuthOptions): ServerInterceptorFn {
  const replay = new JtiReplayCache();
  return (next) => async (req, ctx) => {
    const method = `${ctx.method.parent.typeName}/${ctx.method.name}`;
    const ua = ctx.metadata.get("user-agent")[0];
    const userAgent = typeof ua === "string" ? ua : undefined;
    const record = (outcome: GrpcCallRecord["outcome"], reason?: string) => opts.calls.push({ at: Date.now(), method, outcome, reason, userAgent });
    try {
      await opts.before?.(ctx);
    } catch (err) {
      record("failed-on-purpose", (err as Error).message);
      throw err;
    }
    const refuse = (why: string): never => {
      record("unauthenticated", why);
      throw new ConnectorError(Code.UNAUTHENTICATED, why);
    };
    const auth = ctx.metadata.get("authorization");
    if (auth.length !== 1 || typeof auth[0] !== "string") refuse("expected exactly one authorization metadata value");
    const m = /^(\S+) (\S+)$/.exec(auth[0] as string);
    if (!m) return refuse("authorization metadata must be '<token_type> <access token>'");
    if (m[1] !== opts.tokenType) refuse(`authorization scheme must be ${opts.tokenType} (the token_type the token endpoint answered), got ${m[1]}`);
    const token = opts.issued.get(m[2]);
    if (!token) return refuse("unknown access token");
    if (token.expiresAt <= Date.now()) refuse("the access token has expired");
    const proofs = ctx.metadata.get("dpop");
    if (proofs.length !== 1 || typeof proofs[0] !== "string") refuse("expected exactly one dpop metadata value");
    let jkt: string;
    try {
      ({ jkt } = await verifyDpopProof(
        proofs[0] as string,
        { htm: "POST", htu: `https://${opts.configurationHost}/${method}`, accessToken: m[2] },
        replay,
      ));
    } catch (err) {
      return refuse((err as Error).message);
    }
    if (jkt !== token.jkt) refuse("the dpop proof is signed by another key than the one the access token is bound to");
    record("ok");
    callerOf.set(ctx, token);
    return next(req, ctx);
  };
}
