"""The timeline page at `/`: search people, pick one, read their merged timeline with filters and sync badges.

One self-contained HTML page (inline CSS and vanilla JS, no third-party code) that talks to `/graphql` on the same
origin. Data only ever reaches the DOM through `textContent` and attributes, never as markup. The page is served with
a Content-Security-Policy that admits exactly its own inline script and style (by hash) and same-origin requests.
"""

from __future__ import annotations

import base64
import hashlib

from starlette.requests import Request
from starlette.responses import HTMLResponse

CSS = r"""
:root { color-scheme: light; --fg: #1d232a; --muted: #5b6672; --line: #d8dee4; --bg: #f6f8fa; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); }
header { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 1.2rem; border-bottom: 1px solid var(--line);
  background: var(--bg); }
header h1 { font-size: 1.15rem; margin: 0; }
header nav { margin-left: auto; }
a { color: var(--accent); }
main { display: grid; grid-template-columns: minmax(14rem, 20rem) 1fr; gap: 1.2rem; padding: 1rem 1.2rem; }
@media (max-width: 760px) { main { grid-template-columns: 1fr; } }
#errors { margin: 1rem 1.2rem 0; padding: .6rem .9rem; border: 1px solid #d1242f; border-radius: 6px;
  background: #ffebe9; color: #82071e; }
#errors ul { margin: .3rem 0 0; padding-left: 1.2rem; }
#errors .close { float: right; }
form.search { display: flex; gap: .4rem; }
form.search input { flex: 1; min-width: 0; padding: .35rem .5rem; }
button { font: inherit; padding: .3rem .7rem; border: 1px solid var(--line); border-radius: 6px; background: #fff;
  cursor: pointer; }
button:hover { border-color: var(--accent); }
button:disabled { cursor: default; opacity: .6; }
#people { list-style: none; margin: .8rem 0 0; padding: 0; }
#people li { margin: 0 0 .3rem; }
#people button { width: 100%; text-align: left; }
#people button[aria-pressed="true"] { border-color: var(--accent); background: #ddf4ff; }
#people .email { display: block; color: var(--muted); font-size: .85em; overflow-wrap: anywhere; }
.hint { color: var(--muted); }
#people-heading { font-size: 1rem; margin: 0 0 .5rem; }
#person h2 { margin: 0 0 .2rem; font-size: 1.3rem; }
#accounts { margin: 0 0 .8rem; color: var(--muted); }
fieldset { display: inline-block; margin: 0 .8rem .6rem 0; padding: .3rem .7rem; border: 1px solid var(--line);
  border-radius: 6px; }
legend { color: var(--muted); font-size: .85em; }
fieldset label { margin-right: .6rem; white-space: nowrap; }
#timeline { list-style: none; margin: .4rem 0; padding: 0; }
#timeline li { padding: .55rem .7rem; border: 1px solid var(--line); border-radius: 6px; margin-bottom: .5rem; }
.row { display: flex; flex-wrap: wrap; align-items: center; gap: .45rem; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .78em; font-weight: 600;
  letter-spacing: .02em; border: 1px solid transparent; }
.kind-CLINICAL { background: #ddf4ff; color: #0a3069; }
.kind-MEDICAL { background: #fbefff; color: #512a97; }
.status-COMPLETED { background: #dafbe1; color: #116329; }
.status-PLANNED { background: #fff8c5; color: #7d4e00; }
.channel { background: var(--bg); color: var(--muted); border-color: var(--line); }
.date { font-variant-numeric: tabular-nums; font-weight: 600; }
.subject { margin: .25rem 0 .1rem; }
.meta { color: var(--muted); font-size: .88em; }
.syncs { margin-top: .3rem; }
.sync { font-weight: 500; }
.sync-SYNCED { background: #dafbe1; color: #116329; }
.sync-PENDING { background: #fff8c5; color: #7d4e00; }
.sync-FAILED { background: #ffebe9; color: #a40e26; border-color: #ff8182; }
.sync-NO_MATCH { background: #eaeef2; color: #424a53; }
.sync-CONFLICT { background: #fbefff; color: #8250df; border-color: #d8b9ff; }
#more { margin-top: .3rem; }
[hidden] { display: none !important; }
"""

