// The timeline page: search people, pick one, read their merged timeline with filters and sync badges, write
// activities and calls from it (the controls the user's permissions allow), and see its changes live.
// Data only ever reaches the DOM through text nodes and attributes, never as markup.
import { bindAuthBar, startAuth } from "/static/auth.js";
import { Api } from "/static/api.js";
import { $, el, label } from "/static/dom.js";
import { PEOPLE_QUERY, TIMELINE_QUERY, VIEWER_QUERY } from "/static/queries.js";
import { focusAgain, passes, place, renderItem } from "/static/activity_view.js";
import { bindDeleteActivity, bindEditActivity, bindLogActivity } from "/static/activity_forms.js";
import { bindLogCall } from "/static/call_forms.js";
import { LiveFeed } from "/static/live.js";

const GRAPHQL_PATH = "/graphql";

async function loadPageConfig() {
  try {
    const response = await fetch("/page-config.json", { headers: { Accept: "application/json" } });
    if (response.ok) return await response.json();
  } catch (err) { /* no filters then: people and timelines still work */ }
  return { live: false, timelineFilters: [] };
}

// Started together; signing in may restore the page's own query (`?first=`) in the address bar, read below.
const [auth, pageConfig] = await Promise.all([startAuth(GRAPHQL_PATH), loadPageConfig()]);
const api = new Api(auth, GRAPHQL_PATH);
const gql = (query, variables) => api.gql(query, variables);
const CHANNELS = (pageConfig.timelineFilters.find((g) => g.field === "channels") || { values: [] }).values;

// Timeline page size: 20, or `?first=N` (1 to 100) in the page's URL.
const PAGE_SIZE = (() => {
  const n = Number(new URLSearchParams(location.search).get("first"));
  return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 20;
})();

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

// -- who may do what ----------------------------------------------------------------------------------------

let permissions = new Set();

async function loadPermissions() {
  const body = await gql(VIEWER_QUERY);
  const granted = body && body.data && body.data.viewer ? body.data.viewer.permissions : [];
  permissions = new Set(granted);
  document.body.dataset.permissions = granted.join(" ");
}

const may = (permission) => permissions.has(permission);

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

const state = { personId: null, person: null, endCursor: null, hasNextPage: false, seen: new Set(), generation: 0 };

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
  if (pageConfig.live) live.watch(id);  // a gateway whose schema has no subscriptions: no live updates
  loadTimeline(true);
}

const itemActions = {
  get canEdit() { return may("CLINICAL_ACTIVITY_EDIT"); },
  onEdit: (activity, button) => openEdit(activity, button),
  onDelete: (activity, button) => openDelete(activity, button),
};

function updateStatus() {
  const count = $("timeline").childElementCount;
  $("timeline-status").textContent = count ? `${count} activit${count === 1 ? "y" : "ies"} shown`
    : currentFilter() ? "No activities match the filters." : "No activities.";
}

// An activity written here or changed elsewhere: shown in place, in order, when the filters let it through.
function showActivity(activity) {
  if (!activity) return;
  const list = $("timeline");
  if (!passes(activity, currentFilter())) {
    removeActivity(activity.id);
    return;
  }
  if (place(list, renderItem(activity, itemActions), state.hasNextPage)) state.seen.add(activity.id);
  updateStatus();
}

function removeActivity(id) {
  for (const li of $("timeline").querySelectorAll("li.item")) if (li.dataset.id === id) li.remove();
  state.seen.delete(id);
  updateStatus();
}

function showPerson(person, body, reset) {
  const another = (person && person.id) !== (state.person && state.person.id);
  state.person = person;
  if (person) {
    $("person-name").textContent = `${person.firstName} ${person.lastName}`;
    const accounts = (person.accounts || []).map((a) => `${a.connection.name}: ${a.accountId}`);
    $("accounts").textContent = accounts.length ? `CRM accounts — ${accounts.join(", ")}` : "No matched CRM account";
  } else if (reset) {
    $("person-name").textContent = body.errors ? "Person unavailable" : "No such person";
    $("accounts").textContent = "";
  }
  if (!reset) return;
  $("log-activity-panel").hidden = !person || !may("CLINICAL_ACTIVITY_CREATE");
  $("log-call-panel").hidden = !person || !may("MEDICAL_ACTIVITY_VIEW") || !(person.accounts || []).length;
  if (person && another) {  // the forms start afresh for another person (a study role is the person's own)
    activityForm.reset();
    callForm.reset();
  }
}

