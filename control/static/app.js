// The operator page: a plain client of facegate's public API. The API token, when the service has
// one, is asked for once and kept in this tab's sessionStorage; every call sends it as a Bearer
// header. Pictures are loaded from the URLs the API hands out (camera.mjpeg, face.image); an <img>
// cannot send a header, so with a token they go through short-lived signed URLs (GET /api/signed-url).
const TOKEN_KEY = "facegate-token";
const $ = (id) => document.getElementById(id);
const streams = new Map(); // camera id -> its <img>, kept across refreshes so the MJPEG is not restarted
const drafts = new Map(); // unknown face id -> the name being typed, kept across refreshes
const signed = new Map(); // picture path -> { url, renewAt }: a signed URL is reused for half its life

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

async function api(method, path, body) {
  const headers = {};
  if (token()) headers.Authorization = `Bearer ${token()}`;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload });
  const data = await response.json().catch(() => null);
  if (response.status === 401) {
    $("token-form").hidden = false;
    throw new Error("this service needs its API token");
  }
  if (!response.ok) throw new Error((data && data.error) || response.statusText);
  return data;
}

/** The URL an <img> loads `path` from: the path itself without a token, else a signed URL for it. */
async function picture(path) {
  if (!token()) return path;
  const kept = signed.get(path);
  if (kept && kept.renewAt > Date.now()) return kept.url;
  const answer = await api("GET", `/api/signed-url?path=${encodeURIComponent(path)}`);
  signed.set(path, { url: answer.url, renewAt: Date.now() + 500 * (answer.expires_in_s ?? 60) });
  return answer.url;
}

function closeStreams() {
  for (const img of streams.values()) img.src = "";
  streams.clear();
}

function say(text, isError = false) {
  const message = $("message");
  message.textContent = text;
  message.className = isError ? "error" : "";
  message.hidden = !text;
}

