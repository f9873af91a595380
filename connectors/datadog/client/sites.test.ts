import { describe, expect, it } from "vitest";
import { isLoopbackHost, resolveApiEndpoint, resolveSite, siteApiBaseUrl, siteAppUrl, SiteConfigError, validateBaseUrl } from "./sites.ts";

describe("sites", () => {
  it("maps every site name to its API host, case-insensitively", () => {
    const expected: Record<string, string> = {
      US1: "https://api.datadoghq.com",
      us3: "https://api.us3.datadoghq.com",
      Us5: "https://api.us5.datadoghq.com",
      eu1: "https://api.datadoghq.eu",
      AP1: "https://api.ap1.datadoghq.com",
      ap2: "https://api.ap2.datadoghq.com",
      "us1-fed": "https://api.ddog-gov.com",
      US1_FED: "https://api.ddog-gov.com",
    };
    for (const [name, url] of Object.entries(expected)) expect(siteApiBaseUrl(resolveSite(name))).toBe(url);
  });

  it("accepts the site domain itself, and the app./api. host of it", () => {
    expect(resolveSite("datadoghq.eu").name).toBe("EU1");
    expect(resolveSite("us5.datadoghq.com").name).toBe("US5");
    expect(resolveSite("app.datadoghq.com").name).toBe("US1");
    expect(resolveSite("https://api.ddog-gov.com/").name).toBe("US1-FED");
    expect(resolveSite(undefined).name).toBe("US1");
    expect(resolveSite("  ").name).toBe("US1");
  });

  it("rejects an unknown site with the list of valid ones", () => {
    expect(() => resolveSite("EU2")).toThrow(SiteConfigError);
    expect(() => resolveSite("datadoghq.example")).toThrow(/unknown Datadog site "datadoghq.example"; valid sites: US1 \(datadoghq.com\), US3/);
    try {
      resolveSite("mars");
    } catch (err) {
      const msg = (err as Error).message;
      for (const s of ["US1", "US3", "US5", "EU1", "AP1", "AP2", "US1-FED"]) expect(msg).toContain(s);
    }
  });
});

describe("base URL", () => {
  it("accepts https anywhere and http only on loopback", () => {
    expect(validateBaseUrl("https://dd-proxy.corp.example/datadog/")).toBe("https://dd-proxy.corp.example/datadog");
    expect(validateBaseUrl("http://127.0.0.1:8080")).toBe("http://127.0.0.1:8080");
    expect(validateBaseUrl("http://127.5.6.7:1")).toBe("http://127.5.6.7:1");
    expect(validateBaseUrl("http://localhost:9000/")).toBe("http://localhost:9000");
    expect(validateBaseUrl("http://[::1]:9000")).toBe("http://[::1]:9000");
    expect(() => validateBaseUrl("http://api.datadoghq.com")).toThrow(/plain http, which is only allowed for loopback hosts/);
    expect(() => validateBaseUrl("http://10.0.0.5:8080")).toThrow(/only allowed for loopback/);
    expect(() => validateBaseUrl("http://128.0.0.1")).toThrow(/only allowed for loopback/);
    expect(() => validateBaseUrl("http://localhost.evil.example")).toThrow(/only allowed for loopback/);
    expect(() => validateBaseUrl("ftp://example.com")).toThrow(/must use https/);
    expect(() => validateBaseUrl("api.datadoghq.com")).toThrow(/not an absolute URL/);
    expect(() => validateBaseUrl("https://u:p@example.com")).toThrow(/must not contain user:password/);
    expect(() => validateBaseUrl("https://example.com/?x=1")).toThrow(/query string/);
  });

  it("recognises loopback hosts", () => {
    for (const h of ["127.0.0.1", "127.255.255.254", "localhost", "LOCALHOST", "[::1]", "::1", "::ffff:127.0.0.1", "::ffff:7f00:1"]) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
    for (const h of ["10.0.0.1", "0.0.0.0", "::", "example.com", "127.0.0.1.nip.io", "::ffff:a00:1"]) expect(isLoopbackHost(h), h).toBe(false);
  });

  it("lets --base-url override the site", () => {
    expect(resolveApiEndpoint({ site: "EU1" })).toEqual({ baseUrl: "https://api.datadoghq.eu", site: { name: "EU1", domain: "datadoghq.eu" } });
    expect(resolveApiEndpoint({ site: "EU1", baseUrl: "http://127.0.0.1:1234" }).baseUrl).toBe("http://127.0.0.1:1234");
    expect(resolveApiEndpoint({ baseUrl: "" }).baseUrl).toBe("https://api.datadoghq.com");
  });
});

describe("site app URLs (ExternalLink targets)", () => {
  it("uses app.<domain> for unprefixed sites and the domain itself for regional ones", () => {
    expect(siteAppUrl(resolveSite("US1"))).toBe("https://app.datadoghq.com");
    expect(siteAppUrl(resolveSite("EU1"))).toBe("https://app.datadoghq.eu");
    expect(siteAppUrl(resolveSite("US1-FED"))).toBe("https://app.ddog-gov.com");
    expect(siteAppUrl(resolveSite("US3"))).toBe("https://us3.datadoghq.com");
    expect(siteAppUrl(resolveSite("AP1"))).toBe("https://ap1.datadoghq.com");
  });
});
