/* papi-node: draws on a map the places a page lists (Leaflet, tiles of the node's
   map_tiles_url setting). A progressive enhancement: without JavaScript, or when the
   tiles cannot load, the list in the page is the content. Nothing from the data is
   inserted as HTML: names go through textContent. */
(function () {
  "use strict";
  // A "print this card" button, where the page has one (printing works without it).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });

  var box = document.querySelector("[data-map]");
  if (!box || !window.L || !box.dataset.tiles) {
    return;
  }

  function fromPage() {
    var points = [];
    document.querySelectorAll("[data-lat][data-lon]").forEach(function (item) {
      var link = item.querySelector("a[href]");
      points.push({
        lat: parseFloat(item.dataset.lat),
        lon: parseFloat(item.dataset.lon),
        name: item.dataset.name || (link ? link.textContent.trim() : ""),
        href: link ? link.getAttribute("href") : null,
      });
    });
    return points;
  }

  function popup(point) {
    var node = document.createElement(point.href ? "a" : "span");
    node.textContent = point.name;
    if (point.href) {
      node.setAttribute("href", point.href);
    }
    return node;
  }

  function draw(points) {
    points = points.filter(function (point) {
      return typeof point.lat === "number" && typeof point.lon === "number" &&
        isFinite(point.lat) && isFinite(point.lon);
    });
    if (!points.length) {
      return;
    }
    box.hidden = false;
    var map = L.map(box, { scrollWheelZoom: false });
    var attribution = document.createElement("a");
    attribution.href = "https://www.openstreetmap.org/copyright";
    attribution.textContent = box.dataset.attribution || "© OpenStreetMap";
    L.tileLayer(box.dataset.tiles, {
      maxZoom: 19,
      attribution: attribution.outerHTML,
    }).addTo(map);
    var corners = [];
    points.forEach(function (point) {
      L.marker([point.lat, point.lon], { title: point.name, alt: point.name })
        .bindPopup(popup(point))
        .addTo(map);
      corners.push([point.lat, point.lon]);
    });
    if (corners.length === 1) {
      map.setView(corners[0], 15);
    } else {
      map.fitBounds(corners, { padding: [24, 24], maxZoom: 15 });
    }
  }

  if (box.dataset.source) {
    fetch(box.dataset.source, { headers: { accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : { items: [] };
      })
      .then(function (body) {
        draw(
          body.items.map(function (item) {
            return { lat: item.latitude, lon: item.longitude, name: item.nom, href: item.url };
          })
        );
      })
      .catch(function () {});
  } else {
    draw(fromPage());
  }
})();