JS = r"""
"use strict";
const PEOPLE_QUERY = `query People($search: String) {
  people(search: $search, first: 20) { edges { node { id firstName lastName email } } }
}`;
const TIMELINE_QUERY = `query Timeline($id: ID!, $first: Int!, $after: String, $filter: TimelineFilter) {
  person(id: $id) {
    id firstName lastName
    accounts { connection { name } accountId }
    timeline(first: $first, after: $after, filter: $filter) {
      edges { cursor node {
        __typename id kind date channel status owner subject
        ... on ClinicalActivity { context { __typename ... on Study { name } ... on StudySite { name }
          ... on StudyCountry { name } ... on StudyPersonnel { role } } }
        ... on MedicalActivity { connection { name } }
        sync { connection { name } state attempts lastError }
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

const $ = (id) => document.getElementById(id);
// Timeline page size: 20, or `?first=N` (1 to 100) in the page's URL.
const PAGE_SIZE = (() => {
  const n = Number(new URLSearchParams(location.search).get("first"));
  return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 20;
})();

// Build an element; string children become text nodes (never parsed as markup).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function label(value) { return String(value).replace(/_/g, " ").toLowerCase(); }

async function gql(query, variables) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
  } catch (err) {
    return { errors: [{ message: "The gateway could not be reached: " + err.message }] };
  }
  try {
    return await response.json();
  } catch (err) {
    return { errors: [{ message: `The gateway answered HTTP ${response.status} without a GraphQL response` }] };
  }
}

function showErrors(errors) {
  const list = $("error-list");
  list.replaceChildren();
  for (const error of errors || []) {
    const ext = error.extensions || {};
    const parts = [];
    if (ext.code) parts.push(`[${ext.code}] `);
    parts.push(error.message || "Unknown error");
    if (ext.source) parts.push(` (source: ${ext.source})`);
    if (Array.isArray(error.path)) parts.push(` at ${error.path.join(".")}`);
    list.append(el("li", { "data-code": ext.code || null, "data-source": ext.source || null }, parts.join("")));
  }
  $("errors").hidden = list.childElementCount === 0;
}

// -- people ---------------------------------------------------------------------------------------------

let searchGeneration = 0;

async function searchPeople(text) {
  const generation = ++searchGeneration;
  $("people-status").textContent = "Searching…";
  const body = await gql(PEOPLE_QUERY, { search: text || null });
  if (generation !== searchGeneration) return;
  showErrors(body.errors);
  const edges = (body.data && body.data.people && body.data.people.edges) || [];
  const list = $("people");
  list.replaceChildren();
  for (const { node } of edges) {
    const button = el("button", { type: "button", "data-id": node.id, "aria-pressed": node.id === state.personId },
      `${node.firstName} ${node.lastName}`, node.email ? el("span", { class: "email" }, node.email) : null);
    button.addEventListener("click", () => selectPerson(node.id));
    list.append(el("li", {}, button));
  }
  $("people-status").textContent = edges.length ? `${edges.length} shown` : "No one matches.";
}

// -- timeline -------------------------------------------------------------------------------------------

const state = { personId: null, endCursor: null, hasNextPage: false, seen: new Set(), generation: 0 };

function currentFilter() {
  const filter = {};
  for (const [group, key] of [["kind", "kinds"], ["status", "statuses"], ["channel", "channels"]]) {
    const values = [...document.querySelectorAll(`input[name="${group}"]:checked`)].map((box) => box.value);
    if (values.length) filter[key] = values;
  }
  return Object.keys(filter).length ? filter : null;
}

function selectPerson(id) {
  state.personId = id;
  for (const button of document.querySelectorAll("#people button")) {
    button.setAttribute("aria-pressed", String(button.dataset.id === id));
  }
  if (location.hash !== "#" + encodeURIComponent(id)) history.replaceState(null, "", "#" + encodeURIComponent(id));
  loadTimeline(true);
}

function contextText(activity) {
  const ctx = activity.context;
  if (!ctx) return null;
  const kinds = { Study: "Study", StudySite: "Study site", StudyCountry: "Study country",
    StudyPersonnel: "Study role" };
  const what = kinds[ctx.__typename] || ctx.__typename;
  const name = ctx.__typename === "StudyPersonnel" ? ctx.role : ctx.name;
  return name ? `${what}: ${name}` : what;
}

function renderItem(activity) {
  const meta = [];
  const ctx = contextText(activity);
  if (ctx) meta.push(ctx);
  if (activity.connection) meta.push(`CRM org: ${activity.connection.name}`);
  if (activity.owner) meta.push(`Owner: ${activity.owner}`);
  const syncs = el("div", { class: "row syncs" });
  for (const s of activity.sync || []) {
    const target = s.connection ? s.connection.name : "CTMS";
    const title = [`${s.attempts} attempt${s.attempts === 1 ? "" : "s"}`];
    if (s.lastError) title.push(`last error: ${s.lastError}`);
    syncs.append(el("span", { class: `badge sync sync-${s.state}`, "data-state": s.state, "data-target": target,
      title: title.join("; ") }, `${target}: ${s.state}`));
  }
  return el("li", { class: "item", "data-kind": activity.kind, "data-status": activity.status,
      "data-channel": activity.channel, "data-id": activity.id },
    el("div", { class: "row" },
      el("time", { class: "date", datetime: activity.date }, activity.date),
      el("span", { class: `badge kind kind-${activity.kind}` }, activity.kind),
      el("span", { class: `badge status status-${activity.status}` }, label(activity.status)),
      el("span", { class: "badge channel" }, label(activity.channel))),
    el("div", { class: "subject" }, activity.subject || el("span", { class: "hint" }, "(no subject)")),
    meta.length ? el("div", { class: "meta" }, meta.join(" · ")) : null,
    syncs.childElementCount ? syncs : null);
}

async function loadTimeline(reset) {
  if (!state.personId) return;
  const generation = reset ? ++state.generation : state.generation;
  if (reset) {
    state.endCursor = null;
    state.hasNextPage = false;
    state.seen = new Set();
    $("timeline").replaceChildren();
    $("person").hidden = false;
  }
  $("timeline").setAttribute("aria-busy", "true");
  const more = $("more");
  more.disabled = true;
  more.textContent = "Loading…";
  $("timeline-status").textContent = "Loading…";
  const variables = { id: state.personId, first: PAGE_SIZE, after: state.endCursor, filter: currentFilter() };
  const body = await gql(TIMELINE_QUERY, variables);
  if (generation !== state.generation) return;  // a newer person or filter took over
  showErrors(body.errors);
  const person = body.data && body.data.person;
  if (person) {
    $("person-name").textContent = `${person.firstName} ${person.lastName}`;
    const accounts = (person.accounts || []).map((a) => `${a.connection.name}: ${a.accountId}`);
    $("accounts").textContent = accounts.length ? `CRM accounts — ${accounts.join(", ")}` : "No matched CRM account";
  } else if (reset) {
    $("person-name").textContent = body.errors ? "Person unavailable" : "No such person";
    $("accounts").textContent = "";
  }
  const timeline = person && person.timeline;
  if (timeline) {
    for (const { node } of timeline.edges) {
      if (state.seen.has(node.id)) continue;
      state.seen.add(node.id);
      $("timeline").append(renderItem(node));
    }
    state.endCursor = timeline.pageInfo.endCursor || state.endCursor;
    state.hasNextPage = timeline.pageInfo.hasNextPage;
  }
  const count = $("timeline").childElementCount;
  $("timeline-status").textContent = count ? `${count} activit${count === 1 ? "y" : "ies"} shown`
    : currentFilter() ? "No activities match the filters." : "No activities.";
  more.textContent = "Load more";
  more.disabled = false;
  more.hidden = !state.hasNextPage;
  $("timeline").setAttribute("aria-busy", "false");
}

// -- wiring ---------------------------------------------------------------------------------------------

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  searchPeople($("search").value.trim());
});
$("more").addEventListener("click", () => loadTimeline(false));
$("filters").addEventListener("change", () => loadTimeline(true));
$("filters").addEventListener("submit", (event) => event.preventDefault());
$("dismiss").addEventListener("click", () => { $("errors").hidden = true; });

searchPeople("");
if (location.hash.length > 1) {
  try { selectPerson(decodeURIComponent(location.hash.slice(1))); } catch (err) { /* a malformed hash: ignore */ }
}
"""

