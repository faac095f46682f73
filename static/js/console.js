// The few lines of behaviour the console needs; everything else is htmx and plain HTML.
(function () {
  "use strict";

  // Modals: a fragment that arrives as <dialog data-modal> opens itself and is removed when closed.
  function openModals(root) {
    var dialogs = root.matches && root.matches("dialog[data-modal]") ? [root] : [];
    if (root.querySelectorAll) dialogs = dialogs.concat(Array.from(root.querySelectorAll("dialog[data-modal]")));
    dialogs.forEach(function (dialog) {
      if (dialog.open || dialog.dataset.bound) return;
      dialog.dataset.bound = "1";
      dialog.addEventListener("close", function () { dialog.remove(); });
      dialog.showModal();
      var focus = dialog.querySelector("[autofocus]") || dialog.querySelector("input, button, a[href]");
      if (focus) focus.focus();
    });
  }

  // Copy buttons: <button data-copy="#element-id">Copy</button>.
  function copy(button) {
    var target = document.querySelector(button.dataset.copy);
    if (!target) return;
    var text = target.value !== undefined ? target.value : target.textContent.trim();
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.setAttribute("aria-live", "polite");
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      done();
    }
  }

  // A key just created is kept in this browser tab only (sessionStorage: never sent back to the
  // server, gone when the tab closes) for 15 minutes, so the product tabs can offer to fill it in.
  var KEY_PREFIX = "dpc:new-api-key:";
  var KEY_LIFETIME_MS = 15 * 60 * 1000;

  function rememberKeys(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("[data-remember-key]").forEach(function (element) {
      try {
        sessionStorage.setItem(KEY_PREFIX + element.dataset.rememberKey,
          JSON.stringify({ key: element.textContent.trim(), at: Date.now() }));
      } catch (error) { /* storage disabled: nothing to offer later */ }
    });
  }

  function recentKey(projectId) {
    try {
      var stored = JSON.parse(sessionStorage.getItem(KEY_PREFIX + projectId) || "null");
      if (stored && Date.now() - stored.at < KEY_LIFETIME_MS) return stored.key;
    } catch (error) { /* nothing usable */ }
    return null;
  }

  function offerRecentKeys(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("[data-fill-key]").forEach(function (offer) {
      var key = recentKey(offer.dataset.fillKey);
      if (!key || offer.dataset.bound) return;
      offer.dataset.bound = "1";
      offer.hidden = false;
      offer.querySelector("button").addEventListener("click", function () {
        document.querySelectorAll("[data-api-key-slot]").forEach(function (slot) {
          slot.textContent = slot.textContent.split("__API_KEY__").join(key);
        });
        offer.textContent = "The key you created is filled in below. Copy the connection string now: it is not shown again once you leave.";
      });
    });
  }

  function setUp(root) {
    openModals(root);
    rememberKeys(root);
    offerRecentKeys(root);
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:load", function (event) { setUp(event.detail.elt); });
  document.addEventListener("closeModal", function () {
    document.querySelectorAll("dialog[open]").forEach(function (dialog) { dialog.close(); });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) { event.preventDefault(); copy(button); }
    // Close open menus (<details class="menu">) when clicking elsewhere.
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
})();
