/** What the service tells the platform about itself in Hello: host id, build and operating system. */
import { readFileSync } from "node:fs";
import * as os from "node:os";
import { create } from "@bufbuild/protobuf";
import {
  BatonServiceHelloRequest_BuildInfoSchema,
  BatonServiceHelloRequest_OSInfoSchema,
  type BatonServiceHelloRequest_BuildInfo,
  type BatonServiceHelloRequest_OSInfo,
} from "../gen/c1/connectorapi/baton/v1/baton_pb.js";

/** `BATON_HOST_ID` when set, else the host name (a Kubernetes pod name, typically). */
export function defaultHostId(env: NodeJS.ProcessEnv = process.env): string {
  return env.BATON_HOST_ID?.trim() || os.hostname();
}

export interface BuildInfo {
  /** The connector's package name, e.g. "baton-datadog". */
  package: string;
  packageVersion: string;
}

export function buildInfoMessage(info: BuildInfo): BatonServiceHelloRequest_BuildInfo {
  return create(BatonServiceHelloRequest_BuildInfoSchema, {
    langVersion: process.version,
    package: info.package,
    packageVersion: info.packageVersion,
  });
}

/** Fields of /etc/os-release (Linux); empty elsewhere or when unreadable. */
function osRelease(): Record<string, string> {
  try {
    const out: Record<string, string> = {};
    for (const line of readFileSync("/etc/os-release", "utf8").split("\n")) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2");
    }
    return out;
  } catch {
    return {};
  }
}

export function osInfoMessage(): BatonServiceHelloRequest_OSInfo {
  const release = process.platform === "linux" ? osRelease() : {};
  return create(BatonServiceHelloRequest_OSInfoSchema, {
    hostname: os.hostname(),
    os: process.platform,
    platform: release.ID ?? process.platform,
    platformVersion: release.VERSION_ID ?? os.release(),
    platformFamily: release.ID_LIKE?.split(" ")[0] ?? release.ID ?? "",
    kernelVersion: os.release(),
    kernelArch: os.machine(),
  });
}
