// The timeline page: search people, pick one, read their merged timeline with filters and sync badges.
// Data only ever reaches the DOM through text nodes and attributes, never as markup.
import { bindAuthBar, startAuth } from "/static/auth.js";

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
const GRAPHQL_PATH = "/graphql";

async function loadPageConfig() {
  try {
    const response = await fetch("/page-config.json", { headers: { Accept: "application/json" } });
    if (response.ok) return await response.json();
  } catch (err) { /* no filters then: people and timelines still work */ }
  return { timelineFilters: [] };
}

// Started together; signing in may restore the page's own query (`?first=`) in the address bar, read below.
const [auth, pageConfig] = await Promise.all([startAuth(GRAPHQL_PATH), loadPageConfig()]);

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

// The GraphQL answer, or null when the gateway refused the caller (401): the page is then signed out.
async function gql(query, variables) {
  let response;
  try {
    response = await auth.fetch(GRAPHQL_PATH, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
  } catch (err) {
    return { errors: [{ message: "The gateway could not be reached: " + err.message }] };
  }
  if (response.status === 401) return null;
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
  if (generation !== searchGeneration || body === null) return;
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

// The checkboxes, one group per list of enum values in TimelineFilter, as the gateway describes them.
function renderFilters() {
  const form = $("filters");
  form.replaceChildren();
  for (const group of pageConfig.timelineFilters) {
    const boxes = group.values.map((value) => el("label", {},
      el("input", { type: "checkbox", name: group.name, value }), ` ${label(value)}`));
    form.append(el("fieldset", {}, el("legend", {}, `${group.legend} (none checked = any)`), ...boxes));
  }
}

function currentFilter() {
  const filter = {};
  for (const group of pageConfig.timelineFilters) {
    const values = [...document.querySelectorAll(`#filters input[name="${group.name}"]:checked`)]
      .map((box) => box.value);
    if (values.length) filter[group.field] = values;
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
  if (generation !== state.generation || body === null) return;  // a newer person or filter took over, or signed out
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

// Signed in (or no sign-in needed): the people and the timeline; signed out: nothing of them stays on the page.
function showData() {
  const ready = auth.ready;
  $("main").hidden = !ready;
  $("signed-out").hidden = ready;
  if (ready) return;
  searchGeneration++;
  state.generation++;
  state.personId = null;
  $("people").replaceChildren();
  $("people-status").textContent = "";
  $("timeline").replaceChildren();
  $("person-name").textContent = "";
  $("accounts").textContent = "";
  $("person").hidden = true;
  $("errors").hidden = true;
  $("error-list").replaceChildren();
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  searchPeople($("search").value.trim());
});
$("more").addEventListener("click", () => loadTimeline(false));
$("filters").addEventListener("change", () => loadTimeline(true));
$("filters").addEventListener("submit", (event) => event.preventDefault());
$("dismiss").addEventListener("click", () => { $("errors").hidden = true; });

renderFilters();
auth.onChange(showData);
bindAuthBar(auth);
showData();
if (auth.ready) {
  searchPeople("");
  if (location.hash.length > 1) {
    try { selectPerson(decodeURIComponent(location.hash.slice(1))); } catch (err) { /* a malformed hash: ignore */ }
  }
}
