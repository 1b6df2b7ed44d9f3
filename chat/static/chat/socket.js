// One room's live connection: reconnects by itself, resumes from the last number of the
// room log it applied, fills gaps, and keeps the person's unsent messages in an outbox that
// survives a reload, sending them one at a time, in order, each under its own id until
// the server has it. It hands the page each numbered event exactly once, in order, blind
// to its kind (events.js knows the kinds); changes (edits, reactions) are requests whose
// promise settles with the server's answer.

const BACKOFF_FIRST_MS = 500;
const BACKOFF_CAP_MS = 15000;
const GAP_WAIT_MS = 400; // a missing number usually arrives on its own within this
const RETRY_DEFAULT_MS = 1000;
const PING_EVERY_MS = 25000; // the answer carries the room's last number: a lost last event shows
const CHANGE_ATTEMPTS = 3;
const CLOSE_RESTART = 1012; // the server is restarting: go to another worker at once
const CLOSE_TOO_MANY = 4429; // too many new sockets from this address: wait as told
const CLOSE_FATAL = {
  4401: "Your session has ended. Join again from the front page.",
  4403: "You are not a member of this room (or no longer are).",
  4404: "This room no longer exists.",
};
// Errors after which the server wants the message again under the same id: nothing was
// stored (rate_limited, unavailable) or maybe it was (outcome_unknown); a resend never
// stores it twice. Every other error marks the message failed until the person retries.
const SEND_AGAIN = new Set(["rate_limited", "unavailable", "outcome_unknown"]);

