// Offline: the app, the engines' WASM and the artifacts are cached at install (the list is
// precache.json, written by tools/stage.mjs; its version is this script's ?v=, so a new staging
// installs a new worker and cache), then served cache-first; anything else same-origin is cached
// the first time it is fetched.
const VERSION = new URL(self.location.href).searchParams.get("v") || "dev";
const CACHE = `edgephoto-demo-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const list = await (await fetch("precache.json", { cache: "no-store" })).json();
    const cache = await caches.open(CACHE);
    await cache.addAll([...list.urls, "precache.json"]);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith("edgephoto-demo-") && key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  const network = url.pathname.endsWith("/precache.json"); // the version check: network first
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    if (network) {
      try { return await fetch(event.request, { cache: "no-store" }); } catch { return (await cache.match(event.request)) || Response.error(); }
    }
    const hit = await cache.match(event.request, { ignoreSearch: true });
    if (hit) return hit;
    const response = await fetch(event.request);
    if (response.ok) cache.put(event.request, response.clone());
    return response;
  })());
});
