// The agent's status page: reads /v1/page, /v1/history and the /v1/events stream of this agent only.
// Every value is put in the page as text (textContent), never as markup.
"use strict";

const HISTORY_SHOWN = 50;
const shown = new Map(); // history record id -> its <li>

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "—";
}

function showAgent(doc) {
  const health = document.getElementById("health");
  health.textContent = doc.health ? "healthy" : "not healthy";
  health.className = "badge " + (doc.health ? "ok" : "bad");
  const facts = [
    ["health", doc.health ? "ok" : doc.reason],
    ["backend", doc.backend_reachable ? "reachable" : "not reachable: " + (doc.backend_trouble || "")],
    ["backend revision", doc.backend_revision],
    ["rendered revision", doc.rendered_revision],
    ["revision lag", doc.revision_lag],
  ];
  if (doc.stale) facts.push(["stale", "rendering from the agent's cache at revision " + doc.stale_since_revision]);
  if (doc.secrets_shown) facts.push(["secrets", "shown (page_show_secrets)"]);
  document.getElementById("agent").replaceChildren(
    ...facts.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {"data-fact": name}, value)]));
  const membership = document.getElementById("membership");
  const m = doc.membership;
  if (!m) { membership.replaceChildren(); return; }
  const rows = m.members.map((member) => el("tr", {},
    el("td", {}, member.id), el("td", {}, member.name || "(not started)"),
    el("td", {}, member.id === m.leader_id ? "leader" : member.is_learner ? "learner" : "voter")));
  membership.replaceChildren(
    el("p", {}, "store member " + m.member_id + (m.is_leader ? " (leader)" : "") + ", term " + m.term),
    el("table", {id: "members"}, el("tbody", {}, ...rows)));
}

function showResources(doc) {
  const rows = doc.resources.map((r) => {
    const result = el("td", {class: r.result === "ok" ? "ok" : r.result === "failed" ? "bad" : "pending"}, r.result);
    if (r.error) result.append(el("span", {class: "error"}, r.error));
    const retry = r.result === "failed" ? when(doc.next_full_pass) : "—";
    return el("tr", {"data-resource": r.resource}, el("td", {}, r.resource), el("td", {}, r.dest), result,
      el("td", {"data-field": "revision"}, r.revision), el("td", {}, when(r.last_success)), el("td", {}, retry));
  });
  document.querySelector("#resources tbody").replaceChildren(...rows);
  const open = new Set([...document.querySelectorAll("#keys details[open]")].map((d) => d.dataset.resource));
  document.getElementById("keys").replaceChildren(...doc.resources.map((r) => {
    const rows = r.keys.map((k) => el("tr", {"data-key": k.key}, el("td", {}, k.key), el("td", {}, k.value)));
    const more = r.keys_more ? [el("p", {class: "note"}, "and " + r.keys_more + " more")] : [];
    const details = el("details", {"data-resource": r.resource},
      el("summary", {}, r.resource + " — " + r.keys.length + " keys"),
      el("table", {class: "kv"}, el("tbody", {}, ...rows)), ...more);
    if (open.has(r.resource)) details.open = true;
    return details;
  }));
}

function showFleet(doc) {
  const section = document.getElementById("fleet-section");
  section.hidden = !doc.fleet;
  if (!doc.fleet) return;
  const rows = doc.fleet.map((host) => {
    const failing = host.failing.map((f) => f.resource + ": " + f.error).join("; ");
    return el("tr", {"data-host": host.host},
      el("td", {}, host.host), el("td", {}, host.revision),
      el("td", {class: host.behind ? "bad" : "ok"}, host.behind ? "no: behind" : "yes"),
      el("td", {class: failing ? "bad" : ""}, failing || "—"),
      el("td", {}, Math.round(host.age_s) + " s"));
  });
  document.querySelector("#fleet tbody").replaceChildren(...rows);
}

function diffOf(text) {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return el("pre", {class: "diff"}, ...lines.map((line) => el("span", {
    class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "",
  }, line)));
}

function recordItem(record) {
  const good = record.result === "applied" || record.result === "would apply";
  const keys = record.changed_keys.map((k) => k.key + (k.value === null ? " (deleted)" : " = " + k.value));
  const details = el("details", {},
    el("summary", {}, when(record.time) + " · " + record.resource + " · ",
      el("span", {class: good ? "ok" : "bad"}, record.result), " · revision " + record.revision),
    el("p", {class: "note"}, record.dest + (keys.length ? " · changed: " + keys.join(", ") : "")));
  if (record.error) details.append(el("span", {class: "error"}, record.error));
  const item = el("li", {"data-id": record.id, "data-resource": record.resource}, details);
  if (record.diff !== undefined) details.append(diffOf(record.diff));
  else details.addEventListener("toggle", () => loadDiff(record.id, details), {once: true});
  return item;
}

async function loadDiff(id, details) {
  const answer = await fetch("/v1/history/" + id, {cache: "no-store"});
  if (answer.ok) details.append(diffOf((await answer.json()).diff));
}

function addRecord(record, newest) {
  if (shown.has(record.id)) return;
  const item = recordItem(record);
  shown.set(record.id, item);
  const list = document.getElementById("history");
  if (newest) list.prepend(item); else list.append(item);
  while (list.children.length > HISTORY_SHOWN) shown.delete(Number(list.lastElementChild.dataset.id)), list.lastElementChild.remove();
}

async function loadHistory() {
  const answer = await fetch("/v1/history?limit=" + HISTORY_SHOWN, {cache: "no-store"});
  const note = document.getElementById("history-note");
  if (answer.status === 404) { note.textContent = "This agent keeps no render history."; return; }
  if (!answer.ok) { note.textContent = "The history cannot be read now."; return; }
  for (const record of (await answer.json()).records) addRecord(record, false);
}

function showStatus(doc) {
  showAgent(doc);
  showResources(doc);
  showFleet(doc);
}

function follow() {
  const live = document.getElementById("live");
  const events = new EventSource("/v1/events");
  events.addEventListener("open", () => { live.textContent = "live"; live.className = "badge ok"; });
  events.addEventListener("error", () => { live.textContent = "reconnecting"; live.className = "badge off"; });
  events.addEventListener("status", (event) => showStatus(JSON.parse(event.data)));
  events.addEventListener("record", (event) => addRecord(JSON.parse(event.data), true));
}

document.addEventListener("DOMContentLoaded", () => {
  follow();
  loadHistory();
});
