// The service worker: shows a Web Push notification unless a tab in front shows that
// room, and opens the room at the message when the notification is clicked. Served from the
// site's root (/sw.js) so that its scope is the whole site.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => event.waitUntil(showPush(event)));

async function showPush(event) {
  let data;
  try {
    data = event.data.json();
  } catch {
    return;
  }
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  // A tab in front showing that room is where the person reads it; a hidden tab has shown
  // this same notification already (the same tag), and showing it again only replaces it.
  const room = new URL(data.url, self.location.origin).pathname;
  const inFront = windows.find((client) => client.focused && new URL(client.url).pathname === room);
  if (inFront) {
    inFront.postMessage({ type: "push.in-front", tag: data.tag }); // for whoever listens
    return;
  }
  await self.registration.showNotification(data.title, {
    body: data.body,
    tag: data.tag,
    icon: data.icon,
    data: { url: data.url },
  });
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url ?? "/", self.location.origin);
  event.waitUntil(openRoom(url));
});

async function openRoom(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const same = windows.find((client) => new URL(client.url).pathname === url.pathname);
  if (same) {
    await same.focus();
    return;
  }
  // Another tab of the site goes to the room; with none, a new one opens there.
  const other = windows.find((client) => "navigate" in client);
  if (other) {
    const moved = await other.navigate(url.href).catch(() => null);
    if (moved) {
      await moved.focus();
      return;
    }
  }
  await self.clients.openWindow(url.href);
}
