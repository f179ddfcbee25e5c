// The typed client against a real facegate: every call the old Flask API had, plus a photo register,
// people, cameras and recognize, the token scopes, signed picture URLs and the audit trail; and the
// committed types must equal what the service serves.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { FacegateClient, FacegateError } from "../dist/index.js";
import { generateTypes, SCHEMA_FILE } from "../scripts/generate.mjs";
import { freePort, photo, pollUntil, startFacegate, testData } from "./facegate.mjs";

const TOKEN = "node-client-token";
const READ_TOKEN = "node-client-read-token";
const LIN = "Lin-Manuel Miranda";
let facegate;
let client;

before(async () => {
  // webhooks to a port nobody listens on, one attempt each: every event becomes a dead letter
  facegate = await startFacegate({ env: { FACEGATE_API_TOKEN: TOKEN, FACEGATE_READ_TOKEN: READ_TOKEN,
    NEXTJS_WEBHOOK_URL: `http://127.0.0.1:${await freePort()}/hook`, FACEGATE_WEBHOOK_MAX_ATTEMPTS: "1" } });
  client = new FacegateClient({ baseUrl: facegate.url, token: TOKEN });
});
after(async () => {
  assert.equal(await facegate?.stop(), 0);
});

test("the committed types are what the service serves", async () => {
  const served = await generateTypes(facegate.url, TOKEN);
  const committed = await readFile(SCHEMA_FILE, "utf8");
  assert.ok(served === committed, "src/schema.ts is stale: run `npm run generate -- <facegate URL>` and commit it");
});

test("status, config, start without a camera", async () => {
  const status = await client.status();
  assert.equal(status.active, false);
  assert.equal(status.encodings_loaded, 0);
  assert.equal(status.total_results, 0);
  const refused = await client.start().catch((error) => error);
  assert.ok(refused instanceof FacegateError);
  assert.equal(refused.status, 400);
  assert.match(refused.message, /stream_url/);
  const bad = await client.updateConfig({ threshold: 2 }).catch((error) => error);
  assert.equal(bad.status, 400);
  const changed = await client.updateConfig({ threshold: 0.55 });
  assert.equal(changed.config.threshold, 0.55);
  assert.equal((await client.config()).config.threshold, 0.55);
});

test("without a token only health answers; a read token reads but changes nothing", async () => {
  const anonymous = new FacegateClient({ baseUrl: facegate.url });
  const health = await pollUntil(() => anonymous.health().catch(() => null), { timeoutMs: 60_000 });
  assert.equal(health.status, "ok");
  assert.equal((await anonymous.status().catch((e) => e)).status, 401);
  const refused = await anonymous.register({ name: "X", encoding: new Array(128).fill(0.1) }).catch((e) => e);
  assert.equal(refused.status, 401);
  assert.equal((await anonymous.persons.list().catch((e) => e)).status, 401);
  const reader = new FacegateClient({ baseUrl: facegate.url, token: READ_TOKEN });
  assert.equal((await reader.status()).active, false);
  assert.ok(Array.isArray((await reader.persons.list()).persons));
  const forbidden = await reader.register({ name: "X", encoding: new Array(128).fill(0.1) }).catch((e) => e);
  assert.equal(forbidden.status, 403);
  assert.equal((await reader.audit().catch((e) => e)).status, 403);
});

test("register by encoding (the old way) and by photo; people", async () => {
  const old = await client.register({ name: "Old Way", encoding: new Array(128).fill(0.01), client_id: "c-1" });
  assert.equal(old.success, true);
  const lin = await client.register({ name: LIN, image: photo("lin-manuel-miranda.png") });
  assert.equal(lin.total_users, 2);
  const person = await client.persons.get(lin.person_id);
  assert.deepEqual([person.name, person.encodings], [LIN, 1]);
  // the same photo again is refused with its reason (a near-duplicate), and nothing is stored
  const again = await client.persons.addFace(lin.person_id, { image: photo("lin-manuel-miranda.png") }).catch((e) => e);
  assert.equal(again.status, 400);
  assert.match(again.message, /near-duplicate/);
  const added = await client.persons.addFace(lin.person_id, { encoding: new Array(128).fill(0.05) });
  assert.equal(added.person.encodings, 2);
  const twoFaces = await client.register({ name: "Two", image: photo("two_people.jpg") }).catch((e) => e);
  assert.equal(twoFaces.status, 400);
  assert.equal((await client.persons.delete(old.person_id)).success, true);
  const listed = await client.persons.list();
  assert.deepEqual(listed.persons.map((p) => p.name), [LIN]);
  const missing = await client.persons.get(old.person_id).catch((e) => e);
  assert.equal(missing.status, 404);
});

test("recognize a photo", async () => {
  const seen = await client.recognize(photo("lin-manuel-miranda.png"));
  assert.equal(seen.count, 1);
  assert.equal(seen.faces[0].name, LIN);
  const box = seen.faces[0].box;
  assert.ok(box.right > box.left && box.bottom > box.top);
});

