/*
 * retry.test.mjs - the client's write retries: which failures are sent
 * again (network error, timeout, 429, 503, a 200 whose ops all got 503)
 * and which are final (400, 401), the same Idempotency-Key and body on
 * every attempt, Retry-After and the jittered exponential backoff, and
 * the rollback once the retries are spent. Fake fetch and clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { gate, reply, setup } from './helpers.mjs';

const RETRY_STATUSES = [
	[503, 'over_budget'],
	[429, 'rate_limited'],
];

/* Answers the first `failures` writes with fail(), then lets the edge
 * answer. */
function failFirst(failures, fail) {
	let seen = 0;
	return (call, edge) => (call.method === 'POST' && seen++ < failures ? fail(call) : edge.answer(call));
}

function errorReply(status, code, headers = {}) {
	return reply(status, { error: { code, message: 'try later' } }, headers);
}

function assertSameRequest(calls) {
	assert.ok(calls.length > 1);
	for (const c of calls.slice(1)) {
		assert.equal(c.headers['idempotency-key'], calls[0].headers['idempotency-key']);
		assert.equal(c.body, calls[0].body);
	}
}

test('a network error is retried with the same Idempotency-Key and body', async () => {
	const { likes, clock, net, requests } = setup({
		respond: failFirst(1, () => {
			throw new TypeError('fetch failed');
		}),
	});
	const outcome = likes.like('post:1');
	await clock.until(likes.flush());
	assert.equal(net.calls.length, 2);
	assertSameRequest(net.calls);
	assert.deepEqual(requests.map((r) => r.attempt), [0, 1]);
	assert.equal((await outcome).ok, true);
	assert.equal(likes.state('post:1').status, 'confirmed');
});

for (const [status, code] of RETRY_STATUSES) {
	test(`${status} is retried with the same Idempotency-Key and body`, async () => {
		const { likes, clock, net } = setup({ respond: failFirst(2, () => errorReply(status, code)) });
		likes.like('post:1');
		await clock.until(likes.flush());
		assert.equal(net.calls.length, 3);
		assertSameRequest(net.calls);
		assert.equal(likes.state('post:1').status, 'confirmed');
	});
}

test('Retry-After is waited before the next attempt', async () => {
	const { likes, clock, net } = setup({
		respond: failFirst(1, () => errorReply(429, 'rate_limited', { 'Retry-After': '3' })),
	});
	likes.like('post:1');
	await clock.advance(2000);
	assert.equal(net.calls.length, 1);
	await clock.advance(2999);
	assert.equal(net.calls.length, 1, 'asked to wait 3 s');
	await clock.advance(1);
	assert.equal(net.calls.length, 2);
	assert.equal(likes.state('post:1').status, 'confirmed');
});

test('without Retry-After the wait doubles per attempt, jittered, up to maxBackoffMs', async () => {
	const { likes, clock, net } = setup({
		respond: () => errorReply(503, 'store_unavailable'),
		random: () => 0, /* the shortest jitter: half of each backoff */
		retries: 5,
		maxBackoffMs: 2000,
	});
	likes.like('post:1');
	await clock.until(likes.flush());
	const waits = net.calls.slice(1).map((c, i) => c.at - net.calls[i].at);
	assert.deepEqual(waits, [125, 250, 500, 1000, 1000]);
	assert.ok(clock.now >= 2875);
});

test('the jitter spreads a wait over the upper half of the backoff', async () => {
	const { likes, clock, net } = setup({
		respond: () => errorReply(503, 'store_unavailable'),
		random: () => 0.999,
		retries: 1,
	});
	likes.like('post:1');
	await clock.until(likes.flush());
	const wait = net.calls[1].at - net.calls[0].at;
	assert.ok(wait > 240 && wait < 250, `waited ${wait}`);
});