FILTERS = {
    "kind": ("Kind", ["CLINICAL", "MEDICAL"]),
    "status": ("Status", ["PLANNED", "COMPLETED"]),
    "channel": ("Channel", ["IN_PERSON", "VIDEO", "PHONE", "CHAT_TEXT", "EMAIL", "OTHER"]),
}


def _filters_html() -> str:
    groups = []
    for name, (legend, values) in FILTERS.items():
        boxes = "".join(f'<label><input type="checkbox" name="{name}" value="{v}"> '
                        f'{v.replace("_", " ").lower()}</label>' for v in values)
        groups.append(f"<fieldset><legend>{legend} (none checked = any)</legend>{boxes}</fieldset>")
    return "\n".join(groups)


PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ccgw · timeline</title>
<link rel="icon" href="data:,">
<style>{CSS}</style>
</head>
<body>
<header>
  <h1>Interaction timeline</h1>
  <span class="hint">clinical activities from the CTMS and CRM calls, merged</span>
  <nav><a href="/graphql">GraphiQL</a></nav>
</header>
<div id="errors" role="alert" hidden>
  <button type="button" class="close" id="dismiss" aria-label="Dismiss errors">×</button>
  <strong>The gateway reported errors; what could be read is shown.</strong>
  <ul id="error-list"></ul>
</div>
<main>
  <section aria-labelledby="people-heading">
    <h2 id="people-heading" class="hint">People</h2>
    <form class="search" id="search-form" role="search">
      <input id="search" type="search" placeholder="Name or email" aria-label="Search people" autocomplete="off">
      <button type="submit">Search</button>
    </form>
    <ul id="people"></ul>
    <p id="people-status" class="hint" aria-live="polite"></p>
  </section>
  <section id="person" aria-live="polite" hidden>
    <h2 id="person-name"></h2>
    <p id="accounts"></p>
    <form id="filters">
{_filters_html()}
    </form>
    <p id="timeline-status" class="hint"></p>
    <ol id="timeline" aria-busy="false"></ol>
    <button type="button" id="more" hidden>Load more</button>
  </section>
</main>
<script>{JS}</script>
</body>
</html>
"""


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# The only inline code allowed to run or style the page is this module's; no request leaves the origin.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_hash(JS)}; style-src {_hash(CSS)}; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def timeline_page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE, headers=HEADERS)
