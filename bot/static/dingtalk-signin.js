// Sign in inside DingTalk without a tap (免登): ask the client for a code (JSAPI runtime.permission.requestAuthCode)
// and hand it to the server with the page's state. Outside DingTalk, or if the client says no, go on to DingTalk's
// sign-in page instead.
(function () {
  "use strict";
  var box = document.getElementById("dingtalk-signin");
  var data = box.dataset;
  var jsapi = window.dubanDingTalk;
  function fallback() { window.location.replace(data.fallback); }
  if (!jsapi || !jsapi.inDingTalk()) { fallback(); return; }
  jsapi.requestAuthCode({ corpId: data.corpId, clientId: data.clientId }).then(function (result) {
    window.location.replace(data.callback + "?code=" + encodeURIComponent(result.code) +
                            "&state=" + encodeURIComponent(data.state));
  }, fallback);
})();
