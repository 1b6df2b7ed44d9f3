// Mentions in the composer: typing "@" and the start of a name offers the room's members
// (a listbox under the ARIA combobox pattern: arrows move, Enter or Tab chooses, Esc
// closes); a chosen person is kept by id, and a message mentions those whose "@name" it
// still holds when sent. In a message, each mention is shown as itself, and one of the
// reader stands out.

const QUERY_AFTER_MS = 120;
const NAME_MAX_CHARS = 40;

export class MentionPicker {
  /** @param {{field: HTMLTextAreaElement, listbox: HTMLElement, url: string}} options */
  constructor({ field, listbox, url }) {
    Object.assign(this, { field, listbox, url });
    this.chosen = new Map(); // id -> name
    this.options = [];
    this.active = -1;
    this.timer = null;
    this.asked = 0; // answers to older questions are dropped
    field.setAttribute("role", "combobox");
    field.setAttribute("aria-autocomplete", "list");
    field.setAttribute("aria-controls", listbox.id);
    field.setAttribute("aria-expanded", "false");
    field.addEventListener("input", () => this.typed());
    // Leaving the box closes the suggestions, unless focus came straight back (a click on
    // Send, a reply's button) and the person is typing a name again.
    field.addEventListener("blur", () =>
      setTimeout(() => {
        if (document.activeElement !== field) this.close();
      }, 150),
    );
    listbox.addEventListener("mousedown", (event) => event.preventDefault()); // keep focus
    listbox.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.choose(Number(option.dataset.index));
    });
  }

  get open() {
    return !this.listbox.hidden;
  }

  /** The "@prefix" just before the caret, if the person is typing one. */
  query() {
    const before = this.field.value.slice(0, this.field.selectionStart);
    const at = before.lastIndexOf("@");
    if (at < 0 || (at > 0 && !/\s|[(\[{"'“‘]/.test(before[at - 1]))) return null;
    const prefix = before.slice(at + 1);
    if (prefix.length > NAME_MAX_CHARS || /\n/.test(prefix) || /\s\s/.test(prefix)) return null;
    return { at, prefix };
  }

  typed() {
    clearTimeout(this.timer);
    const query = this.query();
    if (!query) {
      this.close();
      return;
    }
    this.timer = setTimeout(() => this.ask(query), QUERY_AFTER_MS);
  }

  async ask(query) {
    const asked = ++this.asked;
    try {
      const response = await fetch(`${this.url}?prefix=${encodeURIComponent(query.prefix)}`, {
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`members ${response.status}`);
      const { people } = await response.json();
      if (asked !== this.asked) return;
      this.show(people, query);
    } catch (error) {
      console.warn("could not suggest people to mention", error);
    }
  }

  show(people, query) {
    this.options = people;
    if (!people.length) {
      this.close();
      return;
    }
    this.listbox.replaceChildren(
      ...people.map((person, index) => {
        const option = document.createElement("li");
        option.id = `${this.listbox.id}-${index}`;
        option.setAttribute("role", "option");
        option.dataset.index = String(index);
        option.textContent = person.name;
        return option;
      }),
    );
    this.listbox.hidden = false;
    this.field.setAttribute("aria-expanded", "true");
    this.highlight(0);
  }

  highlight(index) {
    this.active = index;
    for (const option of this.listbox.children) {
      option.setAttribute("aria-selected", String(Number(option.dataset.index) === index));
    }
    this.field.setAttribute("aria-activedescendant", `${this.listbox.id}-${index}`);
  }

  /** Keys the picker takes while it is open; true if it took this one. */
  keydown(event) {
    if (!this.open) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.highlight((this.active + step + this.options.length) % this.options.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      this.choose(this.active);
    } else if (event.key === "Escape") {
      this.close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  choose(index) {
    const person = this.options[index];
    const query = this.query();
    if (!person || !query) return this.close();
    const { value } = this.field;
    const inserted = `@${person.name} `;
    const end = query.at + 1 + query.prefix.length;
    this.field.value = value.slice(0, query.at) + inserted + value.slice(end);
    const caret = query.at + inserted.length;
    this.field.setSelectionRange(caret, caret);
    this.chosen.set(person.id, person.name);
    this.close();
    this.field.dispatchEvent(new Event("input", { bubbles: true })); // drafts, typing, size
  }

  close() {
    clearTimeout(this.timer);
    this.asked += 1;
    this.listbox.hidden = true;
    this.listbox.replaceChildren();
    this.field.setAttribute("aria-expanded", "false");
    this.field.removeAttribute("aria-activedescendant");
  }

  /** Whom `text` mentions: the chosen people whose "@name" it still holds. */
  mentionsIn(text) {
    return [...this.chosen].filter(([, name]) => text.includes(`@${name}`)).map(([id]) => id);
  }

  /** Start a message afresh, or an edit of one that mentions `people`. */
  reset(people = []) {
    this.chosen = new Map(people.map((person) => [person.id, person.name]));
    this.close();
  }
}
