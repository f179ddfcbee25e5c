// verifyWebhook against real deliveries: a facegate watching the clip posts its events to a receiver
// on loopback; each delivery is verified as a Next.js route handler would; a tampered body and an old
// (replayed) timestamp are rejected. facegate signs with its signing secret and sends the Bearer secret
// apart, so the Bearer secret (which anyone reading a request sees) verifies nothing.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { Webhook } from "standardwebhooks";

import { FacegateClient } from "../dist/index.js";
import { verifyWebhook, WebhookVerificationError } from "../dist/webhook.js";
import { asRequest, photo, pollUntil, startFacegate, testData, verifyingReceiver } from "./facegate.mjs";

const SECRET = `whsec_${randomBytes(24).toString("base64")}`; // FACEGATE_WEBHOOK_SIGNING_SECRET
const BEARER = `bearer-${randomBytes(12).toString("hex")}`; // FACIAL_RECOGNITION_WEBHOOK_SECRET
const PATH = "/api/facial-recognition/webhook";
let deliveries; // {headers, body, verified | error}
let receiver;
let facegate;
let receiverUrl;

function toRequest(headers, body) {
  return asRequest(receiverUrl, headers, body);
}

before(async () => {
  receiver = await verifyingReceiver({ path: PATH, secret: () => SECRET, okStatus: 201 });
  ({ url: receiverUrl, deliveries } = receiver);
  facegate = await startFacegate({ env: { NEXTJS_WEBHOOK_URL: receiverUrl, FACEGATE_WEBHOOK_SIGNING_SECRET: SECRET,
    FACIAL_RECOGNITION_WEBHOOK_SECRET: BEARER } });
  const client = new FacegateClient({ baseUrl: facegate.url, token: facegate.token });
  await client.register({ name: "Lin-Manuel Miranda", image: photo("lin-manuel-miranda.png") });
  await client.updateConfig({ stream_url: join(testData(), "short_hamilton_clip.mp4") });
  await client.start();
});

after(async () => {
  const code = await facegate?.stop();
  await receiver?.close();
  assert.equal(code, 0);
});

test("every real delivery verifies and carries the typed event", async () => {
  const named = await pollUntil(() => deliveries.find((d) => d.verified?.result.name === "Lin-Manuel Miranda"),
    { timeoutMs: 120_000 });
  assert.ok(named, `no verified delivery naming Lin:\n${facegate.log().slice(-2000)}`);
  assert.ok(deliveries.length >= 1);
  for (const delivery of deliveries) {
    assert.equal(delivery.error, undefined, String(delivery.error));
    const event = delivery.verified;
    assert.equal(event.camera_id, "cam0");
    assert.ok(event.camera_stream_url.endsWith("short_hamilton_clip.mp4"));
    assert.deepEqual(Object.keys(event.result.box).sort(), ["bottom", "left", "right", "top"]);
    assert.match(delivery.headers["webhook-id"], /^evt_/);
    assert.equal(delivery.headers.authorization, `Bearer ${BEARER}`);
    assert.ok(!JSON.stringify(delivery.headers).includes(SECRET), "the signing secret never travels");
  }
});

test("the Bearer secret a reader sees does not verify a delivery", async () => {
  const real = await pollUntil(() => deliveries.find((d) => d.verified), { timeoutMs: 60_000 });
  assert.ok(real);
  await assert.rejects(verifyWebhook(toRequest(real.headers, real.body), BEARER), WebhookVerificationError);
  assert.ok(!facegate.log().includes("can forge"), "no warning: a separate signing secret is set");
});

test("a tampered body is rejected", async () => {
  const real = await pollUntil(() => deliveries.find((d) => d.verified), { timeoutMs: 60_000 });
  assert.ok(real);
  const tampered = real.body.replace(/"name": ?"[^"]*"/, '"name": "Someone Else"');
  assert.notEqual(tampered, real.body);
  await assert.rejects(verifyWebhook(toRequest(real.headers, tampered), SECRET), WebhookVerificationError);
  await assert.rejects(verifyWebhook(toRequest(real.headers, real.body), `whsec_${randomBytes(24).toString("base64")}`),
    WebhookVerificationError);
  // the untouched delivery still verifies: the rejections above are the tampering's doing
  assert.deepEqual((await verifyWebhook(toRequest(real.headers, real.body), SECRET)).result,
    real.verified.result);
});

test("a replay with an old timestamp is rejected, even correctly signed", async () => {
  const real = await pollUntil(() => deliveries.find((d) => d.verified), { timeoutMs: 60_000 });
  const old = new Date(Date.now() - 10 * 60 * 1000);
  const id = real.headers["webhook-id"];
  const headers = { ...real.headers, "webhook-timestamp": String(Math.floor(old.getTime() / 1000)),
    "webhook-signature": new Webhook(SECRET).sign(id, old, real.body) };
  await assert.rejects(verifyWebhook(toRequest(headers, real.body), SECRET), /timestamp/i);
});

test("a secret without whsec_ is used as its bytes, as facegate signs with it", async () => {
  const raw = "plain-secret";
  const body = JSON.stringify({ result: { name: "x" }, camera_id: null, camera_stream_url: null });
  const now = new Date();
  const headers = { "webhook-id": "evt-1", "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": new Webhook(raw, { format: "raw" }).sign("evt-1", now, body) };
  assert.equal((await verifyWebhook(toRequest(headers, body), raw)).result.name, "x");
  await assert.rejects(verifyWebhook(toRequest(headers, body), "other-secret"), WebhookVerificationError);
});

test("a delivery keyed with the Bearer secret it carries verifies, with one warning that it could be forged", async (t) => {
  const bearer = "legacy-bearer-secret";
  const body = JSON.stringify({ result: { name: "x" }, camera_id: null, camera_stream_url: null });
  const now = new Date();
  const headers = { "webhook-id": "evt-2", "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": new Webhook(bearer, { format: "raw" }).sign("evt-2", now, body),
    authorization: `Bearer ${bearer}` };
  const warn = t.mock.method(console, "warn", () => {});
  assert.equal((await verifyWebhook(toRequest(headers, body), bearer)).result.name, "x");
  assert.equal((await verifyWebhook(toRequest(headers, body), bearer)).result.name, "x");
  assert.equal(warn.mock.callCount(), 1);
  assert.match(warn.mock.calls[0].arguments[0], /forge.*FACEGATE_WEBHOOK_SIGNING_SECRET/);
});
