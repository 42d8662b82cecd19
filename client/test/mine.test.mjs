/*
 * mine.test.mjs - getMine: whether this user is in a set counter, read
 * with one /me request per item, so a feed shows its liked hearts after a
 * reload; and when such a read may not replace what a write said.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { gate, holdWrites, reply, setup } from './helpers.mjs';

test('getMine asks /me of every item and shows the hearts it finds', async () => {
	const { likes, edge, net } = setup({ counts: { 'post:1/likes': 4 } });
	edge.members.add('post:1/likes');
	const got = await likes.getMine(['post:1', 'post:2', 'post:1']);
	assert.deepEqual(got, { member: { 'post:1': true, 'post:2': false }, failed: {} });
	assert.deepEqual(net.calls.map((c) => `${c.method} ${c.url}`).sort(),
		['GET /v1/items/post/1/likes/me', 'GET /v1/items/post/2/likes/me']);
	assert.equal(net.calls[0].headers['x-user-id'], 'alice');
	assert.equal(likes.state('post:1').member, true);
	assert.equal(likes.state('post:1').confirmed.member, true);
	assert.equal(likes.state('post:2').member, false);
});

test('a heart read as red is unliked, not liked again, by the next tap', async () => {
	const { likes, edge, clock, net } = setup({ counts: { 'post:1/likes': 4 } });
	edge.members.add('post:1/likes');
	await likes.getCounts(['post:1']);
	await likes.getMine(['post:1']);
	assert.equal(likes.state('post:1').count, 4);
	likes.unlike('post:1');
	assert.equal(likes.state('post:1').count, 3, 'the unlike is shown at once');
	await clock.advance(2000);
	const ops = net.calls.filter((c) => c.method === 'POST').map((c) => JSON.parse(c.body).ops);
	assert.deepEqual(ops.map((o) => o.map((x) => x.op)), [['remove']]);
	assert.equal(likes.state('post:1').member, false);
	assert.equal(likes.state('post:1').count, 3);
});

test('a membership read sent before a write was answered does not undo it', async () => {
	const held = gate();
	const readAnswer = gate();
	const { likes, clock, edge } = setup({
		respond: (call, e) => (call.url.endsWith('/me')
			? readAnswer.promise.then(() => reply(200, { member: false }))
			: holdWrites(held)(call, e)),
	});
	likes.like('post:1');
	await clock.advance(2000); /* the window closes: the write is in flight */
	const read = likes.getMine(['post:1']); /* sent while the write is in flight */
	held.open();
	await likes.flush();
	assert.equal(edge.members.has('post:1/likes'), true);
	readAnswer.open();
	await read;
	assert.equal(likes.state('post:1').member, true, 'the write answered after the read left');
});

test('a failed /me read is reported per item and changes nothing', async () => {
	const { likes } = setup({
		retries: 0,
		respond: (call) => (call.url.includes('/post/2/')
			? reply(503, { error: { code: 'unavailable', message: 'central unreachable' } })
			: reply(200, { item: 'post:1', counter: 'likes', member: true })),
	});
	const got = await likes.getMine(['post:1', 'post:2']);
	assert.deepEqual(got, { member: { 'post:1': true }, failed: { 'post:2': 'unavailable' } });
	assert.equal(likes.state('post:2').member, false);
	assert.equal(likes.state('post:2').confirmed.member, undefined);
});
