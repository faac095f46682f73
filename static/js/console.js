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

  // Copy buttons: <button data-copy="#element-id">Copy</button>; an empty data-copy copies the
  // code block the button sits in (see codeBlocks).
  function copy(button) {
    var target = button.dataset.copy
      ? document.querySelector(button.dataset.copy)
      : button.closest(".code-block") && button.closest(".code-block").querySelector("pre");
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

  // Every code block (<pre>) gets a Copy button: wrapped in <div class="code-block"> with it.
  function codeBlocks(root) {
    var blocks = root.matches && root.matches("pre") ? [root] : [];
    if (root.querySelectorAll) blocks = blocks.concat(Array.from(root.querySelectorAll("pre")));
    blocks.forEach(function (pre) {
      if (pre.parentElement.classList.contains("code-block")) return;
      var block = document.createElement("div");
      block.className = "code-block";
      pre.parentElement.insertBefore(block, pre);
      block.appendChild(pre);
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.dataset.copy = "";
      button.textContent = "Copy";
      block.appendChild(button);
    });
  }

  function setUp(root) {
    openModals(root);
    codeBlocks(root);
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
