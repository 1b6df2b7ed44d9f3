// The room page: keeps the reader's place, loads older history, runs the composer (send,
// reply, edit), the actions on a message, and shows the messages still on their way. The
// connection and the outbox live in socket.js, the message node in messages.js, and
// events.js applies each room event; reading.js keeps what the person has read.
import { ephemeraApplier, eventApplier } from "./events.js";
import { FileTray } from "./files.js";
import { MentionPicker } from "./mentions.js";
import { MessageStore } from "./messages.js";
import { Notifier } from "./notifications.js";
import { PresenceButton } from "./presence.js";
import { ReactionPicker, reactionsRow } from "./reactions.js";
import { ReadTracker } from "./reading.js";
import { RoomList } from "./rooms.js";
import { Outbox, RoomConnection, browserStorage } from "./socket.js";
import { TypingLine, TypingNotifier } from "./typing.js";

/** Open the room whose page is in the document (its config and `.room` element): returns
 * a handle whose close() leaves it, so the page can switch rooms without reloading. */
function openRoom(config) {
const leaving = new AbortController();
const { signal } = leaving;
const scroller = document.getElementById("scroller");
const log = document.getElementById("log");
const logRegion = document.getElementById("log-region");
const outboxList = document.getElementById("outbox");
const outboxAlert = document.getElementById("outbox-alert");
const loadOlderButton = document.getElementById("load-older");
const roomStart = document.getElementById("room-start");
const newMessagesButton = document.getElementById("new-messages");
const status = document.getElementById("status");
const statusText = document.getElementById("status-text");
const reconnectButton = document.getElementById("reconnect-now");
const composer = document.getElementById("composer");
const field = document.getElementById("composer-text");
const composerContext = document.getElementById("composer-context");
const composerContextText = document.getElementById("composer-context-text");
const composerCancel = document.getElementById("composer-cancel");
const attachButton = document.getElementById("attach");
const fileInput = document.getElementById("file-input");
const dropHint = document.getElementById("drop-hint");
const mentionPicker = new MentionPicker({
  field,
  listbox: document.getElementById("mention-list"),
  url: config.membersUrl,
});

const AT_BOTTOM_PX = 40;
const GROUP_GAP_MS = 5 * 60 * 1000;
const OFFLINE_NOTICE_DELAY_MS = 1000;
const FIELD_MAX_PX = 160;
const draftKey = `chat:draft:${config.room.id}`;
// Per person too: whoever logs in next in this browser must not send someone else's words.
const outboxKey = `chat:outbox:${config.me.id}:${config.room.id}`;

const HIGHLIGHT_MS = 2500;
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric", year: "numeric" });

let firstSeq = config.firstSeq;
let reader = null; // what the person has read here (reading.js), once the first page is on
let hasOlder = config.hasOlder;
let loadingOlder = false;
let unseen = 0;

// ---- rendering -------------------------------------------------------------------------

const store = new MessageStore({
  me: config.me,
  // A redrawn message keeps its controls in or out of the tab order.
  afterFill: (item) => controlsReachable(item, item === rovingMessage),
  renderReactions: (message) => reactionsRow(message, config.me.id),
  renderActions: messageActions,
});

function actionButton(action, label, text) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "msg__action";
  button.dataset.action = action;
  button.dataset.focusKey = action;
  button.setAttribute("aria-label", label);
  button.title = label;
  button.textContent = text;
  return button;
}

/** The actions on a message: shown on hover and focus, or by a tap on a phone. */
function messageActions(message, { mine, canDelete }) {
  const bar = document.createElement("div");
  bar.className = "msg__actions";
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", `Actions for the message from ${message.sender.name}`);
  bar.append(actionButton("react", "Add a reaction", "☺"), actionButton("reply", "Reply", "↩"));
  if (mine) bar.append(actionButton("edit", "Edit", "✎"));
  if (canDelete) bar.append(actionButton("delete", "Delete", "🗑"));
  return bar;
}

function dayLabel(date) {
  const today = new Date();
  const yesterday = new Date(today);
  yesterday.setDate(today.getDate() - 1);
  if (date.toDateString() === today.toDateString()) return "Today";
  if (date.toDateString() === yesterday.toDateString()) return "Yesterday";
  return dayFormat.format(date);
}

