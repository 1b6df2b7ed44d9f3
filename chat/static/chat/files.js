// Files: the composer's tray of files being attached (chosen, dropped or pasted; each
// uploaded at once with its progress shown), and how a message shows the files it carries
// (pictures as thumbnails, other files as a name, type and size to download).
//
// A file is uploaded on its own (POST to the room's files URL); the message then names it
// by key. Until the message is sent only its uploader can see it.

const SIZE_UNITS = ["bytes", "KB", "MB", "GB"];

export function formatSize(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} ${value === 1 ? "byte" : "bytes"}` : `${value.toFixed(value < 10 ? 1 : 0)} ${SIZE_UNITS[unit]}`;
}

/** What a person would call the type: "PNG image", "PDF", or the extension. */
function typeLabel(file) {
  const [kind, sub = ""] = file.type.split("/");
  if (file.type === "application/pdf") return "PDF";
  if (kind === "image") return `${sub.toUpperCase()} image`;
  const extension = file.name.includes(".") ? file.name.split(".").pop().toUpperCase() : "";
  if (kind === "text") return extension ? `${extension} text` : "Text";
  return extension ? `${extension} file` : "File";
}

/** The files of a message, as nodes (none: null). */
export function filesBlock(files) {
  if (!files?.length) return null;
  const list = document.createElement("ul");
  list.className = "files";
  list.setAttribute("aria-label", files.length === 1 ? "1 file" : `${files.length} files`);
  for (const file of files) {
    const item = document.createElement("li");
    item.className = file.thumbnail_url ? "file file--picture" : "file";
    const link = document.createElement("a");
    link.href = file.url;
    link.className = "file__link";
    if (file.thumbnail_url) {
      // Opens the picture itself in a new tab; the thumbnail keeps its place while loading.
      link.target = "_blank";
      link.rel = "noopener";
      const image = document.createElement("img");
      image.className = "file__thumbnail";
      image.src = file.thumbnail_url;
      image.width = file.thumbnail_width;
      image.height = file.thumbnail_height;
      image.alt = file.name;
      image.loading = "lazy";
      image.decoding = "async";
      link.append(image);
      link.setAttribute("aria-label", `${file.name}, ${typeLabel(file)}, ${formatSize(file.size)}. Open the picture`);
    } else {
      link.download = file.name;
      const icon = document.createElement("span");
      icon.className = "file__icon";
      icon.setAttribute("aria-hidden", "true");
      icon.textContent = "📄";
      const name = document.createElement("span");
      name.className = "file__name";
      name.textContent = file.name;
      const meta = document.createElement("span");
      meta.className = "file__meta";
      meta.textContent = `${typeLabel(file)} · ${formatSize(file.size)}`;
      link.append(icon, name, meta);
      link.setAttribute("aria-label", `Download ${file.name}, ${typeLabel(file)}, ${formatSize(file.size)}`);
    }
    item.append(link);
    list.append(item);
  }
  return list;
}

/**
 * The files the composer will send with the next message. Each is uploaded as soon as it is
 * added; `ready()` tells whether all are, and `sent()` empties the tray for the next message.
 */
export class FileTray {
  /**
   * @param {object} options
   * @param {HTMLElement} options.list      where the tray's entries are drawn
   * @param {{url: string, maxBytes: number, perMessage: number}} options.limits
   * @param {string} options.csrfToken
   * @param {(text: string) => void} options.announce  says a failure where people hear it
   * @param {() => void} options.changed    the tray changed (the Send button's state)
   * @param {AbortSignal} options.signal    leaving the room cancels the uploads
   */
  constructor({ list, limits, csrfToken, announce, changed, signal }) {
    this.list = list;
    this.limits = limits;
    this.csrfToken = csrfToken;
    this.announce = announce;
    this.changed = changed;
    this.entries = []; // {id, file, progress, uploaded, error, request}
    this.nextId = 1;
    signal.addEventListener("abort", () => this.entries.forEach((entry) => entry.request?.abort()));
  }

  get count() {
    return this.entries.length;
  }

  /** Whether every file is uploaded (and there is at least one). */
  ready() {
    return this.entries.length > 0 && this.entries.every((entry) => entry.uploaded);
  }

  get uploading() {
    return this.entries.some((entry) => !entry.uploaded && !entry.error);
  }

  get failed() {
    return this.entries.some((entry) => entry.error);
  }

  /** The uploaded files' wire states, in the order they were added. */
  files() {
    return this.entries.filter((entry) => entry.uploaded).map((entry) => entry.uploaded);
  }

  add(fileList) {
    const files = [...fileList];
    const room = this.limits.perMessage - this.entries.length;
    if (files.length > room) {
      this.announce(`A message can carry ${this.limits.perMessage} files; ${files.length - Math.max(0, room)} not added.`);
    }
    for (const file of files.slice(0, Math.max(0, room))) {
      const entry = { id: this.nextId++, file, progress: 0, uploaded: null, error: null, request: null };
      this.entries.push(entry);
      if (file.size > this.limits.maxBytes) {
        entry.error = `Too large: files are limited to ${formatSize(this.limits.maxBytes)}.`;
        this.announce(`${file.name}: ${entry.error}`);
      } else {
        this.upload(entry);
      }
    }
    this.draw();
  }

  upload(entry) {
    const form = new FormData();
    form.append("file", entry.file, entry.file.name || "pasted");
    const request = new XMLHttpRequest();
    entry.request = request;
    entry.error = null;
    entry.progress = 0;
    request.open("POST", this.limits.url);
    request.setRequestHeader("X-CSRFToken", this.csrfToken);
    request.responseType = "json";
    request.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      entry.progress = event.loaded / event.total;
      this.drawProgress(entry);
    });
    request.addEventListener("load", () => {
      entry.request = null;
      if (request.status === 201 && request.response?.key) {
        entry.uploaded = request.response;
      } else {
        entry.error = request.response?.detail || `The upload failed (${request.status}).`;
        this.announce(`${entry.file.name}: ${entry.error}`);
      }
      this.draw();
    });
    const failed = () => {
      entry.request = null;
      entry.error = "The upload did not reach the server.";
      this.announce(`${entry.file.name}: ${entry.error}`);
      this.draw();
    };
    request.addEventListener("error", failed);
    request.addEventListener("timeout", failed);
    request.send(form);
  }

  remove(id) {
    const index = this.entries.findIndex((entry) => entry.id === id);
    if (index === -1) return;
    this.entries[index].request?.abort();
    this.entries.splice(index, 1);
    this.draw();
  }

  /** The message carrying these files is on its way: the tray is the next message's. */
  sent() {
    this.entries = [];
    this.draw();
  }

  drawProgress(entry) {
    const bar = this.list.querySelector(`[data-entry="${entry.id}"] progress`);
    if (bar) bar.value = entry.progress;
  }

  draw() {
    this.list.replaceChildren(...this.entries.map((entry) => this.drawEntry(entry)));
    this.list.hidden = this.entries.length === 0;
    this.changed();
  }

  drawEntry(entry) {
    const item = document.createElement("li");
    item.className = "tray__item";
    item.dataset.entry = entry.id;
    if (entry.error) item.classList.add("tray__item--failed");
    const name = document.createElement("span");
    name.className = "tray__name";
    name.textContent = entry.file.name || "Pasted picture";
    const state = document.createElement("span");
    state.className = "tray__state";
    item.append(name, state);
    if (entry.uploaded) {
      state.textContent = formatSize(entry.uploaded.size);
    } else if (entry.error) {
      state.textContent = entry.error;
      if (entry.file.size <= this.limits.maxBytes) {
        const retry = document.createElement("button");
        retry.type = "button";
        retry.className = "button button--small";
        retry.textContent = "Retry";
        retry.addEventListener("click", () => {
          this.upload(entry);
          this.draw();
        });
        item.append(retry);
      }
    } else {
      const bar = document.createElement("progress");
      bar.max = 1;
      bar.value = entry.progress;
      bar.setAttribute("aria-label", `Uploading ${entry.file.name || "pasted picture"}`);
      state.append(bar);
    }
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "button button--small button--quiet tray__remove";
    remove.textContent = "✕";
    remove.setAttribute("aria-label", `Remove ${entry.file.name || "pasted picture"}`);
    remove.addEventListener("click", () => this.remove(entry.id));
    item.append(remove);
    return item;
  }
}