function el(tag, { dataset = {}, ...props } = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

async function action(work, done) {
  try {
    await work();
    say(done);
    await refresh();
  } catch (error) {
    say(error.message, true);
  }
}

async function renderCameras(cameras, status) {
  const box = $("cameras");
  const ids = new Set(cameras.filter((c) => c.node !== null).map((c) => c.id));
  for (const [id, img] of streams) if (!ids.has(id)) { img.src = ""; streams.delete(id); }
  const figures = await Promise.all(cameras.map(async (camera) => {
    if (camera.node === null) {  // waiting for a node with room: nothing to show yet but why
      return el("figure", { className: `camera ${camera.state}`, dataset: { camera: camera.id } },
        el("figcaption", {}, el("strong", { textContent: camera.name || camera.id }), " ",
          el("span", { className: "state", textContent: camera.state }),
          camera.reason ? el("div", { className: "muted", textContent: camera.reason }) : null));
    }
    if (!streams.has(camera.id)) {  // a stream opened with a signed URL keeps playing after the URL expires
      const src = await picture(camera.mjpeg);
      if (!streams.has(camera.id)) {  // an overlapping refresh may have opened it meanwhile
        streams.set(camera.id, el("img", { className: "stream", src, alt: `live view of ${camera.name || camera.id}` }));
      }
    }
    const img = streams.get(camera.id);
    return el("figure", { className: `camera ${camera.state}`, dataset: { camera: camera.id } }, img,
      el("figcaption", {}, el("strong", { textContent: camera.name || camera.id }), " ",
        el("span", { className: "state", textContent: camera.state }),
        camera.fps ? el("span", { className: "muted", textContent: ` ${camera.fps} fps` }) : null,
        camera.error ? el("div", { className: "error", textContent: camera.error }) : null));
  }));
  box.replaceChildren(...figures);
  if (!cameras.length) box.append(el("p", { className: "muted", textContent: "No camera configured." }));
  const waiting = status.camera_states?.unassigned ?? 0;
  $("cameras-waiting").hidden = !waiting;
  $("cameras-waiting").textContent = `${waiting} of ${status.cameras_total} camera${status.cameras_total === 1 ? "" : "s"}` +
    ` waiting for a node with room (${cameras.find((c) => c.reason)?.reason ?? "see /api/cameras"})`;
}

function renderEvents(results) {
  $("events").replaceChildren(...results.map((r) => el("li", { className: r.name === "Unknown" ? "unknown" : "" },
    el("strong", { className: "event-name", textContent: r.name }),
    el("span", { className: "muted", textContent: ` on ${r.camera_id ?? "?"} at ${new Date(r.timestamp).toLocaleTimeString()}` +
      ` (confidence ${r.confidence})` }))));
}

async function renderUnknown(faces) {
  const crops = await Promise.all(faces.map((face) => picture(face.image)));
  $("unknown").replaceChildren(...faces.map((face, i) => {
    const name = el("input", { placeholder: "Name", maxLength: 100, className: "register-name",
      value: drafts.get(face.id) ?? "" });
    name.oninput = () => drafts.set(face.id, name.value);
    const register = el("button", { type: "button", textContent: "Register as…", className: "register" });
    register.onclick = () => action(() => {
      if (!name.value.trim()) throw new Error("type the name first");
      return api("POST", `/api/unknown/${face.id}/register`, { name: name.value.trim() });
    }, `registered ${name.value.trim()}`);
    const forget = el("button", { type: "button", textContent: "Forget" });
    forget.onclick = () => action(() => api("DELETE", `/api/unknown/${face.id}`), "forgotten");
    return el("figure", { className: "face", dataset: { unknown: face.id } },
      el("img", { src: crops[i], alt: "unknown face" }),
      el("figcaption", {}, el("span", { className: "muted", textContent: face.camera_id ?? "" }), name, register, forget));
  }));
  if (!faces.length) $("unknown").append(el("p", { className: "muted", textContent: "No unknown faces." }));
}

function renderPeople(persons) {
  $("people").replaceChildren(...persons.map((person) => {
    const file = el("input", { type: "file", accept: "image/*", className: "add-photo" });
    file.onchange = () => action(() => {
      const form = new FormData();
      form.set("image", file.files[0]);
      return api("POST", `/api/persons/${person.id}/faces`, form);
    }, `photo added to ${person.name}`);
    const remove = el("button", { type: "button", textContent: "Delete", className: "delete" });
    remove.onclick = () => action(() => api("DELETE", `/api/persons/${person.id}`), `${person.name} deleted`);
    const picture = person.image_url ? el("img", { src: person.image_url, alt: person.name, className: "avatar" })
      : el("span", { className: "avatar", textContent: person.name.slice(0, 1).toUpperCase() });
    return el("li", { dataset: { person: person.id } }, picture,
      el("strong", { className: "person-name", textContent: person.name }),
      el("span", { className: "muted", textContent: ` ${person.encodings} photo${person.encodings === 1 ? "" : "s"}` }),
      el("label", { className: "button" }, "Add photo", file), remove);
  }));
}

// --- who is here: presence now, a day's attendance, the webhook endpoints with their counts ---------------
const when = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "");
const cell = (text, className = "") => el("td", { className, textContent: String(text ?? "") });
const attendancePath = (day, csv = false) => `/api/attendance?from=${day}&to=${day}${csv ? "&format=csv" : ""}`;

function attendanceDay() {
  const input = $("attendance-date");
  if (!input.value) {  // today, on this browser's calendar
    const now = new Date();
    input.value = [now.getFullYear(), now.getMonth() + 1, now.getDate()].map((n) => String(n).padStart(2, "0")).join("-");
  }
  return input.value;
}

function renderPresence(presence) {
  const here = [
    ...presence.people.filter((p) => p.present).map((p) => ({ ...p, key: `person-${p.person_id}`, who: p.name })),
    ...presence.visitors.filter((v) => v.present)
      .map((v) => ({ ...v, key: `visitor-${v.visitor_id}`, who: `Visitor #${v.visitor_id}` })),
  ];
  $("presence").tBodies[0].replaceChildren(...here.map((p) => el("tr", { dataset: { present: p.key } },
    cell(p.who, "present-name"), cell(p.camera_id, "present-camera"), cell(when(p.last_seen), "present-seen"))));
  $("presence-note").textContent = here.length ? "" : `Nobody seen in the last ${presence.window_s} s.`;
}

