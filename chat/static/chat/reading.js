// What the person has read in this room, and what is new to them. A message counts as read
// once it has been on screen in a focused, visible tab; the page then tells the server
// (`read`, at most about once a second), which moves the person's read position forward.
// A "New" divider marks where they left off: where it was at load, or, when messages
// arrive while they are away from the tab, before the first of those. The tab's title
// counts what others posted that they have not seen yet.

const REPORT_AFTER_MS = 800;

export class ReadTracker {
  /**
   * @param {{log: HTMLElement, scroller: HTMLElement, lastReadSeq: number, myId: number,
   *          title: string, send: (frame: object) => boolean,
   *          elsewhere: () => number}} options   elsewhere: unread in the person's other rooms
   */
  constructor(options) {
    Object.assign(this, options);
    this.readSeq = options.lastReadSeq; // what this page knows the person has seen
    this.reported = options.lastReadSeq;
    this.unread = new Set(); // others' messages after readSeq, on the page
    this.onScreen = new Set();
    this.reportTimer = null;
    this.divider = null;
    this.visibility = new IntersectionObserver((entries) => this.saw(entries), {
      root: this.scroller,
      threshold: 0.6,
    });
    // Every message node, however it came (first page, older page, live), is watched.
    this.nodes = new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) if (node.classList?.contains("msg")) this.track(node);
        for (const node of change.removedNodes) if (node.classList?.contains("msg")) this.untrack(node);
      }
    }).observe(this.log, { childList: true });
    for (const node of this.log.querySelectorAll(".msg")) this.track(node);
    const recheck = () => this.readWhatIsOnScreen();
    const { signal } = options; // the room is left: the page switched rooms
    document.addEventListener("visibilitychange", recheck, { signal });
    window.addEventListener("focus", recheck, { signal });
    window.addEventListener("blur", () => this.showTitle(), { signal });
    // Leaving the page must not lose what was just read (the report waits a moment).
    window.addEventListener("pagehide", () => this.report(), { signal });
    signal?.addEventListener("abort", () => {
      this.report(); // and neither must leaving the room
      this.visibility.disconnect();
      this.nodes.disconnect();
    });
  }

  /** The person is looking at this tab now. */
  attending() {
    return document.visibilityState === "visible" && document.hasFocus();
  }

  isUnread(node) {
    return Number(node.dataset.sender) !== this.myId && Number(node.dataset.seq) > this.readSeq;
  }

  track(node) {
    if (this.isUnread(node) && !node.classList.contains("msg--deleted")) {
      this.unread.add(Number(node.dataset.seq));
    }
    this.visibility.observe(node);
    this.showTitle();
  }

  untrack(node) {
    this.visibility.unobserve(node);
    this.onScreen.delete(node);
    this.unread.delete(Number(node.dataset.seq));
    this.showTitle();
  }

  /** A message became a tombstone: it is nothing to read any more. */
  deleted(seq) {
    this.unread.delete(seq);
    this.showTitle();
  }

  /** A live message arrived (its node is on the page already). */
  arrived(message) {
    if (message.sender.id === this.myId) {
      // Writing in a room is having read it: nothing before one's own message is new.
      this.readUpTo(message.seq);
      return;
    }
    if (!this.attending() && message.seq > this.readSeq) this.markNewBefore(message.seq);
  }

  /** Put the "New" divider where the person left off: before the first unread message on
   * the page, if there is one. Called once the first page is on the page. */
  markWhereLeftOff() {
    const first = [...this.log.querySelectorAll(".msg")].find(
      (node) => this.isUnread(node) && !node.classList.contains("msg--deleted"),
    );
    if (first) this.markNewBefore(Number(first.dataset.seq));
    return this.divider;
  }

  markNewBefore(seq) {
    // A divider already below what has been read still marks where this absence began.
    if (this.divider?.isConnected && Number(this.divider.dataset.after) >= this.readSeq) return;
    const node = this.log.querySelector(`.msg[data-seq="${seq}"]`);
    if (!node) return;
    this.divider ??= newDivider();
    this.divider.dataset.after = String(this.readSeq);
    node.before(this.divider);
  }

  /** Keep the divider in front of its message when the page regroups (day dividers). */
  keepDividerPlaced() {
    if (!this.divider?.isConnected) return;
    const next = this.divider.nextElementSibling;
    if (next?.classList.contains("day-divider")) next.after(this.divider);
  }

  saw(entries) {
    for (const entry of entries) {
      if (entry.isIntersecting) this.onScreen.add(entry.target);
      else this.onScreen.delete(entry.target);
    }
    this.readWhatIsOnScreen();
  }

  readWhatIsOnScreen() {
    if (!this.attending()) {
      this.showTitle();
      return;
    }
    let newest = this.readSeq;
    for (const node of this.onScreen) newest = Math.max(newest, Number(node.dataset.seq));
    this.readUpTo(newest);
  }

  readUpTo(seq) {
    if (seq <= this.readSeq) return;
    this.readSeq = seq;
    for (const unreadSeq of this.unread) if (unreadSeq <= seq) this.unread.delete(unreadSeq);
    this.showTitle();
    this.reportSoon();
  }

  reportSoon() {
    if (this.reportTimer === null) this.reportTimer = setTimeout(() => this.report(), REPORT_AFTER_MS);
  }

  report() {
    clearTimeout(this.reportTimer);
    this.reportTimer = null;
    // Offline, the report waits for the reconnect (reportAgain).
    if (this.readSeq > this.reported && this.send({ type: "read", seq: this.readSeq })) {
      this.reported = this.readSeq;
    }
  }

  /** After a reconnect: the last report may have been lost with the connection (saying
   * it twice moves nothing). */
  reportAgain() {
    if (this.readSeq > this.lastReadSeq) {
      this.reported = this.lastReadSeq;
      this.reportSoon();
    }
  }

  /** Reported to the server since the page loaded, or waiting to be. */
  get pending() {
    return this.readSeq > this.reported;
  }

  /** Another tab or device read this room further. */
  readElsewhere(seq) {
    if (seq <= this.readSeq) return;
    this.readSeq = seq;
    this.reported = Math.max(this.reported, seq);
    for (const unreadSeq of this.unread) if (unreadSeq <= seq) this.unread.delete(unreadSeq);
    this.showTitle();
  }

  renamed(title) {
    this.title = title;
    this.showTitle();
  }

  /** The title counts everything new to the person: here, and in their other rooms. */
  showTitle() {
    if (this.signal?.aborted) return; // the tab's title is another room's now
    const count = this.unread.size + this.elsewhere();
    document.title = count ? `(${count > 99 ? "99+" : count}) ${this.title}` : this.title;
  }
}

function newDivider() {
  const divider = document.createElement("li");
  divider.className = "new-divider";
  const label = document.createElement("span");
  label.className = "new-divider__label";
  label.textContent = "New";
  divider.append(label);
  divider.setAttribute("aria-label", "New messages since you were last here");
  return divider;
}