/** Group consecutive messages by sender and put a divider before each new day. */
function regroup() {
  for (const divider of log.querySelectorAll(".day-divider")) divider.remove();
  let previous = null;
  for (const item of log.querySelectorAll(".msg")) {
    const sentAt = new Date(item.dataset.sentAt);
    const newDay = !previous || new Date(previous.dataset.sentAt).toDateString() !== sentAt.toDateString();
    if (newDay) {
      // A list item holding a heading: the list keeps only items, and a screen reader can
      // jump from day to day by heading.
      const divider = document.createElement("li");
      divider.className = "day-divider";
      const label = document.createElement("h2");
      label.className = "day-divider__label";
      label.textContent = dayLabel(sentAt);
      divider.append(label);
      item.before(divider);
    }
    const continued =
      !newDay &&
      previous.dataset.sender === item.dataset.sender &&
      sentAt - new Date(previous.dataset.sentAt) < GROUP_GAP_MS;
    item.classList.toggle("msg--continued", continued);
    previous = item;
  }
  reader?.keepDividerPlaced();
}

// ---- scrolling -------------------------------------------------------------------------

function atBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= AT_BOTTOM_PX;
}

function scrollToBottom() {
  scroller.scrollTop = scroller.scrollHeight;
  unseen = 0;
  newMessagesButton.hidden = true;
}

/** Put a message in its place by number (live ones go last), or update it if it is here. */
function place(message) {
  if (store.has(message.seq)) {
    store.update(message);
    return false;
  }
  const node = store.build(message);
  const items = log.getElementsByClassName("msg");
  const last = items[items.length - 1];
  if (!last || Number(last.dataset.seq) < message.seq) {
    log.append(node); // the usual case, a new message: no walk through the page
    return true;
  }
  const after = [...items].find((item) => Number(item.dataset.seq) > message.seq);
  after.before(node);
  return true;
}

function appendLive(messages) {
  queueMicrotask(keepATabStop);
  const stayAtBottom = atBottom();
  messages = messages.filter((message) => {
    // Older than the page: its page shows it when loaded.
    if (firstSeq !== null && message.seq < firstSeq && hasOlder) return false;
    return place(message);
  });
  if (!messages.length) return;
  if (firstSeq === null) firstSeq = messages[0].seq;
  regroup();
  if (stayAtBottom) {
    scrollToBottom();
  } else {
    // The reader scrolled up to read: leave them there and offer a way down.
    unseen += messages.length;
    newMessagesButton.textContent = unseen === 1 ? "1 new message ↓" : `${unseen} new messages ↓`;
    newMessagesButton.hidden = false;
  }
}

async function loadOlder() {
  if (loadingOlder || !hasOlder) return;
  loadingOlder = true;
  loadOlderButton.disabled = true;
  loadOlderButton.textContent = "Loading…";
  try {
    const url = firstSeq ? `${config.historyUrl}?before=${firstSeq}` : config.historyUrl;
    const response = await fetch(url, { headers: { Accept: "application/json" }, signal });
    if (!response.ok) throw new Error(`history ${response.status}`);
    const page = await response.json();
    if (signal.aborted) return; // the page has switched to another room meanwhile
    const heightBefore = scroller.scrollHeight;
    const topBefore = scroller.scrollTop;
    // Older history is not news: keep screen readers from reading the page out.
    logRegion.setAttribute("aria-live", "off");
    const fragment = document.createDocumentFragment();
    for (const message of page.messages) {
      if (store.has(message.seq)) store.update(message);
      else fragment.append(store.build(message));
    }
    log.prepend(fragment);
    regroup();
    // Keep the message being read where it was.
    scroller.scrollTop = topBefore + (scroller.scrollHeight - heightBefore);
    if (page.messages.length) firstSeq = page.messages[0].seq;
    hasOlder = page.has_more;
    requestAnimationFrame(() => logRegion.setAttribute("aria-live", "polite"));
  } catch (error) {
    if (!signal.aborted) console.warn("could not load older messages", error);
  } finally {
    if (signal.aborted) return; // another room is open: leave its button alone
    loadingOlder = false;
    loadOlderButton.disabled = false;
    loadOlderButton.textContent = "Load older messages";
    loadOlderButton.hidden = !hasOlder;
    roomStart.hidden = hasOlder;
    // On a tall screen one page may not push the button out of view; observing it afresh
    // reports whether it is still visible, and so loads the next page if it is.
    olderObserver.unobserve(loadOlderButton);
    olderObserver.observe(loadOlderButton);
  }
}

