// An example client of the lipsync API for Node 20 (global fetch, no packages).
// Careful by default; `node client.js --careless RULE_ID` breaks that one rule.
// Reads MOCKGATEWAY_URL, MOCKGATEWAY_API_KEY and MOCKGATEWAY_SPEED (sleeps are divided by it).
// Exit status: 0 when the video was downloaded, 2 when the API refused the request, 1 otherwise.

const BASE = (process.env.MOCKGATEWAY_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const KEY = process.env.MOCKGATEWAY_API_KEY || 'my-key';
const SPEED = Number(process.env.MOCKGATEWAY_SPEED || '1');
const GENERATE = `${BASE}/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request`;
const MISTAKES = ['poll-interval', 'key-header', 'poll-after-terminal', 'download-output',
  'generate-cache-control', 'retry-after-429'];
const TERMINAL = ['COMPLETED', 'FAILED', 'ERROR'];

const args = process.argv.slice(2);
const careless = args[0] === '--careless' ? args[1] : null;
if (careless !== null && !MISTAKES.includes(careless)) {
  console.error(`unknown mistake ${careless}; known: ${MISTAKES.join(', ')}`);
  process.exit(64);
}

const sleep = (gatewaySeconds) =>
  new Promise((resolve) => setTimeout(resolve, (gatewaySeconds * 1000) / SPEED));

class Refused extends Error {}

// One request with the documented retry manners: Retry-After on 429, backoff on 5xx/network.
async function call(method, url, { body, headers = {} } = {}) {
  let delay = 1;
  for (let attempt = 0; attempt < 5; attempt++) {
    let response;
    try {
      response = await fetch(url, { method, headers, body });
    } catch (err) {
      console.error(`connection problem: ${err.message}`);
      await sleep(delay);
      delay = Math.min(delay * 2, 30);
      continue;
    }
    if (response.status === 429) {
      const wanted = Number(response.headers.get('retry-after') || '1');
      await sleep(careless === 'retry-after-429' ? 0 : wanted);
      continue;
    }
    if (response.status >= 500) {
      await sleep(delay);
      delay = Math.min(delay * 2, 30);
      continue;
    }
    return response;
  }
  throw new Error(`${method} ${url}: gave up after repeated failures`);
}

async function main() {
  const headers = {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache',
    'Ocp-Apim-Subscription-Key': KEY,
  };
  if (careless === 'generate-cache-control') delete headers['Cache-Control'];
  const body = JSON.stringify({
    image_url: 'https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_image.png',
    audio_url: 'https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_audio.mp3',
    resolution: '720p',
  });
  const submitted = await call('POST', GENERATE, { body, headers });
  if ([400, 401, 402, 403].includes(submitted.status)) {
    throw new Refused(`generate refused with ${submitted.status}: ${await submitted.text()}`);
  }
  if (submitted.status !== 202) throw new Error(`generate answered ${submitted.status}`);
  const accepted = await submitted.json();

  const pollHeaders = careless === 'key-header' ? {} : { 'Ocp-Apim-Subscription-Key': KEY };
  const pace = careless === 'poll-interval' ? 1 : 5;
  let job;
  for (;;) {
    await sleep(pace);
    const response = await call('GET', accepted.polling_url, { headers: pollHeaders });
    if (response.status !== 200) throw new Error(`status answered ${response.status}`);
    job = await response.json();
    console.error(`${job.request_id}: ${job.status}`);
    if (TERMINAL.includes(job.status)) break;
  }
  if (careless === 'poll-after-terminal') {
    await sleep(pace);
    await call('GET', accepted.polling_url, { headers: pollHeaders });
  }
  if (job.status !== 'COMPLETED') {
    console.error(`job ended ${job.status}: ${job.error}`);
    return 1;
  }
  if (careless === 'download-output') return 0;
  for (const url of job.output.media_url) {
    const media = await call('GET', url);
    if (media.status !== 200) throw new Error(`media answered ${media.status}`);
    const bytes = new Uint8Array(await media.arrayBuffer());
    console.log(`downloaded ${bytes.length} bytes of ${job.output.media_type}`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err.message);
    process.exit(err instanceof Refused ? 2 : 1);
  },
);
