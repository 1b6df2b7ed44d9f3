// One room's live connection: reconnects by itself, resumes from the last sequence number
// it delivered, fills gaps, and keeps the person's unsent messages in an outbox that
// survives a reload, resending each under its own id until the server has it.
// It hands the page each message exactly once, in sequence order.

const BACKOFF_FIRST_MS = 500;
const BACKOFF_CAP_MS = 15000;
const GAP_WAIT_MS = 400; // a missing number usually arrives on its own within this
const RETRY_DEFAULT_MS = 1000;
const CLOSE_RESTART = 1012; // the server is restarting: go to another worker at once
const CLOSE_TOO_MANY = 4429; // too many new sockets from this address: wait as told
const CLOSE_FATAL = {
  4401: "Your session has ended. Join again from the front page.",
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

/**
 * The messages a person has sent that the server has not acknowledged, in the order they
 * were sent, kept in localStorage so that a reload (or a crash) loses none of them. Each
 * entry is {clientId, text, failed}: `failed` is null while it is being sent, or the
 * server's error once it refused it (the person may retry or discard it).
 */
export class Outbox {
  constructor(storage, key) {
    this.storage = storage;
    this.key = key;
    this.entries = new Map();
    this.reload();
  }

  reload() {
    this.entries.clear();
    let saved = [];
    try {
      saved = JSON.parse(this.storage?.getItem(this.key) || "[]");
    } catch {
      saved = []; // unreadable: start afresh rather than fail to open the room
    }
    for (const entry of Array.isArray(saved) ? saved : []) {
      if (typeof entry?.clientId === "string" && typeof entry?.text === "string") {
        this.entries.set(entry.clientId, { clientId: entry.clientId, text: entry.text, failed: entry.failed || null });
      }
    }
  }

  save() {
    try {
      if (this.entries.size) this.storage?.setItem(this.key, JSON.stringify([...this.entries.values()]));
      else this.storage?.removeItem(this.key);
    } catch {
      // Storage full or disabled: the outbox still works for as long as the page is open.
    }
  }

  add(text) {
    const entry = { clientId: newClientId(), text, failed: null };
    this.entries.set(entry.clientId, entry);
    this.save();
    return entry;
  }

  get(clientId) {
    return this.entries.get(clientId);
  }

  remove(clientId) {
    if (this.entries.delete(clientId)) this.save();
  }

  setFailed(clientId, failed) {
    const entry = this.entries.get(clientId);
    if (!entry) return;
    entry.failed = failed;
    this.save();
  }

  /** The entries still being sent, oldest first. */
  sending() {
    return [...this.entries.values()].filter((entry) => !entry.failed);
  }
}

export class RoomConnection {
  /**
   * @param {object} options
   * @param {string} options.url          the room's WebSocket URL
   * @param {number} options.lastSeq      the last sequence number already on the page
   * @param {Outbox} options.outbox       the person's unsent messages in this room
   * @param {number} options.myId         the person's id, to recognise their own messages
   * @param {(messages: object[]) => void} options.onMessages
   * @param {() => void} options.onOutbox  the outbox changed (sent, acknowledged, failed)
   * @param {(error: object) => void} options.onError
   * @param {(state: string, detail?: string) => void} options.onState
   *        "connecting" | "online" | "offline" | "closed"
   */
  constructor(options) {
    Object.assign(this, options);
    this.socket = null;
    this.attempts = 0;
    this.reconnectTimer = null;
    this.gapTimer = null;
    this.syncTimer = null;
    this.syncing = false;
    this.closedForGood = false;
    this.resendTimers = new Map(); // clientId -> timer of a resend the server asked for
    this.waitBeforeReconnectMs = 0; // what the server last asked for, before closing
    this.early = new Map(); // seq -> message that arrived before the ones below it
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
      for (const entry of this.outbox.sending()) this.transmit(entry);
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.syncing = false;
      clearTimeout(this.syncTimer);
      const fatal = CLOSE_FATAL[event.code];
      if (fatal) {
        this.closedForGood = true;
        this.onState("closed", fatal);
        return;
      }
      this.onState("offline");
      if (event.code === CLOSE_RESTART) this.scheduleReconnect(0);
      else if (event.code === CLOSE_TOO_MANY) this.scheduleReconnect(Math.max(this.waitBeforeReconnectMs, this.backoff()));
      else this.scheduleReconnect(this.backoff());
    });
  }

  /** Reconnect now, skipping the rest of the backoff wait. */
  reconnectNow() {
    if (!this.socket) this.connect();
  }

  /** Send a message: it is kept, and sent again after any failure, until acknowledged. */
  send(text) {
    const entry = this.outbox.add(text);
    this.transmit(entry);
    this.onOutbox();
    return entry.clientId;
  }

  /** Send a failed message again, under its own id (so it is never stored twice). */
  retry(clientId) {
    const entry = this.outbox.get(clientId);
    if (!entry) return;
    this.outbox.setFailed(clientId, null);
    this.transmit(entry);
    this.onOutbox();
  }

  discard(clientId) {
    clearTimeout(this.resendTimers.get(clientId));
    this.resendTimers.delete(clientId);
    this.outbox.remove(clientId);
    this.onOutbox();
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

  transmit(entry) {
    if (this.online) {
      this.socket.send(JSON.stringify({ type: "message.send", client_id: entry.clientId, text: entry.text }));
    }
  }

  requestSync() {
    if (!this.online || this.syncing) return;
    this.syncing = true;
    this.socket.send(JSON.stringify({ type: "sync", after_seq: this.lastSeq }));
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "message":
        this.accept([frame.message]);
        break;
      case "ack":
        this.accept([frame.message]);
        this.acknowledged(frame.client_id); // a resend's ack carries an older message
        break;
      case "sync.result":
        this.syncing = false;
        this.accept(frame.messages);
        if (frame.has_more) this.requestSync();
        else this.checkGap();
        break;
      case "error":
        this.rejected(frame);
        break;
      default:
        break; // frames from a newer server are ignored, not fatal
    }
  }

  acknowledged(clientId) {
    clearTimeout(this.resendTimers.get(clientId));
    this.resendTimers.delete(clientId);
    if (this.outbox.get(clientId)) {
      this.outbox.remove(clientId);
      this.onOutbox();
    }
  }

  rejected(error) {
    const clientId = error.client_id;
    const entry = clientId ? this.outbox.get(clientId) : null;
    if (!entry) {
      if (error.code === "rate_limited") this.waitBeforeReconnectMs = error.retry_after_ms || RETRY_DEFAULT_MS;
      // Only a sync goes without a client id: ask again, or gaps would stay unfilled.
      if (this.syncing) {
        this.syncing = false;
        clearTimeout(this.syncTimer);
        this.syncTimer = setTimeout(() => this.requestSync(), error.retry_after_ms || RETRY_DEFAULT_MS);
      }
      this.onError(error);
      return;
    }
    if (SEND_AGAIN.has(error.code)) {
      clearTimeout(this.resendTimers.get(clientId));
      this.resendTimers.set(
        clientId,
        setTimeout(() => {
          this.resendTimers.delete(clientId);
          const current = this.outbox.get(clientId);
          if (current && !current.failed) this.transmit(current);
        }, error.retry_after_ms || RETRY_DEFAULT_MS),
      );
      return;
    }
    this.outbox.setFailed(clientId, { code: error.code, detail: error.detail });
    this.onOutbox();
  }

  /** Deliver messages in sequence order, each once; hold any that arrive early. */
  accept(messages) {
    for (const message of messages) {
      if (message.seq > this.lastSeq) this.early.set(message.seq, message);
      // Sent from another tab, whose ack went there: it is stored, so it is no longer ours to send.
      if (message.sender.id === this.myId) this.acknowledged(message.client_id);
    }
    const ready = [];
    while (this.early.has(this.lastSeq + 1)) {
      this.lastSeq += 1;
      ready.push(this.early.get(this.lastSeq));
      this.early.delete(this.lastSeq);
    }
    if (ready.length) this.onMessages(ready);
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
