// The moderation console (templates/admin/tracks/review.html): choosing a message template
// puts its text in the message to the owner, where the moderator may still edit it.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("[data-role=message-template]")) return;
    var option = select.options[select.selectedIndex];
    var target = document.getElementById(select.dataset.target);
    if (target && option && option.dataset.text) target.value = option.dataset.text;
  });
})();