// ---- connection status -----------------------------------------------------------------

let offlineNoticeTimer = null;
let offlineShown = false;
let onlineNoticeTimer = null;

function showStatus(text, { offline = false, canRetry = false } = {}) {
  clearTimeout(onlineNoticeTimer);
  statusText.textContent = text;
  status.dataset.state = offline ? "offline" : "online";
  reconnectButton.hidden = !canRetry;
  status.hidden = false;
}

function showConnectionState(state, detail) {
  if (state === "online") {
    clearTimeout(offlineNoticeTimer);
    offlineNoticeTimer = null;
    if (offlineShown) {
      offlineShown = false;
      showStatus("Back online.");
      onlineNoticeTimer = setTimeout(() => (status.hidden = true), 2500);
    }
    composer.classList.remove("composer--offline");
  } else if (state === "offline" && !offlineNoticeTimer && !offlineShown) {
    // Brief blips (a worker restart) reconnect before anyone needs to be told.
    offlineNoticeTimer = setTimeout(() => {
      offlineShown = true;
      showStatus("Connection lost. Reconnecting…", { offline: true, canRetry: true });
      composer.classList.add("composer--offline");
    }, OFFLINE_NOTICE_DELAY_MS);
  } else if (state === "closed") {
    clearTimeout(offlineNoticeTimer);
    showStatus(detail, { offline: true });
    field.disabled = true;
  }
}

// ---- composer and outbox ----------------------------------------------------------------

const storage = browserStorage();

function saveDraft(text) {
  try {
    if (text) storage?.setItem(draftKey, text);
    else storage?.removeItem(draftKey);
  } catch {
    // Storage full: the draft lives as long as the page does.
  }
}

function fitField() {
  field.style.height = "auto";
  field.style.height = `${Math.min(field.scrollHeight, FIELD_MAX_PX)}px`;
}

// What the composer is doing besides sending: replying to a message, or editing one.
let replyingTo = null; // the message state answered
let editing = null; // {seq, draft}: the message being edited, and the draft set aside

function showComposerContext(text) {
  composerContextText.textContent = text;
  composerContext.hidden = !text;
}

