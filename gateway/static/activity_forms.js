// Clinical activities written from the page: "Log activity" (with the context picker), "Edit" in a dialog, and
// "Delete" after a confirmation dialog.
import { $, fillSelect, label, newKey, today } from "/static/dom.js";
import { Writer } from "/static/api.js";
import { ContextPicker } from "/static/picker.js";
import { CREATE_ACTIVITY, DELETE_ACTIVITY, UPDATE_ACTIVITY } from "/static/queries.js";
import { busyButton, clearErrors, dateRuleHint, readAnswer, showErrors } from "/static/forms.js";
import { contextText, focusAgain } from "/static/activity_view.js";

const CONTEXT_RULE = "Choose exactly one context: a study, a study country, a study site or a study personnel record.";

// `page`: { api, channels, personId(), roles(), shown(activity), removed(id) }.
export function bindLogActivity(page) {
  const form = $("activity-form");
  const writer = new Writer(page.api);
  const busy = busyButton($("log-activity"), "Logging…");
  const contextHint = $("activity-context-hint");
  const picker = new ContextPicker({ input: $("activity-context"), listbox: $("activity-context-options"),
    api: page.api, roles: page.roles,
    onChange: () => { contextHint.textContent = picker.value ? "" : CONTEXT_RULE; } });
  const checkDate = dateRuleHint($("activity-date"), $("activity-completed"), $("activity-date-hint"));
  fillSelect($("activity-channel"), page.channels, "PHONE");

  function reset() {
    form.reset();
    picker.clear();
    contextHint.textContent = CONTEXT_RULE;
    $("activity-date").value = today();
    $("activity-channel").value = "PHONE";
    clearErrors(form);
    checkDate();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (writer.busy) return;
    const input = { personId: page.personId(), context: picker.contextInput, date: $("activity-date").value,
      channel: $("activity-channel").value, completed: $("activity-completed").checked,
      subject: $("activity-subject").value.trim() || null };
    if (!input.date) return showErrors(form, [{ field: ["input", "date"], message: "Give the activity's date." }]);
    input.idempotencyKey = writer.keyFor(input, newKey);
    $("activity-status").textContent = "";
    const answer = readAnswer(await writer.send(CREATE_ACTIVITY, { input }, busy), "createClinicalActivity");
    if (answer.failure || answer.fieldErrors.length) {
      return showErrors(form, answer.failure ? [{ field: null, message: answer.failure }] : answer.fieldErrors);
    }
    writer.settled();
    page.shown(answer.data.activity);
    reset();
    $("activity-status").textContent = `Logged: ${label(input.channel)} activity of ${input.date}.`;
  });
  reset();
  return { reset };
}

// The edit dialog: date, channel, completed and subject of one clinical activity (its context stays).
export function bindEditActivity(page) {
  const dialog = $("edit-dialog");
  const form = $("edit-form");
  const writer = new Writer(page.api);
  const busy = busyButton($("edit-save"), "Saving…");
  const checkDate = dateRuleHint($("edit-date"), $("edit-completed"), $("edit-date-hint"));
  fillSelect($("edit-channel"), page.channels, null);
  let editing = null;
  let opener = null;

  $("edit-cancel").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { if (opener) focusAgain(opener); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (writer.busy || !editing) return;
    const input = { id: editing.id, date: $("edit-date").value, channel: $("edit-channel").value,
      completed: $("edit-completed").checked, subject: $("edit-subject").value.trim() || null };
    const answer = readAnswer(await writer.send(UPDATE_ACTIVITY, { input }, busy), "updateClinicalActivity");
    if (answer.failure || answer.fieldErrors.length) {
      return showErrors(form, answer.failure ? [{ field: null, message: answer.failure }] : answer.fieldErrors);
    }
    page.shown(answer.data.activity);
    dialog.close();
  });

  return (activity, button) => {
    editing = activity;
    opener = button;
    clearErrors(form);
    $("edit-context").textContent = contextText(activity) || "";
    $("edit-date").value = activity.date;
    $("edit-channel").value = activity.channel;
    $("edit-completed").checked = activity.status === "COMPLETED";
    $("edit-subject").value = activity.subject || "";
    checkDate();
    dialog.showModal();
  };
}

// The delete confirmation: the activity named, "Delete" or "Cancel" (the focus starts on "Cancel").
export function bindDeleteActivity(page) {
  const dialog = $("delete-dialog");
  const writer = new Writer(page.api);
  const busy = busyButton($("delete-confirm"), "Deleting…");
  let target = null;
  let opener = null;

  $("delete-cancel").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { if (opener) focusAgain(opener); });
  $("delete-confirm").addEventListener("click", async () => {
    if (writer.busy || !target) return;
    const answer = readAnswer(await writer.send(DELETE_ACTIVITY, { id: target.id }, busy), "deleteClinicalActivity");
    // deleteClinicalActivity takes no idempotency key: a retried delete whose first try went through finds nothing
    // to delete (NOT_FOUND), which is what was asked.
    const gone = answer.fieldErrors.length && answer.fieldErrors.every((e) => e.code === "NOT_FOUND");
    if (answer.failure || (answer.fieldErrors.length && !gone)) {
      return showErrors(dialog, answer.failure ? [{ field: null, message: answer.failure }] : answer.fieldErrors);
    }
    page.removed(target.id);
    opener = $("timeline-status");
    dialog.close();
  });

  return (activity, button) => {
    target = activity;
    opener = button;
    clearErrors(dialog);
    $("delete-what").textContent = [activity.date, label(activity.channel), activity.subject || "(no subject)",
      contextText(activity)].filter(Boolean).join(" · ");
    dialog.showModal();
    $("delete-cancel").focus();
  };
}
