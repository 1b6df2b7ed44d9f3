// Who is here: the count in the room's header and, behind it, the list of names. Each
// update from the server is the whole list (each person once, however many tabs).

export class PresenceButton {
  /** `signal` ends its listeners outside the room (the page switched rooms). */
  constructor(button, list, myId, signal) {
    this.button = button;
    this.list = list;
    this.myId = myId;
    this.button.addEventListener("click", () => this.toggle());
    this.list.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        this.toggle(false);
        this.button.focus();
      }
    });
    document.addEventListener("pointerdown", (event) => {
      if (!this.list.hidden && !this.list.contains(event.target) && !this.button.contains(event.target)) {
        this.toggle(false);
      }
    }, { signal });
  }

  show(people) {
    const count = people.length;
    this.button.querySelector(".presence__count").textContent = count;
    this.button.setAttribute("aria-label", `${count} ${count === 1 ? "person" : "people"} here. Show who`);
    this.button.hidden = false;
    const items = people.map((person) => {
      const item = document.createElement("li");
      item.textContent = person.id === this.myId ? `${person.name} (you)` : person.name;
      return item;
    });
    this.list.querySelector("ul").replaceChildren(...items);
  }

  toggle(open = this.list.hidden) {
    this.list.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
  }
}
