// demo.test.mjs - the demo page in a real browser (headless Chromium)
// against the real edge, central and embedded Kafka of `make run`.
//
// A user taps like on two posts quickly: both hearts turn red before any
// request leaves; after the debounce window one POST /v1/ops carries both
// likes; the counts shown are then the server's, and after a reload the
// page shows both hearts red (read from /me). The edge is then killed
// and a third post liked: the heart turns red at once and, once the
// retries are spent, rolls back with the reason shown. A screenshot of
// the confirmed state is saved to build/browser/demo.png.
//
// Run: make browser-test (node --test from the root, after make).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

import { Browser } from './cdp.mjs';
import { Stack } from './stack.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const DEBOUNCE_MS = 1500;
const SHOT = 'build/browser/demo.png';

const stack = new Stack();
let browser, page;
const requests = []; // {method, url, body, at} of every request the page sent

// The text and state of one post in the feed.
const post = (item) => page.eval(`(() => {
	const el = document.querySelector('[data-item="${item}"]');
	return el && {
		pressed: el.querySelector('button.like').getAttribute('aria-pressed'),
		count: el.querySelector('.count').textContent.trim(),
		status: el.querySelector('.status').textContent.trim(),
	};
})()`);

const header = (headers, name) =>
	Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];

const opsPosts = () => requests.filter((r) => r.method === 'POST' && r.url.endsWith('/v1/ops'));

// The count the edge itself answers for item, for a cross-check.
async function edgeCount(item) {
	const [type, id] = item.split(':');
	const r = await fetch(`${stack.base}/v1/items/${type}/${id}/likes`);
	assert.equal(r.status, 200);
	return (await r.json()).count;
}

before(async () => {
	assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: make deps installs chromium`);
	await stack.start();
	browser = Browser.launch(CHROMIUM, join(stack.dir, 'chromium'));
	page = await browser.newPage();
	page.on((method, params) => {
		if (method === 'Network.requestWillBeSent')
			requests.push({
				method: params.request.method,
				url: params.request.url,
				body: params.request.postData ?? '',
				key: header(params.request.headers, 'idempotency-key'),
				at: Date.now(),
			});
	});
	await page.send('Network.enable');
});

after(async () => {
	if (browser)
		await browser.close();
	await stack.stop();
});

test('two quick likes show at once and go out as one request', async () => {
	await page.goto(`${stack.base}/demo/?user=alice&debounce=${DEBOUNCE_MS}&retries=2&backoff=100`);
	await page.waitFor('window.likesReady === true', 'the first counts');
	const before1 = await post('post:1');
	const before2 = await post('post:2');
	assert.equal(before1.pressed, 'false');
	assert.equal(before2.pressed, 'false');
	assert.equal(before1.count, '0', 'a fresh stack starts at zero');

	const t0 = Date.now();
	await page.click('[data-item="post:1"] button.like');
	await page.click('[data-item="post:2"] button.like');
	const now1 = await post('post:1');
	const now2 = await post('post:2');
	const elapsed = Date.now() - t0;
	// Read well inside the debounce window: nothing can have been sent.
	assert.ok(elapsed < DEBOUNCE_MS / 2, `the clicks took ${elapsed} ms`);
	assert.equal(opsPosts().length, 0, 'no write has left the page yet');
	assert.deepEqual([now1.pressed, now2.pressed], ['true', 'true'], 'both hearts red at once');
	assert.deepEqual([now1.status, now2.status], ['pending', 'pending']);
	assert.deepEqual([now1.count, now2.count], ['1', '1'], 'the counts move at once too');

	const statuses = `[...document.querySelectorAll(
		'[data-item="post:1"] .status, [data-item="post:2"] .status')]`;
	await page.waitFor(`${statuses}.every((s) => s.textContent.trim() === 'confirmed')`,
		'both likes confirmed');
	const ops = opsPosts();
	assert.equal(ops.length, 1, 'one POST /v1/ops for both taps');
	assert.ok(ops[0].at - t0 >= DEBOUNCE_MS * 0.9, 'sent after the debounce window');
	const body = JSON.parse(ops[0].body);
	assert.deepEqual(body.ops.map((o) => [o.op, o.item, o.counter]).sort(),
		[['add', 'post:1', 'likes'], ['add', 'post:2', 'likes']]);
	assert.equal(await page.eval(`document.querySelector('#sent-ops').textContent.trim()`), '1');

	const after1 = await post('post:1');
	const after2 = await post('post:2');
	assert.deepEqual([after1.pressed, after2.pressed], ['true', 'true']);
	assert.equal(after1.count, String(await edgeCount('post:1')), 'post:1 shows the server count');
	assert.equal(after2.count, String(await edgeCount('post:2')), 'post:2 shows the server count');
	assert.equal(after1.count, '1');

	mkdirSync('build/browser', { recursive: true });
	writeFileSync(SHOT, await page.screenshot(0.6));
});

test('a reload shows the hearts this user liked, and no write is resent', async () => {
	const opsBefore = opsPosts().length;
	await page.goto(`${stack.base}/demo/?user=alice&debounce=${DEBOUNCE_MS}&retries=2&backoff=100`);
	await page.waitFor('window.likesReady === true', 'the counts and hearts');
	const [p1, p2, p3] = [await post('post:1'), await post('post:2'), await post('post:3')];
	assert.deepEqual([p1.pressed, p2.pressed, p3.pressed], ['true', 'true', 'false']);
	assert.deepEqual([p1.count, p2.count], ['1', '1']);
	assert.equal(opsPosts().length, opsBefore, 'reading sends no write');
	assert.equal(await page.eval(`document.querySelector('#notice').textContent.trim()`), '');
});

test('a like the edge never answers rolls back with the reason', async () => {
	const was = await post('post:3');
	assert.equal(was.pressed, 'false');
	await stack.kill('edge');
	const sentBefore = opsPosts().length;
	await page.click('[data-item="post:3"] button.like');
	const now = await post('post:3');
	assert.equal(now.pressed, 'true', 'red at once, as ever');
	assert.equal(now.status, 'pending');

	const rolled = await page.waitFor(`(() => {
		const s = document.querySelector('[data-item="post:3"] .status').textContent.trim();
		return s.startsWith('rolled back') && s;
	})()`, 'the rollback', 20000);
	assert.match(rolled, /^rolled back: .+/, 'the reason is shown');
	const back = await post('post:3');
	assert.equal(back.pressed, 'false', 'the heart is white again');
	assert.equal(back.count, was.count, 'the count is what it was');
	const tries = opsPosts().slice(sentBefore);
	assert.ok(tries.length >= 2, `the write was retried (${tries.length} attempts seen)`);
	assert.equal(new Set(tries.map((r) => r.body)).size, 1, 'every attempt sent the same body');
	assert.ok(tries[0].key, 'the write carries an Idempotency-Key');
	assert.equal(new Set(tries.map((r) => r.key)).size, 1, 'every attempt reused the key');
	// The likes made before the cut stay as they were.
	const p1 = await post('post:1');
	assert.deepEqual([p1.pressed, p1.count, p1.status], ['true', '1', 'idle']);
});
