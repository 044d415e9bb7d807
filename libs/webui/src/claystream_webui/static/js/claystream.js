/* Claystream web UI behaviour (loaded from our origin; the CSP forbids inline script).
 *
 * 1. CSRF: every htmx request carries the session's token (from <meta name="csrf-token">)
 *    in the X-CSRF-Token header.
 * 2. Toasts: failed htmx requests and `HX-Trigger: {"toast": {...}}` responses show a message.
 * 3. Keyboard shortcuts: an element with data-hotkey="k1 k2" is clicked when one of those keys
 *    is pressed outside a text input.  Digits look inside the [data-hotkey-group] holding the
 *    focus first, so with several questions the focused one answers.  From a request of the
 *    [data-hotkey-busy] region until the [data-hotkey-settles] element (or the region) has
 *    settled, action keys are ignored (no double submits).
 * 4. Bulk selection: [data-select-all="name"] toggles every checkbox named `name`;
 *    [data-selected-count="name"] shows how many are checked.
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });

  /* ------------------------------------------------------------ toasts */
  function toast(text, kind) {
    var box = document.getElementById("toasts");
    if (!box || !text) { return; }
    var item = document.createElement("div");
    item.className = "toast" + (kind === "error" ? " toast-error" : "");
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    item.textContent = String(text).slice(0, 400);  // textContent: never parsed as HTML
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, kind === "error" ? 7000 : 3500);
  }
  window.claystreamToast = toast;

  function errorText(xhr) {
    if (!xhr) { return "Request failed"; }
    var text = xhr.responseText || "";
    try {
      var body = JSON.parse(text);
      if (body && body.detail) {
        if (typeof body.detail === "string") { return body.detail; }
        if (Array.isArray(body.detail)) {
          return body.detail.map(function (d) { return (d.loc || []).join(".") + ": " + d.msg; }).join("; ");
        }
      }
    } catch (e) { /* not JSON */ }
    if (xhr.status === 401 || xhr.status === 403) { return "Not allowed (" + xhr.status + "). Your session may have expired: reload the page."; }
    return "Request failed (" + xhr.status + ")" + (text && text.length < 200 && text.indexOf("<") === -1 ? ": " + text : "");
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.getResponseHeader("HX-Trigger")) { return; }  // the server sent its own toast
    if (xhr && xhr.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
      return;
    }
    toast(errorText(xhr), "error");
  });
  document.addEventListener("htmx:sendError", function () { toast("Network error: the server did not answer.", "error"); });
  document.addEventListener("toast", function (event) {
    var detail = event.detail || {};
    toast(detail.text || detail.value, detail.kind);
  });

  /* ------------------------------------------------------------ keyboard shortcuts */
  function isTyping(target) {
    if (!target || !target.tagName) { return false; }
    if (target.isContentEditable) { return true; }
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") { return true; }
    if (tag !== "INPUT") { return false; }
    var type = (target.getAttribute("type") || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset", "range", "color", "file"].indexOf(type) === -1;
  }

  function keyName(event) {
    var key = event.key;
    if (key && key.length === 1) { return key.toLowerCase(); }
    return key;
  }

  function visible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) || el.type === "radio" || el.type === "checkbox";
  }

  function findHotkey(name) {
    var selector = '[data-hotkey~="' + (window.CSS && CSS.escape ? CSS.escape(name) : name) + '"]';
    var scopes = [];
    var active = document.activeElement;
    var group = active && active.closest ? active.closest("[data-hotkey-group]") : null;
    if (group) { scopes.push(group); }
    scopes.push(document);
    for (var i = 0; i < scopes.length; i++) {
      var candidates = scopes[i].querySelectorAll(selector);
      for (var j = 0; j < candidates.length; j++) {
        var el = candidates[j];
        if (!el.disabled && el.getAttribute("aria-disabled") !== "true" && visible(el)) { return el; }
      }
    }
    return null;
  }

  // From a request of the [data-hotkey-busy] region until its answer has settled (htmx has
  // processed the new form), action keys are dropped: no double submits, and no native
  // submission of a form htmx has not wired up yet.
  var pendingSince = 0;
  var PENDING_MAX_MS = 15000;
  function inBusyRegion(el) { return !!(el && el.closest && el.closest("[data-hotkey-busy]")); }
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (inBusyRegion(event.detail.elt)) { pendingSince = Date.now(); }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var el = event.detail && event.detail.elt;
    if (el && el.matches && (el.matches("[data-hotkey-settles]") || inBusyRegion(el))) { pendingSince = 0; }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.failed || !event.detail.successful) { pendingSince = 0; }
  });
  function busy() {
    return pendingSince !== 0 && Date.now() - pendingSince < PENDING_MAX_MS;
  }
  // Tests (and curious users) can ask whether the page is ready for the next key.
  window.claystreamIdle = function () { return !busy() && !document.querySelector(".htmx-request, .htmx-settling, .htmx-swapping"); };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) { return; }
    var name = keyName(event);
    if (name === "Escape" && isTyping(event.target)) { event.target.blur(); return; }
    if (isTyping(event.target)) {
      // Ctrl/Cmd+Enter submits from a text answer.
      if (name === "Enter" && (event.ctrlKey || event.metaKey)) {
        var submit = findHotkey("Enter");
        if (submit && !busy()) { event.preventDefault(); submit.click(); }
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = findHotkey(name);
    if (!target) { return; }
    event.preventDefault();  // also stops Enter's implicit form submission (no double submit)
    if (event.repeat && (name === "Enter" || name === "Backspace")) { return; }
    if (busy() && target.tagName !== "INPUT") { return; }
    target.click();
    if (target.tagName === "INPUT") {
      target.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  /* ------------------------------------------------------------ bulk selection */
  function updateCounts() {
    var counters = document.querySelectorAll("[data-selected-count]");
    counters.forEach(function (counter) {
      var name = counter.getAttribute("data-selected-count");
      var boxes = document.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
      var checked = 0;
      boxes.forEach(function (box) { if (box.checked) { checked++; } });
      counter.textContent = String(checked);
      var master = document.querySelector('[data-select-all="' + name + '"]');
      if (master) {
        master.checked = boxes.length > 0 && checked === boxes.length;
        master.indeterminate = checked > 0 && checked < boxes.length;
      }
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target || target.type !== "checkbox") { return; }
    var group = target.getAttribute("data-select-all");
    if (group) {
      document.querySelectorAll('input[type="checkbox"][name="' + group + '"]').forEach(function (box) {
        box.checked = target.checked;
      });
    }
    updateCounts();
  });
  document.addEventListener("htmx:afterSettle", updateCounts);
  document.addEventListener("DOMContentLoaded", updateCounts);

  /* ------------------------------------------------------------ dismiss buttons */
  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("[data-dismiss]") : null;
    if (!button) { return; }
    var target = document.querySelector(button.getAttribute("data-dismiss"));
    if (target) { target.replaceChildren(); }
  });

  /* ------------------------------------------------------------ focus after swaps */
  document.addEventListener("htmx:afterSettle", function (event) {
    var el = event.detail && event.detail.elt;
    if (!el || !el.querySelector) { return; }
    var focusTarget = el.matches && el.matches("[data-autofocus]") ? el : el.querySelector("[data-autofocus]");
    if (focusTarget && (!document.activeElement || document.activeElement === document.body || !document.contains(document.activeElement))) {
      focusTarget.focus({ preventScroll: true });
    }
  });
})();
