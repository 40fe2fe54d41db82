// CRM calls written from the page: "Log call" in one of the person's orgs (with "Send to Vault Clinical"), and
// "Send to Clinical" on a call logged here without it. The timeline shows calls once they are sent to Clinical
// (Medical Activities); a call logged but not sent is listed under the form until it is.
import { $, el, fillSelect, label, newKey, today } from "/static/dom.js";
import { Writer } from "/static/api.js";
import { LOG_CALL, SEND_CALL } from "/static/queries.js";
import { busyButton, clearErrors, dateRuleHint, readAnswer, showErrors } from "/static/forms.js";

// `page`: { api, channels, personId(), accounts(), shown(activity) }.
export function bindLogCall(page) {
  const form = $("call-form");
  const writer = new Writer(page.api);
  const busy = busyButton($("log-call"), "Logging…");
  const checkDate = dateRuleHint($("call-date"), $("call-completed"), $("call-date-hint"));
  const unsent = [];  // { connection: { id, name }, callId, date, channel, subject } logged here, not sent
  fillSelect($("call-channel"), page.channels, "PHONE");

  function renderUnsent() {
    const mine = unsent.filter((call) => call.personId === page.personId());
    $("unsent-calls").hidden = mine.length === 0;
    $("unsent-list").replaceChildren(...mine.map((call) => unsentItem(page, call, () => {
      unsent.splice(unsent.indexOf(call), 1);
      renderUnsent();
    })));
  }

  // The orgs in which the person has an account: a picker when there are several, else the one named.
  function reset() {
    const orgs = page.accounts().map((a) => a.connection);
    $("call-org").replaceChildren(...orgs.map((c) => el("option", { value: c.id }, c.name)));
    $("call-org-field").hidden = orgs.length < 2;
    $("call-org-one").textContent = orgs.length === 1 ? `CRM org: ${orgs[0].name}` : "";
    form.reset();
    $("call-date").value = today();
    $("call-channel").value = "PHONE";
    if (orgs.length) $("call-org").value = orgs[0].id;
    clearErrors(form);
    checkDate();
    renderUnsent();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (writer.busy) return;
    const input = { connectionId: $("call-org").value, personId: page.personId(), date: $("call-date").value,
      channel: $("call-channel").value, completed: $("call-completed").checked,
      subject: $("call-subject").value.trim() || null, sendToClinical: $("call-send").checked };
    input.idempotencyKey = writer.keyFor(input, newKey);
    $("call-status").textContent = "";
    const answer = readAnswer(await writer.send(LOG_CALL, { input }, busy), "logCall");
    if (answer.failure || answer.fieldErrors.length) {
      return showErrors(form, answer.failure ? [{ field: null, message: answer.failure }] : answer.fieldErrors);
    }
    writer.settled();
    const connection = page.accounts().map((a) => a.connection).find((c) => c.id === input.connectionId);
    if (answer.data.activity) page.shown(answer.data.activity);
    else unsent.unshift({ ...input, connection, callId: answer.data.callId });
    reset();
    $("call-status").textContent = `Call logged in ${connection ? connection.name : "the org"}` +
      (answer.data.activity ? " and sent to Clinical." : ".");
  });
  return { reset };
}

function unsentItem(page, call, sent) {
  const writer = new Writer(page.api);
  const what = `${label(call.channel)} call of ${call.date} in ${call.connection ? call.connection.name : "its org"}`;
  const button = el("button", { type: "button", class: "send", "aria-label": `Send to Clinical: ${what}` },
    "Send to Clinical");
  const error = el("p", { class: "field-error", "data-field": "form", hidden: true });
  const item = el("li", { "data-call-id": call.callId },
    el("span", {}, `${call.date} · ${label(call.channel)} · ${call.subject || "(no subject)"} · `
      + `CRM org: ${call.connection ? call.connection.name : "?"}`), " ", button, error);
  const busy = busyButton(button, "Sending…");
  button.addEventListener("click", async () => {
    const input = { connectionId: call.connectionId, callId: call.callId };
    const answer = readAnswer(await writer.send(SEND_CALL, { input }, busy), "sendCallToClinical");
    if (answer.failure || answer.fieldErrors.length) {
      return showErrors(item, answer.failure ? [{ field: null, message: answer.failure }] : answer.fieldErrors);
    }
    if (answer.data.activity) page.shown(answer.data.activity);
    sent();
  });
  return item;
}
