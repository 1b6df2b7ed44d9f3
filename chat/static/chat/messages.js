// The one builder of a message node, for the first page, older pages and live events
// alike, and the page's store of messages by number. A message's state only moves
// forward: of two states of one message, the higher `version` wins, so a page fetched
// before an edit and shown after it never undoes it. Text is always text (textContent);
// the only markup inserted is the server's sanitised rendering of a message (`html`).
import { filesBlock } from "./files.js";

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

export class MessageStore {
  /** @param {{me: {id: number, moderates: boolean}, renderReactions: Function, renderActions: Function}} options */
  constructor(options) {
    Object.assign(this, options);
    this.states = new Map(); // seq -> message state
    this.nodes = new Map(); // seq -> <li>
    // Changes to messages not on the page yet (on an older page still loading, say): a
    // page read before them is brought up to date with them when it arrives.
    this.later = new Map(); // seq -> {state, reactions: [events]}
  }

  has(seq) {
    return this.states.has(seq);
  }

  get(seq) {
    return this.states.get(seq);
  }

  node(seq) {
    return this.nodes.get(seq);
  }

  /** The node for `message`, built afresh (for a message not on the page yet). */
  build(message) {
    message = this.caughtUp(message);
    const item = document.createElement("li");
    item.id = `message-${message.seq}`;
    item.dataset.seq = message.seq;
    item.dataset.sender = message.sender.id;
    item.dataset.sentAt = message.sent_at;
    item.tabIndex = -1; // reachable by the arrow keys (room.js) and a reply's quote
    this.states.set(message.seq, message);
    this.nodes.set(message.seq, item);
    this.fill(item, message);
    // Replies already on the page quote it as it is now (loaded later than they were).
    if (message.deleted || message.edited_at) this.updateRepliesTo(message);
    return item;
  }

  /** Forget every change kept for messages not on the page (after a reset). */
  forgetLater() {
    this.later.clear();
  }

  forget(seq) {
    this.states.delete(seq);
    this.nodes.delete(seq);
  }

  /** Take a newer state of a message on the page; false if it is not newer (or not here). */
  update(message) {
    const current = this.states.get(message.seq);
    if (!current) {
      const later = this.laterFor(message.seq);
      if (!later.state || message.version > later.state.version) later.state = message;
      this.updateRepliesTo(message); // its replies may be on the page
      return false;
    }
    if (message.version <= current.version) return false;
    this.states.set(message.seq, message);
    this.refill(message.seq);
    this.updateRepliesTo(message);
    return true;
  }

  /** A `reaction.changed` event: who reacts with its emoji, as of its number. */
  react(event) {
    const current = this.states.get(event.message_seq);
    if (!current) {
      this.laterFor(event.message_seq).reactions.push(event);
      return false;
    }
    if (event.seq <= current.version) return false;
    this.states.set(event.message_seq, withReaction(current, event));
    this.refill(event.message_seq);
    return true;
  }

  laterFor(seq) {
    let later = this.later.get(seq);
    if (!later) {
      if (this.later.size >= LATER_MAX) this.later.delete(this.later.keys().next().value);
      later = { state: null, reactions: [] };
      this.later.set(seq, later);
    }
    return later;
  }

  /** A message from a page, with whatever changed since that the page could not show. */
  caughtUp(message) {
    const later = this.later.get(message.seq);
    if (!later) return message;
    this.later.delete(message.seq);
    if (later.state && later.state.version > message.version) message = later.state;
    for (const event of later.reactions) {
      if (event.seq > message.version) message = withReaction(message, event);
    }
    return message;
  }

  refill(seq) {
    const item = this.nodes.get(seq);
    if (!item) return;
    // Redrawing must not lose the reader's place in it: keep focus on the same control.
    const focused = item.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    // Focus rests on the message meanwhile: its actions stay shown (and so focusable).
    if (focused) item.focus({ preventScroll: true });
    this.fill(item, this.states.get(seq));
    if (focused) item.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
  }

  /** Replies show their original as it is now: its edits and its deletion. */
  updateRepliesTo(original) {
    for (const [seq, state] of this.states) {
      if (state.reply_to?.seq !== original.seq) continue;
      const firstLine = original.text.split("\n", 1)[0] || (original.files?.length ? "📎 File" : "");
      state.reply_to = {
        ...state.reply_to,
        excerpt: original.deleted ? "" : firstLine.length > 100 ? `${firstLine.slice(0, 99)}…` : firstLine,
        deleted: original.deleted,
      };
      this.refill(seq);
    }
  }

