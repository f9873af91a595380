import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EgressMode, EgressSectionSchema, ServedPolicyEnvelopeSchema } from "../../../src/gen/c1/connectorapi/baton/v1/servedpolicy_pb.js";
import { egressFromEnvelope } from "../../../src/hosted/served-policy.ts";

const envelope = (egress: Partial<{ mode: EgressMode; allowedHosts: string[]; httpsOnly: boolean; schemaVersion: number }> | undefined, over: { envelopeVersion?: number; configVersion?: string } = {}) =>
  create(ServedPolicyEnvelopeSchema, {
    envelopeVersion: over.envelopeVersion ?? 1,
    configVersion: over.configVersion ?? "cv-1",
    ...(egress ? { egress: create(EgressSectionSchema, { schemaVersion: 1, ...egress }) } : {}),
  });
const url = (u: string) => new URL(u);

describe("served policy → egress policy", () => {
  it("no envelope: no policy (everything allowed)", () => {
    const r = egressFromEnvelope(undefined, "cv-1");
    expect(r.policy.mode).toBe("allow-all");
  });

  it("enforce: exactly the listed hosts, canonicalised, https only when it says so", () => {
    const r = egressFromEnvelope(envelope({ mode: EgressMode.ENFORCE, allowedHosts: ["API.DatadogHQ.com.", "app.datadoghq.com"], httpsOnly: true }), "cv-1");
    expect(r.policy.mode).toBe("rules");
    expect(r.policy.allows(url("https://api.datadoghq.com/api/v2/users"))).toBe(true);
    expect(r.policy.allows(url("http://api.datadoghq.com/"))).toBe(false);
    expect(r.policy.allows(url("https://evil.example/"))).toBe(false);
    expect(r.policy.allows(url("https://x.api.datadoghq.com/"))).toBe(false);
  });

  it("deny-all for a wrong envelope version, a config_version mismatch, a missing egress section or schema version", () => {
    const cases = [
      egressFromEnvelope(envelope({ mode: EgressMode.ENFORCE, allowedHosts: ["a.example"] }, { envelopeVersion: 2 }), "cv-1"),
      egressFromEnvelope(envelope({ mode: EgressMode.ENFORCE, allowedHosts: ["a.example"] }, { configVersion: "cv-0" }), "cv-1"),
      egressFromEnvelope(envelope({ mode: EgressMode.ENFORCE, allowedHosts: ["a.example"] }, { configVersion: "" }), ""),
      egressFromEnvelope(envelope(undefined), "cv-1"),
      egressFromEnvelope(envelope({ mode: EgressMode.ENFORCE, allowedHosts: ["a.example"], schemaVersion: 2 }), "cv-1"),
    ];
    for (const r of cases) {
      expect(r.policy.mode).toBe("deny-all");
      expect(r.policy.allows(url("https://a.example/"))).toBe(false);
    }
    expect(cases[1]!.reason).toMatch(/does not match/);
  });

  it("under enforce, one invalid entry (port, wildcard, path, IP literal) denies all; otherwise invalid entries are dropped", () => {
    for (const bad of ["a.example:443", "*.example.com", "a.example/path", "10.0.0.1", "[::1]", ""]) {
      expect(egressFromEnvelope(envelope({ mode: EgressMode.ENFORCE, allowedHosts: ["ok.example", bad] }), "cv-1").policy.mode).toBe("deny-all");
    }
    const report = egressFromEnvelope(envelope({ mode: EgressMode.REPORT, allowedHosts: ["ok.example", "10.0.0.1"] }), "cv-1");
    expect(report.policy.mode).toBe("allow-all");
    expect(report.reason).toMatch(/observe only .*would allow ok\.example/);
    expect(report.warnings.join()).toMatch(/dropped 1 allowed_hosts entry/);
    const many = egressFromEnvelope(envelope({ mode: EgressMode.REPORT, allowedHosts: Array.from({ length: 500 }, (_, i) => `h${i}.example`) }), "cv-1");
    expect(many.reason).toMatch(/h19\.example and 480 more$/);
  });

  it("an enforced empty list allows nothing; an unknown mode observes with a warning", () => {
    expect(egressFromEnvelope(envelope({ mode: EgressMode.ENFORCE, allowedHosts: [] }), "cv-1").policy.allows(url("https://a.example/"))).toBe(false);
    const unknown = egressFromEnvelope(envelope({ mode: 7 as EgressMode, allowedHosts: ["a.example"] }), "cv-1");
    expect(unknown.policy.mode).toBe("allow-all");
    expect(unknown.warnings.join()).toMatch(/unknown egress mode 7/);
  });
});
