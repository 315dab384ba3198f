#!/bin/sh
# Rebuilds dingtalk-jsapi-auth.js: the two parts of DingTalk's official JSAPI (npm dingtalk-jsapi, MIT) that the
# dashboard's in-app sign-in uses — runtime.permission.requestAuthCode and the environment check — bundled into one
# file the app serves itself (government intranets reach no CDN; the page's CSP allows only the app's own scripts).
# Needs node and npm (the npm registry); run from anywhere, writes next to this script.
set -eu
VERSION=3.2.9
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent "dingtalk-jsapi@$VERSION" esbuild@0.24.0
cat > entry.js <<'JS'
import requestAuthCode from "dingtalk-jsapi/api/runtime/permission/requestAuthCode";
import { ENV_ENUM, getENV } from "dingtalk-jsapi/lib/env";
window.dubanDingTalk = { requestAuthCode, inDingTalk: () => getENV().platform !== ENV_ENUM.notInDingTalk };
JS
{
  echo "/*! dingtalk-jsapi $VERSION (MIT License, https://www.npmjs.com/package/dingtalk-jsapi): requestAuthCode and"
  echo "    the environment check only, bundled by bot/static/vendor/build-dingtalk-jsapi.sh. */"
  npx esbuild entry.js --bundle --minify --format=iife --log-level=warning
} > "$here/dingtalk-jsapi-auth.js"
