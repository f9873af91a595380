/**
 * Which tenant a connector's credentials reach (an org, an account, a workspace), carried from a connector to the
 * sync engine in the Validate response as an annotation, so that it crosses a gRPC boundary too. The engine keeps
 * it with an unfinished sync and refuses to resume that sync with credentials of another tenant: the rows of two
 * orgs must never be merged into one sync.
 *
 * The annotation is `baton_sdk_ts.v1.TenantIdentity { string id = 1; string display_name = 2; }`, encoded here by
 * hand (two string fields) rather than generated from a .proto of its own. Engines that do not know the type
 * (Baton's Go engine) skip it, as they skip every unknown annotation.
 */
import { create } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { AnySchema, type Any } from "@bufbuild/protobuf/wkt";

export const TENANT_IDENTITY_TYPE_URL = "type.googleapis.com/baton_sdk_ts.v1.TenantIdentity";
/** A connector served elsewhere could send anything: identities longer than this are refused. */
export const MAX_TENANT_FIELD_BYTES = 1024;

export interface TenantIdentity {
  /**
   * Stable and unique per tenant, and including where it is reached (e.g. "datadog:https://api.datadoghq.com:org:<uuid>").
   * Never a secret: it is stored in the working database and shown in messages.
   */
  id: string;
  /** For people, in messages (e.g. "Datadog org <uuid> at https://api.datadoghq.com"); default: the id. */
  displayName?: string;
}

function check(identity: TenantIdentity): void {
  const enc = new TextEncoder();
  if (!identity.id) throw new Error("tenant identity: id is empty");
  if (enc.encode(identity.id).length > MAX_TENANT_FIELD_BYTES) throw new Error(`tenant identity: id is longer than ${MAX_TENANT_FIELD_BYTES} bytes`);
  if (identity.displayName && enc.encode(identity.displayName).length > MAX_TENANT_FIELD_BYTES) {
    throw new Error(`tenant identity: display name is longer than ${MAX_TENANT_FIELD_BYTES} bytes`);
  }
}

export function tenantAnnotation(identity: TenantIdentity): Any {
  check(identity);
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).string(identity.id);
  if (identity.displayName) w.tag(2, WireType.LengthDelimited).string(identity.displayName);
  return create(AnySchema, { typeUrl: TENANT_IDENTITY_TYPE_URL, value: w.finish() });
}

/**
 * The identity in `annotations`, if any. Undefined when there is none; throws when there is one that does not
 * decode or breaks the limits (a connector that states a tenant must state it correctly).
 */
export function findTenantIdentity(annotations: readonly Any[]): TenantIdentity | undefined {
  const a = annotations.find((x) => x.typeUrl === TENANT_IDENTITY_TYPE_URL);
  if (!a) return undefined;
  if (a.value.length > 3 * MAX_TENANT_FIELD_BYTES) throw new Error("tenant identity annotation is too large");
  const r = new BinaryReader(a.value);
  const identity: TenantIdentity = { id: "" };
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) identity.id = r.string();
    else if (field === 2 && wireType === WireType.LengthDelimited) identity.displayName = r.string();
    else r.skip(wireType);
  }
  check(identity);
  return identity;
}
