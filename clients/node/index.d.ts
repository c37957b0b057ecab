// Types of the corsadmin package (hand-written; the implementation is plain JavaScript).
import type { IncomingMessage, ServerResponse } from "node:http";

/** A policy document, schema 1 (design.md, "The policy document"). */
export interface PolicyDocument {
  schema: 1;
  api: string;
  version: number;
  updated_at?: string;
  mode: "enforce" | "report-only" | "off";
  paths: string | null;
  origins: {
    exact: string[];
    wildcard: string[];
    regex: string[];
    allow_all: boolean;
    allow_null: boolean;
  };
  methods: string[];
  request_headers: string[];
  expose_headers: string[];
  allow_credentials: boolean;
  /** Seconds; absent or null: no Access-Control-Max-Age. */
  max_age?: number | null;
  allow_private_network: boolean;
  [unknown: string]: unknown;
}

export type DecisionCode =
  | "allowed"
  | "not-cors"
  | "outside-paths"
  | "mode-off"
  | "no-policy"
  | "origin-not-allowed"
  | "method-not-allowed"
  | "header-not-allowed"
  | "private-network-not-allowed";

export interface Decision {
  readonly allowed: boolean;
  readonly preflight: boolean;
  /** The CORS response headers to set, Vary included (merge it with mergeVary). */
  readonly headers: Record<string, string>;
  readonly reason: string;
  /** A preflight answer's status (200 or 403); null for any other request. */
  readonly status: 200 | 403 | null;
  /** False when the policy does not cover the request (mode off, path not matched). */
  readonly applies: boolean;
  readonly origin: string | null;
  readonly mode: "enforce" | "report-only" | "off";
  readonly code: DecisionCode;
}

export type RequestHeaders =
  | Record<string, string | string[] | undefined>
  | Map<string, string>
  | { get(name: string): string | null };

export interface CorsRequest {
  method: string;
  path: string;
  headers: RequestHeaders;
}

export class DocumentError extends Error {}
export class SignatureError extends Error {}
export class ConfigurationError extends Error {}

export class CompiledPolicy {
  constructor(document: PolicyDocument);
  readonly api: string;
  readonly version: number;
  readonly mode: "enforce" | "report-only" | "off";
  readonly paths: string | null;
  coversPath(path: string): boolean;
  allowsOrigin(origin: string): boolean;
  decide(method: string, path: string, headers: RequestHeaders): Decision;
}

export function compilePolicy(document: unknown): CompiledPolicy;
export function decide(policy: PolicyDocument | CompiledPolicy, request: CorsRequest): Decision;
/** The decision when no document is held for the API (cold start): code no-policy. */
export function decideWithoutPolicy(request: CorsRequest): Decision;
export function choosePolicy(policies: CompiledPolicy[], path: string): CompiledPolicy | null;
export function mergeVary(existing: string | null | undefined, ...names: string[]): string;
export function wildcardToRegex(pattern: string): string;
export function isCanonicalOrigin(value: string): boolean;
export function header(headers: RequestHeaders, lowerCaseName: string): string | undefined;
export function ownOrigin(scheme: string, host: string | undefined | null): string | null;

export interface JWKS {
  keys: Array<{ kty: "OKP"; crv: "Ed25519"; x: string; kid?: string; [key: string]: unknown }>;
}
export function loadPublicKeys(value: JWKS | string): JWKS;
export function verifier(jwks: JWKS): (body: string | Uint8Array, signature: string) => Promise<Record<string, unknown>>;

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ClientOptions {
  /** Central's base URL; required unless bootstrapFile is given. */
  url?: string | null;
  /** The service token (cors_...); required with url. */
  token?: string | null;
  /** API slugs (array or comma-separated); the first whose paths matches applies. */
  apis: string[] | string;
  /** Poll interval, seconds (30). */
  interval?: number;
  /** Connecting and the response head of a call to central, seconds (2). */
  timeout?: number;
  /** Total time one fetch may take, body included, seconds (10). */
  fetchDeadline?: number;
  /** Largest document accepted, bytes (4 MiB). */
  maxDocumentBytes?: number;
  /** How long the first requests may wait for central's first answer, seconds (0). */
  startupWait?: number;
  /** Trust central's GET /api/v1/keys on first use instead of configured publicKeys (false). */
  fetchPublicKeys?: boolean;
  /** Serve health() as JSON at this path (none). */
  healthPath?: string | null;
  /** Where the last good documents are kept on disk. */
  cacheFile?: string | null;
  /** Documents to start from: a JSON list of {"document": "<exact body>", "signature": "..."}. */
  bootstrapFile?: string | null;
  /** JWKS (object, inline JSON or file path) documents must verify against. */
  publicKeys?: JWKS | string;
  /** false accepts unsigned documents (development and tests only; logged loudly). */
  verifySignatures?: boolean;
  /** The service's name in telemetry. */
  service?: string | null;
  /** Telemetry interval, seconds (60). */
  telemetryInterval?: number;
  telemetry?: boolean;
  logger?: Logger;
}

export interface ApiHealth {
  version: number | null;
  etag: string | null;
  mode: string | null;
  age: number | null;
  stale: boolean;
  source: "central" | "cache-file" | "bootstrap" | null;
  last_error: string | null;
}

export interface Health {
  ok: boolean;
  instance: string;
  apis: Record<string, ApiHealth>;
}

export class PolicyClient {
  constructor(options: ClientOptions);
  readonly apis: string[];
  readonly loaded: boolean;
  /** Resolves when the files are read (and, with startupWait, central answered or it passed). */
  start(): Promise<void>;
  /** Resolves when the first background round (fetch from central) is over. */
  readonly firstRound: Promise<void> | undefined;
  close(): void;
  refresh(): Promise<boolean>;
  health(): Health;
  sendReport(): Promise<boolean>;
  decide(
    method: string,
    path: string,
    headers: RequestHeaders,
    requestOrigin?: string | null,
  ): { decision: Decision; policy: CompiledPolicy | null } | null;
}

export interface CorsadminMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void;
  readonly client: PolicyClient;
  /** Resolves when the files are read (and startupWait, if any, is over). */
  readonly ready: Promise<void>;
  health(): Health;
  close(): void;
}

/** Options from CORSADMIN_* environment variables (the Python consumers' names). */
export function configFromEnv(env?: Record<string, string | undefined>): ClientOptions;

export function middleware(options: ClientOptions & { client?: PolicyClient }): CorsadminMiddleware;

export const ACAO: "Access-Control-Allow-Origin";
export const ACAC: "Access-Control-Allow-Credentials";
export const ACAM: "Access-Control-Allow-Methods";
export const ACAH: "Access-Control-Allow-Headers";
export const ACEH: "Access-Control-Expose-Headers";
export const ACMA: "Access-Control-Max-Age";
export const ACAPN: "Access-Control-Allow-Private-Network";
export const VARY: "Vary";
export const VARY_ACTUAL: string;
export const VARY_PREFLIGHT: string;
export const CORS_RESPONSE_HEADERS: string[];
export const MAX_ORIGIN_LENGTH: number;
export const SCHEMA: 1;

declare const corsadmin: {
  decide: typeof decide;
  compilePolicy: typeof compilePolicy;
  middleware: typeof middleware;
  PolicyClient: typeof PolicyClient;
};
export default corsadmin;
