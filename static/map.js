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
    var markers = [];
    var active = null;

    function activate(entry) {
      if (active) {
        active.item.classList.remove("is-on-map");
        var previous = active.marker.getElement();
        if (previous) { previous.classList.remove("map-pin-active"); }
      }
      active = entry;
      entry.item.classList.add("is-on-map");
      var element = entry.marker.getElement();
      if (element) { element.classList.add("map-pin-active"); }
    }

    items.forEach(function (item, index) {
      var lat = parseFloat(item.getAttribute("data-lat"));
      var lon = parseFloat(item.getAttribute("data-lon"));
      if (!isFinite(lat) || !isFinite(lon)) { return; }
      var name = item.getAttribute("data-name") || "";
      var number = listNumber(item) || index + 1;
      var label = number + ". " + name;
      var icon = window.L.divIcon({ className: "map-pin", html: "<span>" + number + "</span>",
                                    iconSize: [30, 30], iconAnchor: [15, 15], popupAnchor: [0, -14] });
      var marker = window.L.marker([lat, lon], { icon: icon, title: label, alt: label, keyboard: true,
                                                 riseOnHover: true }).addTo(map);
      var text = document.createElement("span");
      text.textContent = label;
      marker.bindPopup(text);
      var entry = { item: item, marker: marker };
      markers.push(marker);
      var element = marker.getElement();
      if (element) {
        element.setAttribute("aria-label", (box.getAttribute("data-marker-label") || "__place__").replace("__place__", label));
        element.setAttribute("data-number", String(number));
      }
      marker.on("click", function () {
        activate(entry);
        if (!item.hasAttribute("tabindex")) { item.setAttribute("tabindex", "-1"); }
        item.focus({ preventScroll: true });
        item.scrollIntoView({ block: "nearest", behavior: "smooth" });
      });

      var button = document.createElement("button");
      button.type = "button";
      button.className = "link-button show-on-map";
      button.textContent = box.getAttribute("data-show-label") || "Show on map";
      var hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = ": " + name;
      button.appendChild(hidden);
      button.addEventListener("click", function () {
        activate(entry);
        map.setView(marker.getLatLng(), Math.max(map.getZoom(), 14));
        marker.openPopup();
        box.scrollIntoView({ block: "nearest", behavior: "smooth" });
      });
      var slot = item.querySelector("[data-map-slot]") || item;
      slot.appendChild(button);
    });

    if (!markers.length) { box.hidden = true; return; }
    var bounds = window.L.featureGroup(markers).getBounds();
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
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
