// Hamsu review desk: "play from here" buttons seek the call's <audio> to a turn or an insight.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.play");
    if (!button) return;
    var audio = document.getElementById("player");
    if (!audio) return;
    var start = parseFloat(button.getAttribute("data-start"));
    if (isNaN(start)) return;
    audio.currentTime = Math.max(0, start);
    var playing = audio.play();
    if (playing && playing.catch) playing.catch(function () { /* no sound device: seeking still works */ });
    var turn = button.getAttribute("data-turn");
    if (turn !== null) {
      var target = document.getElementById("turn-" + turn);
      if (target) target.scrollIntoView({ block: "nearest" });
    }
  });
})();
