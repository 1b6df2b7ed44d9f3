// The person's rooms beside the room: the most recently active first, each with what
// others posted there since the person read it ("99+" past 99) and, apart, how many of
// those mention the person. It starts from the page's
// config and stays true from hints on the socket: another room's events (room.activity,
// counted here by their number, each once), the read position moving in any tab
// (read.now), a room joined elsewhere (room.joined) or left (room.left: removed from a
// private one), a room renamed (room.changed); after a reconnect, or a gap in a room's
// numbers, it reads the rooms afresh.

const UNREAD_CAP = 100;
const REFRESH_AFTER_MS = 300;

export class RoomList {
  /**
   * @param {{list: HTMLElement, rooms: object[], currentId: number, myId: number,
   *          url: string, changed: () => void}} options
   */
  constructor(options) {
    Object.assign(this, options);
    this.rooms = new Map(options.rooms.map((room) => [room.id, copy(room)]));
    this.refreshTimer = null;
    this.replay = null; // events that arrive while the rooms are being read afresh
    this.render();
  }

  /** What is unread in the person's other rooms, together. */
  total() {
    let total = 0;
    for (const room of this.rooms.values()) if (room.id !== this.currentId) total += room.unread;
    return total;
  }

  hint(frame) {
    if (frame.type === "room.activity") this.activity(frame.room_id, frame.event);
    else if (frame.type === "read.now") this.readNow(frame);
    else if (frame.type === "room.joined") this.joined(frame.room);
    else if (frame.type === "room.left" && this.rooms.delete(frame.room_id)) this.render();
    else if (frame.type === "notify.now" && this.rooms.has(frame.room_id)) {
      this.rooms.get(frame.room_id).notify = frame.level;
    }
  }

  name(roomId) {
    return this.rooms.get(roomId)?.name ?? null;
  }

  notifyLevel(roomId) {
    return this.rooms.get(roomId)?.notify ?? "mentions";
  }

  activity(roomId, event) {
    this.replay?.push([roomId, event]);
    const room = this.rooms.get(roomId);
    if (!room || !Number.isInteger(event.seq) || event.seq <= room.last_seq) return;
    if (event.seq > room.last_seq + 1) this.refreshSoon(); // some went missing: read afresh
    room.last_seq = event.seq;
    if (event.type === "room.changed") this.changedRoom(roomId, event);
    const message = event.message;
    const theirs = message && message.sender.id !== this.myId && message.seq > room.last_read_seq;
    if (event.type === "message.created") {
      room.active_at = message.sent_at;
      if (theirs) room.unread = Math.min(UNREAD_CAP, room.unread + 1);
    } else if (event.type === "message.deleted" && theirs) {
      // A capped count does not say whether this one was in it: ask.
      if (room.unread >= UNREAD_CAP) this.refreshSoon();
      else room.unread = Math.max(0, room.unread - 1);
    }
    if (theirs && message.mentions?.some((person) => person.id === this.myId)) {
      room.mentioned.add(message.seq);
    } else if (message) {
      room.mentioned.delete(message.seq); // deleted, or edited to mention them no more
    }
    this.render();
  }

  readNow(frame) {
    const room = this.rooms.get(frame.room_id);
    if (!room || frame.last_read_seq < room.last_read_seq) return;
    room.last_read_seq = frame.last_read_seq;
    room.unread = frame.unread;
    room.mentioned = new Set(frame.mentioned ?? []);
    // Counted before events this page has already seen: read afresh to count them too.
    if ((frame.last_seq ?? room.last_seq) < room.last_seq) this.refreshSoon();
    this.render();
  }

  /** A room was renamed or made private or public (a direct one keeps its people's names). */
  changedRoom(roomId, event) {
    const room = this.rooms.get(roomId);
    if (!room) return;
    if (!room.direct) room.name = event.name;
    room.private = event.private;
    this.render();
  }

  joined(summary) {
    if (!this.rooms.has(summary.id)) this.rooms.set(summary.id, copy(summary));
    this.render();
  }

  refreshSoon() {
    this.refreshTimer ??= setTimeout(() => this.refresh(), REFRESH_AFTER_MS);
  }

  async refresh() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    const replay = [];
    this.replay = replay;
    try {
      const response = await fetch(this.url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`rooms ${response.status}`);
      const { rooms } = await response.json();
      // The server's rooms are the truth as of its read; events that arrived meanwhile
      // are counted on top of it (each only if it is newer than what the server saw).
      this.rooms = new Map(rooms.map((room) => [room.id, copy(room)]));
      if (this.replay === replay) this.replay = null;
      for (const [roomId, event] of replay) this.activity(roomId, event);
      this.render();
    } catch (error) {
      if (this.replay === replay) this.replay = null;
      console.warn("could not read the room list", error);
    }
  }

  render() {
    const ordered = [...this.rooms.values()].sort(
      (a, b) => (b.active_at ?? "").localeCompare(a.active_at ?? "") || b.id - a.id,
    );
    const items = ordered.map((room) => this.item(room));
    // Rebuilt whole: whoever was on a room's link stays on it.
    const focused = this.list.contains(document.activeElement) ? document.activeElement.dataset.roomId : null;
    this.list.replaceChildren(...items);
    if (focused) this.list.querySelector(`[data-room-id="${focused}"]`)?.focus();
    this.changed();
  }

  item(room) {
    const item = document.createElement("li");
    item.className = "room-list__item";
    const link = document.createElement("a");
    link.className = "room-list__link";
    link.href = `/r/${room.id}/`;
    link.dataset.roomId = String(room.id);
    const name = document.createElement("span");
    name.className = "room-list__name";
    name.textContent = room.name;
    link.append(name);
    if (room.id === this.currentId) {
      link.setAttribute("aria-current", "page");
    } else if (room.unread > 0) {
      item.classList.add("room-list__item--unread");
      const label = room.unread >= UNREAD_CAP ? "99+" : String(room.unread);
      link.append(badge("badge", label, " unread"));
      const count = room.mentioned.size;
      if (count) {
        link.append(badge("badge badge--mention", `@${count}`, count === 1 ? " mention of you" : " mentions of you"));
      }
    }
    item.append(link);
    return item;
  }
}

/** A count, and for screen readers what it counts (a label on a bare span is not read). */
function badge(className, shown, spoken) {
  const element = document.createElement("span");
  element.className = className;
  const said = document.createElement("span");
  said.className = "visually-hidden";
  said.textContent = spoken;
  element.append(shown, said);
  return element;
}

function copy(summary) {
  return { ...summary, mentioned: new Set(summary.mentioned ?? []) };
}
