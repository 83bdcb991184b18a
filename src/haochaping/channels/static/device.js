/* The counter rating device (评价器). Idle: listens to the window's event stream and opens the
   rating screen when the staff signal the end of a service. Rating screen: back to idle after
   a minute without input. Thank-you screen: back to idle after a few seconds. */
(function () {
  "use strict";
  var HOME = "/device";

  function idle(root) {
    var status = document.getElementById("device-status");
    var url = root.getAttribute("data-events");
    var source = null;
    var reloadTimer = null;
    var noScript = document.getElementById("no-script");
    if (noScript) { noScript.parentNode.removeChild(noScript); }
    function say(text, ok) {
      if (!status) { return; }
      status.textContent = text;
      status.className = "status" + (ok ? " ok" : " waiting");
    }
    if (!window.EventSource) {
      say("本浏览器不支持实时提示，请使用较新的浏览器。", false);
      return;
    }
    function connect() {
      source = new EventSource(url);
      source.onopen = function () { say("已就绪，等待办理完成", true); };
      source.addEventListener("signal", function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        if (data && typeof data.url === "string" && data.url.indexOf(HOME + "/rate/") === 0) {
          source.close();
          window.location.assign(data.url);
        }
      });
      source.addEventListener("revoked", function () {
        source.close();
        window.location.reload();
      });
      source.onerror = function () {
        say("连接中断，正在重新连接…", false);
        // The browser reconnects by itself (with Last-Event-ID) unless the server refused the
        // stream; then the page is reloaded after a pause (pairing page if revoked).
        if (source.readyState === 2 && reloadTimer === null) {
          reloadTimer = window.setTimeout(function () { window.location.reload(); }, 5000);
        }
      };
    }
    connect();
  }

  function rating(form) {
    var seconds = parseInt(form.getAttribute("data-timeout"), 10) || 60;
    var timer = null;
    function restart() {
      if (timer !== null) { window.clearTimeout(timer); }
      timer = window.setTimeout(function () { form.submit(); }, seconds * 1000);
    }
    var events = ["click", "keydown", "input", "change", "touchstart", "scroll", "pointerdown"];
    for (var i = 0; i < events.length; i++) {
      document.addEventListener(events[i], restart, { passive: true, capture: true });
    }
    restart();
  }

  function back(root) {
    var seconds = parseInt(root.getAttribute("data-back"), 10) || 6;
    window.setTimeout(function () { window.location.assign(HOME); }, seconds * 1000);
  }

  var root = document.getElementById("device");
  var dismiss = document.getElementById("dismiss-form");
  if (dismiss) {
    rating(dismiss);
  } else if (root && root.getAttribute("data-mode") === "idle") {
    idle(root);
  } else if (root && root.getAttribute("data-mode") === "done") {
    back(root);
  }
})();
