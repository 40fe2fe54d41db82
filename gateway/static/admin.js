// The admin page: connections with their health and backlog, the mirrors that FAILED (retry), enable/disable, and
// the audit log paged and filtered. For CONNECTION_ADMIN only: anyone else is told so and no admin data is asked for.
// Data only ever reaches the DOM through text nodes and attributes, never as markup.
import { bindAuthBar, startAuth } from "/static/auth.js";
import { $, el } from "/static/dom.js";

const GRAPHQL_PATH = "/graphql";
const FAILED_PAGE = 20;
const AUDIT_PAGE = 25;
const VIEWER_QUERY = "query AdminViewer { viewer { permissions } }";
const OVERVIEW_QUERY = `query AdminOverview {
  connections { id name enabled pending failed }
  backlog { connectionName direction pending failed oldestPendingSeconds }
}`;
const FAILED_QUERY = `query FailedMirrors($first: Int!, $after: String) {
  failedMirrors(first: $first, after: $after) {
    edges { node { activityId sourceId activityKind connectionName direction attempts lastError updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const AUDIT_QUERY = `query AuditEntries($first: Int!, $after: String, $user: String, $action: String) {
  auditEntries(first: $first, after: $after, user: $user, action: $action) {
    edges { node { at actor operation targetId outcome } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const SET_ENABLED = `mutation SetConnectionEnabled($id: ID!, $enabled: Boolean!) {
  updateConnection(input: { id: $id, enabled: $enabled }) {
    connection { id enabled } userErrors { field message code }
  }
}`;
const RETRY = `mutation RetrySync($id: ID!) {
  retrySync(activityId: $id) {
    activity { id sync { connection { name } state lastError } } userErrors { message code }
  }
}`;
const TEST = `mutation TestConnection($id: ID!) {
  testConnection(id: $id) { ok checks { name ok message } userErrors { message code } }
}`;
// What the audit trail records: every mutation, and refusals under the field refused.
const ACTIONS = ["createClinicalActivity", "updateClinicalActivity", "deleteClinicalActivity", "sendCallToClinical",
  "logCall", "retrySync", "reconcile", "createConnection", "updateConnection", "deleteConnection", "testConnection",
  "introspection"];

const auth = await startAuth(GRAPHQL_PATH);

// A table cell that names its column, for the card layout of narrow screens.
function cell(column, ...children) { return el("td", { "data-label": column }, ...children); }

function age(seconds) {
  const s = Math.round(Number(seconds) || 0);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function when(iso) {
  const text = String(iso || "");
  return el("time", { datetime: text }, text.replace("T", " ").replace(/\.\d+/, "").replace(/\+00:00$|Z$/, " UTC"));
}

// The GraphQL answer, or null when the gateway refused the caller (401): the page is then signed out.
async function gql(query, variables) {
  let response;
  try {
    response = await auth.fetch(GRAPHQL_PATH, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
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
  for (const error of errors || []) {
    const ext = error.extensions || {};
    const text = `${ext.code ? `[${ext.code}] ` : ""}${error.message || "Unknown error"}`
      + (ext.source ? ` (source: ${ext.source})` : "");
    list.append(el("li", { "data-code": ext.code || null }, text));
  }
  $("errors").hidden = list.childElementCount === 0;
}

function clearErrors() {
  $("error-list").replaceChildren();
  $("errors").hidden = true;
}

// -- connections, their health and backlog --------------------------------------------------------------

// Per source ("crm:us"), whether it answered the gateway's last readiness probe; {} when that cannot be read.
async function health() {
  try {
    const response = await auth.fetch("/readyz", { headers: { Accept: "application/json" } });
    const body = await response.json();
    return Object.fromEntries((body.sources || []).map((s) => [s.name, s]));
  } catch (err) {
    return {};
  }
}

function healthCell(connection, probes) {
  if (!connection.enabled) return cell("Health", el("span", { class: "badge off" }, "disabled"));
  const probe = probes[`crm:${connection.name}`];
  if (!probe) return cell("Health", el("span", { class: "badge unknown" }, "unknown"));
  if (probe.reachable) return cell("Health", el("span", { class: "badge ok" }, "reachable"));
  return cell("Health", el("span", { class: "badge bad" }, `unreachable${probe.error ? ` (${probe.error})` : ""}`));
}

function connectionRow(connection, probes, oldest) {
  const toggle = el("button", { type: "button", class: "toggle", "aria-label":
    `${connection.enabled ? "Disable" : "Enable"} ${connection.name}` }, connection.enabled ? "Disable" : "Enable");
  toggle.addEventListener("click", () => setEnabled(connection, toggle));
  const test = el("button", { type: "button", class: "test", "aria-label": `Test ${connection.name}` }, "Test");
  test.addEventListener("click", () => testConnection(connection, test));
  return el("tr", { "data-name": connection.name, "data-enabled": String(connection.enabled) },
    el("th", { scope: "row", "data-label": "Name" }, connection.name),
    healthCell(connection, probes),
    cell("Enabled", connection.enabled ? "yes" : "no"),
    cell("Pending", connection.pending), cell("Failed", connection.failed),
    cell("Oldest pending", oldest ? age(oldest) : "—"),
    cell("Actions", el("span", { class: "actions" }, toggle, test)));
}

function backlogRow(entry) {
  return el("tr", { "data-name": entry.connectionName, "data-direction": entry.direction },
    el("th", { scope: "row", "data-label": "Connection" }, entry.connectionName),
    cell("Direction", entry.direction === "TO_CRM" ? "to the org" : "to the CTMS"),
    cell("Pending", entry.pending), cell("Failed", entry.failed),
    cell("Oldest pending", entry.pending ? age(entry.oldestPendingSeconds) : "—"));
}

async function loadOverview() {
  $("connections-status").textContent = "Loading…";
  const [body, probes] = await Promise.all([gql(OVERVIEW_QUERY), health()]);
  if (body === null || !admin) return;
  showErrors(body.errors);
  const data = body.data || {};
  const oldest = {};
  for (const entry of data.backlog || []) {
    const waited = entry.pending ? entry.oldestPendingSeconds : 0;
    oldest[entry.connectionName] = Math.max(oldest[entry.connectionName] || 0, waited);
  }
  const connections = data.connections || [];
  $("connections").tBodies[0].replaceChildren(...connections.map((c) => connectionRow(c, probes, oldest[c.name])));
  $("connections-status").textContent = connections.length ? `${connections.length} connections` : "No connections.";
  const backlog = data.backlog || [];
  $("backlog").tBodies[0].replaceChildren(...backlog.map(backlogRow));
  $("backlog-status").textContent = backlog.length ? "" : "Nothing pending or failed.";
  $("backlog").hidden = backlog.length === 0;
  $("connections").hidden = connections.length === 0;
}

async function setEnabled(connection, button) {
  button.disabled = true;
  const enabled = !connection.enabled;
  const body = await gql(SET_ENABLED, { id: connection.id, enabled });
  if (body === null) return;
  showErrors(body.errors);
  const payload = body.data && body.data.updateConnection;
  const problems = (payload && payload.userErrors) || [];
  $("connections-status").textContent = problems.length ? `${connection.name}: ${problems[0].message}`
    : payload && payload.connection ? `${connection.name} ${enabled ? "enabled" : "disabled"}.` : "";
  await loadOverview();
  const again = document.querySelector(`#connections tr[data-name="${CSS.escape(connection.name)}"] button.toggle`);
  if (again) again.focus();  // the row was drawn again: keep the keyboard where it was
}

async function testConnection(connection, button) {
  button.disabled = true;
  const out = $("test-result");
  out.replaceChildren(el("p", { class: "hint" }, `Testing ${connection.name}…`));
  const body = await gql(TEST, { id: connection.id });
  button.disabled = false;
  if (body === null) return;
  showErrors(body.errors);
  const result = body.data && body.data.testConnection;
  if (!result) { out.replaceChildren(); return; }
  const checks = result.checks.map((c) => el("li", { class: c.ok ? "ok" : "bad", "data-check": c.name },
    `${c.ok ? "passed" : "failed"}: ${c.name.replace(/_/g, " ").toLowerCase()}: ${c.message}`));
  const problems = result.userErrors.map((e) => el("li", { class: "bad" }, e.message));
  out.replaceChildren(el("h3", {}, `${connection.name}: ${result.ok ? "every check passed" : "a check failed"}`),
    el("ul", { class: "checks" }, ...checks, ...problems));
}

// -- failed mirrors -------------------------------------------------------------------------------------

const failedState = { endCursor: null, generation: 0 };

function failedRow(mirror) {
  const target = mirror.direction === "TO_CRM" ? `to ${mirror.connectionName}` : `from ${mirror.connectionName}`;
  const retry = el("button", { type: "button", class: "retry",
    "aria-label": `Retry the ${mirror.activityKind.toLowerCase()} activity ${target}` }, "Retry");
  retry.addEventListener("click", () => retrySync(mirror, retry));
  return el("tr", { "data-activity-id": mirror.activityId, "data-connection": mirror.connectionName },
    el("th", { scope: "row", "data-label": "Activity" }, el("span", { class: "kind" }, mirror.activityKind), " ",
      el("code", {}, mirror.sourceId)),
    cell("Connection", mirror.connectionName),
    cell("Direction", mirror.direction === "TO_CRM" ? "to the org" : "to the CTMS"),
    cell("Attempts", mirror.attempts),
    cell("Last error", el("span", { class: "error-text" }, mirror.lastError || "—")),
    cell("Updated", when(mirror.updatedAt)),
    cell("Action", retry));
}

async function loadFailed(reset) {
  const generation = reset ? ++failedState.generation : failedState.generation;
  if (reset) failedState.endCursor = null;
  const more = $("failed-more");
  more.disabled = true;
  const body = await gql(FAILED_QUERY, { first: FAILED_PAGE, after: failedState.endCursor });
  if (body === null || generation !== failedState.generation || !admin) return;
  showErrors(body.errors);
  const page = body.data && body.data.failedMirrors;
  const rows = page ? page.edges.map((e) => failedRow(e.node)) : [];
  const tbody = $("failed").tBodies[0];
  if (reset) tbody.replaceChildren(...rows);
  else tbody.append(...rows);
  failedState.endCursor = page ? page.pageInfo.endCursor || failedState.endCursor : failedState.endCursor;
  more.hidden = !(page && page.pageInfo.hasNextPage);
  more.disabled = false;
  if (reset) $("failed-status").textContent = tbody.childElementCount ? "" : "No failed mirrors.";
  $("failed").hidden = tbody.childElementCount === 0;
}

async function retrySync(mirror, button) {
  button.disabled = true;
  button.textContent = "Retrying…";
  const body = await gql(RETRY, { id: mirror.activityId });
  if (body === null) return;
  showErrors(body.errors);
  const payload = body.data && body.data.retrySync;
  const problems = (payload && payload.userErrors) || [];
  let message = problems.length ? `Retry refused: ${problems[0].message}` : "Retry sent.";
  if (payload && payload.activity) {
    const states = payload.activity.sync.map((s) => `${s.connection ? s.connection.name : "CTMS"}: ${s.state}`);
    message = `Retried ${mirror.activityKind.toLowerCase()} activity — ${states.join(", ")}`;
  }
  $("failed-status").textContent = message;
  await Promise.all([loadFailed(true), loadOverview()]);
  $("failed-status").textContent = message;
  $("failed-heading").focus();
}

// -- audit log ------------------------------------------------------------------------------------------

const auditState = { endCursor: null, generation: 0, user: null, action: null };

function auditRow(entry) {
  return el("tr", { "data-operation": entry.operation, "data-outcome": entry.outcome },
    cell("When", when(entry.at)),
    cell("User", el("span", { class: "actor" }, entry.actor)),
    cell("Action", entry.operation),
    cell("Target", entry.targetId ? el("code", {}, entry.targetId) : "—"),
    cell("Outcome", entry.outcome));
}

async function loadAudit(reset) {
  const generation = reset ? ++auditState.generation : auditState.generation;
  if (reset) {
    auditState.endCursor = null;
    auditState.user = $("audit-user").value.trim() || null;
    auditState.action = $("audit-action").value.trim() || null;
    $("audit-status").textContent = "Loading…";
  }
  const more = $("audit-more");
  more.disabled = true;
  const body = await gql(AUDIT_QUERY, { first: AUDIT_PAGE, after: auditState.endCursor, user: auditState.user,
    action: auditState.action });
  if (body === null || generation !== auditState.generation || !admin) return;
  showErrors(body.errors);
  const page = body.data && body.data.auditEntries;
  const rows = page ? page.edges.map((e) => auditRow(e.node)) : [];
  const tbody = $("audit").tBodies[0];
  if (reset) tbody.replaceChildren(...rows);
  else tbody.append(...rows);
  auditState.endCursor = page ? page.pageInfo.endCursor || auditState.endCursor : auditState.endCursor;
  more.hidden = !(page && page.pageInfo.hasNextPage);
  more.disabled = false;
  $("audit").hidden = tbody.childElementCount === 0;
  const filtered = auditState.user || auditState.action ? " matching the filter" : "";
  $("audit-status").textContent = tbody.childElementCount
    ? `${tbody.childElementCount} ${tbody.childElementCount === 1 ? "entry" : "entries"}${filtered} shown`
    : `No entries${filtered}.`;
}

// -- wiring ---------------------------------------------------------------------------------------------

let admin = false;
let viewerGeneration = 0;

function clearData() {
  for (const id of ["connections", "backlog", "failed", "audit"]) $(id).tBodies[0].replaceChildren();
  for (const id of ["connections-status", "backlog-status", "failed-status", "audit-status"]) $(id).textContent = "";
  $("test-result").replaceChildren();
  $("failed-more").hidden = true;
  $("audit-more").hidden = true;
  clearErrors();
}

// Signed in (or no sign-in needed): the admin data when the viewer holds CONNECTION_ADMIN, else the refusal.
async function showData() {
  const generation = ++viewerGeneration;
  admin = false;
  failedState.generation++;
  auditState.generation++;
  $("main").hidden = true;
  $("forbidden").hidden = true;
  $("signed-out").hidden = auth.ready;
  clearData();
  if (!auth.ready) return;
  const body = await gql(VIEWER_QUERY);
  if (generation !== viewerGeneration || body === null) return;
  const viewer = body.data && body.data.viewer;
  if (!viewer) { showErrors(body.errors); return; }
  admin = viewer.permissions.includes("CONNECTION_ADMIN");
  $("forbidden").hidden = admin;
  $("main").hidden = !admin;
  if (!admin) return;
  await Promise.all([loadOverview(), loadFailed(true), loadAudit(true)]);
}

$("audit-actions").replaceChildren(...ACTIONS.map((value) => el("option", { value })));
$("audit-filter").addEventListener("submit", (event) => { event.preventDefault(); loadAudit(true); });
$("audit-filter").addEventListener("reset", () => setTimeout(() => loadAudit(true), 0));
$("audit-more").addEventListener("click", () => loadAudit(false));
$("failed-more").addEventListener("click", () => loadFailed(false));
$("refresh").addEventListener("click", () => { clearErrors(); loadOverview(); loadFailed(true); });
$("dismiss").addEventListener("click", () => { $("errors").hidden = true; });
$("failed-heading").setAttribute("tabindex", "-1");

auth.onChange(showData);
bindAuthBar(auth);
showData();
