/**
 * A typed client for the facegate REST API. Its only runtime need is `fetch` (Node 18+, browsers,
 * Next.js); the types come from src/schema.ts, generated from the server's OpenAPI document.
 */
import type { components, operations } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

type Schemas = components["schemas"];
type JsonOf<Op extends keyof operations, Code extends number> = operations[Op]["responses"] extends {
  [K in Code]: { content: { "application/json": infer T } };
}
  ? T
  : never;
type BodyOf<Op extends keyof operations> = operations[Op] extends {
  requestBody: { content: { "application/json": infer T } };
}
  ? T
  : never;

export type Result = Schemas["Result"];
export type Person = Schemas["Person"];
export type Camera = Schemas["Camera"];
export type Status = Schemas["Status"];
export type Health = Schemas["Health"];
export type UnknownFace = Schemas["UnknownFace"];
export type WebhookEvent = Schemas["WebhookEvent"];
export type Registered = Schemas["Registered"];
export type AuditEntry = Schemas["AuditEntry"];
/** A webhook endpoint as listed: its rules and its delivery counts, never its secret. */
export type WebhookEndpoint = JsonOf<"getWebhookEndpoint", 200>["endpoint"];
/** A new endpoint: `url` (http/https), and optionally `description`, `enabled`, `secret`, `events`, `filter`. */
export type NewWebhookEndpoint = BodyOf<"addWebhookEndpoint">;
export type WebhookEndpointChanges = BodyOf<"updateWebhookEndpoint">;
/** What creating an endpoint answers: the endpoint with its `secret`, shown this once. */
export type CreatedWebhookEndpoint = JsonOf<"addWebhookEndpoint", 201>;
export type SignedUrl = JsonOf<"getSignedUrl", 200>;
export type Results = JsonOf<"listResults", 200>;
export type Stats = JsonOf<"getStats", 200>;
export type ConfigChanges = BodyOf<"updateConfig">;
export type Presence = JsonOf<"getPresence", 200>;
export type Visits = JsonOf<"listVisits", 200>;
export type Attendance = JsonOf<"getAttendance", 200>;
/** `from` and `to` as YYYY-MM-DD (both included, days of the service's `timezone`), and maybe one person. */
export type AttendanceQuery = Omit<operations["getAttendance"]["parameters"]["query"], "format">;
export type NewCamera = BodyOf<"addCamera">;
export type CameraChanges = BodyOf<"updateCamera">;
/** Which cameras `cameras.list` returns: a page (`limit`, `offset`), on one `node`, in one `state`. */
export type CameraQuery = NonNullable<operations["listCameras"]["parameters"]["query"]>;
/** Register from an encoding or a base64 photo (JSON), as the old API did. */
export type RegisterInput = Schemas["Register"];
/** Register from a photo file: the server computes the encoding (exactly one face, else a 400). */
export interface RegisterPhotoInput {
  name: string;
  image: Blob;
  client_id?: string;
  image_url?: string;
}
export type FaceInput = BodyOf<"addPersonFace"> | { image: Blob };

/** An answer other than 2xx: `status` and the server's `{"error": ...}` message. */
export class FacegateError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "FacegateError";
  }
}

export interface FacegateOptions {
  /** e.g. http://localhost:5001 (no /api) */
  baseUrl: string;
  /** FACEGATE_API_TOKEN (admin) or FACEGATE_READ_TOKEN (read only), sent as `Authorization: Bearer <token>`
   * on every call when set; every route but `health()` needs one (with no FACEGATE_API_TOKEN the service
   * makes one at its first start, in its data dir's `admin_token`). Keep it on the server (a route
   * handler, a server component, read from `process.env.FACEGATE_API_TOKEN`), never in the browser. */
  token?: string;
  fetch?: typeof fetch;
}

export class FacegateClient {
  readonly baseUrl: string;
  private readonly token?: string;
  private readonly fetcher: typeof fetch;

