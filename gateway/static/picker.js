// The context picker of "Log activity": a search-as-you-type combobox (WAI-ARIA combobox with a listbox) over
// the studies, their countries and sites, and the shown person's study roles (study personnel records).
import { STUDIES_QUERY } from "/static/queries.js";
import { el } from "/static/dom.js";

const DEBOUNCE_MS = 200;
const MAX_OPTIONS = 30;
const ALL_STUDIES = 50;  // read once and searched here, so that a country or site name finds its study
export const CONTEXT_FIELDS = { Study: "studyId", StudyCountry: "studyCountryId", StudySite: "studySiteId",
  StudyPersonnel: "studyPersonnelId" };

function studyOptions(study) {
  return [
    { kind: "Study", id: study.id, text: `Study: ${study.name}` },
    ...study.countries.map((c) => ({ kind: "StudyCountry", id: c.id, text: `Study country: ${c.name}` })),
    ...study.sites.map((s) => ({ kind: "StudySite", id: s.id, text: `Study site: ${s.name} — ${study.name}` })),
  ];
}

function matches(option, words) {
  const text = option.text.toLowerCase();
  return words.every((word) => text.includes(word));
}

export class ContextPicker {
  #timer = null;
  #generation = 0;
  #options = [];
  #active = -1;
  #allStudies = null;

  // `roles()`: the shown person's study roles ({ id, role, study: { name } }); `onChange()`: the choice changed.
  constructor({ input, listbox, api, roles, onChange }) {
    Object.assign(this, { input, listbox, api, roles, onChange });
    this.value = null;  // { kind, id, text }
    input.addEventListener("input", () => this.#typed());
    input.addEventListener("focus", () => this.#schedule());
    input.addEventListener("keydown", (event) => this.#key(event));
    input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
  }

  // The ActivityContextInput of the choice, or {} when none is chosen.
  get contextInput() { return this.value ? { [CONTEXT_FIELDS[this.value.kind]]: this.value.id } : {}; }

  clear() {
    this.value = null;
    this.input.value = "";
    this.close();
  }

  close() {
    this.listbox.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.#active = -1;
  }

  #typed() {
    if (this.value) {
      this.value = null;
      this.onChange();
    }
    this.#schedule();
  }

  #schedule() {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#search(this.input.value.trim()), DEBOUNCE_MS);
  }

  async #studies(search) {
    const body = await this.api.gql(STUDIES_QUERY, { search, first: search ? 10 : ALL_STUDIES });
    return (body && body.data && body.data.studies && body.data.studies.edges.map((e) => e.node)) || [];
  }

  async #search(text) {
    const generation = ++this.#generation;
    this.#allStudies ||= this.#studies(null);
    const [named, all] = await Promise.all([text ? this.#studies(text) : [], this.#allStudies]);
    if (generation !== this.#generation || document.activeElement !== this.input) return;
    const words = text.toLowerCase().split(/\s+/).filter(Boolean);
    const roles = this.roles().map((r) => ({ kind: "StudyPersonnel", id: r.id,
      text: `Study personnel: ${[r.role, r.study && r.study.name].filter(Boolean).join(", ")}` }));
    // Studies the server found by name come with all their countries and sites; the rest must match every word.
    const found = named.flatMap(studyOptions);
    const options = new Map();
    for (const option of [...roles.filter((o) => matches(o, words)), ...found,
      ...all.flatMap(studyOptions).filter((o) => matches(o, words))]) {
      if (!options.has(option.id)) options.set(option.id, option);
    }
    this.#options = [...options.values()].slice(0, MAX_OPTIONS);
    this.#render();
  }

  #render() {
    this.listbox.replaceChildren(...this.#options.map((option, i) => {
      const item = el("li", { id: `context-option-${i}`, role: "option", "aria-selected": "false",
        "data-kind": option.kind, "data-id": option.id }, option.text);
      item.addEventListener("mousedown", (event) => event.preventDefault());  // keep the focus in the input
      item.addEventListener("click", () => this.#choose(option));
      return item;
    }));
    if (!this.#options.length) {
      this.listbox.append(el("li", { class: "hint", role: "presentation" }, "Nothing matches"));
    }
    this.listbox.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.#activate(-1);
  }

  #activate(index) {
    this.#active = index;
    [...this.listbox.querySelectorAll("[role=option]")].forEach((item, i) => {
      item.setAttribute("aria-selected", String(i === index));
      if (i === index) item.scrollIntoView({ block: "nearest" });
    });
    if (index >= 0) this.input.setAttribute("aria-activedescendant", `context-option-${index}`);
    else this.input.removeAttribute("aria-activedescendant");
  }

  #choose(option) {
    this.value = option;
    this.input.value = option.text;
    this.close();
    this.onChange();
  }

  #key(event) {
    const open = !this.listbox.hidden;
    const count = this.#options.length;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!open) {
        this.#schedule();
        return undefined;
      }
      if (!count) return undefined;
      const i = this.#active;
      this.#activate(event.key === "ArrowDown" ? (i + 1) % count : (i <= 0 ? count - 1 : i - 1));
    } else if (event.key === "Enter" && open && this.#active >= 0) {
      event.preventDefault();
      this.#choose(this.#options[this.#active]);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      this.close();
    }
  }
}
