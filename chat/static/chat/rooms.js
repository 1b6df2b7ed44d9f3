// The person's rooms beside the room: the most recently active first, each with what
// others posted there since the person read it ("99+" past 99) and, apart, how many of
// those mention the person. It starts from the page's
// config and stays true from hints on the socket: another room's events (room.activity,
// counted here by their number, each once), the read position moving in any tab
// (read.now), a room joined elsewhere (room.joined); after a reconnect, or a gap in a
// room's numbers, it reads the rooms afresh.

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
    const room = this.rooms.get(roomId);
    if (!room || !Number.isInteger(event.seq) || event.seq <= room.last_seq) return;
    if (event.seq > room.last_seq + 1) this.refreshSoon(); // some went missing: read afresh
    room.last_seq = event.seq;
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
    try {
      const response = await fetch(this.url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`rooms ${response.status}`);
      const { rooms } = await response.json();
      const fresh = new Map();
      for (const room of rooms) {
        // What this page counted from events newer than the read is newer still.
        const known = this.rooms.get(room.id);
        fresh.set(room.id, known && known.last_seq > room.last_seq ? known : copy(room));
      }
      this.rooms = fresh;
      this.render();
    } catch (error) {
      console.warn("could not read the room list", error);
    }
  }

  render() {
    const ordered = [...this.rooms.values()].sort(
      (a, b) => (b.active_at ?? "").localeCompare(a.active_at ?? "") || b.id - a.id,
    );
    const items = ordered.map((room) => this.item(room));
    this.list.replaceChildren(...items);
    this.changed();
  }

  item(room) {
    const item = document.createElement("li");
    item.className = "room-list__item";
    const link = document.createElement("a");
    link.className = "room-list__link";
    link.href = `/r/${room.id}/`;
    const name = document.createElement("span");
    name.className = "room-list__name";
    name.textContent = room.name;
    link.append(name);
    if (room.id === this.currentId) {
      link.setAttribute("aria-current", "page");
    } else if (room.unread > 0) {
      item.classList.add("room-list__item--unread");
      const label = room.unread >= UNREAD_CAP ? "99+" : String(room.unread);
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = label;
      badge.setAttribute("aria-label", `${label} unread`);
      link.append(badge);
      if (room.mentioned.size) {
        const mentions = document.createElement("span");
        mentions.className = "badge badge--mention";
        mentions.textContent = `@${room.mentioned.size}`;
        const count = room.mentioned.size;
        mentions.setAttribute("aria-label", count === 1 ? "1 mention of you" : `${count} mentions of you`);
        link.append(mentions);
      }
    }
    item.append(link);
    return item;
  }
}

function copy(summary) {
  return { ...summary, mentioned: new Set(summary.mentioned ?? []) };
}
