// Offline: the app, the onnxruntime-web WASM and the artifacts are cached at install (the list
// is precache.json, written by tools/stage.mjs), then served cache-first; anything else
// same-origin is cached the first time it is fetched.
const CACHE = "edgephoto-demo-v1";

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const list = await (await fetch("precache.json", { cache: "no-store" })).json();
    const cache = await caches.open(`${CACHE}-${list.version}`);
    await cache.addAll(list.urls);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const keep = (await caches.keys()).filter((k) => k.startsWith(CACHE)).sort().pop();
    for (const key of await caches.keys()) if (key !== keep) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    const hit = await caches.match(event.request, { ignoreSearch: true });
    if (hit) return hit;
    const response = await fetch(event.request);
    if (response.ok) {
      const key = (await caches.keys()).filter((k) => k.startsWith(CACHE)).sort().pop();
      if (key) (await caches.open(key)).put(event.request, response.clone());
    }
    return response;
  })());
});
