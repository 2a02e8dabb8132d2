// The sentinel device (数字哨兵). Keyboard-wedge scanners type the code and press Enter into the
// focused field. The camera path uses the browser's BarcodeDetector where it exists (Chromium) and
// otherwise decodes video frames with the vendored jsQR (Safari on iPhone, Firefox), loaded on demand.
(function () {
  "use strict";
  var form = document.getElementById("sentinel-form");
  var input = document.getElementById("id_code");
  var button = document.getElementById("camera-button");
  var video = document.getElementById("camera");
  var status = document.getElementById("camera-status");
  input.focus();

  var jsqrLoading = null;
  function loadJsQR() {
    if (window.jsQR) return Promise.resolve(window.jsQR);
    if (!jsqrLoading) {
      jsqrLoading = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = form.dataset.jsqr;
        s.onload = function () { window.jsQR ? resolve(window.jsQR) : reject(new Error("jsQR missing")); };
        s.onerror = function () { jsqrLoading = null; reject(new Error("jsQR not loaded")); };
        document.head.appendChild(s);
      });
    }
    return jsqrLoading;
  }

  // Frames are scaled down to this width: enough for a health code held up to the device, and
  // small enough to decode several frames a second on an old phone.
  var MAX_WIDTH = 640;
  var canvas = document.createElement("canvas");
  var ctx = canvas.getContext("2d", {willReadFrequently: true});

  // The text of the first QR code in ``source`` (a video, canvas or image element), or null.
  async function decodeWithJsQR(source) {
    var jsQR = await loadJsQR();
    var w = source.videoWidth || source.naturalWidth || source.width;
    var h = source.videoHeight || source.naturalHeight || source.height;
    if (!w || !h) return null;
    var scale = Math.min(1, MAX_WIDTH / w);
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
    var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    var found = jsQR(image.data, image.width, image.height, {inversionAttempts: "attemptBoth"});
    return found && found.data ? found.data : null;
  }

  var detector = null;
  async function decode(source) {
    if ("BarcodeDetector" in window) {
      detector = detector || new window.BarcodeDetector({formats: ["qr_code"]});
      var codes = await detector.detect(source);
      return codes.length ? codes[0].rawValue : null;
    }
    return decodeWithJsQR(source);
  }
  // For tests and for the console: decode one frame with the fallback, whatever the browser has.
  window.fangyiSentinel = {decode: decode, decodeWithJsQR: decodeWithJsQR};

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  button.hidden = false;
  button.addEventListener("click", async function () {
    var stream;
    try {
      if (!("BarcodeDetector" in window)) await loadJsQR();
      stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}});
    } catch (e) {
      status.textContent = form.dataset.cameraError;
      status.hidden = false;
      input.focus();
      return;
    }
    button.disabled = true;
    video.srcObject = stream; video.hidden = false;
    await video.play();
    var busy = false;
    var timer = setInterval(async function () {
      if (busy || video.readyState < 2) return;
      busy = true;
      try {
        var text = await decode(video);
        if (text) {
          clearInterval(timer);
          stream.getTracks().forEach(function (t) { t.stop(); });
          input.value = text;
          form.submit();
        }
      } finally {
        busy = false;
      }
    }, 200);
  });
})();
