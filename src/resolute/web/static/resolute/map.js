// The situation map. Everything it draws comes from this server: the base map is shipped vector
// data, incidents come from /api/v1/map/incidents, which answers with grid cells instead of
// incidents when there are too many to send (the server aggregates; the browser never receives
// 100,000 features). The state of the map is mirrored in data- attributes for tests and
// assistive technology (the status line is an aria-live region).
(function () {
  "use strict";
  const cfgEl = document.getElementById("map-config");
  if (!cfgEl) return;
  const cfg = JSON.parse(cfgEl.textContent);
  const el = document.getElementById("map");
  const status = document.getElementById("map-status");
  const form = document.getElementById("map-filters");
  const list = document.getElementById("incident-list");
  const t = cfg.labels;

  const map = L.map(el, { preferCanvas: true, zoomControl: true, keyboard: true, maxZoom: 18, minZoom: 3 }).setView(cfg.center || [48.4, 36.8], cfg.zoom || 7);
  el.leafletMap = map; // for the browser tests and the console
  map.attributionControl.setPrefix(false);
  if (cfg.tileUrl) L.tileLayer(cfg.tileUrl, { attribution: cfg.tileAttribution || "", maxZoom: 18 }).addTo(map);

  const sideColour = (side, data) => (side && side === data.side_a ? "#1f5fbf" : side && side === data.side_b ? "#b3261e" : "#5f6b76");
  const zoneStyle = {
    withdrawal_band: { color: "#8a4b00", weight: 1, fillOpacity: 0.06, dashArray: "4 4" },
    security_zone: { color: "#6b3fa0", weight: 1, fillOpacity: 0.07 },
    disengagement_area: { color: "#0f7a6a", weight: 2, fillOpacity: 0.12 },
    no_fly_zone: { color: "#444", weight: 1, fillOpacity: 0.05, dashArray: "2 6" },
    storage_site: { color: "#1d6b32", weight: 2, fillOpacity: 0.3 },
    exercise_area: { color: "#b58900", weight: 1, fillOpacity: 0.1 },
  };

  // Base map: countries (Ukraine emphasised), then oblasts when shipped.
  fetch(cfg.basemapUrl).then((r) => (r.ok ? r.json() : null)).then((geo) => {
    if (!geo) return;
    L.geoJSON(geo, {
      interactive: false,
      style: (f) => (f.properties.iso_a3 === "UKR"
        ? { color: "#33415c", weight: 1.5, fillColor: "#fbfbf7", fillOpacity: 1 }
        : { color: "#7d8793", weight: 1, fillColor: "#eceae4", fillOpacity: 1 }),
    }).addTo(map).bringToBack();
  });
  if (cfg.oblastsUrl) {
    fetch(cfg.oblastsUrl).then((r) => (r.ok ? r.json() : null)).then((geo) => {
      if (geo) L.geoJSON(geo, { interactive: false, style: { color: "#a7b0bb", weight: 0.8, fill: false } }).addTo(map);
    });
  }

  const overlays = {};
  const layerControl = L.control.layers(null, overlays, { collapsed: window.innerWidth < 800 }).addTo(map);
  fetch(cfg.layersUrl, { credentials: "same-origin" }).then((r) => r.json()).then((layers) => {
    const contact = L.geoJSON(layers.contact, {
      style: (f) => (f.properties.kind === "contact_line" ? { color: "#111", weight: 3 } : { color: "#1f5fbf", weight: 0, fillOpacity: 0.05 }),
      interactive: false,
    }).addTo(map);
    layerControl.addOverlay(contact, t.contact_line);
    const zones = L.geoJSON(layers.zones, {
      style: (f) => zoneStyle[f.properties.kind] || { color: "#555", weight: 1, fillOpacity: 0.05 },
      pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 6, ...(zoneStyle[f.properties.kind] || { color: "#555" }), fillOpacity: 0.5 }),
      onEachFeature: (f, layer) => layer.bindTooltip(`${f.properties.name} (${f.properties.kind.replace(/_/g, " ")})`),
    }).addTo(map);
    layerControl.addOverlay(zones, t.zones);
    const posts = L.geoJSON(layers.posts, {
      pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 4, color: "#000", weight: 1, fillColor: "#fff", fillOpacity: 1 }),
      onEachFeature: (f, layer) => layer.bindTooltip(`${t.observation_post} · ${f.properties.reports} ${t.reports}`),
    }).addTo(map);
    layerControl.addOverlay(posts, t.observation_posts);
    el.dataset.layers = "ready";
  });

  let sides = {};
  // A cluster takes the colour of the side most of its incidents came from, like its markers.
  const clusterIcon = (cluster) => {
    const n = { a: 0, b: 0, none: 0 };
    cluster.getAllChildMarkers().forEach((m) => {
      const side = m.incident && m.incident.origin_side;
      n[side && side === sides.side_a ? "a" : side && side === sides.side_b ? "b" : "none"] += 1;
    });
    const colour = n.a > n.b && n.a >= n.none ? "#1f5fbf" : n.b > n.a && n.b >= n.none ? "#b3261e" : "#5f6b76";
    const count = cluster.getChildCount(), size = count < 10 ? 30 : count < 100 ? 38 : 46;
    return L.divIcon({
      className: "", iconSize: [size, size],
      html: `<div class="grid-cell" style="width:${size}px;height:${size}px;line-height:${size - 4}px;background:${colour}">${count}</div>`,
    });
  };
  const clusters = L.markerClusterGroup({ maxClusterRadius: 40, spiderfyOnMaxZoom: true, showCoverageOnHover: false, chunkedLoading: true, iconCreateFunction: clusterIcon });
  const ellipses = L.layerGroup();
  const cells = L.layerGroup();
  map.addLayer(clusters).addLayer(cells);

  function ellipse(i) {
    // 95 % error ellipse as a polygon: semi-axes in metres, orientation of the major axis
    // clockwise from north; a local flat approximation is exact enough at these sizes.
    const e = i.ellipse, pts = [], rad = Math.PI / 180, th = e.orientation_deg * rad;
    const mLat = 111320, mLon = 111320 * Math.cos(i.lat * rad);
    for (let k = 0; k <= 48; k++) {
      const a = (2 * Math.PI * k) / 48, x = e.semi_major_m * Math.cos(a), y = e.semi_minor_m * Math.sin(a);
      const north = x * Math.cos(th) - y * Math.sin(th), east = x * Math.sin(th) + y * Math.cos(th);
      pts.push([i.lat + north / mLat, i.lon + east / mLon]);
    }
    return L.polygon(pts, { color: "#333", weight: 1, fillOpacity: 0.08, interactive: false });
  }

  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  function drawIncidents(data) {
    sides = { side_a: data.side_a, side_b: data.side_b };
    const markers = data.incidents.map((i) => {
      const sev = i.severity || 0;
      const m = L.circleMarker([i.lat, i.lon], {
        radius: 5 + 2 * sev, color: "#fff", weight: 1.5, fillColor: sideColour(i.origin_side, data), fillOpacity: 0.9,
      });
      m.bindPopup(
        `<strong>${esc(t.types[i.event_type] || i.event_type)}</strong><br>${esc(i.first_seen.replace("T", " ").slice(0, 16))} UTC` +
        `<br>${esc(t.confidence)}: ${esc(i.confidence_word || "–")}${i.confidence != null ? " (" + Math.round(i.confidence * 100) + " %)" : ""}` +
        `<br>${esc(t.origin)}: ${esc(i.origin_side || t.undetermined)}${sev ? "<br>" + esc(t.severity) + ": " + sev : ""}` +
        `<br><a href="${cfg.incidentUrl.replace("/0/", "/" + i.id + "/")}">${esc(t.open)} #${i.id}</a>`
      );
      m.incident = i;
      return m;
    });
    clusters.addLayers(markers);
    // The same incidents as links, newest first: reachable by keyboard and screen readers,
    // which cannot use the canvas markers.
    if (list) {
      list.replaceChildren(...data.incidents.slice().sort((a, b) => (a.first_seen < b.first_seen ? 1 : -1)).slice(0, 200).map((i) => {
        const li = document.createElement("li"), a = document.createElement("a");
        a.href = cfg.incidentUrl.replace("/0/", "/" + i.id + "/");
        a.textContent = `#${i.id} ${t.types[i.event_type] || i.event_type}, ${i.first_seen.replace("T", " ").slice(0, 16)} UTC`;
        li.appendChild(a);
        return li;
      }));
    }
    data.incidents.filter((i) => i.ellipse).forEach((i) => ellipses.addLayer(ellipse(i)));
    if (map.getZoom() >= 11) map.addLayer(ellipses);
  }

  function drawGrid(data) {
    const max = Math.max(1, ...data.cells.map((c) => c.count));
    data.cells.forEach((c) => {
      const size = Math.round(22 + 30 * Math.sqrt(c.count / max));
      const colour = c.origin_a > c.origin_b ? "#1f5fbf" : c.origin_b > c.origin_a ? "#b3261e" : "#5f6b76";
      const icon = L.divIcon({
        className: "", iconSize: [size, size],
        html: `<div class="grid-cell" style="width:${size}px;height:${size}px;line-height:${size - 4}px;background:${colour}">${c.count}</div>`,
      });
      L.marker([c.lat, c.lon], { icon, keyboard: true, title: `${c.count} ${t.incidents}` })
        .on("click", () => map.setView([c.lat, c.lon], Math.min(map.getZoom() + 2, 18)))
        .addTo(cells);
    });
  }

  function params() {
    const q = new URLSearchParams();
    const b = map.getBounds();
    const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));
    q.set("bbox", [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)].map((x) => x.toFixed(4)).join(","));
    q.set("zoom", Math.round(map.getZoom()));
    if (form) {
      const fd = new FormData(form);
      const types = fd.getAll("event_type");
      if (types.length) q.set("event_type", types.join(","));
      const statuses = fd.getAll("status");
      if (statuses.length) q.set("status", statuses.join(","));
      const conf = fd.get("min_confidence");
      if (conf && conf !== "0") q.set("min_confidence", conf);
      const win = fd.get("window");
      if (cfg.span && win && win !== "all") {
        const last = new Date(cfg.span.last), first = new Date(cfg.span.first);
        const days = Number(fd.get("day") || 0);
        const end = new Date(first.getTime() + (days + 1) * 86400000);
        const start = new Date(end.getTime() - Number(win) * 86400000);
        q.set("end", (end > last ? last : end).toISOString());
        q.set("start", start.toISOString());
      }
    }
    return q;
  }

  let pending = null, timer = null;
  function load() {
    if (pending) pending.abort();
    pending = new AbortController();
    el.dataset.state = "loading";
    fetch(`${cfg.dataUrl}?${params()}`, { credentials: "same-origin", signal: pending.signal })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
      .then(({ ok, body }) => {
        clusters.clearLayers(); cells.clearLayers(); ellipses.clearLayers();
        if (list) list.replaceChildren();
        if (!ok) { status.textContent = body.detail || t.error; el.dataset.state = "error"; return; }
        if (body.mode === "grid") drawGrid(body); else drawIncidents(body);
        el.dataset.mode = body.mode;
        el.dataset.total = body.total;
        el.dataset.drawn = body.mode === "grid" ? body.cells.length : body.incidents.length;
        status.textContent = body.mode === "grid"
          ? t.status_grid.replace("%(n)s", body.total.toLocaleString()).replace("%(cells)s", body.cells.length)
          : t.status_incidents.replace("%(n)s", body.total.toLocaleString());
        el.dataset.state = "ready";
      })
      .catch((e) => { if (e.name !== "AbortError") { status.textContent = t.error; el.dataset.state = "error"; } });
  }
  const later = () => { clearTimeout(timer); timer = setTimeout(load, 200); };
  map.on("moveend", later);
  map.on("zoomend", () => (map.getZoom() >= 11 ? map.addLayer(ellipses) : map.removeLayer(ellipses)));
  if (form) {
    form.addEventListener("change", later);
    form.addEventListener("input", (e) => {
      if (e.target.name === "day") {
        const label = document.getElementById("day-label");
        const first = new Date(cfg.span.first);
        label.textContent = new Date(first.getTime() + Number(e.target.value) * 86400000).toISOString().slice(0, 10);
      }
    });
    form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  }

  const legend = L.control({ position: "bottomright" });
  legend.onAdd = () => {
    const div = L.DomUtil.create("div", "legend");
    div.innerHTML = `<strong>${esc(t.origin)}</strong><br><i style="background:#1f5fbf"></i>${esc(t.side_a)}<br>` +
      `<i style="background:#b3261e"></i>${esc(t.side_b)}<br><i style="background:#5f6b76"></i>${esc(t.undetermined)}<br>` +
      `<span class="small">${esc(t.size_severity)}</span>`;
    return div;
  };
  legend.addTo(map);
  load();
})();