function firstLine(text) {
  const line = text.split("\n", 1)[0];
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

function startReply(message) {
  stopEditing();
  replyingTo = message;
  const quoted = firstLine(message.text) || (message.files?.length ? "📎 File" : "");
  showComposerContext(`Replying to ${message.sender.name}: ${quoted}`);
  field.focus();
}

function startEditing(message) {
  if (!editing) editing = { seq: message.seq, draft: field.value };
  editing.seq = message.seq;
  replyingTo = null;
  mentionPicker.reset(message.mentions);
  showComposerContext("Editing your message. Enter saves, Esc cancels.");
  field.value = message.text;
  fitField();
  field.focus();
  field.setSelectionRange(field.value.length, field.value.length);
}

function stopEditing() {
  if (!editing) return;
  field.value = editing.draft;
  editing = null;
  mentionPicker.reset();
  fitField();
  showComposerContext("");
}

function cancelComposerContext() {
  if (editing) stopEditing();
  replyingTo = null;
  showComposerContext("");
  field.focus();
}

function announceFailure(what, error) {
  outboxAlert.textContent = `${what} failed: ${error.detail || "the server did not answer"}`;
}

function submit() {
  const text = field.value.trim();
  if (editing) {
    const { seq } = editing;
    const current = store.get(seq);
    const mentions = mentionPicker.mentionsIn(text);
    const mentionedBefore = (current?.mentions ?? []).map((m) => m.id).join();
    if (text && current && (text !== current.text || mentions.join() !== mentionedBefore)) {
      connection
        .change({ type: "message.edit", message_seq: seq, text, mentions })
        .catch((error) => announceFailure("Editing", error));
    }
    stopEditing();
    field.focus();
    return;
  }
  if (tray.count && !tray.ready()) {
    outboxAlert.textContent = tray.failed
      ? "A file could not be uploaded: retry or remove it, then send."
      : "Still uploading: the message goes once its files are up.";
    if (!tray.failed) sendWhenUploaded = true;
    return;
  }
  const files = tray.files();
  if (!text && !files.length) return;
  // The outbox keeps it (across a reload too) until the server has it: the box is free
  // for the next message at once.
  connection.send(text, replyingTo ? replyingTo.seq : null, mentionPicker.mentionsIn(text), files);
  tray.sent();
  mentionPicker.reset();
  typingNotifier.stop();
  replyingTo = null;
  showComposerContext("");
  field.value = "";
  saveDraft("");
  fitField();
  field.focus();
  scrollToBottom();
}

/** The person's own last message that can still be edited. */
function myLastMessage() {
  const mine = [...log.querySelectorAll(".msg--mine:not(.msg--deleted)")];
  return mine.length ? store.get(Number(mine[mine.length - 1].dataset.seq)) : null;
}

// ---- actions on a message ---------------------------------------------------------------

function toggleReaction(seq, emoji) {
  const message = store.get(seq);
  if (!message) return;
  const mine = message.reactions?.some((r) => r.emoji === emoji && r.people.some((p) => p.id === config.me.id));
  connection
    .change({ type: mine ? "reaction.remove" : "reaction.add", message_seq: seq, emoji })
    .catch((error) => announceFailure("Reacting", error));
}

const picker = new ReactionPicker(toggleReaction, signal);

function deleteMessage(message) {
  if (!window.confirm("Delete this message for everyone? This cannot be undone.")) return;
  connection.change({ type: "message.delete", message_seq: message.seq }).catch((error) => announceFailure("Deleting", error));
}

async function copyCode(button) {
  const code = button.closest(".code-block").querySelector("pre").textContent;
  try {
    await navigator.clipboard.writeText(code);
    button.textContent = "Copied";
  } catch {
    // No clipboard (an insecure origin, or permission refused): select it to copy by hand.
    getSelection().selectAllChildren(button.closest(".code-block").querySelector("pre"));
    button.textContent = "Selected";
  }
  setTimeout(() => (button.textContent = "Copy"), 2000);
}

async function jumpTo(seq) {
  // Older pages load until the original is on the page (or the room's start is reached).
  while (!store.node(seq) && hasOlder && (firstSeq === null || seq < firstSeq)) {
    const before = firstSeq;
    await loadOlder();
    if (signal.aborted) return;
    if (firstSeq === before) break; // the page did not load: stop rather than spin
  }
  const node = store.node(seq);
  if (!node) {
    outboxAlert.textContent = "That message is not in this room's history (deleted, perhaps).";
    return;
  }
  node.scrollIntoView({ block: "center" });
  node.classList.add("msg--highlight");
  node.focus({ preventScroll: true });
  setTimeout(() => node.classList.remove("msg--highlight"), HIGHLIGHT_MS);
}

// By keyboard the log is one stop: Tab reaches one message (the newest, or the last one
// visited), the arrow keys move between messages, and Tab goes on into the focused
// message's actions, which show while focus is in it.
let rovingMessage = null;
let rovingChosen = false; // the reader moved to a message: stay there, not on the newest

/** Only the message that is the tab stop has its controls in the tab order. */
function controlsReachable(item, reachable) {
  for (const control of item.querySelectorAll("button, a[href]")) control.tabIndex = reachable ? 0 : -1;
}

function makeTabStop(item) {
  if (rovingMessage && rovingMessage !== item) {
    rovingMessage.tabIndex = -1;
    controlsReachable(rovingMessage, false);
  }
  rovingMessage = item;
  if (item) {
    item.tabIndex = 0;
    controlsReachable(item, true);
  }
}

function keepATabStop() {
  if (!rovingChosen || !rovingMessage || !rovingMessage.isConnected) {
    const items = log.querySelectorAll(".msg");
    makeTabStop(items.length ? items[items.length - 1] : null);
  }
}

log.addEventListener("focusin", (event) => {
  const item = event.target.closest(".msg");
  if (item) {
    rovingChosen = true;
    makeTabStop(item);
  }
});

log.addEventListener("keydown", (event) => {
  if (!event.target.classList?.contains("msg")) return;
  const items = [...log.querySelectorAll(".msg")];
  const index = items.indexOf(event.target);
  const next = {
    ArrowUp: items[index - 1],
    ArrowDown: items[index + 1],
    Home: items[0],
    End: items[items.length - 1],
  }[event.key];
  if (next) {
    event.preventDefault();
    next.focus();
  } else if (event.key === "ArrowUp" && index === 0 && hasOlder) {
    event.preventDefault();
    loadOlder();
  }
});

log.addEventListener("click", (event) => {
  const item = event.target.closest(".msg");
  if (!item) return;
  const seq = Number(item.dataset.seq);
  const message = store.get(seq);
  if (event.target.closest("a[href]")) return; // a link in a message opens, nothing more
  const control = event.target.closest("[data-action], [data-jump-to]");
  if (!control) {
    // A tap on a phone (no hover) shows the message's actions; another tap hides them.
    for (const other of log.querySelectorAll(".msg--active")) if (other !== item) other.classList.remove("msg--active");
    item.classList.toggle("msg--active");
    return;
  }
  if (control.dataset.jumpTo) {
    jumpTo(Number(control.dataset.jumpTo));
    return;
  }
  switch (control.dataset.action) {
    case "toggle-reaction":
      toggleReaction(seq, control.dataset.emoji);
      break;
    case "react":
      picker.open(control, seq);
      break;
    case "reply":
      startReply(message);
      break;
    case "edit":
      startEditing(message);
      break;
    case "delete":
      deleteMessage(message);
      break;
    case "copy-code":
      copyCode(control);
      break;
    default:
      break;
  }
});

function outboxButton(label, className, act) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  button.textContent = label;
  button.addEventListener("click", () => {
    act();
    field.focus(); // the list is drawn afresh: keep the person's place in the composer
  });
  return button;
}