export function newClientId() {
  // crypto.randomUUID exists only on secure origins; getRandomValues exists everywhere.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A wait of `ms` spread over up to half as much again, so that clients told the same
 * wait do not all come back in the same instant. */
function jittered(ms) {
  return ms + Math.random() * (ms / 2);
}

/** The page's localStorage, or null where storage is disabled (reading it can throw). */
export function browserStorage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/**
 * The messages a person has sent that the server has not acknowledged, in the order they
 * were sent, kept in localStorage so that a reload (or a crash) loses none of them. Each
 * entry is {clientId, text, failed}: `failed` is null while it is being sent, or the
 * server's error once it refused it (the person may retry or discard it). Other tabs of
 * the room share it: every change reads the stored list afresh and writes it back at
 * once, so one tab's change never overwrites another's.
 */
export class Outbox {
  constructor(storage, key) {
    this.storage = storage;
    this.key = key;
    this.entries = new Map();
    this.reload();
  }

  reload() {
    if (!this.storage) return; // nothing shared: the entries in memory are all there is
    let saved = [];
    try {
      saved = JSON.parse(this.storage.getItem(this.key) || "[]");
    } catch {
      saved = []; // unreadable: start afresh rather than fail to open the room
    }
    this.entries.clear();
    for (const entry of Array.isArray(saved) ? saved : []) {
      if (typeof entry?.clientId === "string" && typeof entry?.text === "string") {
        this.entries.set(entry.clientId, {
          clientId: entry.clientId,
          text: entry.text,
          replyTo: Number.isInteger(entry.replyTo) ? entry.replyTo : null,
          mentions: Array.isArray(entry.mentions) ? entry.mentions.filter(Number.isInteger) : [],
          // Uploaded already: the outbox keeps what the message will show of them.
          files: Array.isArray(entry.files) ? entry.files.filter((f) => typeof f?.key === "string") : [],
          failed: entry.failed || null,
        });
      }
    }
  }

  change(apply) {
    this.reload();
    apply(this.entries);
    try {
      if (this.entries.size) this.storage?.setItem(this.key, JSON.stringify([...this.entries.values()]));
      else this.storage?.removeItem(this.key);
    } catch {
      // Storage full: the outbox still works for as long as the page is open.
    }
  }

  add(text, replyTo = null, mentions = [], files = []) {
    const entry = { clientId: newClientId(), text, replyTo, mentions, files, failed: null };
    this.change((entries) => entries.set(entry.clientId, entry));
    return entry;
  }

  get(clientId) {
    return this.entries.get(clientId);
  }

  remove(clientId) {
    if (this.entries.has(clientId)) this.change((entries) => entries.delete(clientId));
  }

  setFailed(clientId, failed) {
    this.change((entries) => {
      const entry = entries.get(clientId);
      if (entry) entry.failed = failed;
    });
  }

  /** The oldest entry still being sent. */
  next() {
    for (const entry of this.entries.values()) if (!entry.failed) return entry;
    return null;
  }
}

export class RoomConnection {
  /**
   * @param {object} options
   * @param {string} options.url          the room's WebSocket URL
   * @param {number} options.lastSeq      the room's last number the page reflects
   * @param {string} options.epoch        the room epoch that number belongs to
   * @param {Outbox} options.outbox       the person's unsent messages in this room
   * @param {number} options.myId         the person's id, to recognise their own messages
   * @param {(events: object[]) => void} options.onEvents  numbered events, in order, once each
   * @param {(message: object) => void} options.onMessageState  a message's state from an ack
   * @param {(reset: object) => void} options.onReset  the page must reload its latest messages
   * @param {(frame: object) => void} options.onEphemera  typing, presence: the whole state
   * @param {(frame: object) => void} [options.onHint]  the person's own stream (their rooms)
   * @param {() => void} options.onOutbox  the outbox changed (sent, acknowledged, failed)
   * @param {(error: object) => void} options.onError
   * @param {(state: string, detail?: string) => void} options.onState
   *        "connecting" | "online" | "offline" | "closed"
   */
  constructor(options) {
    this.onHint = () => {};
    Object.assign(this, options);
    this.socket = null;
    this.attempts = 0;
    this.reconnectTimer = null;
    this.gapTimer = null;
    this.syncTimer = null;
    this.syncing = false;
    this.closedForGood = false;
    // One message on its way at a time: a later one never overtakes one the server asked
    // to have again, so messages are stored in the order they were sent.
    this.inFlight = null;
    this.resendTimer = null;
    this.waitBeforeReconnectMs = 0; // what the server last asked for, before closing
    this.early = new Map(); // seq -> event that arrived before the ones below it
    this.changes = new Map(); // clientId -> {frame, resolve, reject, attempts}
    this.pingTimer = null;
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.closedForGood || this.socket) return;
    this.onState("connecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempts = 0;
      this.onState("online");
      this.requestSync();
      this.sendNext();
      for (const change of this.changes.values()) this.socket.send(JSON.stringify(change.frame));
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => {
        if (this.online) this.socket.send(JSON.stringify({ type: "ping" }));
      }, PING_EVERY_MS);
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.syncing = false;
      this.inFlight = null; // sent again, first, on the next socket
      clearTimeout(this.syncTimer);
      clearInterval(this.pingTimer);
      clearTimeout(this.resendTimer);
      const fatal = CLOSE_FATAL[event.code];
      if (fatal) {
        this.closedForGood = true;
        this.onState("closed", fatal);
        return;
      }
      this.onState("offline");
      let delay = this.backoff();
      if (event.code === CLOSE_RESTART) delay = 0;
      if (event.code === CLOSE_TOO_MANY) delay = jittered(Math.max(this.waitBeforeReconnectMs, delay));
      this.waitBeforeReconnectMs = 0;
      this.scheduleReconnect(delay);
    });
  }

  /** Leave the room for good: the page has switched to another. */
  close() {
    this.closedForGood = true;
    for (const timer of [this.reconnectTimer, this.gapTimer, this.syncTimer, this.resendTimer]) {
      clearTimeout(timer);
    }
    clearInterval(this.pingTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
  }

  /** Reconnect now, skipping the rest of the backoff wait. */
  reconnectNow() {
    if (!this.socket) this.connect();
  }

  /** Send a message: it is kept, and sent again after any failure, until acknowledged. */
  send(text, replyTo = null, mentions = [], files = []) {
    const entry = this.outbox.add(text, replyTo, mentions, files);
    this.sendNext();
    this.onOutbox();
    return entry.clientId;
  }

  /** Send a failed message again, under its own id (so it is never stored twice). */
  retry(clientId) {
    if (!this.outbox.get(clientId)) return;
    this.outbox.setFailed(clientId, null);
    this.sendNext();
    this.onOutbox();
  }

  discard(clientId) {
    this.outbox.remove(clientId);
    if (this.inFlight === clientId) this.inFlight = null;
    this.sendNext();
    this.onOutbox();
  }

  /** The outbox changed in another tab. */
  outboxChanged() {
    this.outbox.reload();
    if (this.inFlight && !this.outbox.get(this.inFlight)) this.inFlight = null;
    this.sendNext();
    this.onOutbox();
  }

  /**
   * Ask for a change to a message (`message.edit`, `message.delete`, `reaction.add`,
   * `reaction.remove`). Resolves with the message's state once the server has it; rejects
   * with the server's error. Sent again on reconnect and after a retryable error, under
   * the same id: a change applied twice changes nothing.
   */
  change(frame) {
    return new Promise((resolve, reject) => {
      const clientId = newClientId();
      const full = { ...frame, client_id: clientId };
      this.changes.set(clientId, { frame: full, resolve, reject, attempts: 1 });
      if (this.online) this.socket.send(JSON.stringify(full));
    });
  }

  /** Send a frame that may be lost (typing): now if connected, else never. Whether sent. */
  sendEphemeral(frame) {
    if (!this.online) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  get online() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  backoff() {
    // Capped exponential backoff with jitter, so a restarted server is not hit by
    // every client in the same instant.
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** this.attempts);
    this.attempts += 1;
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  scheduleReconnect(delayMs) {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  /** Put the oldest unsent message on its way, unless one is already. */
  sendNext() {
    if (this.inFlight || this.resendTimer || !this.online) return;
    const entry = this.outbox.next();
    if (!entry) return;
    this.inFlight = entry.clientId;
    const frame = { type: "message.send", client_id: entry.clientId, text: entry.text };
    if (entry.replyTo !== null) frame.reply_to = entry.replyTo;
    if (entry.mentions?.length) frame.mentions = entry.mentions;
    if (entry.files?.length) frame.files = entry.files.map((file) => file.key);
    this.socket.send(JSON.stringify(frame));
  }

  requestSync() {
    if (!this.online || this.syncing) return;
    this.syncing = true;
    this.socket.send(JSON.stringify({ type: "sync", after_seq: this.lastSeq, epoch: this.epoch }));
  }

  /** Go on from a fresh page: the room's latest messages, read after `lastSeq` was. */
  restart(lastSeq, epoch) {
    this.lastSeq = lastSeq;
    this.epoch = epoch;
    this.early.clear();
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof frame?.type !== "string") return;
    if (Number.isInteger(frame.seq)) {
      this.accept([frame]); // the room log: ordered by number, whatever its kind
      return;
    }
    switch (frame.type) {
      case "ack": {
        const change = this.changes.get(frame.client_id);
        if (change) {
          this.changes.delete(frame.client_id);
          this.onMessageState(frame.message);
          change.resolve(frame.message);
        } else {
          // A post's ack: its message's creation is the event numbered like the message.
          this.accept([{ type: "message.created", seq: frame.message.seq, message: frame.message }]);
          this.acknowledged(frame.client_id); // a resend's ack carries an older message
        }
        break;
      }
      case "sync.result":
        this.syncing = false;
        this.accept(frame.events);
        if (frame.has_more) this.requestSync();
        else this.caughtUpTo(frame.last_seq);
        break;
      case "reset":
        this.syncing = false;
        this.onReset(frame);
        break;
      case "typing":
      case "presence":
        this.onEphemera(frame);
        break;
      case "room.activity":
      case "read.now":
      case "room.joined":
      case "room.left":
      case "notify.now":
        this.onHint(frame); // the person's own stream: their rooms and what is read
        break;
      case "pong":
        if (frame.last_seq > this.lastSeq && this.early.size === 0) this.requestSync();
        break;
      case "error":
        if (this.changes.has(frame.client_id)) this.changeRejected(frame);
        else this.rejected(frame);
        break;
      default:
        break; // frames from a newer server are ignored, not fatal
    }
  }

  changeRejected(error) {
    const change = this.changes.get(error.client_id);
    if (SEND_AGAIN.has(error.code) && change.attempts < CHANGE_ATTEMPTS) {
      change.attempts += 1;
      setTimeout(() => {
        if (this.online && this.changes.has(error.client_id)) this.socket.send(JSON.stringify(change.frame));
      }, jittered(error.retry_after_ms || RETRY_DEFAULT_MS));
      return;
    }
    this.changes.delete(error.client_id);
    change.reject(error);
  }

  acknowledged(clientId) {
    if (!this.outbox.get(clientId)) return;
    this.outbox.remove(clientId);
    if (this.inFlight === clientId) this.inFlight = null;
    this.sendNext();
    this.onOutbox();
  }

  rejected(error) {
    const clientId = error.client_id;
    if (!clientId || !this.outbox.get(clientId)) {
      // About a frame without a message of ours: a refused socket says when to come back,
      // and a refused sync must be asked again, or gaps would stay unfilled.
      if (error.code === "rate_limited") this.waitBeforeReconnectMs = error.retry_after_ms || RETRY_DEFAULT_MS;
      if (this.syncing) {
        this.syncing = false;
        clearTimeout(this.syncTimer);
        this.syncTimer = setTimeout(() => this.requestSync(), jittered(error.retry_after_ms || RETRY_DEFAULT_MS));
      }
      this.onError(error);
      return;
    }
    if (clientId === this.inFlight) this.inFlight = null;
    if (SEND_AGAIN.has(error.code)) {
      // Nothing goes out meanwhile; then the oldest unsent message, this one, goes first.
      clearTimeout(this.resendTimer);
      this.resendTimer = setTimeout(() => {
        this.resendTimer = null;
        this.sendNext();
      }, jittered(error.retry_after_ms || RETRY_DEFAULT_MS));
      return;
    }
    this.outbox.setFailed(clientId, { code: error.code, detail: error.detail });
    this.sendNext();
    this.onOutbox();
  }

  /** Deliver numbered events in order, each once; hold any that arrive early. */
  accept(events) {
    for (const event of events) {
      if (event.seq > this.lastSeq) this.early.set(event.seq, event);
      // Sent from another tab, whose ack went there: it is stored, so it is no longer ours to send.
      if (event.type === "message.created" && event.message.sender.id === this.myId) {
        this.acknowledged(event.message.client_id);
      }
    }
    const ready = [];
    while (this.early.has(this.lastSeq + 1)) {
      this.lastSeq += 1;
      ready.push(this.early.get(this.lastSeq));
      this.early.delete(this.lastSeq);
    }
    if (ready.length) this.onEvents(ready);
    this.checkGap();
  }

  /** The server has sent everything up to `seq`: a number it did not send has no event
   * (a hole the database kept), so waiting for it would stall the page for good. */
  caughtUpTo(seq) {
    if (Number.isInteger(seq) && seq > this.lastSeq) {
      const ready = [];
      for (let next = this.lastSeq + 1; next <= seq; next += 1) {
        if (this.early.has(next)) ready.push(this.early.get(next));
        this.early.delete(next);
      }
      this.lastSeq = seq;
      if (ready.length) this.onEvents(ready);
      this.accept([]); // and whatever waited beyond it
      return;
    }
    this.checkGap();
  }

  checkGap() {
    if (this.early.size === 0 || this.gapTimer) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      if (this.early.size) this.requestSync();
    }, GAP_WAIT_MS);
  }
}