function renderAttendance(day, answer) {
  $("attendance").tBodies[0].replaceChildren(...answer.days.map((row) => el("tr", { dataset: { person: row.person_id } },
    cell(row.name, "attendance-name"), cell(when(row.first_seen), "first-seen"), cell(when(row.last_seen), "last-seen"),
    cell(row.sightings, "sightings"), cell(row.cameras.join(", "), "cameras"))));
  $("attendance-note").textContent = answer.days.length ? "" : `Nobody seen on ${day}.`;
}

function renderEndpoints(endpoints) {
  $("endpoints").tBodies[0].replaceChildren(...endpoints.map((endpoint) => el("tr",
    { dataset: { endpoint: endpoint.id }, className: endpoint.enabled ? "" : "disabled" },
    el("td", {}, el("strong", { textContent: endpoint.description || endpoint.id }),
      el("div", { className: "muted endpoint-url", textContent: endpoint.url })),
    cell(endpoint.events.join(", ")), cell(endpoint.deliveries.delivered, "delivered"),
    cell(endpoint.deliveries.pending, "pending"), cell(endpoint.deliveries.failed, "failed"))));
  $("endpoints-note").textContent = endpoints.length ? "" : "No webhook endpoint.";
}

/** One panel: its data rendered, or why it is not there (a route this service lacks, a token without the scope). */
async function panel(name, load, render) {
  try {
    render(await load());
  } catch (error) {
    $(name).tBodies[0].replaceChildren();
    $(`${name}-note`).textContent = `Not available: ${error.message}`;
  }
}

async function refreshWhoIsHere() {
  const day = attendanceDay();
  $("attendance-csv").href = attendancePath(day, true);
  $("attendance-csv").download = `attendance-${day}.csv`;
  await Promise.all([
    panel("presence", () => api("GET", "/api/presence"), renderPresence),
    panel("attendance", () => api("GET", attendancePath(day)), (answer) => renderAttendance(day, answer)),
    panel("endpoints", () => api("GET", "/api/webhooks/endpoints"), (answer) => renderEndpoints(answer.endpoints)),
  ]);
}

/** A download a plain link cannot make with a token (it sends no header): fetched, then saved from a blob. */
async function download(path, filename) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) throw new Error(`${filename}: ${response.status} ${response.statusText}`);
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function refresh() {
  try {
    const [status, cameras, results, unknown, persons] = await Promise.all([
      api("GET", "/api/status"), api("GET", "/api/cameras"), api("GET", "/api/results?limit=20"),
      api("GET", "/api/unknown"), api("GET", "/api/persons")]);
    $("service-state").textContent = `${status.running ? "recognizing" : "stopped"} · ${status.registered_people} people · v${status.version}`;
    renderEvents(results.results);
    renderPeople(persons.persons);
    await Promise.all([renderCameras(cameras.cameras, status), renderUnknown(unknown.unknown)]);
  } catch (error) {
    say(error.message, true);
  }
  await refreshWhoIsHere();
}

$("token-form").onsubmit = (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token-input").value);
  $("token-input").value = "";
  $("token-form").hidden = true;
  $("forget-token").hidden = false;
  signed.clear();
  closeStreams();  // reopened with signed URLs under the new token
  say("token set for this tab");
  refresh();
};
$("forget-token").hidden = !token();
$("forget-token").onclick = () => {
  sessionStorage.removeItem(TOKEN_KEY);
  signed.clear();
  $("forget-token").hidden = true;
  say("token forgotten");
};
$("attendance-date").onchange = () => refreshWhoIsHere();
$("attendance-form").onsubmit = (event) => event.preventDefault();
$("attendance-csv").onclick = (event) => {
  if (!token()) return;  // without a token the link itself downloads
  event.preventDefault();
  const link = event.currentTarget;
  download(link.getAttribute("href"), link.download).catch((error) => say(error.message, true));
};
$("new-person").onsubmit = (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  action(() => api("POST", "/api/register", form), `${form.get("name")} registered`).then(() => event.target.reset());
};

refresh();
setInterval(refresh, 2000);