function renderOutboxEntry(entry) {
  const item = document.createElement("li");
  item.className = entry.failed ? "msg msg--mine msg--pending msg--failed" : "msg msg--mine msg--pending";
  item.dataset.clientId = entry.clientId;
  const text = document.createElement("p");
  text.className = "msg__text";
  text.textContent = entry.text;
  if (entry.files?.length) {
    const names = entry.files.map((file) => file.name).join(", ");
    text.append(entry.text ? " " : "", `📎 ${names}`);
  }
  const state = document.createElement("p");
  state.className = "msg__state";
  if (entry.failed) {
    state.textContent = `${failedLabel(entry.failed)}: ${entry.failed.detail} `;
    state.append(
      outboxButton("Retry", "button button--small", () => connection.retry(entry.clientId)),
      " ",
      outboxButton("Discard", "button button--small button--quiet", () => connection.discard(entry.clientId)),
    );
  } else {
    state.textContent = connection.online ? "Sending…" : "Waiting for the connection…";
  }
  item.append(text, state);
  return item;
}

// internal_error: the server failed while storing it, so it may be stored after all.
function failedLabel(failed) {
  return failed.code === "internal_error" ? "Not confirmed" : "Not sent";
}

const announcedFailures = new Set();

function renderOutbox() {
  const stayAtBottom = atBottom();
  const entries = [...outbox.entries.values()];
  // The outbox is not a live region (what is on its way is not news); a failure is.
  for (const entry of entries) {
    if (entry.failed && !announcedFailures.has(entry.clientId)) {
      announcedFailures.add(entry.clientId);
      outboxAlert.textContent = `${failedLabel(entry.failed)}: “${entry.text}”. ${entry.failed.detail}`;
    } else if (!entry.failed) {
      announcedFailures.delete(entry.clientId);
    }
  }
  outboxList.replaceChildren(...entries.map(renderOutboxEntry));
  outboxList.hidden = entries.length === 0;
  if (stayAtBottom) scrollToBottom();
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  submit();
});
field.addEventListener("keydown", (event) => {
  if (mentionPicker.keydown(event)) return; // choosing whom to mention
  // isComposing: Enter that confirms an input method's candidate must not send.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    submit();
  } else if (event.key === "Escape" && (editing || replyingTo)) {
    event.preventDefault();
    cancelComposerContext();
  } else if (event.key === "ArrowUp" && !field.value && !editing) {
    const last = myLastMessage();
    if (last) {
      event.preventDefault();
      startEditing(last);
    }
  }
});
composerCancel.addEventListener("click", cancelComposerContext);

