/* Sampler station. Every action becomes a queue entry with its own idempotency key, stored in
   IndexedDB before it is sent, and removed only when the server has answered. A dropped network
   therefore loses nothing: entries wait, are shown, and are re-sent in order with the same keys.
   The queue goes to the batch endpoint, up to BATCH entries a request, in order: scans made while a
   request is on its way (a fast scanner, or a queue that built up offline) leave together in the
   next one, and the server answers each entry as if it had been sent alone. */
(function () {
  "use strict";
  var root = document.getElementById("station");
  if (!root) return;
  var T = JSON.parse(document.getElementById("station-text").textContent);
  var siteId = parseInt(root.dataset.site, 10);
  var pool = parseInt(root.dataset.pool, 10);
  var api = root.dataset.api;
  var csrf = root.dataset.csrf;
  var stateKey = "fangyi-station-" + siteId;
  var $ = function (id) { return document.getElementById(id); };

  // Local view of the tube being filled; the server's answers correct it.
  var tube = null;
  try { tube = JSON.parse(localStorage.getItem(stateKey) || "null"); } catch (e) { tube = null; }
  if (!tube && root.dataset.openBarcode) {
    tube = { barcode: root.dataset.openBarcode, count: parseInt(root.dataset.openCount, 10) || 0, people: [] };
  }

  function newKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }

  // --- IndexedDB queue ---
  var dbp = new Promise(function (resolve, reject) {
    var req = indexedDB.open("fangyi-station", 1);
    req.onupgradeneeded = function () { req.result.createObjectStore("queue", { keyPath: "seq", autoIncrement: true }); };
    req.onsuccess = function () { resolve(req.result); };
    req.onerror = function () { reject(req.error); };
  });
  function tx(mode, fn) {
    return dbp.then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction("queue", mode);
        var out = fn(t.objectStore("queue"));
        t.oncomplete = function () { resolve(out && out.result !== undefined ? out.result : out); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function enqueue(entry) { return tx("readwrite", function (s) { return s.add(entry); }); }
  function remove(seqs) {
    return tx("readwrite", function (s) { seqs.forEach(function (seq) { s.delete(seq); }); });
  }
  function all() { return tx("readonly", function (s) { return s.getAll(); }); }

  // --- rendering ---
  function save() { localStorage.setItem(stateKey, JSON.stringify(tube)); }
  function render() {
    $("tube-barcode").textContent = tube ? tube.barcode : "—";
    $("tube-count").textContent = tube ? tube.count : 0;
    $("tube-progress").value = tube ? tube.count : 0;
    $("prompt").textContent = !tube ? T.scan_tube : (tube.count >= pool ? T.tube_full : T.scan_person);
    save();
  }
  function log(text, kind) {
    var li = document.createElement("li");
    li.textContent = new Date().toLocaleTimeString() + " " + text;
    li.className = "log-" + (kind || "ok");
    $("log").insertBefore(li, $("log").firstChild);
    while ($("log").children.length > 30) $("log").removeChild($("log").lastChild);
  }
  function showPending() {
    return all().then(function (items) {
      $("pending").hidden = items.length === 0;
      $("pending-count").textContent = items.length;
      var ul = $("pending-list");
      ul.innerHTML = "";
      items.forEach(function (it) {
        var li = document.createElement("li");
        li.textContent = it.label;
        ul.appendChild(li);
      });
      $("net").textContent = navigator.onLine ? "" : T.offline;
    });
  }

  // --- sending ---
  var BATCH = 50;
  var flushing = false;
  function send(path, body) {
    return fetch(api + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    }).then(function (resp) {
      return resp.json().then(function (data) { return { status: resp.status, data: data }; },
                              function () { return { status: resp.status, data: {} }; });
    });
  }
  // The answers to these entries, in order: one batch request, or (if the batch itself is refused,
  // e.g. by an older server) one request per entry.
  function post(entries) {
    var items = entries.map(function (e) { return Object.assign({ kind: e.kind }, e.body); });
    return send("batch", { items: items }).then(function (res) {
      if (res.status >= 500) throw new Error("server");
      if (res.status === 200 && res.data.results && res.data.results.length === entries.length) {
        return res.data.results.map(function (r) { return { status: r.status, data: r.answer }; });
      }
      return send(entries[0].path, entries[0].body).then(function (one) { return [one]; });
    });
  }
  function apply(entry, res) {
    var d = res.data || {};
    if (res.status >= 500) throw new Error("server");
    if (res.status !== 200) {
      log((d.message || d.code || res.status) + " (" + entry.label + ")", "error");
      if (entry.body.barcode && tube && tube.barcode === entry.body.barcode && typeof d.count === "number") tube.count = d.count;
      if (entry.kind === "open" && tube && tube.barcode === entry.body.barcode) tube = null;
      if (entry.kind === "sample" && tube && tube.barcode === entry.body.barcode && entry.local) {
        tube.count = Math.max(0, tube.count - 1);
        tube.people = (tube.people || []).filter(function (p) { return p !== entry.local; });
      }
      render();
      return;
    }
    var warn = (d.warnings || []).map(function (w) { return w.message; }).join(" ");
    if (entry.kind === "open") log(T.opened + " " + d.barcode);
    else if (entry.kind === "seal") log(T.sealed + " " + d.barcode + " (" + d.count + "/" + d.pool_size + ")");
    else {
      log(T.added + " " + d.person + " " + d.count + "/" + d.pool_size + (d.green_channel ? " · " + T.green : "") +
          (warn ? " · " + warn : ""), warn ? "warn" : "ok");
      if (tube && tube.barcode === d.barcode) { tube.count = Math.max(tube.count, d.count); render(); }
    }
  }
  function flush() {
    if (flushing) return Promise.resolve();
    flushing = true;
    function next() {
      return all().then(function (items) {
        if (!items.length) return;
        var entries = items.slice(0, BATCH);
        return post(entries).then(function (answers) {
          var done = entries.slice(0, answers.length);
          done.forEach(function (entry, i) { apply(entry, answers[i]); });
          return remove(done.map(function (e) { return e.seq; })).then(showPending).then(next);
        });
      });
    }
    return next().catch(function () { /* network down: entries stay queued */ })
      .then(function () { flushing = false; return showPending(); });
  }
  function submit(kind, path, body, label, local) {
    body.key = newKey();
    var entry = { kind: kind, path: path, body: body, label: label, local: local || null, queued_at: Date.now() };
    return enqueue(entry).then(showPending).then(function () {
      if (!navigator.onLine) log(T.queued, "warn");
      return flush();
    });
  }

  // --- actions ---
  function scanned(raw) {
    var value = (raw || "").trim();
    if (!value) return;
    if (!tube) {
      tube = { barcode: value, count: 0, people: [] };
      render();
      submit("open", "tubes", { site_id: siteId, barcode: value }, T.open + " " + value);
      return;
    }
    addPerson({ code: value }, value);
  }
  function addPerson(fields, ident) {
    if (tube.count >= pool) { log(T.tube_full, "error"); return; }
    tube.people = tube.people || [];
    if (tube.people.indexOf(ident) >= 0) { log(T.same_person, "error"); return; }
    tube.people.push(ident);
    tube.count += 1;
    var green = $("green").checked;
    $("green").checked = false;
    render();
    var body = { barcode: tube.barcode, green_channel: green, device_at: new Date().toISOString(),
                 code: fields.code || "", id_number: fields.id_number || "" };
    submit("sample", "samples", body, T.sample + " " + tube.barcode + " #" + tube.count, ident);
  }
  function seal() {
    if (!tube) { log(T.nothing_to_seal, "error"); return; }
    if (tube.count === 0) { log(T.empty_tube, "error"); return; }
    var barcode = tube.barcode;
    tube = null;
    render();
    submit("seal", "seal", { barcode: barcode }, T.seal + " " + barcode);
  }

  // A keyboard-wedge scanner types the code and presses Enter.
  $("scan").addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") {
      ev.preventDefault();
      var v = ev.target.value;
      ev.target.value = "";
      scanned(v);
    }
  });
  $("idnum-send").addEventListener("click", function () {
    var v = $("idnum").value.trim();
    if (!v || !tube) return;
    $("idnum").value = "";
    addPerson({ id_number: v }, "id:" + v.toUpperCase());
    $("scan").focus();
  });
  $("seal").addEventListener("click", function () { seal(); $("scan").focus(); });

  // Phone camera, where the browser has a barcode detector.
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    $("camera").hidden = false;
    $("camera").addEventListener("click", function () {
      var video = $("camera-view");
      var detector = new window.BarcodeDetector();
      var last = "";
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        video.srcObject = stream; video.hidden = false; video.play();
        var tick = function () {
          if (video.hidden) return;
          detector.detect(video).then(function (codes) {
            if (codes.length && codes[0].rawValue !== last) { last = codes[0].rawValue; scanned(last); }
            setTimeout(tick, 300);
          }, function () { setTimeout(tick, 500); });
        };
        tick();
      });
    });
  }

  window.addEventListener("online", function () { flush(); });
  window.addEventListener("offline", showPending);
  setInterval(flush, 3000);
  render();
  showPending().then(flush);
})();
