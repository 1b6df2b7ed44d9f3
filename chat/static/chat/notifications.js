// Notifications: per room, the person chooses all messages, mentions only (the default) or
// nothing; while this tab is hidden, what they chose is shown as a browser notification,
// for this room and their other rooms alike. The browser's permission is asked only from
// a button, never on load. Each notification is tagged with its message, so the person's
// several tabs show it once.

const LEVELS = { all: "All messages", mentions: "Mentions only", none: "Nothing" };
const BODY_MAX_CHARS = 140;

export class Notifier {
  /**
   * @param {{button: HTMLButtonElement, panel: HTMLElement, myId: number, roomId: number,
   *          level: string, setLevel: (level: string) => boolean,
   *          roomName: (roomId: number) => string|null,
   *          levelOf: (roomId: number) => string}} options
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
    });
    this.showLevel(this.level);
    this.showPermission();
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
    const text = message.text.length > BODY_MAX_CHARS ? `${message.text.slice(0, BODY_MAX_CHARS - 1)}…` : message.text;
    const notification = new Notification(
      mentionsMe ? `${message.sender.name} mentioned you in ${roomName}` : `${message.sender.name} in ${roomName}`,
      { body: text, tag: `chat-${roomId}-${message.seq}` },
    );
    notification.addEventListener("click", () => {
      window.focus();
      if (roomId !== this.roomId) location.assign(`/r/${roomId}/#message-${message.seq}`);
      notification.close();
    });
  }
}
