/*
 * loading.test.mjs - writes answered by an edge whose replica of counts
 * is still loading: the op is recorded (200) but its count and display
 * are null. The client confirms the membership and keeps the count it
 * showed (the confirmed count with the op's own effect), never an empty
 * one, until a read replaces it. Fake fetch, edge and clock (helpers.mjs).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { reply, sentOps, setup } from './helpers.mjs';

/* A library that has read post:1's counts from the fake edge, which then
 * starts answering writes without counts. */
async function loadingEdge({ counts = { 'post:1/likes': 41 }, counters = [], ...opts } = {}) {
	const t = setup({ counts, ...opts });
	await t.likes.getCounts(['post:1'], counters);
	t.edge.loading = () => true;
	return t;
}

test('a like answered without a count keeps the count it showed', async () => {
	const { likes, clock } = await loadingEdge();
	const outcome = likes.like('post:1');
	assert.equal(likes.state('post:1').count, 42);
	await clock.advance(2000);
	const s = likes.state('post:1');
	assert.equal(s.count, 42);
	assert.equal(s.display, '42');
	assert.equal(s.member, true);
	assert.equal(s.status, 'confirmed');
	assert.deepEqual(s.confirmed, { count: 42, display: '42', member: true, version: 7, asOf: null });
	assert.deepEqual(await outcome, { ok: true, sent: true, state: s });
});

test('an unlike answered without a count keeps the count it showed', async () => {
	const t = setup({ counts: { 'post:1/likes': 42 } });
	const { likes, clock, edge } = t;
	edge.members.add('post:1/likes');
	await likes.getCounts(['post:1']);
	await likes.getMine(['post:1']);
	edge.loading = () => true;
	likes.unlike('post:1');
	assert.equal(likes.state('post:1').count, 41);
	await clock.advance(2000);
	const s = likes.state('post:1');
	assert.equal(s.count, 41);
	assert.equal(s.display, '41');
	assert.equal(s.member, false);
	assert.equal(s.status, 'confirmed');
	assert.equal(s.confirmed.count, 41);
	assert.equal(s.confirmed.member, false);
});

test("an add answered without a count keeps the confirmed count plus the op's n", async () => {
	const { likes, clock } = await loadingEdge({ counts: { 'post:1/views': 10 }, counters: ['views'] });
	likes.add('post:1', 'views', 5);
	await clock.advance(2000);
	const s = likes.state('post:1', 'views');
	assert.equal(s.count, 15);
	assert.equal(s.confirmed.count, 15);
	assert.equal(s.display, '15');
	assert.equal(s.status, 'confirmed');
});

test('a sum split in several ops answered without counts folds each op in once', async () => {
	const { likes, clock, net } = await loadingEdge({ counts: { 'post:1/views': 10 }, counters: ['views'] });
	likes.add('post:1', 'views', 1000);
	likes.add('post:1', 'views', 500);
	await clock.advance(2000);
	assert.deepEqual(sentOps(net), [[{ op: 'add', item: 'post:1', counter: 'views', n: 1000 },
		{ op: 'add', item: 'post:1', counter: 'views', n: 500 }]]);
	const s = likes.state('post:1', 'views');
	assert.equal(s.count, 1510);
	assert.equal(s.confirmed.count, 1510);
	assert.equal(s.confirmed.display, '1.5K');
	assert.equal(s.status, 'confirmed');
});

test('a split sum whose first op has a count and whose last has none ends on both', async () => {
	const { likes, clock, edge } = await loadingEdge({ counts: { 'post:1/views': 10 }, counters: ['views'] });
	edge.counts.set('post:1/views', 30); /* others added 20 meanwhile */
	edge.loading = (op) => op.n === 500;
	likes.add('post:1', 'views', 1000);
	likes.add('post:1', 'views', 500);
	await clock.advance(2000);
	assert.equal(likes.state('post:1', 'views').confirmed.count, 1530, '1030 answered, + 500 kept');
	assert.equal(likes.state('post:1', 'views').count, 1530);
});

test('a like of a count never read, answered without a count, leaves the count unknown', async () => {
	const { likes, clock, edge } = setup();
	edge.loading = () => true;
	likes.like('post:1');
	await clock.advance(2000);
	const s = likes.state('post:1');
	assert.equal(s.count, null);
	assert.equal(s.display, '');
	assert.equal(s.member, true);
	assert.equal(s.status, 'confirmed');
	assert.deepEqual(s.confirmed, { count: null, display: '', member: true, version: null, asOf: null });
});

test('a later read replaces the kept count; the answer without a count moved no version', async () => {
	const { likes, clock, edge } = await loadingEdge();
	edge.version = 9; /* the loading edge's version vouches for no count */
	likes.like('post:1');
	await clock.advance(2000);
	assert.equal(likes.state('post:1').confirmed.version, 7);
	edge.loading = () => false;
	edge.version = 8;
	edge.counts.set('post:1/likes', 50);
	await likes.getCounts(['post:1']);
	const s = likes.state('post:1');
	assert.equal(s.count, 50);
	assert.equal(s.display, '50');
	assert.equal(s.member, true, 'the read keeps the membership the write answered');
	assert.deepEqual(s.confirmed, { count: 50, display: '50', member: true, version: 8, asOf: 1763700000000 });
	edge.version = 6;
	edge.counts.set('post:1/likes', 3);
	await likes.getCounts(['post:1']);
	assert.equal(likes.state('post:1').count, 50, 'an older version still loses');
});

test('a like of a heart already red, answered unchanged without a count, keeps the count read', async () => {
	/* The read count already holds alice's heart; membership was never read. */
	const { likes, clock, edge } = await loadingEdge();
	edge.members.add('post:1/likes');
	likes.like('post:1');
	assert.equal(likes.state('post:1').count, 42, 'the guess: not known to be a member');
	await clock.advance(2000);
	const s = likes.state('post:1');
	assert.equal(s.count, 41);
	assert.equal(s.member, true);
	assert.equal(s.status, 'confirmed');
});

test('a 200 whose count is missing or not a count is kept as a recorded write', async () => {
	for (const count of [undefined, '42', -1, 1.5, 2 ** 53]) {
		const answer = { status: 200, body: { item: 'post:1', counter: 'likes', member: true,
			changed: true, count, display: 'x', version: 9 } };
		const { likes, clock } = setup({
			respond: (call, edge) => (call.method === 'POST'
				? reply(200, { results: [answer] }) : edge.answer(call)),
			counts: { 'post:1/likes': 41 },
		});
		await likes.getCounts(['post:1']);
		const outcome = likes.like('post:1');
		await clock.advance(2000);
		const s = likes.state('post:1');
		assert.equal(s.count, 42, `count ${count}`);
		assert.equal(s.display, '42', 'formatted here: the display belongs to no count');
		assert.equal(s.status, 'confirmed');
		assert.equal((await outcome).ok, true);
	}
});
