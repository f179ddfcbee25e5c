// A real facegate for the Node tests: `python supervisor.py` on 127.0.0.1 and a free port, with its
// own data dir, stopped with SIGTERM at the end. The test photos and clip are found exactly as the
// Python suite finds them (tests/support/testdata.py: $FACEGATE_TEST_DATA, then ../shared/data/faces, ...).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const PYTHON = process.env.FACEGATE_PYTHON ?? join(REPO, ".venv", "bin", "python");

export function testData() {
  const code = "from tests.support.testdata import data_dir; print(data_dir())";
  return execFileSync(PYTHON, ["-c", code], { cwd: REPO, encoding: "utf8" }).trim();
}

export function photo(name) {
  return new Blob([readFileSync(join(testData(), name))], { type: "image/png" });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function pollUntil(predicate, { timeoutMs, intervalMs = 300 }) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await predicate();
    if (found) return found;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return null;
}

/** The admin token a facegate of the tests runs with unless `env` names its own (the service is closed by default). */
export const TEST_TOKEN = "node-test-admin-token";

/** Start a facegate; `env` adds to the environment (webhooks are off unless NEXTJS_WEBHOOK_URL is given).
 * It answers `token`, its admin token. */
export async function startFacegate({ env = {} } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "facegate-node-"));
  const port = await freePort();
  const log = openSync(join(dataDir, "service.log"), "a");
  // the test data (photos, the clip) is the media dir: the API adds file cameras only from there
  const fullEnv = { ...process.env, PYTHONWARNINGS: "ignore", FACEGATE_WORKERS: "1", FACEGATE_MEDIA_DIR: testData(),
    FACEGATE_API_TOKEN: TEST_TOKEN, ...env };
  if (!("NEXTJS_WEBHOOK_URL" in env)) fullEnv.FACEGATE_WEBHOOKS = "off";
  const child = spawn(PYTHON, ["supervisor.py", "--data-dir", dataDir, "--host", "127.0.0.1", "--port", String(port)],
    { cwd: REPO, env: fullEnv, stdio: ["ignore", log, log] });
  const url = `http://127.0.0.1:${port}`;
  const readLog = () => readFileSync(join(dataDir, "service.log"), "utf8");
  const up = await pollUntil(async () => {
    if (child.exitCode !== null) throw new Error(`facegate exited with ${child.exitCode}:\n${readLog()}`);
    try {
      return [200, 503].includes((await fetch(`${url}/api/health`)).status); // listening
    } catch {
      return false;
    }
  }, { timeoutMs: 60_000 });
  if (!up) throw new Error(`facegate did not answer within 60 s:\n${readLog()}`);
  return {
    url,
    token: fullEnv.FACEGATE_API_TOKEN,
    dataDir,
    log: readLog,
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 30_000))]);
      if (code === "timeout") child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** A delivery as a route handler receives it: a Request of that URL, headers and body. */
export function asRequest(url, headers, body) {
  return new Request(url, { method: "POST", headers, body });
}

/** A webhook receiver on 127.0.0.1 and a free port, as a Next.js route handler would be: each POST is checked
 * with verifyWebhook and `secret()` and kept in `deliveries` as {headers, body, verified | error}; a verified
 * one is answered `okStatus`, any other 400. */
export async function verifyingReceiver({ path = "/hook", secret, okStatus = 204 }) {
  const { verifyWebhook } = await import("../dist/webhook.js");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}${path}`;
  const deliveries = [];
  const server = createHttpServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const delivery = { headers, body };
      try {
        delivery.verified = await verifyWebhook(asRequest(url, headers, body), secret());
        res.writeHead(okStatus).end();
      } catch (error) {
        delivery.error = error;
        res.writeHead(400).end();
      }
      deliveries.push(delivery);
    });
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url, deliveries, close: () => new Promise((resolve) => server.close(resolve)) };
}
