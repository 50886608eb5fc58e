// Keeps progress current without reloading the page (why not a meta refresh: see
// ivr/web/dashboard/campaign_pages.py). Each element with data-refresh-url has its HTML
// replaced by a fresh server-rendered fragment every data-refresh-seconds, except while:
// the tab is hidden, keyboard focus is inside it (a reader must not lose their place), or
// the person paused it. It stops for good when the fragment says the campaign is over
// (data-final), or when a fetch fails (then it says so, and "Refresh now" reappears).
(function () {
  "use strict";

  function start(region) {
    var seconds = Number(region.getAttribute("data-refresh-seconds")) || 5;
    var url = region.getAttribute("data-refresh-url");
    var status = document.getElementById(region.getAttribute("data-refresh-status"));
    var toggle = document.getElementById(region.getAttribute("data-refresh-toggle"));
    var line = status ? status.parentNode : null;
    var paused = false;
    var stopped = false;

    function say(text) {
      if (status) { status.textContent = text; }
    }

    function stop(text) {
      stopped = true;
      say(text);
      if (toggle) { toggle.hidden = true; }
      if (line) { line.classList.remove("scripted"); }
    }

    function schedule() {
      if (!stopped) { window.setTimeout(tick, seconds * 1000); }
    }

    function tick() {
      if (paused || document.hidden || region.contains(document.activeElement)) {
        schedule();
        return;
      }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          // a redirect means the session ended: the sign-in page is not a fragment
          if (!response.ok || response.redirected) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          region.innerHTML = html;  // server-rendered and escaped, from our own origin
          say("Updated at " + new Date().toLocaleTimeString() + ".");
          if (region.querySelector("[data-final]")) {
            stop("This campaign has ended; updates stopped.");
            return;
          }
          schedule();
        })
        .catch(function () {
          stop("Automatic updates stopped. Reload the page to see the latest.");
        });
    }

    if (toggle) {
      toggle.hidden = false;
      toggle.addEventListener("click", function () {
        paused = !paused;
        toggle.textContent = paused ? "Resume updates" : "Pause updates";
        say(paused ? "Updates paused." : "Updates every " + seconds + " seconds.");
      });
    }
    if (line) { line.classList.add("scripted"); }
    schedule();
  }

  document.querySelectorAll("[data-refresh-url]").forEach(start);
})();
