// What the page's write forms share: errors next to their fields, the seed's rules as early hints, and the
// answer of a write read into { data, fieldErrors, failure }.
import { today } from "/static/dom.js";

// The form's slot for a userError's field path (["input", "context", "studyId"] -> "context"): the
// `[data-field]` element of that name inside the form, else the form's own slot (`data-field="form"`).
function slotFor(form, path) {
  const parts = (path || []).filter((part) => part !== "input");
  const name = parts.length ? parts[0] : "form";
  return form.querySelector(`[data-field="${CSS.escape(name)}"]`) || form.querySelector('[data-field="form"]');
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-field]")) {
    const error = slot.querySelector(".field-error") || (slot.classList.contains("field-error") ? slot : null);
    if (error) {
      error.textContent = "";
      error.hidden = true;
      error.removeAttribute("data-code");
    }
    for (const control of slot.querySelectorAll("input, select, textarea")) control.removeAttribute("aria-invalid");
  }
}

// Each error in its field's slot (several in one slot are joined); the first field at fault gets the focus.
export function showErrors(form, errors) {
  clearErrors(form);
  let first = null;
  for (const error of errors) {
    const slot = slotFor(form, error.field);
    const target = slot.querySelector(".field-error") || slot;
    target.textContent = target.textContent ? `${target.textContent} ${error.message}` : error.message;
    target.hidden = false;
    if (error.code && !target.dataset.code) target.dataset.code = error.code;
    const control = slot.querySelector("input, select, textarea");
    if (control) control.setAttribute("aria-invalid", "true");
    first ||= control;
  }
  if (first) first.focus();
}

// A mutation's answer: its payload's fields and userErrors, or what went wrong (GraphQL errors: an outage, a
// permission) as one message. `null` body: the page was signed out.
export function readAnswer(body, field) {
  if (body === null) return { failure: "Signed out: sign in again", fieldErrors: [] };
  const payload = body.data && body.data[field];
  if (!payload) {
    const messages = (body.errors || []).map((e) => {
      const ext = e.extensions || {};
      const where = ext.source ? ` (${ext.source})` : "";
      return (ext.code ? `[${ext.code}] ` : "") + (e.message || "Unknown error") + where;
    });
    return { failure: messages.join("; ") || "The gateway did not answer", fieldErrors: [] };
  }
  return { data: payload, fieldErrors: payload.userErrors || [] };
}

// The seed's rule on dates, as the user types: a completed activity cannot be dated in the future. The server
// has the last word (its userErrors replace this hint); the hint only warns early.
export function dateRuleHint(date, completed, hint) {
  const check = () => {
    const future = Boolean(date.value) && date.value > today();
    hint.textContent = future && completed.checked
      ? "A completed activity cannot be dated in the future: uncheck Completed to plan it, or change the date."
      : future ? "A future date: this activity is planned." : "";
    hint.dataset.rule = future && completed.checked ? "COMPLETED_IN_FUTURE" : "";
  };
  date.addEventListener("input", check);
  completed.addEventListener("change", check);
  return check;
}

// The button of a form in flight: disabled, and saying so.
export function busyButton(button, busyText) {
  const idle = button.textContent;
  return (busy) => {
    button.disabled = busy;
    button.setAttribute("aria-busy", String(busy));
    button.textContent = busy ? busyText : idle;
  };
}