  constructor(options: FacegateOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.token = options.token || undefined;
    this.fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** An absolute URL for a path the API hands out (camera.snapshot, camera.mjpeg, face.image, a signed URL). */
  url(path: string): string {
    return new URL(path, this.baseUrl + "/").toString();
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let payload: BodyInit | undefined;
    const headers: Record<string, string> = {};
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const text = await this.text(method, path, headers, payload);
    return (text ? JSON.parse(text) : null) as T;
  }

  /** The answer's text (JSON or another type the route serves); an error answer is thrown as FacegateError. */
  async text(method: string, path: string, headers: Record<string, string> = {}, body?: BodyInit): Promise<string> {
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    const response = await this.fetcher(this.url(path), { method, headers, body });
    const text = await response.text();
    if (!response.ok) {
      let message = response.statusText;
      try {
        const data = JSON.parse(text);
        if (data && typeof data.error === "string") message = data.error;
      } catch {
        // not JSON: the status text says it
      }
      throw new FacegateError(response.status, message);
    }
    return text;
  }

  /** Liveness, the one route that needs no token: a 503 (thrown) while starting or degraded. */
  health(): Promise<Health> {
    return this.request("GET", "/api/health");
  }

  // --- the old Flask script's calls -------------------------------------------------------------
  status(): Promise<Status> {
    return this.request("GET", "/api/status");
  }
  start(): Promise<JsonOf<"start", 200>> {
    return this.request("POST", "/api/start");
  }
  stop(): Promise<JsonOf<"stop", 200>> {
    return this.request("POST", "/api/stop");
  }
  results(options: { limit?: number } = {}): Promise<Results> {
    return this.request("GET", `/api/results${query(options)}`);
  }
  resultsFor(name: string, options: { limit?: number } = {}): Promise<JsonOf<"listResultsForName", 200>> {
    return this.request("GET", `/api/results/${encodeURIComponent(name)}${query(options)}`);
  }
  latest(): Promise<Result | null> {
    return this.request("GET", "/api/latest");
  }
  stats(): Promise<Stats> {
    return this.request("GET", "/api/stats");
  }
  config(): Promise<JsonOf<"getConfig", 200>> {
    return this.request("GET", "/api/config");
  }
  updateConfig(changes: ConfigChanges): Promise<JsonOf<"updateConfig", 200>> {
    return this.request("PUT", "/api/config", changes);
  }
  /** A person from an encoding / base64 photo (JSON), or from a photo file (multipart). */
  register(input: RegisterInput | RegisterPhotoInput): Promise<Registered> {
    if ("image" in input && input.image instanceof Blob) {
      const form = new FormData();
      form.set("name", input.name);
      form.set("image", input.image, "photo");
      if (input.client_id) form.set("client_id", input.client_id);
      if (input.image_url) form.set("image_url", input.image_url);
      return this.request("POST", "/api/register", form);
    }
    return this.request("POST", "/api/register", input);
  }
  /** Who is in this photo. */
  recognize(image: Blob): Promise<JsonOf<"recognize", 200>> {
    return this.request("POST", "/api/recognize", photoForm(image));
  }

  /**
   * A short-lived URL for a picture route (`camera.snapshot`, `camera.mjpeg`, `face.image`) that works
   * without a header, for an `<img src>` when the service has a token: ask on the server, render `url`
   * (through `this.url(...)`), ask again before `expires_at`.
   */
  signedUrl(path: string): Promise<SignedUrl> {
    return this.request("GET", `/api/signed-url?path=${encodeURIComponent(path)}`);
  }
  /** The audit trail of changes, newest first (admin token). */
  audit(options: { limit?: number; action?: string } = {}): Promise<JsonOf<"listAudit", 200>> {
    return this.request("GET", `/api/audit${query(options)}`);
  }

  // --- who is here ---------------------------------------------------------------------------------
  /** Who is present now (seen within `presence_window_s`) with their last camera; `all` adds everyone seen. */
  presence(options: { all?: boolean } = {}): Promise<Presence> {
    return this.request("GET", `/api/presence${query({ all: options.all === undefined ? undefined : String(options.all) })}`);
  }
  /** Visits newest first: open ones, and ended ones with their `left` event's id. */
  visits(options: { limit?: number; person_id?: number } = {}): Promise<Visits> {
    return this.request("GET", `/api/visits${query(options)}`);
  }
  /** Per person per day: first and last sighting, sightings, cameras (at most 366 days). */
  attendance(options: AttendanceQuery): Promise<Attendance> {
    return this.request("GET", `/api/attendance${query(options)}`);
  }
  /** The same as CSV with a header row, for a spreadsheet. */
  attendanceCsv(options: AttendanceQuery): Promise<string> {
    return this.text("GET", `/api/attendance${query({ ...options, format: "csv" })}`, { Accept: "text/csv" });
  }

  // --- people, cameras, unknown faces, webhooks --------------------------------------------------
  readonly persons = {
    list: (): Promise<JsonOf<"listPersons", 200>> => this.request("GET", "/api/persons"),
    get: (id: number): Promise<Person> => this.request("GET", `/api/persons/${id}`),
    addFace: (id: number, face: FaceInput): Promise<JsonOf<"addPersonFace", 200>> =>
      this.request("POST", `/api/persons/${id}/faces`, "image" in face && face.image instanceof Blob
        ? photoForm(face.image) : face),
    delete: (id: number): Promise<Schemas["Success"]> => this.request("DELETE", `/api/persons/${id}`),
  };

  readonly cameras = {
    /** The cluster's cameras, oldest first: a page of them (`limit`, default 100; `offset`), `total` counts all. */
    list: (options: CameraQuery = {}): Promise<JsonOf<"listCameras", 200>> =>
      this.request("GET", `/api/cameras${query(options)}`),
    add: (camera: NewCamera): Promise<JsonOf<"addCamera", 201>> => this.request("POST", "/api/cameras", camera),
    update: (id: string, changes: CameraChanges): Promise<JsonOf<"updateCamera", 200>> =>
      this.request("PUT", `/api/cameras/${encodeURIComponent(id)}`, changes),
    delete: (id: string): Promise<Schemas["Success"]> =>
      this.request("DELETE", `/api/cameras/${encodeURIComponent(id)}`),
  };

  readonly unknown = {
    list: (): Promise<JsonOf<"listUnknown", 200>> => this.request("GET", "/api/unknown"),
    register: (id: number, name: string): Promise<Registered> =>
      this.request("POST", `/api/unknown/${id}/register`, { name }),
    delete: (id: number): Promise<Schemas["Success"]> => this.request("DELETE", `/api/unknown/${id}`),
  };

  readonly webhooks = {
    failed: (options: { limit?: number } = {}): Promise<JsonOf<"listFailedWebhooks", 200>> =>
      this.request("GET", `/api/webhooks/failed${query(options)}`),
    retry: (): Promise<JsonOf<"retryWebhooks", 200>> => this.request("POST", "/api/webhooks/retry"),
    /**
     * Webhook endpoints with rules (admin token to change them). Each signs with its own secret, which
     * `add` answers once (made as `whsec_...` when not given): keep it for `verifyWebhook`. The v1 webhook
     * (NEXTJS_WEBHOOK_URL) is listed as `default` and cannot be changed here.
     */
    endpoints: {
      list: (): Promise<JsonOf<"listWebhookEndpoints", 200>> => this.request("GET", "/api/webhooks/endpoints"),
      get: (id: string): Promise<JsonOf<"getWebhookEndpoint", 200>> =>
        this.request("GET", `/api/webhooks/endpoints/${encodeURIComponent(id)}`),
      add: (endpoint: NewWebhookEndpoint): Promise<CreatedWebhookEndpoint> =>
        this.request("POST", "/api/webhooks/endpoints", endpoint),
      update: (id: string, changes: WebhookEndpointChanges): Promise<JsonOf<"updateWebhookEndpoint", 200>> =>
        this.request("PUT", `/api/webhooks/endpoints/${encodeURIComponent(id)}`, changes),
      delete: (id: string): Promise<Schemas["Success"]> =>
        this.request("DELETE", `/api/webhooks/endpoints/${encodeURIComponent(id)}`),
      /** Queue a signed test event (`"type": "test"`) for that endpoint; it is delivered like any other. */
      test: (id: string): Promise<JsonOf<"testWebhookEndpoint", 202>> =>
        this.request("POST", `/api/webhooks/endpoints/${encodeURIComponent(id)}/test`),
    },
  };
}

/** `?a=1&b=x` of the options that are set ("" when none is). */
function query(options: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(options)) if (value !== undefined) params.set(key, String(value));
  const search = params.toString();
  return search ? `?${search}` : "";
}

function photoForm(image: Blob): FormData {
  const form = new FormData();
  form.set("image", image, "photo");
  return form;
}
