/*
 * helpers.mjs - fakes for the client library's tests: a clock whose
 * timers run only when a test advances it, a fetch that records every
 * request and answers from a test's function, and a small edge that
 * answers /v1/ops, /v1/counts and /me for one user from state in memory.
 */
import { webcrypto } from 'node:crypto';

import { createLikes } from '../likes.js';

/* The library makes its keys with Web Crypto, global in browsers and in
 * Node 19 and later; Debian 12's Node 18 has it only as a module. */
globalThis.crypto ??= webcrypto;

/* Lets every promise chain and I/O callback that is ready run. */
export async function settle() {
	for (let i = 0; i < 5; i++)
		await new Promise((resolve) => setImmediate(resolve));
}

export function fakeClock() {
	let now = 0;
	let seq = 0;
	const timers = new Map();
	/* Runs the earliest timer due by end; false when there is none. */
	function runNext(end) {
		let next = null;
		for (const [id, t] of timers) {
			if (t.at <= end && (!next || t.at < next[1].at))
				next = [id, t];
		}
		if (!next)
			return false;
		timers.delete(next[0]);
		now = next[1].at;
		next[1].fn();
		return true;
	}
	return {
		get now() {
			return now;
		},
		setTimeout(fn, ms) {
			timers.set(++seq, { at: now + ms, fn });
			return seq;
		},
		clearTimeout(id) {
			timers.delete(id);
		},
		/* Moves time forward by ms, running each timer due on the way
		 * at its own time, earliest first. */
		async advance(ms) {
			const end = now + ms;
			do
				await settle();
			while (runNext(end));
			now = end;
		},
		/* Runs timers, earliest first, until promise settles; fails if
		 * it has not within limitMs. Resolves as promise does. */
		async until(promise, limitMs = 600000) {
			let done = false;
			promise.then(() => (done = true), () => (done = true));
			const end = now + limitMs;
			for (;;) {
				await settle();
				if (done)
					return promise;
				if (!runNext(end))
					throw new Error(`nothing settled within ${limitMs} ms`);
			}
		},
	};
}

/* An answer as fetch gives it. Bodies that are objects are written as
 * JSON, with any string "hlc" written back as a bare number. */
export function reply(status, body = '', headers = {}) {
	const text = typeof body === 'string' ? body
		: JSON.stringify(body).replace(/"hlc":"(\d+)"/g, '"hlc":$1');
	return { status, headers: new Headers(headers), text: async () => text };
}

/* A fetch that records each call ({url, method, headers, body, at}) and
 * answers with respond(call): an answer, a promise of one, or a throw (a
 * network error). An aborted request rejects as the real one does. */
export function fakeFetch(respond, clock) {
	const calls = [];
	function fetch(url, init = {}) {
		const call = { url, method: init.method ?? 'GET', headers: { ...init.headers },
			body: init.body, at: clock?.now };
		calls.push(call);
		return new Promise((resolve, reject) => {
			init.signal?.addEventListener('abort', () => reject(new Error('aborted')));
			Promise.resolve().then(() => respond(call)).then(resolve, reject);
		});
	}
	return { fetch, calls };
}

/* A promise a test resolves when it chooses: holds an answer in flight. */
export function gate() {
	let open;
	const promise = new Promise((resolve) => {
		open = resolve;
	});
	return { promise, open };
}

/* The edge for one user. counts: {"post:1/likes": 5}; failOp(op) may
 * return [status, code] to refuse an op; loading(op) true answers the op
 * as an edge whose replica is still loading does (recorded, with count
 * and display null); other users' likes can be added to counts at any
 * time. */
export function fakeEdge(counts = {}) {
	const edge = {
		counts: new Map(Object.entries(counts)),
		members: new Set(),
		version: 7,
		hlc: 1n << 60n,
		failOp: () => null,
		loading: () => false,
		answer(call) {
			const url = new URL(call.url, 'http://edge');
			if (call.method === 'POST' && url.pathname === '/v1/ops')
				return reply(200, { results: JSON.parse(call.body).ops.map((op) => edge.apply(op)) });
			if (call.method === 'GET' && url.pathname === '/v1/counts')
				return reply(200, edge.read(url.searchParams));
			const me = url.pathname.match(/^\/v1\/items\/([^/]+)\/([^/]+)\/([^/]+)\/me$/);
			if (call.method === 'GET' && me) {
				const [item, counter] = [`${me[1]}:${me[2]}`, me[3]];
				return reply(200, { item, counter, member: edge.members.has(`${item}/${counter}`) });
			}
			return reply(404, { error: { code: 'not_found', message: 'no such route' } });
		},
		apply(op) {
			const refused = edge.failOp(op);
			if (refused)
				return { status: refused[0], body: { error: { code: refused[1], message: 'refused' } } };
			const key = `${op.item}/${op.counter}`;
			let count = edge.counts.get(key) ?? 0;
			const body = { item: op.item, counter: op.counter };
			if (op.counter === 'likes') {
				const was = edge.members.has(key);
				const now = op.op === 'add';
				if (now)
					edge.members.add(key);
				else
					edge.members.delete(key);
				count += Number(now) - Number(was);
				body.member = now;
				body.changed = was !== now;
			} else {
				count += op.n ?? 1;
				body.changed = true;
			}
			edge.counts.set(key, count);
			edge.hlc += 1n;
			const known = !edge.loading(op);
			return { status: 200, body: { ...body, count: known ? count : null,
				display: known ? String(count) : null, version: edge.version, hlc: String(edge.hlc) } };
		},
		read(params) {
			const out = { counts: {}, display: {}, freshness: {} };
			const counters = params.get('counters')?.split(',') ?? ['likes'];
			for (const item of params.get('items').split(',')) {
				for (const counter of counters) {
					const count = edge.counts.get(`${item}/${counter}`) ?? 0;
					(out.counts[item] ??= {})[counter] = count;
					(out.display[item] ??= {})[counter] = String(count);
				}
				out.freshness[item] = { version: edge.version, as_of: 1763700000000 };
			}
			return out;
		},
	};
	return edge;
}

/* A library wired to the fakes, for user alice. respond(call, edge)
 * defaults to the fake edge's answer; opts override the library's
 * options. */
export function setup({ counts = {}, respond, ...opts } = {}) {
	const clock = fakeClock();
	const edge = fakeEdge(counts);
	const net = fakeFetch((call) => (respond ?? edge.answer)(call, edge), clock);
	const changes = [];
	const requests = [];
	const likes = createLikes({
		user: 'alice',
		fetch: net.fetch,
		setTimeout: clock.setTimeout,
		clearTimeout: clock.clearTimeout,
		random: () => 0.5,
		onRequest: (r) => requests.push(r),
		onChange: (item, state) => changes.push(state),
		...opts,
	});
	return { likes, clock, edge, net, changes, requests };
}

/* A respond for setup(): reads are answered at once, writes only once
 * held (a gate) is opened. */
export function holdWrites(held) {
	return (call, edge) => (call.method === 'POST'
		? held.promise.then(() => edge.answer(call))
		: edge.answer(call));
}

/* The ops of the POST /v1/ops calls so far, one array per request,
 * without the op clocks (a test of those reads the body). */
export function sentOps(net) {
	return net.calls.filter((c) => c.url.endsWith('/v1/ops'))
		.map((c) => JSON.parse(c.body).ops.map(({ hlc, ...op }) => op));
}
