// corsadmin dashboard: small progressive enhancements over htmx (no eval, no inline JS).
(function () {
  "use strict";

  function flash(text, kind) {
    var box = document.getElementById("flash");
    if (!box) return;
    var p = document.createElement("p");
    p.className = "msg msg-" + (kind || "error");
    p.textContent = text;
    box.replaceChildren(p);
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (status === 403) {
      flash("You may not make this change.");
    } else if (status === 404) {
      flash("Not found: it may have been removed. Reload the page.");
    } else {
      flash("The server could not make this change (HTTP " + status + "). Reload the page and try again.");
    }
  });

  document.addEventListener("htmx:sendError", function () {
    flash("The server cannot be reached. Your change was not saved.");
  });

  // After a swap that shows a validation error, put the cursor in the first field at fault.
  document.addEventListener("htmx:afterSwap", function (event) {
    var field = event.detail.target.querySelector(".has-error input, .has-error select");
    if (field) field.focus();
  });
})();
