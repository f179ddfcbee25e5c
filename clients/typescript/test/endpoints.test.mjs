// Webhook endpoints through the client, verified as a Next.js route handler would: two endpoints, each
// with a receiver on loopback (FACEGATE_WEBHOOK_PRIVATE_OK=1 allows it) that checks every delivery with
// verifyWebhook and that endpoint's secret. One secret is made by facegate (shown once, when the endpoint
// is added), the other chosen by the client; each verifies its own endpoint's deliveries and not the other's.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { FacegateClient, FacegateError } from "../dist/index.js";
import { verifyWebhook, WebhookVerificationError } from "../dist/webhook.js";
import { asRequest, photo, pollUntil, startFacegate, testData, verifyingReceiver } from "./facegate.mjs";

const CHOSEN = `whsec_${randomBytes(24).toString("base64")}`;
const receivers = []; // verifyingReceiver()s, each with the secret of its endpoint
let facegate;
let client;
let made;
let chosen;

async function receiver() {
  const found = { secret: null };
  Object.assign(found, await verifyingReceiver({ secret: () => found.secret }));
  receivers.push(found);
  return found;
}

before(async () => {
  facegate = await startFacegate({ env: { FACEGATE_WEBHOOK_PRIVATE_OK: "1" } });
  client = new FacegateClient({ baseUrl: facegate.url, token: facegate.token });
  const [first, second] = [await receiver(), await receiver()];
  made = (await client.webhooks.endpoints.add({ url: first.url, description: "made secret" })).endpoint;
  first.secret = made.secret;
  chosen = (await client.webhooks.endpoints.add({ url: second.url, secret: CHOSEN, filter: { cameras: ["cam0"] } }))
    .endpoint;
  second.secret = CHOSEN;
});

after(async () => {
  const code = await facegate?.stop();
  for (const found of receivers) await found.close();
  assert.equal(code, 0);
});

test("an endpoint's secret is shown when it is added, never again", async () => {
  assert.match(made.secret, /^whsec_/);
  assert.equal(chosen.secret, CHOSEN);
  const { endpoints } = await client.webhooks.endpoints.list();
  assert.deepEqual(endpoints.map((e) => e.id).sort(), [made.id, chosen.id].sort());
  assert.ok(!JSON.stringify(endpoints).includes(made.secret) && !JSON.stringify(endpoints).includes(CHOSEN));
  assert.deepEqual((await client.webhooks.endpoints.get(chosen.id)).endpoint.filter, { cameras: ["cam0"] });
  const refused = await client.webhooks.endpoints.add({ url: "ftp://files.example.com/in" }).catch((e) => e);
  assert.ok(refused instanceof FacegateError && refused.status === 400 && refused.message.includes("url"));
});

test("a test event reaches each endpoint, signed with its own secret", async () => {
  for (const endpoint of [made, chosen]) assert.equal((await client.webhooks.endpoints.test(endpoint.id)).success, true);
  const both = await pollUntil(() => receivers.every((r) => r.deliveries.some((d) => d.verified?.type === "test")),
    { timeoutMs: 30_000 });
  assert.ok(both, facegate.log().slice(-2000));
  const [first, second] = receivers;
  for (const [own, other] of [[first, second], [second, first]]) {
    const delivery = own.deliveries.find((d) => d.verified?.type === "test");
    assert.equal(delivery.error, undefined);
    await assert.rejects(verifyWebhook(asRequest(own.url, delivery.headers, delivery.body), other.secret), WebhookVerificationError);
  }
});

test("events from the clip reach both endpoints, each verified with its own secret", async () => {
  await client.register({ name: "Lin-Manuel Miranda", image: photo("lin-manuel-miranda.png") });
  await client.updateConfig({ stream_url: join(testData(), "short_hamilton_clip.mp4") });
  await client.start();
  const named = (r) => r.deliveries.some((d) => d.verified?.type === "appeared" && d.verified.result.name === "Lin-Manuel Miranda");
  assert.ok(await pollUntil(() => receivers.every(named), { timeoutMs: 120_000 }), facegate.log().slice(-2000));
  for (const found of receivers) {
    for (const delivery of found.deliveries) {
      assert.equal(delivery.error, undefined, String(delivery.error));
      assert.equal(delivery.headers.authorization, undefined, "no Bearer header: that is the v1 webhook's");
    }
  }
  const counts = await pollUntil(async () => {
    const { endpoints } = await client.webhooks.endpoints.list();
    return endpoints.every((e) => e.deliveries.delivered >= 2 && e.deliveries.pending === 0) ? endpoints : null;
  }, { timeoutMs: 30_000 });
  assert.ok(counts, "each endpoint counts its deliveries");
  await client.stop();
});
