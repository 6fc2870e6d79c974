/* The map beside a list of places (search results, a service's locations), kept in sync with the list.
   The list is the page: without this script (or without Leaflet) the map box simply stays hidden.
   Each [data-map] box names its list items (data-map-items); an item with data-lat/data-lon gets a
   numbered marker (its number in the list) and a "Show on map" button. Selecting a marker (click,
   or Enter on the focused marker) focuses its item in the list; "Show on map" centres the marker
   and opens its label. Tiles come from data-tiles when set; without them the markers stand alone. */
(function () {
  "use strict";

  function listNumber(item) {
    var list = item.parentElement;
    if (!list || list.tagName !== "OL") { return null; }
    var start = parseInt(list.getAttribute("start") || "1", 10);
    return start + Array.prototype.indexOf.call(list.children, item);
  }

  function setUp(box) {
    var items = Array.prototype.slice.call(document.querySelectorAll(box.getAttribute("data-map-items")));
    if (!items.length || !window.L) { return; }
    box.hidden = false;
    var map = window.L.map(box.querySelector(".map-canvas"), { scrollWheelZoom: false, keyboard: true });
    var tiles = box.getAttribute("data-tiles");
    if (tiles) {
      window.L.tileLayer(tiles, { maxZoom: 19, attribution: box.getAttribute("data-attribution") || "" }).addTo(map);
    }
    var placed = items.filter(function (item) {
      return isFinite(parseFloat(item.getAttribute("data-lat"))) && isFinite(parseFloat(item.getAttribute("data-lon")));
    });
    if (!placed.length) { box.hidden = true; return; }
    // The view first: Leaflet draws a marker (and so its element exists) only on a map that has one.
    map.fitBounds(window.L.latLngBounds(placed.map(function (item) {
      return [parseFloat(item.getAttribute("data-lat")), parseFloat(item.getAttribute("data-lon"))];
    })), { padding: [30, 30], maxZoom: 15 });
    // One marker per place: results at the same address share it, and it carries all their numbers.
    var groups = [];
    var byPlace = {};
    placed.forEach(function (item, index) {
      var lat = parseFloat(item.getAttribute("data-lat"));
      var lon = parseFloat(item.getAttribute("data-lon"));
      var key = lat.toFixed(5) + "," + lon.toFixed(5);
      if (!byPlace[key]) {
        byPlace[key] = { lat: lat, lon: lon, items: [], numbers: [], names: [] };
        groups.push(byPlace[key]);
      }
      byPlace[key].items.push(item);
      byPlace[key].numbers.push(listNumber(item) || index + 1);
      byPlace[key].names.push(item.getAttribute("data-name") || "");
    });

    var active = null;
    function activate(group, item) {
      if (active) {
        active.item.classList.remove("is-on-map");
        var previous = active.group.marker.getElement();
        if (previous) { previous.classList.remove("map-pin-active"); }
      }
      active = { group: group, item: item };
      item.classList.add("is-on-map");
      var element = group.marker.getElement();
      if (element) { element.classList.add("map-pin-active"); }
    }

    groups.forEach(function (group) {
      var labels = group.numbers.map(function (n, i) { return n + ". " + group.names[i]; });
      var label = labels.join("; ");
      var icon = window.L.divIcon({ className: "map-pin", html: "<span>" + group.numbers.join(", ") + "</span>",
                                    iconSize: null, iconAnchor: [15, 15], popupAnchor: [0, -14] });
      var marker = window.L.marker([group.lat, group.lon], { icon: icon, title: label, keyboard: true,
                                                             riseOnHover: true }).addTo(map);
      group.marker = marker;
      var text = document.createElement("div");
      labels.forEach(function (line) {
        var p = document.createElement("p");
        p.textContent = line;
        text.appendChild(p);
      });
      marker.bindPopup(text);
      var element = marker.getElement();
      if (element) {
        element.setAttribute("aria-label", (box.getAttribute("data-marker-label") || "__place__").replace("__place__", label));
        element.setAttribute("data-number", String(group.numbers[0]));
      }
      function goToResult() {
        var item = group.items[0];
        activate(group, item);
        if (!item.hasAttribute("tabindex")) { item.setAttribute("tabindex", "-1"); }
        item.focus({ preventScroll: true });
        item.scrollIntoView({ block: "nearest", behavior: "smooth" });
      }
      marker.on("click", goToResult);
      // Leaflet opens the label on Enter but fires no click: a keyboard user goes to the result as well.
      marker.on("keypress", function (event) {
        if (event.originalEvent && (event.originalEvent.key === "Enter" || event.originalEvent.keyCode === 13)) {
          goToResult();
        }
      });

      group.items.forEach(function (item) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "link-button show-on-map";
        button.textContent = box.getAttribute("data-show-label") || "Show on map";
        var hidden = document.createElement("span");
        hidden.className = "visually-hidden";
        hidden.textContent = ": " + (item.getAttribute("data-name") || "");
        button.appendChild(hidden);
        button.addEventListener("click", function () {
          activate(group, item);
          map.setView(marker.getLatLng(), Math.max(map.getZoom(), 14));
          marker.openPopup();
          box.scrollIntoView({ block: "nearest", behavior: "smooth" });
        });
        (item.querySelector("[data-map-slot]") || item).appendChild(button);
      });
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-map]"), setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
