// The room page: renders messages (always as text), keeps the reader's place, loads older
// history, runs the composer and shows the messages still on their way. The connection
// and the outbox themselves live in socket.js.
import { Outbox, RoomConnection, browserStorage } from "./socket.js";

const config = JSON.parse(document.getElementById("chat-config").textContent);
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

const AT_BOTTOM_PX = 40;
const GROUP_GAP_MS = 5 * 60 * 1000;
const OFFLINE_NOTICE_DELAY_MS = 1000;
const FIELD_MAX_PX = 160;
const draftKey = `chat:draft:${config.room.id}`;
// Per person too: whoever logs in next in this browser must not send someone else's words.
const outboxKey = `chat:outbox:${config.me.id}:${config.room.id}`;

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric", year: "numeric" });

let firstSeq = config.firstSeq;
let hasOlder = config.hasOlder;
let loadingOlder = false;
let unseen = 0;

// ---- rendering -------------------------------------------------------------------------

function renderMessage(message) {
  const item = document.createElement("li");
  item.className = message.sender.id === config.me.id ? "msg msg--mine" : "msg";
  item.dataset.seq = message.seq;
  item.dataset.sender = message.sender.id;
  item.dataset.sentAt = message.sent_at;
  const header = document.createElement("div");
  header.className = "msg__header";
  const sender = document.createElement("span");
  sender.className = "msg__sender";
  sender.textContent = message.sender.name;
  const time = document.createElement("time");
  time.className = "msg__time";
  time.dateTime = message.sent_at;
  header.append(sender, " ", time);
  const text = document.createElement("p");
  text.className = "msg__text";
  text.textContent = message.text;
  item.append(header, text);
  localizeTime(item);
  return item;
}

function localizeTime(item) {
  const time = item.querySelector(".msg__time");
  const sentAt = new Date(item.dataset.sentAt);
  time.textContent = timeFormat.format(sentAt);
  time.title = fullFormat.format(sentAt);
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

function appendLive(messages) {
  const stayAtBottom = atBottom();
  for (const message of messages) log.append(renderMessage(message));
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
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`history ${response.status}`);
    const page = await response.json();
    const heightBefore = scroller.scrollHeight;
    const topBefore = scroller.scrollTop;
    // Older history is not news: keep screen readers from reading the page out.
    logRegion.setAttribute("aria-live", "off");
    const fragment = document.createDocumentFragment();
    for (const message of page.messages) fragment.append(renderMessage(message));
    log.prepend(fragment);
    regroup();
    // Keep the message being read where it was.
    scroller.scrollTop = topBefore + (scroller.scrollHeight - heightBefore);
    if (page.messages.length) firstSeq = page.messages[0].seq;
    hasOlder = page.has_more;
    requestAnimationFrame(() => logRegion.setAttribute("aria-live", "polite"));
  } catch (error) {
    console.warn("could not load older messages", error);
  } finally {
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

function submit() {
  const text = field.value.trim();
  if (!text) return;
  // The outbox keeps it (across a reload too) until the server has it: the box is free
  // for the next message at once.
  connection.send(text);
  field.value = "";
  saveDraft("");
  fitField();
  field.focus();
  scrollToBottom();
}

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
  // isComposing: Enter that confirms an input method's candidate must not send.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    submit();
  }
});
field.addEventListener("input", () => {
  fitField();
  saveDraft(field.value);
});

// ---- wiring ------------------------------------------------------------------------------

const socketUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${config.socketPath}`;
const outbox = new Outbox(storage, outboxKey);
const connection = new RoomConnection({
  url: socketUrl,
  lastSeq: config.lastSeq,
  myId: config.me.id,
  outbox,
  onMessages: appendLive,
  onOutbox: renderOutbox,
  onError(error) {
    console.warn("server refused a frame", error);
  },
  onState(state, detail) {
    showConnectionState(state, detail);
    renderOutbox(); // "Sending…" or "Waiting for the connection…"
  },
});
// Another tab of this room sent, or was acknowledged for, a message of this outbox.
window.addEventListener("storage", (event) => {
  if (event.key === outboxKey) connection.outboxChanged();
});

for (const item of log.querySelectorAll(".msg")) localizeTime(item);
regroup();
scrollToBottom();
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
window.addEventListener("online", () => connection.reconnectNow());
const olderObserver = new IntersectionObserver(
  (entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadOlder();
  },
  { root: scroller, rootMargin: "200px 0px 0px 0px" },
);
olderObserver.observe(loadOlderButton);

connection.connect();
field.focus();
