/* Builder pages (BC): a confirmation before forms marked data-tf-confirm are submitted (discard the draft,
   delete a document). Loaded once per page by builder/_head.html. */
(function () {
  "use strict";
  if (window.tfBuilderConfirm) return;
  window.tfBuilderConfirm = true;
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var message = form && form.getAttribute && form.getAttribute("data-tf-confirm");
    if (message && !window.confirm(message)) evt.preventDefault();
  });
})();
