/**
 * Request limits that Go connectors enforce (protoc-gen-validate rules in baton-sdk): ids 1–1024 bytes,
 * page_size ≤ 250, page_token ≤ 1 MiB. Enforced here for the in-process path and therefore for gRPC too.
 */
import { Code, ConnectorError } from "./errors.ts";
import type { ResourceId } from "../gen/c1/connector/v2/resource_pb.js";

export const MAX_ID_BYTES = 1024;
export const MAX_PAGE_SIZE = 250;
export const MAX_PAGE_TOKEN_BYTES = 1024 * 1024;

const utf8Length = (s: string) => Buffer.byteLength(s, "utf8");

function invalid(message: string): ConnectorError {
  return new ConnectorError(Code.INVALID_ARGUMENT, message);
}

export function checkId(field: string, value: string): void {
  const n = utf8Length(value);
  if (n === 0) throw invalid(`${field} is required`);
  if (n > MAX_ID_BYTES) throw invalid(`${field} is ${n} bytes; the limit is ${MAX_ID_BYTES}`);
}

export function checkResourceId(field: string, id: ResourceId | undefined): ResourceId {
  if (!id) throw invalid(`${field} is required`);
  checkId(`${field}.resource_type`, id.resourceType);
  checkId(`${field}.resource`, id.resource);
  return id;
}

export function checkPaging(req: { pageSize: number; pageToken: string }): void {
  if (req.pageSize > MAX_PAGE_SIZE) throw invalid(`page_size ${req.pageSize} is over the limit of ${MAX_PAGE_SIZE}`);
  const n = utf8Length(req.pageToken);
  if (n > MAX_PAGE_TOKEN_BYTES) throw invalid(`page_token is ${n} bytes; the limit is ${MAX_PAGE_TOKEN_BYTES}`);
}
