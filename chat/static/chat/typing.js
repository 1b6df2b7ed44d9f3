// Who is typing: the line under the log (never in it), and telling the room when this
// person types. Each update from the server is the whole list; a person is also dropped
// 6 s after the last update that named them, in case the one saying they stopped is lost.

const SEND_EVERY_MS = 3000;
const SHOWN_FOR_MS = 6000;

export function typingText(names) {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return "Several people are typing…";
}

export class TypingLine {
  constructor(element, myId) {
    this.element = element;
    this.myId = myId;
    this.people = new Map(); // id -> {name, timer}
  }

  /** The server's whole list of who is typing. */
  show(people) {
    const listed = new Set(people.map((p) => p.id));
    for (const [id, entry] of this.people) {
      if (!listed.has(id)) {
        clearTimeout(entry.timer);
        this.people.delete(id);
      }
    }
    for (const person of people) {
      if (person.id === this.myId) continue;
      clearTimeout(this.people.get(person.id)?.timer);
      const timer = setTimeout(() => this.stopped(person.id), SHOWN_FOR_MS);
      this.people.set(person.id, { name: person.name, timer });
    }
    this.render();
  }

  /** Their message arrived: they are not typing it any more. */
  stopped(personId) {
    const entry = this.people.get(personId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.people.delete(personId);
    this.render();
  }

  render() {
    const text = typingText([...this.people.values()].map((entry) => entry.name));
    if (this.element.textContent !== text) this.element.textContent = text;
  }
}

/** Tells the room when this person types: at most once per 3 s, and once when they stop. */
export class TypingNotifier {
  constructor(send) {
    this.send = send;
    this.lastSentAt = 0;
  }

  typed(hasText) {
    const now = Date.now();
    if (!hasText) {
      this.stop();
    } else if (now - this.lastSentAt >= SEND_EVERY_MS && this.send({ type: "typing", active: true })) {
      this.lastSentAt = now;
    }
  }

  stop() {
    if (Date.now() - this.lastSentAt < SHOWN_FOR_MS) this.send({ type: "typing", active: false });
    this.lastSentAt = 0;
  }
}
