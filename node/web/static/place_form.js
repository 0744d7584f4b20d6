/* papi-node: the place form's helpers, a progressive enhancement (the form works the
   same without them). The commune field asks the node for suggestions as one types
   (GET /api/v1/communes); choosing one fills the postcode and the position. A map shows
   the position: dragging the pin, or clicking the map, sets latitude and longitude.
   Nothing from the data is inserted as HTML. */
(function () {
  "use strict";
  var commune = document.getElementById("f-commune");
  var list = document.getElementById("communes");
  var postcode = document.getElementById("f-code_postal");
  var latitude = document.getElementById("f-latitude");
  var longitude = document.getElementById("f-longitude");
  var box = document.querySelector("[data-pin-map]");
  var found = {};
  var marker = null;
  var map = null;

  function number(input) {
    var value = parseFloat((input && input.value || "").replace(",", "."));
    return isFinite(value) ? value : null;
  }

  function setPosition(lat, lon, fromPin) {
    latitude.value = lat.toFixed(5);
    longitude.value = lon.toFixed(5);
    if (map && !fromPin) {
      marker.setLatLng([lat, lon]);
      map.setView([lat, lon], Math.max(map.getZoom(), 14));
    }
  }

  if (commune && list && commune.dataset.communes) {
    var timer = null;
    commune.addEventListener("input", function () {
      var choice = found[commune.value];
      if (choice) {
        if (postcode && choice.postcode) {
          postcode.value = choice.postcode;
        }
        if (choice.latitude !== null && choice.longitude !== null) {
          setPosition(choice.latitude, choice.longitude, false);
        }
        return;
      }
      clearTimeout(timer);
      var text = commune.value.trim();
      if (text.length < 2) {
        return;
      }
      timer = setTimeout(function () {
        var url = commune.dataset.communes + "?limit=10&q=" + encodeURIComponent(text);
        fetch(url, { headers: { accept: "application/json" } })
          .then(function (response) { return response.ok ? response.json() : { items: [] }; })
          .then(function (body) {
            while (list.firstChild) {
              list.removeChild(list.firstChild);
            }
            found = {};
            (body.items || []).forEach(function (item) {
              (item.codes_postaux.length ? item.codes_postaux : [""]).forEach(function (code) {
                var value = (item.nom + " " + code).trim();
                var option = document.createElement("option");
                option.value = value;
                option.textContent = item.nom + (code ? " (" + code + ")" : "") +
                  " — " + item.departement;
                list.appendChild(option);
                found[value] = { postcode: code, latitude: item.latitude,
                                 longitude: item.longitude };
              });
            });
          })
          .catch(function () { /* the list of the page stays */ });
      }, 200);
    });
  }

  if (!box || !window.L || !box.dataset.tiles || !latitude || !longitude) {
    return;
  }
  var lat = number(latitude);
  var lon = number(longitude);
  var start = lat !== null && lon !== null ? [lat, lon] : [46.6, 2.4];
  box.hidden = false;
  map = L.map(box, { scrollWheelZoom: false }).setView(start, lat !== null ? 16 : 5);
  var attribution = document.createElement("a");
  attribution.href = "https://www.openstreetmap.org/copyright";
  attribution.textContent = box.dataset.attribution || "© OpenStreetMap";
  L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: attribution.outerHTML }).addTo(map);
  marker = L.marker(start, { draggable: true, title: box.getAttribute("aria-label") || "" })
    .addTo(map);
  marker.on("dragend", function () {
    var point = marker.getLatLng();
    setPosition(point.lat, point.lng, true);
  });
  map.on("click", function (event) {
    marker.setLatLng(event.latlng);
    setPosition(event.latlng.lat, event.latlng.lng, true);
  });
  [latitude, longitude].forEach(function (input) {
    input.addEventListener("change", function () {
      var a = number(latitude);
      var b = number(longitude);
      if (a !== null && b !== null) {
        marker.setLatLng([a, b]);
        map.setView([a, b], Math.max(map.getZoom(), 14));
      }
    });
  });
}());