test("start on the clip, results, results by name, latest, stats, stop", async () => {
  await client.updateConfig({ stream_url: join(testData(), "short_hamilton_clip.mp4") });
  const started = await client.start();
  assert.equal(started.running, true);
  const named = await pollUntil(async () => (await client.resultsFor(LIN)).results[0], { timeoutMs: 120_000 });
  assert.ok(named, "no result named Lin-Manuel Miranda from the clip");
  assert.equal(named.camera_id, "cam0");
  const all = await client.results({ limit: 5 });
  assert.ok(all.total >= 1 && all.results.length >= 1 && all.results.length <= 5);
  const latest = await client.latest();
  assert.ok(latest && typeof latest.timestamp === "string");
  const stats = await client.stats();
  assert.ok(stats.recognized[LIN] >= 1);
  const cameras = await client.cameras.list();
  assert.equal(cameras.cameras[0].id, "cam0");
  assert.equal(cameras.cameras[0].mjpeg, "/api/cameras/cam0/stream.mjpg");
  assert.equal((await fetch(client.url(cameras.cameras[0].snapshot))).status, 401); // an <img> sends no header
  const reader = new FacegateClient({ baseUrl: facegate.url, token: READ_TOKEN });
  const signed = await reader.signedUrl(cameras.cameras[0].snapshot);
  assert.match(signed.url, /^\/api\/cameras\/cam0\/snapshot\.jpg\?.*signature=/);
  assert.ok(!signed.url.includes(READ_TOKEN));
  const picture = await fetch(client.url(signed.url)); // no header: the signature is the permission
  assert.equal(picture.status, 200);
  assert.equal(picture.headers.get("content-type"), "image/jpeg");
  // who is here: Lin present on cam0, and his day in the attendance (JSON and CSV), with a read token
  const here = await pollUntil(async () => (await reader.presence()).people.find((p) => p.name === LIN),
    { timeoutMs: 60_000 });
  assert.equal(here.camera_id, "cam0");
  assert.equal(here.present, true);
  assert.ok((await reader.presence({ all: true })).window_s > 0);
  assert.ok((await reader.visits({ limit: 5 })).visits.some((v) => v.name === LIN && v.open));
  const today = new Date().toISOString().slice(0, 10); // the timezone setting is UTC
  const days = await reader.attendance({ from: today, to: today });
  assert.deepEqual(days.days.map((d) => [d.date, d.name, d.cameras]), [[today, LIN, ["cam0"]]]);
  const table = await reader.attendanceCsv({ from: today, to: today, person_id: here.person_id });
  assert.equal(table.split("\r\n")[0], "date,person_id,name,first_seen,last_seen,sightings,cameras");
  assert.match(table.split("\r\n")[1], new RegExp(`^${today},${here.person_id},${LIN},`));
  const backwards = await reader.attendance({ from: today, to: "2000-01-01" }).catch((e) => e);
  assert.equal(backwards.status, 400);
  assert.match(backwards.message, /^from/);
  const stopped = await client.stop();
  assert.equal(stopped.running, false);
  assert.equal((await client.status()).active, false);
});

test("cameras, unknown faces and dead letters", async () => {
  const added = await client.cameras.add({ id: "door", stream_url: "rtsp://127.0.0.1:9/none", name: "Door" });
  assert.equal(added.camera.name, "Door");
  const twice = await client.cameras.add({ id: "door", stream_url: "rtsp://127.0.0.1:9/none" }).catch((e) => e);
  assert.equal(twice.status, 409);
  assert.equal((await client.cameras.update("door", { enabled: false })).camera.enabled, false);
  const page = await client.cameras.list({ limit: 1, offset: 1 });
  assert.deepEqual([page.total, page.cameras.map((c) => c.id)], [2, ["door"]]);
  assert.equal((await client.cameras.list({ state: "unassigned" })).total, 0);
  assert.equal((await client.cameras.delete("door")).success, true);
  const unknown = await client.unknown.list();
  assert.equal(unknown.total, unknown.unknown.length); // fewer than a page: the total is the list
  assert.ok(unknown.unknown.every((face) => face.image === `/api/unknown/${face.id}.jpg`));
  // every event of the clip run could not be delivered: all are dead letters, and a retry queues them all
  const events = (await client.results({ limit: 1 })).total;
  assert.ok(events >= 1);
  const failed = await pollUntil(async () => {
    const listed = await client.webhooks.failed({ limit: 1 });
    return listed.total === events && listed;
  }, { timeoutMs: 60_000 });
  assert.ok(failed, `not every one of ${events} events became a dead letter`);
  assert.equal(failed.failed.length, 1);
  assert.equal((await client.webhooks.retry()).queued, events);
});

test("every change is in the audit trail", async () => {
  const registered = await client.audit({ action: "person.register" });
  assert.deepEqual(registered.audit.map((row) => row.action), new Array(registered.audit.length).fill("person.register"));
  // "Old Way" and Lin-Manuel Miranda; the refused photo of two people is not a registration
  assert.equal(registered.audit.length, 2);
  assert.ok(registered.audit.every((row) => row.scope === "admin"));
  const actions = new Set((await client.audit({ limit: 1000 })).audit.map((row) => row.action));
  for (const action of ["config.update", "person.add_face", "person.delete", "camera.add", "camera.update",
    "camera.delete", "recognition.start", "recognition.stop", "webhooks.retry"]) {
    assert.ok(actions.has(action), `no ${action} row in ${[...actions]}`);
  }
});
