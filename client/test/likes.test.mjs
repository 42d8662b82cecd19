/*
 * likes.test.mjs - the client's taps: optimistic state, the debounce
 * window and how taps collapse in it, one batched POST /v1/ops, how
 * answers confirm, correct or roll back the shown state, and taps made
 * while a request is in flight. Fake fetch and clock (helpers.mjs).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createLikes } from '../likes.js';
import { gate, holdWrites, reply, sentOps, setup } from './helpers.mjs';

/* A library that has read post:1's likes (count 5) from the fake edge. */
async function withCount(opts = {}) {
	const t = setup({ counts: { 'post:1/likes': 5 }, ...opts });
	await t.likes.getCounts(['post:1']);
	return t;
}

test('a like shows at once, before any write is sent', async () => {
	const { likes, net, changes } = await withCount();
	likes.like('post:1');
	const s = likes.state('post:1');
	assert.equal(s.member, true);
	assert.equal(s.count, 6);
	assert.equal(s.display, '6');
	assert.equal(s.status, 'pending');
	assert.equal(s.confirmed.count, 5);
	assert.equal(net.calls.length, 1, 'only the read went out');
	assert.equal(changes.at(-1).member, true);
});

test('like then unlike in one window sends nothing', async () => {
	const { likes, clock, net } = await withCount();
	const first = likes.like('post:1');
	await clock.advance(500);
	likes.unlike('post:1');
	await clock.advance(5000);
	assert.deepEqual(sentOps(net), []);
	assert.deepEqual(await first, { ok: true, sent: false, state: likes.state('post:1') });
	assert.equal(likes.state('post:1').member, false);
	assert.equal(likes.state('post:1').count, 5);
	assert.equal(likes.state('post:1').status, 'idle');
});

test('like, unlike, like in one window sends one add', async () => {
	const { likes, clock, net } = await withCount();
	likes.like('post:1');
	likes.unlike('post:1');
	likes.like('post:1');
	await clock.advance(2000);
	assert.deepEqual(sentOps(net), [[{ op: 'add', item: 'post:1', counter: 'likes' }]]);
});

test('taps on two items in one window go out as one request when the window closes', async () => {
	const { likes, clock, net } = setup();
	likes.like('post:1');
	await clock.advance(1000);
	likes.like('post:2');
	await clock.advance(999);
	assert.equal(net.calls.length, 0, 'the window is still open');
	await clock.advance(1);
	assert.deepEqual(sentOps(net), [[
		{ op: 'add', item: 'post:1', counter: 'likes' },
		{ op: 'add', item: 'post:2', counter: 'likes' },
	]]);
});

test('adds in one window merge into one op, split into ops of at most 1000', async () => {
	const { likes, clock, net } = setup();
	likes.add('post:1', 'views', 600);
	likes.add('post:1', 'views', 300);
	await clock.advance(2000);
	likes.add('post:1', 'views', 700);
	likes.add('post:1', 'views', 800);
	await clock.advance(2000);
	assert.deepEqual(sentOps(net), [
		[{ op: 'add', item: 'post:1', counter: 'views', n: 900 }],
		[{ op: 'add', item: 'post:1', counter: 'views', n: 1000 },
			{ op: 'add', item: 'post:1', counter: 'views', n: 500 }],
	]);
	assert.equal(likes.state('post:1', 'views').count, 2400);
	assert.equal(likes.state('post:1', 'views').status, 'confirmed');
});

test('add refuses an n outside 1..1000', () => {
	const { likes } = setup();
	assert.throws(() => likes.add('post:1', 'views', 0), RangeError);
	assert.throws(() => likes.add('post:1', 'views', 1001), RangeError);
	assert.throws(() => likes.add('post:1', 'views', 1.5), RangeError);
});

test('a bad item or counter name is refused before anything is sent', () => {
	const { likes } = setup();
	assert.throws(() => likes.like('post:1,post:2'), TypeError);
	assert.throws(() => likes.like('post'), TypeError);
	assert.throws(() => likes.add('post:1', 'vie ws', 1), TypeError);
});

test("the server's count replaces the guess when it differs", async () => {
	const { likes, clock, edge } = await withCount();
	edge.counts.set('post:1/likes', 40); /* 35 others liked meanwhile */
	const outcome = likes.like('post:1');
	assert.equal(likes.state('post:1').count, 6);
	await clock.advance(2000);
	const s = likes.state('post:1');
	assert.equal(s.count, 41);
	assert.equal(s.display, '41');
	assert.equal(s.status, 'confirmed');
	assert.deepEqual(await outcome, { ok: true, sent: true, state: s });
});

test("the answer's display string is shown as the server wrote it", async () => {
	const answer = { status: 200, body: { item: 'post:1', counter: 'likes', member: true,
		changed: true, count: 1234, display: '1,2 k', version: 9 } };
	const { likes } = setup({ respond: () => reply(200, { results: [answer] }) });
	likes.like('post:1');
	await likes.flush();
	assert.equal(likes.state('post:1').display, '1,2 k');
	assert.equal(likes.state('post:1').count, 1234);
});

