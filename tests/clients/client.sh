#!/bin/sh
# An example client of the lipsync API in POSIX shell with curl.
# Careful by default; `sh client.sh RULE_ID` breaks that one rule (see MISTAKES below).
# Reads MOCKGATEWAY_URL, MOCKGATEWAY_API_KEY and MOCKGATEWAY_SPEED (sleeps are divided by it).
# Exit status: 0 when the video was downloaded, 2 when the API refused the request, 1 otherwise.
set -eu

BASE=${MOCKGATEWAY_URL:-http://127.0.0.1:8080}
KEY=${MOCKGATEWAY_API_KEY:-my-key}
SPEED=${MOCKGATEWAY_SPEED:-1}
MISTAKE=${1:-}
MISTAKES="poll-interval key-header generate-content-type generate-cache-control poll-after-terminal"
case " $MISTAKES " in
  *" $MISTAKE "*|"  ") ;;
  *) [ -z "$MISTAKE" ] || { echo "unknown mistake $MISTAKE; known: $MISTAKES" >&2; exit 64; } ;;
esac

pause() { sleep "$(awk -v s="$1" -v k="$SPEED" 'BEGIN { printf "%.4f", s / k }')"; }
field() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

CONTENT_TYPE="application/json"
[ "$MISTAKE" = generate-content-type ] && CONTENT_TYPE="application/x-www-form-urlencoded"
CACHE="Cache-Control: no-cache"
[ "$MISTAKE" = generate-cache-control ] && CACHE="X-Nothing: 1"

code=$(curl -s -o "$TMP/accepted.json" -w '%{http_code}' -X POST \
  "$BASE/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request" \
  -H "Content-Type: $CONTENT_TYPE" \
  -H "$CACHE" \
  -H "Ocp-Apim-Subscription-Key: $KEY" \
  --data-raw '{
"image_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_image.png",
"audio_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_audio.mp3",
"resolution": "720p"
}')
case $code in
  202) ;;
  400|401|402|403) echo "generate refused with $code: $(cat "$TMP/accepted.json")" >&2; exit 2 ;;
  *) echo "generate answered $code" >&2; exit 1 ;;
esac
POLLING_URL=$(field polling_url "$TMP/accepted.json")

PACE=5
[ "$MISTAKE" = poll-interval ] && PACE=1
KEY_HEADER="Ocp-Apim-Subscription-Key: $KEY"
[ "$MISTAKE" = key-header ] && KEY_HEADER="X-Nothing: 1"

while :; do
  pause "$PACE"
  code=$(curl -s -o "$TMP/status.json" -w '%{http_code}' -H "$KEY_HEADER" "$POLLING_URL")
  [ "$code" = 200 ] || { echo "status answered $code" >&2; exit 1; }
  STATUS=$(field status "$TMP/status.json")
  echo "status: $STATUS" >&2
  case $STATUS in COMPLETED|FAILED|ERROR) break ;; esac
done
if [ "$MISTAKE" = poll-after-terminal ]; then
  pause "$PACE"
  curl -s -o /dev/null -H "$KEY_HEADER" "$POLLING_URL"
fi
[ "$STATUS" = COMPLETED ] || { echo "job ended $STATUS" >&2; exit 1; }

MEDIA_URL=$(sed -n 's/.*"media_url": *\[ *"\([^"]*\)".*/\1/p' "$TMP/status.json")
curl -s -f -o "$TMP/output.mp4" "$MEDIA_URL"
echo "downloaded $(wc -c < "$TMP/output.mp4") bytes"