test('once the retries are spent the like rolls back with the last reason', async () => {
	const { likes, clock, net, changes } = setup({
		counts: { 'post:1/likes': 5 },
		respond: failFirst(Infinity, () => errorReply(503, 'over_budget')),
	});
	await likes.getCounts(['post:1']);
	const outcome = likes.like('post:1');
	await clock.until(likes.flush());
	assert.equal(net.calls.length, 1 + 5, 'one read, then the write and 4 retries');
	const s = likes.state('post:1');
	assert.equal(s.member, false);
	assert.equal(s.count, 5);
	assert.equal(s.status, 'rolled back');
	assert.equal(s.reason, 'over_budget');
	assert.deepEqual(await outcome, { ok: false, reason: 'over_budget', message: 'try later', state: s });
	assert.equal(changes.at(-1).status, 'rolled back');
});

for (const [status, code] of [[400, 'invalid_body'], [401, 'unauthenticated']]) {
	test(`${status} is not retried: the ops roll back at once`, async () => {
		const { likes, clock, net } = setup({ respond: () => errorReply(status, code) });
		likes.like('post:1');
		likes.add('post:1', 'views', 2);
		await clock.until(likes.flush());
		assert.equal(net.calls.length, 1);
		assert.equal(likes.state('post:1').reason, code);
		assert.equal(likes.state('post:1', 'views').reason, code);
		assert.equal(likes.state('post:1').member, false);
	});
}

test('a 200 whose ops all answered 503 recorded nothing and is retried with the same key', async () => {
	const unrecorded = () => reply(200, { results: [
		{ status: 503, body: { error: { code: 'store_unavailable', message: 'x' } } },
		{ status: 400, body: { error: { code: 'invalid_item', message: 'x' } } },
	] }, { 'Retry-After': '1' });
	const { likes, clock, net } = setup({ respond: failFirst(1, unrecorded) });
	likes.like('post:1');
	likes.like('post:2');
	await clock.until(likes.flush());
	assert.equal(net.calls.length, 2);
	assertSameRequest(net.calls);
	assert.equal(net.calls[1].at - net.calls[0].at, 1000);
	assert.equal(likes.state('post:2').status, 'confirmed');
});

test('a 200 with one op recorded is final: the 503 op alone rolls back', async () => {
	const partly = (call, edge) => reply(200, { results: [
		edge.apply(JSON.parse(call.body).ops[0]),
		{ status: 503, body: { error: { code: 'membership_unavailable', message: 'x' } } },
	] });
	const { likes, clock, net } = setup({ respond: partly });
	likes.like('post:1');
	likes.unlike('post:2', 'saves');
	likes.like('post:2', 'saves');
	likes.unlike('post:2', 'saves');
	likes.like('post:3');
	await clock.until(likes.flush());
	assert.equal(net.calls.length, 1);
	assert.equal(likes.state('post:1').status, 'confirmed');
	assert.equal(likes.state('post:3').status, 'rolled back');
	assert.equal(likes.state('post:3').reason, 'membership_unavailable');
});

test('a request with no answer within timeoutMs is sent again under the same key', async () => {
	const never = gate();
	const { likes, clock, net } = setup({ timeoutMs: 1000, respond: failFirst(1, () => never.promise) });
	likes.like('post:1');
	await clock.advance(2000);
	assert.equal(net.calls.length, 1);
	await clock.advance(1000 + 187.5);
	assert.equal(net.calls.length, 2);
	assertSameRequest(net.calls);
	assert.equal(likes.state('post:1').status, 'confirmed');
});

test('a timeout on every attempt rolls back with reason timeout', async () => {
	const never = gate();
	const { likes, clock } = setup({ timeoutMs: 1000, retries: 1, respond: () => never.promise });
	const outcome = likes.like('post:1');
	await clock.advance(2000 + 1000 + 187.5 + 1000);
	assert.equal((await outcome).reason, 'timeout');
	assert.equal(likes.state('post:1').status, 'rolled back');
});
