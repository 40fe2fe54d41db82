// One timeline entry: its badges, its context and sync state, and the controls the user may use on it.
import { el, label } from "/static/dom.js";

const CONTEXT_KINDS = { Study: "Study", StudySite: "Study site", StudyCountry: "Study country",
  StudyPersonnel: "Study personnel" };

export function contextText(activity) {
  const ctx = activity.context;
  if (!ctx) return null;
  const what = CONTEXT_KINDS[ctx.__typename] || ctx.__typename;
  const name = ctx.__typename === "StudyPersonnel"
    ? [ctx.role, ctx.study && ctx.study.name].filter(Boolean).join(", ") : ctx.name;
  return name ? `${what}: ${name}` : what;
}

function syncBadges(activity) {
  const syncs = el("div", { class: "row syncs" });
  for (const s of activity.sync || []) {
    const target = s.connection ? s.connection.name : "CTMS";
    const title = [`${s.attempts} attempt${s.attempts === 1 ? "" : "s"}`];
    if (s.lastError) title.push(`last error: ${s.lastError}`);
    syncs.append(el("span", { class: `badge sync sync-${s.state}`, "data-state": s.state, "data-target": target,
      title: title.join("; ") }, `${target}: ${s.state}`));
  }
  return syncs.childElementCount ? syncs : null;
}

// `actions`: { canEdit, onEdit(activity), onDelete(activity) } from the page, by the viewer's permissions.
function controls(activity, actions) {
  if (!actions || !actions.canEdit || activity.__typename !== "ClinicalActivity") return null;
  const what = `${label(activity.channel)} activity of ${activity.date}`;
  const edit = el("button", { type: "button", class: "edit", "aria-label": `Edit ${what}` }, "Edit");
  const del = el("button", { type: "button", class: "delete", "aria-label": `Delete ${what}` }, "Delete");
  edit.addEventListener("click", () => actions.onEdit(activity, edit));
  del.addEventListener("click", () => actions.onDelete(activity, del));
  return el("div", { class: "row controls" }, edit, del);
}

// How recent this reading of the activity is: its mirrors' latest change. A write's answer and a live event can
// cross on the way; the older reading never replaces the newer one.
function version(activity) {
  return (activity.sync || []).map((s) => s.updatedAt || "").sort().pop() || "";
}

export function renderItem(activity, actions) {
  const meta = [];
  const ctx = contextText(activity);
  if (ctx) meta.push(ctx);
  if (activity.connection) meta.push(`CRM org: ${activity.connection.name}`);
  if (activity.owner) meta.push(`Owner: ${activity.owner}`);
  return el("li", { class: "item", "data-kind": activity.kind, "data-status": activity.status,
      "data-channel": activity.channel, "data-id": activity.id, "data-date": activity.date,
      "data-version": version(activity) },
    el("div", { class: "row" },
      el("time", { class: "date", datetime: activity.date }, activity.date),
      el("span", { class: `badge kind kind-${activity.kind}` }, activity.kind),
      el("span", { class: `badge status status-${activity.status}` }, label(activity.status)),
      el("span", { class: "badge channel" }, label(activity.channel))),
    el("div", { class: "subject" }, activity.subject || el("span", { class: "hint" }, "(no subject)")),
    meta.length ? el("div", { class: "meta" }, meta.join(" · ")) : null,
    syncBadges(activity),
    controls(activity, actions));
}

// Whether an activity passes the filter the timeline shows ({ kinds, statuses, channels, from, to } or null).
export function passes(activity, filter) {
  if (!filter) return true;
  if (filter.kinds && !filter.kinds.includes(activity.kind)) return false;
  if (filter.statuses && !filter.statuses.includes(activity.status)) return false;
  if (filter.channels && !filter.channels.includes(activity.channel)) return false;
  return true;
}

// Put a rendered entry into the list: in place of the one with its id, else before the first older one (newest
// first; the server's own order within a day is restored by the next load). An entry older than every one shown
// is left for "Load more" when there are more pages (`more`). Whether it is in the list now.
export function place(list, item, more) {
  const current = [...list.children].find((li) => li.dataset.id === item.dataset.id);
  if (current) {
    if (current.dataset.version <= item.dataset.version) replaceKeepingFocus(current, item);
    return true;
  }
  const older = [...list.children].find((li) => li.dataset.date <= item.dataset.date);
  if (!older && more) return false;
  list.insertBefore(item, older || null);
  return true;
}

// A newer reading of an entry replaces it; the keyboard focus on one of its controls moves to the same control of
// the new entry, so that a live update never loses a keyboard user's place.
function replaceKeepingFocus(current, item) {
  const focused = current.contains(document.activeElement) ? document.activeElement : null;
  current.replaceWith(item);
  if (focused) focusAgain(focused);
}

// Focus `control` (an entry's "Edit" or "Delete"), or, when its entry has been drawn anew meanwhile, the same
// control of the entry shown now for that activity.
export function focusAgain(control) {
  if (control.isConnected) return control.focus();
  const entry = control.closest("li.item");
  const shown = entry ? [...document.querySelectorAll("#timeline li.item")] : [];
  const now = shown.find((li) => li.dataset.id === entry.dataset.id);
  const same = now && control.classList.length ? now.querySelector(`.${control.classList[0]}`) : null;
  if (same) same.focus();
}