// ---- files: by button, by dropping them on the room, by pasting them -------------------

let sendWhenUploaded = false; // Send was pressed while the files were still uploading
const tray = new FileTray({
  list: document.getElementById("file-tray"),
  limits: config.files,
  csrfToken: config.csrfToken,
  announce: (text) => (outboxAlert.textContent = text),
  changed: () => {
    if (sendWhenUploaded && tray.ready()) {
      sendWhenUploaded = false;
      submit();
    } else if (tray.failed || !tray.count) {
      sendWhenUploaded = false;
    }
  },
  signal,
});
attachButton.addEventListener("click", () => fileInput.click(), { signal });
fileInput.addEventListener(
  "change",
  () => {
    tray.add(fileInput.files);
    fileInput.value = ""; // choosing the same file again is a change too
    field.focus();
  },
  { signal },
);
field.addEventListener(
  "paste",
  (event) => {
    const files = event.clipboardData?.files;
    if (!files?.length) return; // text is pasted as text
    event.preventDefault();
    tray.add(files);
  },
  { signal },
);
const roomMain = scroller.parentElement;
let dragDepth = 0; // dragenter and dragleave fire for every child crossed
const carriesFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
roomMain.addEventListener(
  "dragenter",
  (event) => {
    if (!carriesFiles(event)) return;
    dragDepth += 1;
    dropHint.hidden = false;
  },
  { signal },
);
roomMain.addEventListener(
  "dragleave",
  (event) => {
    if (!carriesFiles(event)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) dropHint.hidden = true;
  },
  { signal },
);
roomMain.addEventListener(
  "dragover",
  (event) => {
    if (carriesFiles(event)) event.preventDefault(); // allows the drop
  },
  { signal },
);
roomMain.addEventListener(
  "drop",
  (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    dropHint.hidden = true;
    tray.add(event.dataTransfer.files);
    field.focus();
  },
  { signal },
);
field.addEventListener("input", () => {
  fitField();
  if (!editing) {
    saveDraft(field.value);
    typingNotifier.typed(field.value.trim() !== "");
  }
});

// ---- wiring ------------------------------------------------------------------------------

const socketUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${config.socketPath}`;
const outbox = new Outbox(storage, outboxKey);
const typingLine = new TypingLine(document.getElementById("typing"), config.me.id);
const presence = new PresenceButton(
  document.getElementById("presence"),
  document.getElementById("presence-list"),
  config.me.id,
  signal,
);
const typingNotifier = new TypingNotifier((frame) => connection.sendEphemeral(frame));

const applyEvents = eventApplier({
  created: (message) => {
    typingLine.stopped(message.sender.id);
    appendLive([message]);
    reader.arrived(message);
    notifier.created(config.room.id, message);
  },
  changed: (message) => {
    store.update(message);
    if (message.deleted) reader.deleted(message.seq);
  },
  reaction: (event) => store.react(event),
  room: (event) => {
    roomList.changedRoom(config.room.id, event);
    if (!config.room.direct) showRoomName(event.name);
  },
});

/** The room was renamed: everywhere the page names it. */
function showRoomName(name) {
  document.getElementById("room-name").textContent = name;
  document.getElementById("room-start-name").textContent = name;
  document.getElementById("log-region").setAttribute("aria-label", `Messages in ${name}`);
  field.placeholder = `Message ${name}`;
  reader.renamed(`${name} — Chat`);
}

/** The server cannot resume from the page's number: show its latest page afresh. */
let reloading = null;

function reloadLatest(reset) {
  // One reload at a time; a reset arriving meanwhile is served by the one under way.
  reloading ??= reloadLatestPage(reset).finally(() => {
    reloading = null;
  });
  return reloading;
}

async function reloadLatestPage(reset) {
  try {
    const response = await fetch(config.historyUrl, { headers: { Accept: "application/json" }, signal });
    if (!response.ok) throw new Error(`history ${response.status}`);
    const page = await response.json();
    if (signal.aborted) return;
    for (const item of log.querySelectorAll(".msg")) store.forget(Number(item.dataset.seq));
    store.forgetLater(); // numbers from before the reset may name other messages now
    log.replaceChildren();
    firstSeq = null;
    hasOlder = page.has_more;
    connection.restart(reset.last_seq, reset.epoch);
    appendLive(page.messages);
    firstSeq = page.messages.length ? page.messages[0].seq : null;
    loadOlderButton.hidden = !hasOlder;
    roomStart.hidden = hasOlder;
    connection.requestSync();
  } catch (error) {
    if (signal.aborted) return; // left the room: nothing to reload
    console.warn("could not reload the room", error);
    setTimeout(() => reloadLatest(reset), 2000);
  }
}

const connection = new RoomConnection({
  url: socketUrl,
  lastSeq: config.lastSeq,
  epoch: config.room.epoch,
  myId: config.me.id,
  outbox,
  onEvents: applyEvents,
  onMessageState: (message) => store.update(message),
  onReset: reloadLatest,
  onHint(frame) {
    if (frame.type === "read.now" && frame.room_id === config.room.id) reader.readElsewhere(frame.last_read_seq);
    if (frame.type === "notify.now" && frame.room_id === config.room.id) notifier.showLevel(frame.level);
    if (frame.type === "room.activity" && frame.event.type === "message.created") {
      notifier.created(frame.room_id, frame.event.message);
    }
    roomList.hint(frame);
  },
  onEphemera: ephemeraApplier({
    typing: (people) => typingLine.show(people),
    presence: (people) => presence.show(people),
  }),
  onOutbox: renderOutbox,
  onError(error) {
    console.warn("server refused a frame", error);
  },
  onState(state, detail) {
    showConnectionState(state, detail);
    if (state === "online") {
      reader.reportAgain();
      roomList.refresh(); // hints may have been missed while away
    }
    renderOutbox(); // "Sending…" or "Waiting for the connection…"
  },
});
// Another tab of this room sent, or was acknowledged for, a message of this outbox.
window.addEventListener("storage", (event) => {
  if (event.key === outboxKey) connection.outboxChanged();
}, { signal });

for (const message of config.messages) log.append(store.build(message));
const roomsToggle = document.getElementById("rooms-toggle");
roomsToggle.addEventListener("click", () => showRooms(!roomsNav.classList.contains("room-list--open")));
roomList.currentId = config.room.id;
roomList.render();
const notifier = new Notifier({
  button: document.getElementById("notify-button"),
  panel: document.getElementById("notify-panel"),
  myId: config.me.id,
  roomId: config.room.id,
  level: config.notify,
  setLevel: (level) => connection.sendEphemeral({ type: "notify.set", level }),
  roomName: (roomId) => roomList.name(roomId),
  levelOf: (roomId) => roomList.notifyLevel(roomId),
  push: config.push,
  csrfToken: config.csrfToken,
  open: (roomId, seq) => showMessage(roomId, seq),
});
reader = new ReadTracker({
  log,
  scroller,
  lastReadSeq: config.lastReadSeq,
  myId: config.me.id,
  title: document.title,
  send: (frame) => connection.sendEphemeral(frame),
  elsewhere: () => roomList.total(),
  signal,
});
regroup();
keepATabStop();
// Back where the person left off: at the "New" divider, if anything is new, else the end.
const leftOff = reader.markWhereLeftOff();
regroup();
if (config.focusSeq) jumpTo(config.focusSeq); // a permalink: at that message
else if (leftOff) leftOff.scrollIntoView({ block: "start" });
else scrollToBottom();
field.value = storage?.getItem(draftKey) || "";
fitField();
renderOutbox();

scroller.addEventListener("scroll", () => {
  if (atBottom()) {
    unseen = 0;
    newMessagesButton.hidden = true;
  }
});
newMessagesButton.addEventListener("click", scrollToBottom);
loadOlderButton.addEventListener("click", loadOlder);
reconnectButton.addEventListener("click", () => connection.reconnectNow());
window.addEventListener("online", () => connection.reconnectNow(), { signal });
const olderObserver = new IntersectionObserver(
  (entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadOlder();
  },
  { root: scroller, rootMargin: "200px 0px 0px 0px" },
);
olderObserver.observe(loadOlderButton);

connection.connect();
field.focus();

return {
  config,
  jumpTo,
  get reader() {
    return reader;
  },
  close() {
    typingNotifier.stop();
    leaving.abort(); // what was read here is reported on the way out
    olderObserver.disconnect();
    connection.close();
  },
};
}


// The person's rooms beside the room, kept across switches: the list stays on the page
// (and live) while the room beside it changes.
const roomsNav = document.getElementById("room-list");
const firstConfig = JSON.parse(document.getElementById("chat-config").textContent);
let current = null; // the open room

const roomList = new RoomList({
  list: document.getElementById("room-list-items"),
  rooms: firstConfig.rooms,
  currentId: firstConfig.room.id,
  myId: firstConfig.me.id,
  url: firstConfig.roomsUrl,
  changed() {
    current?.reader?.showTitle();
    // On a phone the list hides behind a button, which counts what is new elsewhere.
    const total = this.total(); // `this`: the list (called as its own method)
    const toggle = document.getElementById("rooms-toggle");
    const badge = document.getElementById("rooms-toggle-badge");
    badge.hidden = total === 0;
    badge.textContent = total > 99 ? "99+" : String(total);
    toggle.setAttribute("aria-label", total ? `Rooms, ${badge.textContent} unread` : "Rooms");
  },
});

function showRooms(open) {
  roomsNav.classList.toggle("room-list--open", open);
  document.getElementById("rooms-toggle").setAttribute("aria-expanded", String(open));
  if (open) roomsNav.querySelector("a")?.focus();
}
document.getElementById("rooms-close").addEventListener("click", () => {
  showRooms(false);
  document.getElementById("rooms-toggle").focus();
});
roomsNav.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && roomsNav.classList.contains("room-list--open")) {
    showRooms(false);
    document.getElementById("rooms-toggle").focus();
  }
});

const ROOM_PATH = /^\/r\/(\d+)\/$/;

let latestSwitch = 0;

/** Show another room in place: its page is fetched, and only the room beside the list is
 * replaced. Anything but a room page (a log-in, an error) is left to the browser. */
async function switchRoom(url, { remember = true } = {}) {
  const ticket = ++latestSwitch; // the person's last click (or Back) is the room they get
  let next;
  try {
    const response = await fetch(url, { headers: { Accept: "text/html" } });
    if (!response.ok || response.redirected) throw new Error(`room page: ${response.status}`);
    next = new DOMParser().parseFromString(await response.text(), "text/html");
  } catch (error) {
    if (ticket === latestSwitch) location.assign(url);
    return;
  }
  if (ticket !== latestSwitch) return;
  const nextConfig = JSON.parse(next.getElementById("chat-config").textContent);
  current.close();
  current = null;
  document.querySelector(".room").replaceWith(document.adoptNode(next.querySelector(".room")));
  document.title = next.title;
  if (remember) history.pushState({ roomId: nextConfig.room.id }, "", url);
  showRooms(false);
  current = openRoom(nextConfig);
}

/** Show a message (from a notification): in the room open now, or in another, in place. */
function showMessage(roomId, seq) {
  if (roomId === current?.config.room.id) current.jumpTo(seq);
  else switchRoom(`/r/${roomId}/`);
}

roomsNav.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href);
  const match = url.origin === location.origin && ROOM_PATH.exec(url.pathname);
  if (!match) return; // "All rooms", say
  event.preventDefault();
  if (Number(match[1]) === current?.config.room.id) showRooms(false);
  else switchRoom(url.href);
});
window.addEventListener("popstate", () => {
  const match = ROOM_PATH.exec(location.pathname);
  if (match && Number(match[1]) !== current?.config.room.id) {
    switchRoom(location.href, { remember: false });
  }
});

current = openRoom(firstConfig);
