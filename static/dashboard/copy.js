// corsadmin dashboard: the copy button beside a newly issued token (no inline JS).
// <button data-copy-from="ID"> copies the value of the input #ID; a status element
// #ID-status says whether it worked.
(function () {
  "use strict";

  function say(id, text, kind) {
    var status = document.getElementById(id + "-status");
    if (!status) return;
    status.textContent = text;
    status.className = "small copy-status " + (kind || "");
  }

  function selectAll(field) {
    field.focus();
    field.select();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy-from]");
    if (!button) return;
    var id = button.getAttribute("data-copy-from");
    var field = document.getElementById(id);
    if (!field) return;
    var text = field.value;
    if (!navigator.clipboard || !window.isSecureContext) {
      selectAll(field);
      say(id, "Copying is not available here: the token is selected, press Ctrl+C (⌘C).", "bad");
      return;
    }
    navigator.clipboard.writeText(text).then(
      function () {
        button.textContent = "Copied";
        say(id, "Copied to the clipboard.", "ok");
      },
      function () {
        selectAll(field);
        say(id, "The browser did not allow copying: the token is selected, press Ctrl+C (⌘C).", "bad");
      }
    );
  });

  // A click in the field selects the whole token.
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field && field.id && document.querySelector('button[data-copy-from="' + field.id + '"]')) {
      field.select();
    }
  });
})();
