// One room's live connection: reconnects by itself, resumes from the last sequence number
// it delivered, fills gaps, and resends unacknowledged messages under their own ids.
// It hands the page each message exactly once, in sequence order.

const BACKOFF_FIRST_MS = 500;
const BACKOFF_CAP_MS = 15000;
const GAP_WAIT_MS = 400; // a missing number usually arrives on its own within this
const CLOSE_RESTART = 1012; // the server is restarting: go to another worker at once
const CLOSE_FATAL = {
  4401: "Your session has ended. Join again from the front page.",
  4404: "This room no longer exists.",
};

export function newClientId() {
  // crypto.randomUUID exists only on secure origins; getRandomValues exists everywhere.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class RoomConnection {
  /**
   * @param {object} options
   * @param {string} options.url          the room's WebSocket URL
   * @param {number} options.lastSeq      the last sequence number already on the page
   * @param {(messages: object[]) => void} options.onMessages
   * @param {(clientId: string, message: object) => void} options.onAck
   * @param {(clientId: string, error: object) => void} options.onRejected
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
    this.syncing = false;
    this.closedForGood = false;
    this.outbox = new Map(); // clientId -> text, until acknowledged
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
      for (const [clientId, text] of this.outbox) this.transmit(clientId, text);
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.syncing = false;
      const fatal = CLOSE_FATAL[event.code];
      if (fatal) {
        this.closedForGood = true;
        this.onState("closed", fatal);
        return;
      }
      this.onState("offline");
      this.scheduleReconnect(event.code === CLOSE_RESTART ? 0 : this.backoff());
    });
  }

  /** Reconnect now, skipping the rest of the backoff wait. */
  reconnectNow() {
    if (!this.socket) this.connect();
  }

  /** Send a message; it is kept and resent until the server acknowledges it. */
  send(text, clientId = newClientId()) {
    this.outbox.set(clientId, text);
    this.transmit(clientId, text);
    return clientId;
  }

  forget(clientId) {
    this.outbox.delete(clientId);
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

  transmit(clientId, text) {
    if (this.online) {
      this.socket.send(JSON.stringify({ type: "message.send", client_id: clientId, text }));
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
        this.outbox.delete(frame.client_id);
        this.accept([frame.message]);
        this.onAck(frame.client_id, frame.message);
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

  rejected(error) {
    const clientId = error.client_id;
    if (!clientId || !this.outbox.has(clientId)) {
      this.onError(error);
      return;
    }
    if (error.code === "rate_limited") {
      const text = this.outbox.get(clientId);
      setTimeout(() => this.transmit(clientId, text), error.retry_after_ms || 1000);
      return;
    }
    this.outbox.delete(clientId);
    this.onRejected(clientId, error);
  }

  /** Deliver messages in sequence order, each once; hold any that arrive early. */
  accept(messages) {
    for (const message of messages) {
      if (message.seq > this.lastSeq) this.early.set(message.seq, message);
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