// The first page (reset) or the next one; `first`: how many to read (a refetch reads as many as were shown).
async function loadTimeline(reset, first = PAGE_SIZE) {
  if (!state.personId) return;
  const generation = reset ? ++state.generation : state.generation;
  if (reset) {
    state.endCursor = null;
    state.hasNextPage = false;
    state.seen = new Set();
    $("person").hidden = false;
  }
  $("timeline").setAttribute("aria-busy", "true");
  const more = $("more");
  more.disabled = true;
  more.textContent = "Loading…";
  $("timeline-status").textContent = "Loading…";
  const variables = { id: state.personId, first, after: state.endCursor, filter: currentFilter() };
  const body = await gql(TIMELINE_QUERY, variables);
  if (generation !== state.generation || body === null) return;  // a newer person or filter took over, or signed out
  showErrors(body.errors);
  const person = body.data && body.data.person;
  // Read again (a reconnection): the entry whose control had the keyboard focus gets it back, drawn anew.
  const focused = reset && $("timeline").contains(document.activeElement) ? document.activeElement : null;
  if (reset) $("timeline").replaceChildren();
  showPerson(person, body, reset);
  const timeline = person && person.timeline;
  if (timeline) {
    for (const { node } of timeline.edges) {
      if (state.seen.has(node.id)) continue;
      state.seen.add(node.id);
      $("timeline").append(renderItem(node, itemActions));
    }
    state.endCursor = timeline.pageInfo.endCursor || state.endCursor;
    state.hasNextPage = timeline.pageInfo.hasNextPage;
  }
  if (focused) focusAgain(focused);
  updateStatus();
  more.textContent = "Load more";
  more.disabled = false;
  more.hidden = !state.hasNextPage;
  $("timeline").setAttribute("aria-busy", "false");
}

// -- writes and live updates ------------------------------------------------------------------------------

const writePage = {
  api, channels: CHANNELS,
  personId: () => state.personId,
  roles: () => (state.person && state.person.studyRoles) || [],
  accounts: () => (state.person && state.person.accounts) || [],
  shown: showActivity,
  removed: removeActivity,
};
const activityForm = bindLogActivity(writePage);
const callForm = bindLogCall(writePage);
const openEdit = bindEditActivity(writePage);
const openDelete = bindDeleteActivity(writePage);

function liveEvent(event) {
  if (!event || event.personId !== state.personId) return;
  if (event.change === "DELETED" || !event.activity) removeActivity(event.activityId);
  else showActivity(event.activity);
}

const live = new LiveFeed({
  path: GRAPHQL_PATH,
  authorization: () => auth.authorization(),
  onEvent: liveEvent,
  // Back after a drop: events sent meanwhile are lost, so what is shown is read again (as many items as shown).
  onReconnected: () => loadTimeline(true, Math.min(100, Math.max(PAGE_SIZE, $("timeline").childElementCount))),
  onStatus: (stateName, text) => {
    $("live-status").dataset.state = stateName;
    $("live-status").textContent = text;
  },
  onErrors: (errors) => showErrors(errors),
});

// -- wiring ---------------------------------------------------------------------------------------------

// Signed in (or no sign-in needed): the people and the timeline; signed out: nothing of them stays on the page.
function showData() {
  const ready = auth.ready;
  $("main").hidden = !ready;
  $("signed-out").hidden = ready;
  if (ready) return;
  live.stop();
  permissions = new Set();
  searchGeneration++;
  state.generation++;
  state.personId = null;
  state.person = null;
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
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
  await loadPermissions();
  searchPeople("");
  if (location.hash.length > 1) {
    try { selectPerson(decodeURIComponent(location.hash.slice(1))); } catch (err) { /* a malformed hash: ignore */ }
  }
}
