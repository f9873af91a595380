/**
 * Trust (datadog): cases of issue 12 for this area. Each case reproduces one defect against the real parts on loopback
 * and records its measured outcome in the "Trust" section of the fault matrix (record({ section: "Trust", … })).
 */
import { describe } from "vitest";

export function trustDatadogCases(): void {
  describe("Trust: datadog", () => {
    // cases go here
  });
}
