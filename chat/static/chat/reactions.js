// Reactions: the row under a message (each emoji with its count; yours pressed), and the
// picker of common emoji plus any emoji typed. The server decides what counts as one emoji.

export const COMMON_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"];

/** "you, Ana and 2 others": who reacted, you first. */
export function describePeople(people, myId) {
  const names = people.filter((p) => p.id !== myId).map((p) => p.name);
  if (people.some((p) => p.id === myId)) names.unshift("you");
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

export function reactionsRow(message, myId) {
  if (!message.reactions?.length) return null;
  const row = document.createElement("ul");
  row.className = "reactions";
  row.setAttribute("aria-label", "Reactions");
  for (const reaction of message.reactions) {
    const mine = reaction.people.some((p) => p.id === myId);
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = mine ? "reaction reaction--mine" : "reaction";
    button.dataset.action = "toggle-reaction";
    button.dataset.emoji = reaction.emoji;
    button.dataset.focusKey = `reaction:${reaction.emoji}`;
    button.setAttribute("aria-pressed", String(mine));
    const who = describePeople(reaction.people, myId);
    button.setAttribute("aria-label", `${reaction.emoji} ${reaction.people.length}: ${who}`);
    button.title = `${who} reacted with ${reaction.emoji}`;
    const emoji = document.createElement("span");
    emoji.className = "reaction__emoji";
    emoji.textContent = reaction.emoji;
    emoji.setAttribute("aria-hidden", "true");
    const count = document.createElement("span");
    count.className = "reaction__count";
    count.textContent = reaction.people.length;
    count.setAttribute("aria-hidden", "true");
    button.append(emoji, count);
    item.append(button);
    row.append(item);
  }
  return row;
}

/**
 * The picker: a small dialog of common emoji and a field for any other. It opens beside
 * the button that asked for it, sends the choice to `onPick`, and gives focus back.
 */
export class ReactionPicker {
  /** `signal` ends it with the room: the picker leaves the page. */
  constructor(onPick, signal) {
    this.onPick = onPick;
    this.opener = null;
    this.messageSeq = null;
    const dialog = document.createElement("div");
    dialog.className = "picker";
    dialog.id = "reaction-picker";
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-label", "Add a reaction");
    dialog.hidden = true;
    const grid = document.createElement("div");
    grid.className = "picker__grid";
    for (const emoji of COMMON_EMOJI) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "picker__emoji";
      button.textContent = emoji;
      button.setAttribute("aria-label", `React with ${emoji}`);
      button.addEventListener("click", () => this.pick(emoji));
      grid.append(button);
    }
    const form = document.createElement("form");
    form.className = "picker__other";
    const label = document.createElement("label");
    label.className = "visually-hidden";
    label.htmlFor = "picker-other";
    label.textContent = "Any emoji";
    const input = document.createElement("input");
    input.id = "picker-other";
    input.placeholder = "Any emoji";
    input.maxLength = 16;
    input.autocomplete = "off";
    const add = document.createElement("button");
    add.type = "submit";
    add.className = "button button--small";
    add.textContent = "Add";
    form.append(label, input, add);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (input.value.trim()) this.pick(input.value.trim());
    });
    dialog.append(grid, form);
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        this.close();
      }
    });
    document.addEventListener("pointerdown", (event) => {
      if (!dialog.hidden && !dialog.contains(event.target) && event.target !== this.opener) this.close();
    }, { signal });
    signal?.addEventListener("abort", () => dialog.remove());
    this.dialog = dialog;
    this.input = input;
    document.body.append(dialog);
  }

  open(opener, messageSeq) {
    this.opener = opener;
    this.messageSeq = messageSeq;
    this.input.value = "";
    this.dialog.hidden = false;
    // Fixed beside the opener, inside the viewport; the log itself never moves.
    const box = opener.getBoundingClientRect();
    const width = this.dialog.offsetWidth;
    const height = this.dialog.offsetHeight;
    const left = Math.max(8, Math.min(box.right - width, window.innerWidth - width - 8));
    const top = box.top - height - 6 > 8 ? box.top - height - 6 : Math.min(box.bottom + 6, window.innerHeight - height - 8);
    this.dialog.style.setProperty("--picker-left", `${left}px`);
    this.dialog.style.setProperty("--picker-top", `${top}px`);
    this.dialog.querySelector("button").focus();
  }

  close() {
    if (this.dialog.hidden) return;
    this.dialog.hidden = true;
    // The opener shows only while its message has focus or the pointer: focus the message
    // first, so that the opener is there to take focus back.
    this.opener?.closest(".msg")?.focus({ preventScroll: true });
    this.opener?.focus({ preventScroll: true });
  }

  pick(emoji) {
    const seq = this.messageSeq;
    this.close();
    this.onPick(seq, emoji);
  }
}
