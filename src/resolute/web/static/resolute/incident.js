// One incident: its fix, the 95 % error ellipse (as the server computed it) and the observers.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("incident-data").textContent);
  const el = document.getElementById("incident-map");
  const [lon, lat] = data.geometry.coordinates;
  const map = L.map(el, { preferCanvas: true }).setView([lat, lon], 12);
  map.attributionControl.setPrefix(false);
  fetch(el.dataset.basemap || "/static/resolute/basemap/countries.geojson").then((r) => (r.ok ? r.json() : null)).then((g) => {
    if (g) L.geoJSON(g, { interactive: false, style: { color: "#7d8793", weight: 1, fillColor: "#f4f3ee", fillOpacity: 1 } }).addTo(map).bringToBack();
  });
  const shapes = [L.circleMarker([lat, lon], { radius: 7, color: "#fff", weight: 2, fillColor: "#b3261e", fillOpacity: 1 }).addTo(map)];
  const ell = data.properties.fix && data.properties.fix.ellipse_95;
  if (ell) shapes.push(L.geoJSON(ell, { style: { color: "#b3261e", weight: 1.5, fillOpacity: 0.1 } }).addTo(map));
  (data.properties.observations || []).forEach((o) => {
    const ob = o.properties.observer;
    if (!ob) return;
    shapes.push(L.circleMarker([ob.lat, ob.lon], { radius: 4, color: "#000", weight: 1, fillColor: "#fff", fillOpacity: 1 }).bindTooltip(o.properties.source).addTo(map));
    L.polyline([[ob.lat, ob.lon], [lat, lon]], { color: "#555", weight: 1, dashArray: "3 4" }).addTo(map);
  });
  map.fitBounds(L.featureGroup(shapes).getBounds().pad(0.3), { maxZoom: 14 });
  el.dataset.state = "ready";
})();
