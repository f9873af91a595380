/**
 * The fixture connector plus provisioning: groups can be granted and revoked, users can be created, deleted
 * and have their API key rotated. Every change is recorded in `changes`, so tests can see that a task reached
 * the connector. `gate`, when set, makes every provisioning call wait for it (to hold tasks mid-flight).
 */
import { create } from "@bufbuild/protobuf";
import { CapabilityDetailCredentialOption } from "../../src/gen/c1/connector/v2/connector_pb.js";
import { PlaintextDataSchema } from "../../src/gen/c1/connector/v2/resource_pb.js";
import { grant as makeGrant, userResource } from "../../src/connector/builders.ts";
import type { Connector, ResourceSyncer } from "../../src/connector/types.ts";
import { fixtureConnector, type FixtureOptions } from "../fixtures/fixture-connector.ts";

export interface ProvisioningFixture {
  connector: Connector;
  changes: string[];
  /** Provisioning calls wait for this promise while it is set. */
  gate: Promise<void> | undefined;
}

export function provisioningFixture(options: FixtureOptions = {}): ProvisioningFixture {
  const base = fixtureConnector(options);
  const fixture: ProvisioningFixture = { connector: base, changes: [], gate: undefined };
  const hold = async () => {
    if (fixture.gate) await fixture.gate;
  };
  const syncers: ResourceSyncer[] = base.syncers.map((s) => {
    if (s.resourceType.id === "group") {
      return {
        ...s,
        provisioner: {
          async grant(_ctx, principal, entitlement) {
            await hold();
            fixture.changes.push(`grant ${entitlement.id} ${principal.id?.resourceType}:${principal.id?.resource}`);
            return { grants: [makeGrant(entitlement, principal)] };
          },
          async revoke(_ctx, grant) {
            await hold();
            fixture.changes.push(`revoke ${grant.id}`);
            return {};
          },
        },
      };
    }
    if (s.resourceType.id === "user") {
      return {
        ...s,
        accountManager: {
          credentialOptions: [CapabilityDetailCredentialOption.NO_PASSWORD, CapabilityDetailCredentialOption.RANDOM_PASSWORD],
          preferredCredentialOption: CapabilityDetailCredentialOption.RANDOM_PASSWORD,
          async create(_ctx, info) {
            await hold();
            fixture.changes.push(`create ${info.login}`);
            return {
              kind: "success",
              resource: userResource({ type: "user", id: `new-${info.login}`, displayName: info.login, user: { login: info.login } }),
              plaintext: [create(PlaintextDataSchema, { name: "password", bytes: new TextEncoder().encode(`pw-for-${info.login}`) })],
            };
          },
        },
        credentialManager: {
          credentialOptions: [CapabilityDetailCredentialOption.API_KEY],
          preferredCredentialOption: CapabilityDetailCredentialOption.API_KEY,
          async rotate(_ctx, id) {
            await hold();
            fixture.changes.push(`rotate ${id.resource}`);
            return { plaintext: [create(PlaintextDataSchema, { name: "api key", bytes: new TextEncoder().encode(`key-${id.resource}`) })] };
          },
        },
        deleter: {
          async delete(_ctx, id) {
            await hold();
            fixture.changes.push(`delete ${id.resourceType}:${id.resource}`);
            return {};
          },
        },
      };
    }
    return s;
  });
  fixture.connector = { ...base, info: { displayName: "Fixture (provisioning)" }, syncers };
  return fixture;
}
