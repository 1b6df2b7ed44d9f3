// Notifications: per room, the person chooses all messages, mentions only (the default) or
// nothing; while this tab is hidden, what they chose is shown as a browser notification,
// for this room and their other rooms alike. The browser's permission is asked only from
// a button, never on load. Each notification is tagged with its message, so the person's
// several tabs show it once. Once allowed, the browser is also subscribed to Web Push (when
// the server has a VAPID key), so that the person hears of what they chose with every tab
// closed; the service worker's notification carries the same tag as the tab's.

const LEVELS = { all: "All messages", mentions: "Mentions only", none: "Nothing" };
const BODY_MAX_CHARS = 140;
let pushState = null; // this page's subscription, once renewed: renewed once, not per room

export class Notifier {
  /**
   * @param {{button: HTMLButtonElement, panel: HTMLElement, myId: number, roomId: number,
   *          level: string, setLevel: (level: string) => boolean,
   *          roomName: (roomId: number) => string|null,
   *          levelOf: (roomId: number) => string,
   *          push: {key: string|null, url: string, worker: string}, csrfToken: string,
   *          open: (roomId: number, seq: number) => void}} options
   */
  constructor(options) {
    Object.assign(this, options);
    this.permissionButton = this.panel.querySelector("[data-permission]");
    this.permissionNote = this.panel.querySelector("[data-permission-note]");
    this.button.addEventListener("click", () => this.toggle());
    this.panel.addEventListener("change", (event) => {
      if (event.target.name !== "notify-level") return;
      // Offline, nothing is saved: show the level that is.
      this.showLevel(this.setLevel(event.target.value) ? event.target.value : this.level);
    });
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        this.toggle(false);
        this.button.focus();
      }
    });
    this.permissionButton.addEventListener("click", async () => {
      if (!("Notification" in window)) return;
      await Notification.requestPermission();
      this.showPermission();
      this.subscribe();
    });
    this.showLevel(this.level);
    this.showPermission();
    // Every visit renews it: a subscription the push service replaced, or this browser now
    // used by someone else, is then the server's to know.
    if (pushState === null) {
      pushState = "renewing";
      this.subscribe();
    } else if (pushState !== "renewing") {
      this.showPush(pushState); // a room opened in place says what the page found
    }
  }

  /** Subscribe this browser to Web Push, if the server sends it and the person allowed
   * notifications; the tab's own notifications work without it. */
  async subscribe() {
    const push = this.push;
    if (!push?.key || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      const registration = await navigator.serviceWorker.register(push.worker, { scope: "/" });
      await navigator.serviceWorker.ready;
      const key = fromBase64Url(push.key);
      let subscription = await registration.pushManager.getSubscription();
      if (subscription && !sameBytes(subscription.options.applicationServerKey, key)) {
        // The server has a new key: the old subscription is useless to it, and forgotten.
        await this.send("DELETE", { endpoint: subscription.endpoint });
        await subscription.unsubscribe();
        subscription = null;
      }
      subscription ??= await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: key,
      });
      const response = await this.send("POST", subscription.toJSON());
      this.showPush(response.ok ? "on" : "refused");
    } catch (error) {
      // No push service reachable from this browser: say so quietly and carry on.
      this.showPush("unavailable");
      console.info("Web Push is not available in this browser:", error.message);
    }
  }

  send(method, body) {
    return fetch(this.push.url, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrfToken },
      body: JSON.stringify(body),
    });
  }

  showPush(state) {
    pushState = state;
    this.panel.dataset.push = state;
    this.permissionNote.hidden = false;
    this.permissionNote.textContent =
      state === "on"
        ? "You are notified here, and on this device when the site is closed."
        : "You are notified while a tab of the site is open.";
  }

  toggle(open = this.panel.hidden) {
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open) this.panel.querySelector("input:checked")?.focus();
  }

  /** The level of this room, as set here or in another tab. */
  showLevel(level) {
    this.level = level;
    for (const input of this.panel.querySelectorAll("input[name=notify-level]")) {
      input.checked = input.value === level;
    }
    this.button.setAttribute("aria-label", `Notifications: ${LEVELS[level] ?? level}`);
    this.button.dataset.level = level;
  }

  showPermission() {
    const supported = "Notification" in window;
    const permission = supported ? Notification.permission : "unsupported";
    this.permissionButton.hidden = permission !== "default";
    this.permissionNote.hidden = permission === "default" || permission === "granted";
    this.permissionNote.textContent =
      permission === "denied"
        ? "This browser blocks notifications from this site; allow them in its site settings."
        : "This browser cannot show notifications.";
  }

  /** A message was stored in `roomId` (this room or another of the person's). */
  created(roomId, message) {
    if (message.sender.id === this.myId || document.visibilityState !== "hidden") return;
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const level = roomId === this.roomId ? this.level : this.levelOf(roomId);
    const mentionsMe = message.mentions?.some((person) => person.id === this.myId);
    if (level === "none" || (level === "mentions" && !mentionsMe)) return;
    const roomName = this.roomName(roomId) ?? "a room";
    const source = message.text || (message.files?.length ? "Sent a file" : "");
    const text = source.length > BODY_MAX_CHARS ? `${source.slice(0, BODY_MAX_CHARS - 1)}…` : source;
    const notification = new Notification(
      mentionsMe ? `${message.sender.name} mentioned you in ${roomName}` : `${message.sender.name} in ${roomName}`,
      { body: text, tag: `chat-${roomId}-${message.seq}` },
    );
    notification.addEventListener("click", () => {
      window.focus();
      this.open(roomId, message.seq); // whichever room the page shows by then
      notification.close();
    });
  }
}

function fromBase64Url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

function sameBytes(buffer, bytes) {
  if (!buffer) return false;
  const other = new Uint8Array(buffer);
  return other.length === bytes.length && other.every((byte, i) => byte === bytes[i]);
}
