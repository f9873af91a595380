/** GET /api/v1/validate: Datadog's API-key check. It looks at DD-API-KEY only, never at the application key. */
import type { RouteDef } from "../router.ts";

export function validateRoutes(): RouteDef[] {
  return [
    {
      method: "GET",
      template: "/api/v1/validate",
      rateLimit: "validate",
      auth: "api-key",
      handler: () => ({ status: 200, body: { valid: true } }),
    },
  ];
}
