/*
 * counts.test.mjs - the client's reads: the GET /v1/counts request and
 * how its answer is parsed, display strings taken from the server, when
 * a read may replace a confirmed count (freshness, reads racing writes),
 * failures, and formatCount against the edge's display rule.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatCount, LikesError } from '../likes.js';
import { gate, holdWrites, reply, setup } from './helpers.mjs';

const ANSWER = {
	counts: { 'post:1': { likes: 1250, views: 3 }, 'reel:9': { likes: 0 } },
	display: { 'post:1': { likes: '1.2K', views: '3' }, 'reel:9': { likes: '0' } },
	freshness: {
		'post:1': { version: 12, as_of: 1763700000000 },
		'reel:9': { version: 4, as_of: 1763700000001 },
	},
	missing: ['reel:9/views'],
};

test('getCounts asks for every item and counter in one request and returns the answer', async () => {
	const { likes, net } = setup({ respond: () => reply(200, ANSWER) });
	const got = await likes.getCounts(['post:1', 'reel:9', 'post:1'], ['likes', 'views']);
	assert.equal(net.calls.length, 1);
	assert.equal(net.calls[0].method, 'GET');
	assert.equal(net.calls[0].url, '/v1/counts?items=post:1,reel:9&counters=likes,views');
	assert.equal(net.calls[0].headers['x-user-id'], 'alice');
	assert.equal(net.calls[0].headers['idempotency-key'], undefined);
	assert.deepEqual(got, ANSWER);
});

test('counts read become the confirmed state, with their freshness', async () => {
	const { likes, changes } = setup({ respond: () => reply(200, ANSWER) });
	await likes.getCounts(['post:1', 'reel:9']);
	const s = likes.state('post:1');
	assert.equal(s.count, 1250);
	assert.equal(s.member, false);
	assert.equal(s.status, 'idle');
	assert.deepEqual(s.confirmed,
		{ count: 1250, display: '1.2K', member: undefined, version: 12, asOf: 1763700000000 });
	assert.equal(likes.state('post:1', 'views').count, 3);
	assert.equal(likes.state('reel:9', 'views').count, null, 'a missing count stays unknown');
	assert.deepEqual(changes.map((c) => `${c.item}/${c.counter}`),
		['post:1/likes', 'post:1/views', 'reel:9/likes']);
});

test("display strings are the server's; only a guess is formatted here", async () => {
	const answer = { counts: { 'post:1': { likes: 1250 } }, display: { 'post:1': { likes: '1,2 k' } },
		freshness: { 'post:1': { version: 1, as_of: 1 } } };
	const { likes } = setup({ respond: () => reply(200, answer) });
	await likes.getCounts(['post:1']);
	assert.equal(likes.state('post:1').display, '1,2 k');
	likes.like('post:1');
	assert.equal(likes.state('post:1').display, '1.2K', 'the guess 1251, as the edge would write it');
});

test('a read of an older version than the confirmed one is ignored', async () => {
	let version = 12;
	const { likes } = setup({
		respond: () => reply(200, { counts: { 'post:1': { likes: version } }, display: {},
			freshness: { 'post:1': { version, as_of: 0 } } }),
	});
	await likes.getCounts(['post:1']);
	version = 11;
	await likes.getCounts(['post:1']);
	assert.equal(likes.state('post:1').count, 12);
	version = 13;
	await likes.getCounts(['post:1']);
	assert.equal(likes.state('post:1').count, 13);
	assert.equal(likes.state('post:1').display, '13', 'formatted here when the server gave no display');
});

test('a read sent before a write was answered does not undo the write', async () => {
	const heldRead = gate();
	const { likes, clock } = setup({
		counts: { 'post:1/likes': 5 },
		respond: (call, edge) => {
			if (call.method === 'POST')
				return edge.answer(call);
			const answer = edge.answer(call); /* the count before the like */
			return heldRead.promise.then(() => answer);
		},
	});
	const read = likes.getCounts(['post:1']);
	likes.like('post:1');
	await clock.advance(2000);
	assert.equal(likes.state('post:1').count, 6);
	heldRead.open();
	await read;
	assert.equal(likes.state('post:1').count, 6);
	assert.equal(likes.state('post:1').status, 'confirmed');
});

test('a read answered while a write is in flight leaves the write to confirm the count', async () => {
	const heldWrite = gate();
	const { likes, clock, edge } = setup({ counts: { 'post:1/likes': 5 }, respond: holdWrites(heldWrite) });
	likes.like('post:1');
	await clock.advance(2000);
	edge.counts.set('post:1/likes', 9);
	await likes.getCounts(['post:1']);
	assert.equal(likes.state('post:1').confirmed.count, null);
	heldWrite.open();
	await clock.advance(0);
	assert.equal(likes.state('post:1').count, 10);
	await likes.getCounts(['post:1']);
	assert.equal(likes.state('post:1').count, 10, 'a read after the answer is taken');
	edge.counts.set('post:1/likes', 11);
	await likes.getCounts(['post:1']);
	assert.equal(likes.state('post:1').count, 11);
	assert.equal(likes.state('post:1').member, true, 'reads keep the membership');
});

test('a read under pending taps moves the base the taps are shown on', async () => {
	const { likes, edge } = setup({ counts: { 'post:1/likes': 5 } });
	likes.like('post:1');
	edge.counts.set('post:1/likes', 20);
	await likes.getCounts(['post:1']);
	assert.equal(likes.state('post:1').count, 21);
	assert.equal(likes.state('post:1').status, 'pending');
});

test('a read the edge cannot answer rejects with its reason', async () => {
	const unavailable = () => reply(503, { error: { code: 'count_unavailable', message: 'away' } });
	const { likes, clock, net } = setup({ respond: unavailable, retries: 2 });
	const err = await clock.until(likes.getCounts(['post:1'])).catch((e) => e);
	assert.ok(err instanceof LikesError);
	assert.equal(err.reason, 'count_unavailable');
	assert.equal(err.status, 503);
	assert.equal(net.calls.length, 3, 'a 503 read is retried too');
});

test('a read refused with 400 is not retried', async () => {
	const refused = () => reply(400, { error: { code: 'unknown_counter', message: 'x' } });
	const { likes, net } = setup({ respond: refused });
	await assert.rejects(likes.getCounts(['post:1'], ['likez']), { reason: 'unknown_counter' });
	assert.equal(net.calls.length, 1);
});

test('an answer that is not a counts object rejects as bad_answer', async () => {
	const { likes } = setup({ respond: () => reply(200, '<html>proxy error</html>') });
	await assert.rejects(likes.getCounts(['post:1']), { reason: 'bad_answer' });
});

test('more than 100 items are read 100 to a request', async () => {
	const { likes, net } = setup();
	const items = Array.from({ length: 250 }, (_, i) => `post:${i}`);
	const got = await likes.getCounts(items);
	const sizes = net.calls.map((c) => new URL(c.url, 'http://x').searchParams.get('items').split(',').length);
	assert.deepEqual(sizes, [100, 100, 50]);
	assert.equal(Object.keys(got.counts).length, 250);
});

test('formatCount writes counts as the edge does: truncated, one decimal below ten units', () => {
	const cases = [[0, '0'], [999, '999'], [1000, '1K'], [1099, '1K'], [1250, '1.2K'], [12345, '12K'],
		[999999, '999K'], [1200000, '1.2M'], [123456789, '123M'], [1200000000, '1.2B'], [5e12, '5T']];
	for (const [n, want] of cases)
		assert.equal(formatCount(n), want, `${n}`);
});
