/* Enhancement only: the form works without it. Shows the labels of the chosen level (B4)
   and keeps the others out of the submission. */
(function () {
  "use strict";
  var form = document.getElementById("rating-form");
  var error = document.getElementById("form-error");
  if (error) { error.focus(); }
  if (!form) { return; }
  var groups = form.querySelectorAll(".labels");
  function sync() {
    var chosen = form.querySelector("input[name=level]:checked");
    var level = chosen ? chosen.value : "";
    for (var i = 0; i < groups.length; i++) {
      var levels = " " + groups[i].getAttribute("data-levels") + " ";
      var on = level !== "" && levels.indexOf(" " + level + " ") >= 0;
      groups[i].hidden = !on;
      groups[i].disabled = !on;
    }
  }
  form.addEventListener("change", function (event) {
    if (event.target && event.target.name === "level") { sync(); }
  });
  sync();
})();
