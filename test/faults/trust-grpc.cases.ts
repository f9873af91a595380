/**
 * Trust (grpc): cases of issue 12 for this area. Each case reproduces one defect against the real parts on loopback
 * and records its measured outcome in the "Trust" section of the fault matrix (record({ section: "Trust", … })).
 */
import { describe } from "vitest";

export function trustGrpcCases(): void {
  describe("Trust: grpc", () => {
    // cases go here
  });
}