test('a refused op rolls back that op only and says why', async () => {
	const t = setup({ counts: { 'post:1/likes': 5, 'post:2/likes': 8 } });
	const { likes, clock, edge, changes } = t;
	await likes.getCounts(['post:1', 'post:2']);
	edge.failOp = (op) => (op.item === 'post:2' ? [404, 'unknown_counter'] : null);
	const ok = likes.like('post:1');
	const refused = likes.like('post:2');
	assert.equal(likes.state('post:2').count, 9);
	await clock.advance(2000);
	assert.equal(likes.state('post:1').member, true);
	assert.equal(likes.state('post:1').status, 'confirmed');
	const s = likes.state('post:2');
	assert.equal(s.member, false);
	assert.equal(s.count, 8);
	assert.equal(s.status, 'rolled back');
	assert.equal(s.reason, 'unknown_counter');
	assert.equal((await ok).ok, true);
	assert.deepEqual(await refused,
		{ ok: false, reason: 'unknown_counter', message: 'refused', state: s });
	assert.equal(changes.at(-1).reason, 'unknown_counter', 'onChange saw the rollback');
});

test('a tap during a request in flight is shown on top of it and waits for the next window', async () => {
	const held = gate();
	const { likes, clock, net } = await withCount({ respond: holdWrites(held) });
	likes.like('post:1');
	await clock.advance(2000);
	assert.equal(sentOps(net).length, 1, 'the like is in flight');
	likes.unlike('post:1');
	assert.equal(likes.state('post:1').member, false);
	assert.equal(likes.state('post:1').count, 5);
	await clock.advance(5000);
	assert.equal(sentOps(net).length, 1, 'the unlike waits for the answer');
	held.open();
	await clock.advance(0);
	let s = likes.state('post:1');
	assert.equal(s.confirmed.member, true);
	assert.equal(s.confirmed.count, 6);
	assert.equal(s.member, false, 'the unlike is still shown over the answer');
	assert.equal(s.count, 5);
	assert.equal(s.status, 'pending');
	await clock.advance(1999);
	assert.equal(sentOps(net).length, 1, 'the next window is a whole window');
	await clock.advance(1);
	assert.deepEqual(sentOps(net)[1], [{ op: 'remove', item: 'post:1', counter: 'likes' }]);
	s = likes.state('post:1');
	assert.equal(s.count, 5);
	assert.equal(s.status, 'confirmed');
});

test('a like repeated while the first is in flight sends nothing more', async () => {
	const held = gate();
	const { likes, clock, net } = await withCount({ respond: holdWrites(held) });
	likes.like('post:1');
	await clock.advance(2000);
	likes.unlike('post:1');
	likes.like('post:1');
	assert.equal(likes.state('post:1').count, 6);
	held.open();
	await clock.advance(5000);
	assert.equal(sentOps(net).length, 1);
	assert.equal(likes.state('post:1').count, 6);
	assert.equal(likes.state('post:1').status, 'idle');
});

test('more than 100 ops go out in requests of at most 100, one after the other', async () => {
	const { likes, net } = setup();
	for (let i = 1; i <= 150; i++)
		likes.like(`post:${i}`);
	await likes.flush();
	const sent = sentOps(net);
	assert.deepEqual(sent.map((ops) => ops.length), [100, 50]);
	assert.equal(sent[1][0].item, 'post:101');
	assert.equal(likes.state('post:150').status, 'confirmed');
});

test('flush sends at once and resolves when the writes are settled', async () => {
	const { likes, net } = setup();
	likes.like('post:1');
	await likes.flush();
	assert.equal(net.calls.length, 1);
	assert.equal(likes.state('post:1').status, 'confirmed');
});

test('each write request has its own Idempotency-Key', async () => {
	const { likes, net, requests } = setup();
	likes.like('post:1');
	await likes.flush();
	likes.like('post:2');
	await likes.flush();
	const keys = net.calls.map((c) => c.headers['idempotency-key']);
	assert.equal(keys.length, 2);
	assert.match(keys[0], /^[0-9a-f]{32}$/);
	assert.notEqual(keys[0], keys[1]);
	assert.deepEqual(requests.map((r) => r.idempotencyKey), keys);
});

test("the answer's op clock goes back digit for digit on the next write", async () => {
	const { likes, edge, net } = setup();
	edge.hlc = 1152921504606846976n; /* 2^60: the answer's 2^60 + 1 is no double */
	likes.like('post:1');
	await likes.flush();
	assert.doesNotMatch(net.calls[0].body, /hlc/);
	likes.like('post:2');
	await likes.flush();
	assert.match(net.calls[1].body, /"hlc":1152921504606846977\}/);
});

test('the user and the token become X-User-Id and a bearer Authorization', async () => {
	const { likes, net } = setup({ token: () => 'jwt-1' });
	likes.like('post:1');
	await likes.flush();
	assert.equal(net.calls[0].headers['x-user-id'], 'alice');
	assert.equal(net.calls[0].headers.authorization, 'Bearer jwt-1');
	assert.equal(net.calls[0].headers['content-type'], 'application/json');
});

test('a like before any count is known shows the membership, and the count once answered', async () => {
	const { likes, clock } = setup();
	likes.like('post:1');
	assert.equal(likes.state('post:1').count, null);
	assert.equal(likes.state('post:1').display, '');
	assert.equal(likes.state('post:1').member, true);
	await clock.advance(2000);
	assert.equal(likes.state('post:1').count, 1);
});

test('createLikes refuses timings that are not numbers >= 0', () => {
	assert.throws(() => createLikes({ debounceMs: -1 }), TypeError);
	assert.throws(() => createLikes({ retries: 'four' }), TypeError);
	assert.doesNotThrow(() => createLikes({ debounceMs: 0, retries: undefined }));
});

test('a counter liked here cannot also be added to', () => {
	const { likes } = setup();
	likes.like('post:1', 'saves');
	assert.throws(() => likes.add('post:1', 'saves', 1), TypeError);
});