  fill(item, message) {
    const mine = message.sender.id === this.me.id;
    item.classList.add("msg");
    item.classList.toggle("msg--mine", mine);
    item.classList.toggle("msg--deleted", Boolean(message.deleted));
    item.classList.toggle("msg--mentions-me", Boolean(message.mentions?.some((m) => m.id === this.me.id)));
    item.dataset.version = message.version;
    const parts = [];
    if (message.reply_to) parts.push(replyQuote(message.reply_to));
    const header = document.createElement("div");
    header.className = "msg__header";
    const sender = document.createElement("span");
    sender.className = "msg__sender";
    sender.textContent = message.sender.name;
    const time = document.createElement("time");
    time.className = "msg__time";
    time.dateTime = message.sent_at;
    const sentAt = new Date(message.sent_at);
    time.textContent = timeFormat.format(sentAt);
    time.title = fullFormat.format(sentAt);
    header.append(sender, " ", time);
    parts.push(header);
    const text = document.createElement("div");
    text.className = "msg__text";
    if (message.deleted) {
      text.classList.add("msg__text--deleted");
      text.textContent = "This message was deleted.";
    } else {
      text.classList.toggle("msg__text--formatted", Boolean(message.html));
      text.append(formatted(message, this.me.id));
      if (message.edited_at) {
        const edited = document.createElement("span");
        edited.className = "msg__edited";
        edited.textContent = " (edited)";
        edited.title = `Edited ${fullFormat.format(new Date(message.edited_at))}`;
        // On the line the text ends on, not below a paragraph or a list.
        const last = text.lastElementChild;
        (last?.tagName === "P" ? last : text).append(edited);
      }
    }
    // A message of files alone has no text to show.
    if (message.deleted || message.text || !message.files?.length) parts.push(text);
    if (!message.deleted) {
      const files = filesBlock(message.files);
      if (files) parts.push(files);
    }
    if (!message.deleted) {
      const reactions = this.renderReactions(message);
      if (reactions) parts.push(reactions);
      parts.push(this.renderActions(message, { mine, canDelete: mine || this.me.moderates }));
    }
    item.replaceChildren(...parts);
    this.afterFill?.(item);
  }
}

const LATER_MAX = 1000;

function withReaction(message, event) {
  const reactions = [...(message.reactions || [])]; // omitted when there are none
  const index = reactions.findIndex((r) => r.emoji === event.emoji);
  if (!event.people.length) {
    if (index !== -1) reactions.splice(index, 1);
  } else if (index === -1) {
    reactions.push({ emoji: event.emoji, people: event.people });
  } else {
    reactions[index] = { emoji: event.emoji, people: event.people };
  }
  return { ...message, reactions, version: event.seq };
}

/**
 * A message's text as nodes: the server's rendering, sanitised there (chat/formatting.py),
 * with the reader's own mentions marked and a copy button on each code block; its source
 * as plain text if there is no rendering.
 */
function formatted(message, myId) {
  if (!message.html) return document.createTextNode(message.text);
  const template = document.createElement("template");
  template.innerHTML = message.html;
  const content = template.content;
  // The line breaks between blocks are the renderer's, not the writer's.
  for (const node of [...content.childNodes]) {
    if (node.nodeType === Node.TEXT_NODE && !node.data.trim()) node.remove();
  }
  for (const mention of content.querySelectorAll(".mention")) {
    mention.classList.toggle("mention--me", Number(mention.dataset.person) === myId);
  }
  for (const pre of content.querySelectorAll("pre")) {
    const block = document.createElement("div");
    block.className = "code-block";
    pre.replaceWith(block);
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "code-block__copy";
    copy.dataset.action = "copy-code";
    copy.textContent = "Copy";
    copy.setAttribute("aria-label", "Copy code");
    block.append(pre, copy);
  }
  return content;
}

function replyQuote(original) {
  const quote = document.createElement("button");
  quote.type = "button";
  quote.className = "msg__quote";
  quote.dataset.jumpTo = original.seq;
  quote.dataset.focusKey = "quote";
  const name = document.createElement("span");
  name.className = "msg__quote-sender";
  name.textContent = original.sender.name;
  const excerpt = document.createElement("span");
  excerpt.className = "msg__quote-text";
  excerpt.textContent = original.deleted ? "Original message deleted" : original.excerpt;
  quote.append("↩ ", name, " ", excerpt);
  quote.setAttribute(
    "aria-label",
    original.deleted
      ? `Reply to a deleted message from ${original.sender.name}`
      : `Reply to ${original.sender.name}: ${original.excerpt}. Show the original`,
  );
  return quote;
}
