/* Progressive enhancement only: every page works without this file.
   Elements with data-auto-refresh="SECONDS" reload the page after that many seconds (progress
   of imports and fan-outs); without JavaScript the "Refresh progress" link does the same. */
(function () {
  "use strict";
  var node = document.querySelector("[data-auto-refresh]");
  if (!node) { return; }
  var seconds = parseInt(node.getAttribute("data-auto-refresh"), 10) || 2;
  window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
}());
