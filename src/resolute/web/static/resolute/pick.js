// Observation form: tap the map to fill the coordinates (own position, then the event).
(function () {
  "use strict";
  const el = document.getElementById("pick-map");
  if (!el || !window.L) return;
  const form = document.getElementById("observation-form");
  const map = L.map(el).setView([48.4, 36.8], 7);
  map.attributionControl.setPrefix(false);
  fetch("/static/resolute/basemap/countries.geojson").then((r) => (r.ok ? r.json() : null)).then((g) => {
    if (g) L.geoJSON(g, { interactive: false, style: { color: "#7d8793", weight: 1, fillColor: "#f4f3ee", fillOpacity: 1 } }).addTo(map).bringToBack();
  });
  const marks = {};
  function put(kind, lat, lon) {
    if (marks[kind]) marks[kind].setLatLng([lat, lon]);
    else marks[kind] = L.circleMarker([lat, lon], { radius: 7, weight: 2, color: kind === "observer" ? "#000" : "#b3261e", fillOpacity: 0.6 }).addTo(map);
  }
  map.on("click", (e) => {
    const kind = form.elements.pick.value;
    const lat = e.latlng.lat.toFixed(5), lon = e.latlng.lng.toFixed(5);
    if (kind === "observer") {
      form.elements.observer_lat.value = lat; form.elements.observer_lon.value = lon;
      form.elements.pick.value = "event";
    } else {
      form.elements.event_lat.value = lat; form.elements.event_lon.value = lon;
      form.elements.where.value = "point";
    }
    put(kind, Number(lat), Number(lon));
  });
  // The browser's own position, when the device has one and the person allows it.
  if (navigator.geolocation && !form.elements.observer_lat.value) {
    navigator.geolocation.getCurrentPosition((p) => {
      form.elements.observer_lat.value = p.coords.latitude.toFixed(5);
      form.elements.observer_lon.value = p.coords.longitude.toFixed(5);
      form.elements.observer_accuracy_m.value = Math.round(p.coords.accuracy);
      put("observer", p.coords.latitude, p.coords.longitude);
      map.setView([p.coords.latitude, p.coords.longitude], 11);
    }, () => {}, { timeout: 5000 });
  }
})();
