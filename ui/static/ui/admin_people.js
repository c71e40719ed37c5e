/* People administration: copy the one-time password to the clipboard. The page works without it. */
(function () {
  "use strict";
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest("[data-tf-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-tf-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var icon = button.querySelector(".bi");
      if (icon) icon.className = "bi bi-clipboard-check";
    });
  });
})();
