/*
 * likes.js - the browser client of the edge's like counter API: optimistic
 * taps, debounced into one POST /v1/ops per window, retried under one
 * Idempotency-Key, and feed counts read with GET /v1/counts. A plain ES
 * module with no dependencies; it runs in browsers and in Node 20. One
 * instance owns the state of every (item, counter) it has seen; all of it
 * lives on the page's single thread.
 *
 * State model. Each (item, counter) holds three layers, oldest first:
 *
 *   confirmed  what the server last said: count, display, member (set
 *              counters only; unknown until a write answers, and shown
 *              as "not a member" while unknown), version and as_of.
 *              Written by write answers and by fresh enough reads, never
 *              by a guess of its own (a write answered without a count
 *              keeps the count the page showed for that write).
 *   in flight  the op of the one write request being sent, not answered
 *              yet: the membership it asks for (set) or the n it adds (sum).
 *   pending    the taps of the current window, not sent yet, collapsed:
 *              the membership the user asked for last (set) or the sum of
 *              the adds (sum).
 *
 * What is shown is the layers applied in order: a set counter shows the
 * newest layer's membership and the confirmed count moved by the difference
 * between that membership and the confirmed one (never below 0); a sum
 * counter shows the confirmed count plus both layers' n. So a tap made
 * while an earlier write is in flight is shown on top of that write's
 * guess, and on top of its answer once the answer comes.
 *
 * Writes. A tap changes the pending layer and, if no window is open and no
 * request in flight, opens one (debounceMs). When the window closes, each
 * pending layer becomes an op: a set layer whose membership equals the
 * confirmed one sends nothing (like then unlike), a sum layer sends its n
 * in ops of at most 1000. All ops go out as one POST /v1/ops (split every
 * 100 ops, sent one after the other). Taps made meanwhile wait for the next
 * window, which opens when the request is done. Each op's result settles
 * its layer: 200 moves the answer into confirmed, any other status drops
 * the layer, which is the rollback, and records the reason. The promise a
 * tap returns settles with its layer and never rejects. A 200 whose count
 * is null (an edge whose replica of counts is still loading records the
 * write but does not know the count) confirms the member the answer gives
 * and keeps the guess: the confirmed count moved by this op's own effect
 * (see keptCount), which a later read may replace as usual.
 *
 * Retries. Every write request has its own random Idempotency-Key. A
 * network error, a timeout, 429, 502, 503, 504, or a 200 whose ops all
 * failed with at least one 503 (the edge recorded nothing) is sent again,
 * same key, same body, after Retry-After seconds when the answer has it,
 * else after an exponential backoff with jitter; other statuses are final.
 * When the retries are spent the last answer's reason rolls the ops back.
 *
 * Reads. getCounts() moves a count, getMine() a membership, into
 * confirmed only when that is safe:
 * no write of it is in flight, the read was sent after the last write
 * answer for it (a read cannot tell whether it saw a racing write), and its
 * version is not older than the confirmed one (a cache or another edge may
 * answer from an older snapshot).
 */

const MAX_OPS = 100; /* api.max_ops: ops per POST /v1/ops */
const MAX_ITEMS = 100; /* api.max_items: items per GET /v1/counts */
const MAX_N = 1000; /* the largest n of one add to a sum counter */
const ITEM_RE = /^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_-]{1,64}$/;
const COUNTER_RE = /^[A-Za-z0-9_-]{1,64}$/;
const RETRY_STATUSES = new Set([429, 502, 503, 504]);

const DEFAULTS = {
	base: '',
	debounceMs: 2000,
	retries: 4,
	backoffMs: 250,
	maxBackoffMs: 8000,
	timeoutMs: 10000,
};

/* A read that failed: reason is the server's error code, "network error",
 * "timeout" or "http <status>"; status is 0 when no answer came. */
export class LikesError extends Error {
	constructor(reason, message, status) {
		super(message ? `${reason}: ${message}` : reason);
		this.name = 'LikesError';
		this.reason = reason;
		this.status = status;
	}
}

/* The short form of a count as the edge writes it: 999, 1.2K, 12K, 1.2M;
 * truncated, never rounded up. Used only for guesses the server has not
 * answered yet. */
export function formatCount(n) {
	const units = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']];
	for (const [unit, suffix] of units) {
		if (n < unit)
			continue;
		const whole = Math.floor(n / unit);
		const tenth = Math.floor((n % unit) / (unit / 10));
		return whole < 10 && tenth > 0 ? `${whole}.${tenth}${suffix}` : `${whole}${suffix}`;
	}
	return String(n);
}

/* A client. Every option may be left out:
 *   base          URL prefix of the edge; '' for the page's own origin
 *   user          sent as X-User-Id (the edge's development identity mode)
 *   token         a bearer token, or a function giving one per request
 *   debounceMs    how long a window collects taps (2000)
 *   retries       attempts after the first one (4)
 *   backoffMs     the first retry's backoff, doubled per attempt (250)
 *   maxBackoffMs  the largest backoff (8000)
 *   timeoutMs     how long one attempt may take (10000)
 *   onRequest({method, path, attempt, idempotencyKey})  per request sent
 *   onChange(item, state)  whenever a shown state changes (publicState)
 *   fetch, setTimeout, clearTimeout, random  replaceable for tests */
export function createLikes(options = {}) {
	return new Likes(settings(options));
}

function settings(options) {
	const s = { ...options };
	for (const [name, value] of Object.entries(DEFAULTS))
		s[name] ??= value;
	for (const name of Object.keys(DEFAULTS).filter((k) => k !== 'base')) {
		if (!Number.isFinite(s[name]) || s[name] < 0)
			throw new TypeError(`${name} must be a number >= 0`);
	}
	s.fetch ??= (url, init) => globalThis.fetch(url, init);
	s.setTimeout ??= (fn, ms) => globalThis.setTimeout(fn, ms);
	s.clearTimeout ??= (id) => globalThis.clearTimeout(id);
	s.random ??= Math.random;
	return s;
}

class Likes {
	#o;
	#entries = new Map(); /* "item/counter" -> entry */
	#dirty = new Set(); /* entries with a pending layer */
	#timer = null; /* the open window */
	#busy = false; /* a write request is in flight */
	#due = false; /* flush() asked for a window while busy */
	#sent = 0; /* HTTP requests sent so far: the order of reads and answers */
	#hlc = null; /* the newest op clock answered, as decimal digits */

	constructor(o) {
		this.#o = o;
	}

	/* Taps. Each returns a promise of the tap's outcome, shared by every
	 * tap of the same (item, counter) in the same window; it never
	 * rejects: {ok: true, sent, state} or {ok: false, reason, message,
	 * state}. */
	like(item, counter = 'likes') {
		return this.#tapSet(item, counter, true);
	}

	unlike(item, counter = 'likes') {
		return this.#tapSet(item, counter, false);
	}

	add(item, counter, n = 1) {
		if (!Number.isInteger(n) || n < 1 || n > MAX_N)
			throw new RangeError(`n must be an integer from 1 to ${MAX_N}`);
		const e = this.#entry(item, counter, 'sum');
		const layer = (e.pending ??= newLayer());
		layer.n += n;
		return this.#tapped(e, layer);
	}

	/* The shown state of one (item, counter); see publicState. */
	state(item, counter = 'likes') {
		checkItem(item);
		checkCounter(counter);
		return publicState(this.#entries.get(`${item}/${counter}`) ?? newEntry(item, counter));
	}

	/* Sends the pending taps now, without waiting for the window; resolves
	 * when they and any request in flight are settled. */
	flush() {
		const waits = [];
		for (const e of this.#entries.values()) {
			if (e.inflight)
				waits.push(e.inflight.done);
			if (e.pending)
				waits.push(e.pending.done);
		}
		if (this.#busy) {
			this.#due = true;
		} else {
			this.#closeWindow();
			this.#cycle();
		}
		return Promise.all(waits).then(() => undefined);
	}

	/* Reads counts of items (every configured counter, or only counters)
	 * and resolves with {counts, display, freshness, missing} as the edge
	 * answered them; rejects with a LikesError. More than 100 items take
	 * one request per 100. */
	async getCounts(items, counters = []) {
		const list = [...new Set(items)];
		list.forEach(checkItem);
		counters.forEach(checkCounter);
		const parts = [];
		for (let i = 0; i < list.length; i += MAX_ITEMS)
			parts.push(this.#readCounts(list.slice(i, i + MAX_ITEMS), counters));
		const answers = await Promise.all(parts);
		const all = { counts: {}, display: {}, freshness: {}, missing: [] };
		for (const a of answers) {
			Object.assign(all.counts, a.counts);
			Object.assign(all.display, a.display);
			Object.assign(all.freshness, a.freshness);
			all.missing.push(...a.missing);
		}
		return all;
	}

	/* Reads whether this user is in counter (a set counter) for each item,
	 * with one GET .../{counter}/me per item (the API has no list form),
	 * all at once. Resolves with {member: {item: bool}, failed: {item:
	 * reason}}; never rejects. An answer becomes the confirmed membership
	 * under the same rule as a read count (see the header), so a feed
	 * loaded after a like shows the heart red. */
	async getMine(items, counter = 'likes') {
		const list = [...new Set(items)];
		list.forEach(checkItem);
		checkCounter(counter);
		const answers = await Promise.all(list.map((item) => {
			const [type, id] = item.split(':');
			const path = `/v1/items/${type}/${id}/${counter}/me`;
			return this.#send('GET', path, undefined, undefined, readRetryable);
		}));
		const out = { member: {}, failed: {} };
		answers.forEach((a, i) => {
			const item = list[i];
			if (a.status !== 200 || typeof a.data?.member !== 'boolean') {
				out.failed[item] = a.status === 200 ? 'bad_answer' : a.reason;
				return;
			}
			out.member[item] = a.data.member;
			const e = this.#entry(item, counter, 'set');
			if (!readIsNewer(e, a.sentAt, undefined))
				return;
			e.confirmed = { ...e.confirmed, member: a.data.member };
			this.#changed(e);
		});
		return out;
	}

	/* --- taps and windows --- */

	#tapSet(item, counter, want) {
		const e = this.#entry(item, counter, 'set');
		const layer = (e.pending ??= newLayer());
		layer.want = want;
		return this.#tapped(e, layer);
	}

	#tapped(e, layer) {
		this.#dirty.add(e);
		this.#changed(e);
		this.#openWindow();
		return layer.done;
	}

	#entry(item, counter, kind = null) {
		checkItem(item);
		checkCounter(counter);
		const key = `${item}/${counter}`;
		let e = this.#entries.get(key);
		if (!e) {
			e = newEntry(item, counter);
			this.#entries.set(key, e);
		}
		if (kind && e.kind && e.kind !== kind)
			throw new TypeError(`${counter} is a ${e.kind} counter here`);
		e.kind ??= kind;
		return e;
	}

	#openWindow() {
		if (this.#busy || this.#timer !== null)
			return;
		this.#timer = this.#o.setTimeout(() => {
			this.#timer = null;
			this.#cycle();
		}, this.#o.debounceMs);
	}

	#closeWindow() {
		if (this.#timer === null)
			return;
		this.#o.clearTimeout(this.#timer);
		this.#timer = null;
	}

	/* Sends every pending layer, one request of up to 100 ops at a time,
	 * then opens the next window for the taps made meanwhile. */
	async #cycle() {
		this.#busy = true;
		try {
			const batch = this.#takePending();
			for (let i = 0; i < batch.length; i += MAX_OPS)
				await this.#sendOps(batch.slice(i, i + MAX_OPS));
		} finally {
			this.#busy = false;
		}
		if (this.#dirty.size === 0) {
			this.#due = false;
		} else if (this.#due) {
			this.#due = false;
			this.#cycle();
		} else {
			this.#openWindow();
		}
	}

	/* Moves each pending layer in flight and returns its ops as
	 * [{entry, op}]; a layer with nothing to send settles at once. */
	#takePending() {
		const batch = [];
		for (const e of this.#dirty) {
			const layer = e.pending;
			e.pending = null;
			const ops = opsFor(e, layer);
			if (ops.length === 0) {
				e.outcome = 'idle';
				e.reason = e.message = null;
				layer.resolve({ ok: true, sent: false, state: publicState(e) });
				this.#changed(e);
				continue;
			}
			layer.left = ops.length;
			e.inflight = layer;
			for (const op of ops)
				batch.push({ entry: e, op });
		}
		this.#dirty.clear();
		return batch;
	}

	async #sendOps(batch) {
		const body = opsBody(batch.map((b) => b.op), this.#hlc);
		const answer = await this.#send('POST', '/v1/ops', body, newKey(), opsRetryable);
		const results = opResults(answer, batch.length);
		batch.forEach((b, i) => this.#settle(b.entry, b.op, results[i]));
	}

	/* Records one op's result; the layer settles with its last op. A sum
	 * split in several ops is confirmed by the last answer that came back
	 * 200 (ops run in order) and rolled back if any failed; answers without
	 * a count each fold in their own op's n. */
	#settle(e, op, result) {
		const layer = e.inflight;
		if (result.ok)
			this.#confirmWrite(e, op, result.body);
		else
			layer.failure ??= result;
		if (--layer.left > 0)
			return;
		e.inflight = null;
		const f = layer.failure;
		e.outcome = f ? 'rolled back' : 'confirmed';
		e.reason = f ? f.reason : null;
		e.message = f ? f.message : null;
		const state = publicState(e);
		layer.resolve(f ? { ok: false, reason: f.reason, message: f.message, state }
			: { ok: true, sent: true, state });
		this.#changed(e);
	}

	/* Moves a 200 answer to op into confirmed. An answer without a count
	 * (null from an edge still loading its replica: the write was recorded,
	 * the count is not known there) keeps the previous count with op's
	 * effect folded in, i.e. the guess the page showed, and keeps the
	 * previous version: the answer's version describes no count, and our
	 * count is still the one read at c.version plus a guess; taking the
	 * newer version would make a read from a version in between, which
	 * carries a real count, lose to that guess. */
	#confirmWrite(e, op, body) {
		const c = e.confirmed;
		const member = typeof body.member === 'boolean' ? body.member : c.member;
		if (isCount(body.count)) {
			e.confirmed = {
				count: body.count,
				display: typeof body.display === 'string' ? body.display : formatCount(body.count),
				member,
				version: Number.isSafeInteger(body.version) ? body.version : c.version,
				asOf: null, /* write answers do not carry it */
			};
		} else {
			const count = keptCount(e, op, body);
			e.confirmed = {
				count,
				display: count === null ? '' : count === c.count ? c.display : formatCount(count),
				member,
				version: c.version,
				asOf: null,
			};
		}
		e.basis = this.#sent;
		if (typeof body.hlc === 'string' && (this.#hlc === null || BigInt(body.hlc) > BigInt(this.#hlc)))
			this.#hlc = body.hlc;
	}

	/* --- reads --- */

	async #readCounts(items, counters) {
		let path = `/v1/counts?items=${items.join(',')}`;
		if (counters.length)
			path += `&counters=${counters.join(',')}`;
		const a = await this.#send('GET', path, undefined, undefined, readRetryable);
		const d = a.data;
		if (a.status !== 200 || !isObject(d?.counts))
			throw new LikesError(a.status === 200 ? 'bad_answer' : a.reason, a.message, a.status);
		const answer = {
			counts: d.counts,
			display: isObject(d.display) ? d.display : {},
			freshness: isObject(d.freshness) ? d.freshness : {},
			missing: Array.isArray(d.missing) ? d.missing : [],
		};
		this.#confirmRead(answer, a.sentAt);
		return answer;
	}

	#confirmRead(answer, sentAt) {
		for (const [item, byCounter] of Object.entries(answer.counts)) {
			if (!ITEM_RE.test(item) || !isObject(byCounter))
				continue;
			const fresh = isObject(answer.freshness[item]) ? answer.freshness[item] : {};
			const display = isObject(answer.display[item]) ? answer.display[item] : {};
			for (const [counter, count] of Object.entries(byCounter)) {
				if (!COUNTER_RE.test(counter) || !isCount(count))
					continue;
				const e = this.#entry(item, counter);
				if (!readIsNewer(e, sentAt, fresh.version))
					continue;
				e.confirmed = {
					count,
					display: typeof display[counter] === 'string' ? display[counter] : formatCount(count),
					member: e.confirmed.member,
					version: Number.isSafeInteger(fresh.version) ? fresh.version : null,
					asOf: Number.isSafeInteger(fresh.as_of) ? fresh.as_of : null,
				};
				e.basis = sentAt;
				this.#changed(e);
			}
		}
	}

	/* --- HTTP --- */

	/* Sends one request until an answer is final or the retries are spent;
	 * resolves with the last answer (see #attempt), never rejects. */
	async #send(method, path, body, key, retryable) {
		for (let attempt = 0; ; attempt++) {
			const answer = await this.#attempt(method, path, body, key, attempt);
			if (attempt >= this.#o.retries || !retryable(answer))
				return answer;
			await this.#sleep(this.#backoff(attempt, answer.retryAfter));
		}
	}

	/* One HTTP exchange: {status, data, reason, message, retryAfter,
	 * sentAt}; status 0 when no answer came (network error, timeout). */
	async #attempt(method, path, body, key, attempt) {
		const o = this.#o;
		const headers = this.#headers(key);
		const sentAt = ++this.#sent;
		this.#call(o.onRequest, { method, path, attempt, idempotencyKey: key });
		const abort = new AbortController();
		const timer = o.setTimeout(() => abort.abort(), o.timeoutMs);
		try {
			const init = { method, headers, body, signal: abort.signal };
			if (method === 'GET')
				init.cache = 'no-cache'; /* revalidate: a cached page may predate our writes */
			else
				init.keepalive = true; /* taps flushed as the page goes away still leave */
			const res = await o.fetch(o.base + path, init);
			const data = parseJson(await res.text());
			const err = isObject(data?.error) ? data.error : {};
			return {
				status: res.status,
				data,
				reason: typeof err.code === 'string' ? err.code : `http ${res.status}`,
				message: typeof err.message === 'string' ? err.message : null,
				retryAfter: retryAfterOf(res.headers.get('retry-after')),
				sentAt,
			};
		} catch (err) {
			return {
				status: 0,
				data: null,
				reason: abort.signal.aborted ? 'timeout' : 'network error',
				message: String(err?.message ?? err),
				retryAfter: null,
				sentAt,
			};
		} finally {
			o.clearTimeout(timer);
		}
	}

	#headers(key) {
		const o = this.#o;
		const h = {};
		if (key) {
			h['content-type'] = 'application/json';
			h['idempotency-key'] = key;
		}
		if (o.user)
			h['x-user-id'] = o.user;
		const token = typeof o.token === 'function' ? o.token() : o.token;
		if (token)
			h.authorization = `Bearer ${token}`;
		return h;
	}

	/* Retry-After when the answer gave one, else backoffMs doubled per
	 * attempt up to maxBackoffMs, of which a random half is waited
	 * ("equal jitter": clients that failed together spread out). */
	#backoff(attempt, retryAfter) {
		if (retryAfter !== null)
			return retryAfter * 1000;
		const full = Math.min(this.#o.maxBackoffMs, this.#o.backoffMs * 2 ** attempt);
		return full / 2 + this.#o.random() * (full / 2);
	}

	#sleep(ms) {
		return new Promise((resolve) => this.#o.setTimeout(resolve, ms));
	}

	#changed(e) {
		this.#call(this.#o.onChange, e.item, publicState(e));
	}

	/* A callback that throws must not stop the state machine: its error is
	 * thrown again outside, where the page's error handling sees it. */
	#call(fn, ...args) {
		if (!fn)
			return;
		try {
			fn(...args);
		} catch (err) {
			queueMicrotask(() => {
				throw err;
			});
		}
	}
}

function newEntry(item, counter) {
	return {
		item,
		counter,
		kind: null, /* 'set' or 'sum' once written; null when only read */
		confirmed: { count: null, display: '', member: undefined, version: null, asOf: null },
		basis: 0, /* #sent when confirmed last changed: older reads lose */
		inflight: null,
		pending: null,
		outcome: 'idle', /* of the last settled layer: idle, confirmed, rolled back */
		reason: null,
		message: null,
	};
}

/* A layer: what it asks (want for a set counter, n for a sum) and the
 * promise its taps share. */
function newLayer() {
	let resolve;
	const done = new Promise((r) => {
		resolve = r;
	});
	return { want: false, n: 0, done, resolve, left: 0, failure: null };
}

/* The state a page shows: {item, counter, count (null until known),
 * display ('' until known), member (boolean; undefined for a sum counter),
 * status ('idle', 'pending', 'confirmed', 'rolled back'), reason and
 * message (of a rollback, else null), confirmed: {count, display, member,
 * version, asOf} (the server's last word)}. */
function publicState(e) {
	const c = e.confirmed;
	const { count, member } = shown(e);
	return {
		item: e.item,
		counter: e.counter,
		count,
		display: count === null ? '' : count === c.count ? c.display : formatCount(count),
		member,
		status: e.pending || e.inflight ? 'pending' : e.outcome,
		reason: e.reason,
		message: e.message,
		confirmed: { ...c },
	};
}

/* The layers applied in order (see the header). */
function shown(e) {
	const c = e.confirmed;
	if (e.kind === 'sum') {
		const extra = (e.inflight?.n ?? 0) + (e.pending?.n ?? 0);
		return { count: c.count === null ? null : c.count + extra, member: undefined };
	}
	const base = c.member ?? false;
	const member = e.pending?.want ?? e.inflight?.want ?? base;
	const count = c.count === null ? null : Math.max(0, c.count + Number(member) - Number(base));
	return { count, member };
}

/* The ops a pending layer needs; the confirmed state is current because
 * nothing of this entry is in flight when a window closes. */
function opsFor(e, layer) {
	const { item, counter } = e;
	if (e.kind === 'set') {
		if (layer.want === (e.confirmed.member ?? false))
			return [];
		return [{ op: layer.want ? 'add' : 'remove', item, counter }];
	}
	const ops = [];
	for (let left = layer.n; left > 0; left -= MAX_N)
		ops.push({ op: 'add', item, counter, n: Math.min(left, MAX_N) });
	return ops;
}

/* The request body. The newest clock answered goes back on every op so
 * these writes order after the earlier ones at any edge; it is written as
 * the digits the edge sent, since it does not fit a double. */
function opsBody(ops, hlc) {
	const parts = ops.map((op) => {
		const json = JSON.stringify(op);
		return hlc === null ? json : `${json.slice(0, -1)},"hlc":${hlc}}`;
	});
	return `{"ops":[${parts.join(',')}]}`;
}

/* The confirmed count after op was recorded by an answer that gave no
 * count: null while no count is known, else the confirmed count moved by
 * op's own effect. A sum adds op's n (each op of a split layer once, as
 * its own answer comes). A set moves by the answer's membership against
 * the one before: the confirmed one, or when that is unknown (a count
 * read, no membership) the one the answer's "changed" implies, since such
 * a count already holds this user's heart if there was one; never below
 * 0. */
function keptCount(e, op, body) {
	const c = e.confirmed;
	if (c.count === null)
		return null;
	if (e.kind === 'sum')
		return c.count + (op.n ?? 1);
	const now = typeof body.member === 'boolean' ? body.member : op.op === 'add';
	let was = c.member;
	if (typeof was !== 'boolean')
		was = typeof body.changed === 'boolean' ? now !== body.changed : false;
	return Math.max(0, c.count + Number(now) - Number(was));
}

/* One result per op: {ok: true, body} or {ok: false, reason, message}. A
 * 200 is a recorded write whether or not its body has a count. */
function opResults(answer, count) {
	const results = answer.status === 200 ? answer.data?.results : null;
	if (!Array.isArray(results) || results.length !== count) {
		const whole = answer.status === 200
			? { ok: false, reason: 'bad_answer', message: 'the answer does not list every op' }
			: { ok: false, reason: answer.reason, message: answer.message };
		return Array(count).fill(whole);
	}
	return results.map((r) => {
		if (r?.status === 200 && isObject(r.body))
			return { ok: true, body: r.body };
		const err = isObject(r?.body?.error) ? r.body.error : {};
		return {
			ok: false,
			reason: typeof err.code === 'string' ? err.code : `http ${r?.status}`,
			message: typeof err.message === 'string' ? err.message : null,
		};
	});
}

function opsRetryable(a) {
	if (readRetryable(a))
		return true;
	/* The edge could not record: every op it would have recorded is 503
	 * and nothing is kept under the key, so the same request may go again. */
	const results = a.status === 200 ? a.data?.results : null;
	return Array.isArray(results) && !results.some((r) => r?.status === 200) &&
		results.some((r) => r?.status === 503);
}

function readRetryable(a) {
	return a.status === 0 || RETRY_STATUSES.has(a.status);
}

function readIsNewer(e, sentAt, version) {
	if (e.inflight || sentAt <= e.basis)
		return false;
	const known = e.confirmed.version;
	return !(Number.isSafeInteger(version) && known !== null && version < known);
}

/* JSON.parse, with every "hlc" number kept as its digits: op clocks are
 * above 2^53. null when the text is not JSON. */
function parseJson(text) {
	try {
		return JSON.parse(text.replace(/"hlc":(\d+)/g, '"hlc":"$1"'));
	} catch {
		return null;
	}
}

/* Retry-After in seconds (the edge never sends the HTTP-date form). */
function retryAfterOf(value) {
	return value !== null && /^\d{1,6}$/.test(value.trim()) ? Number(value.trim()) : null;
}

/* 128 random bits in hex. crypto.randomUUID would do, but browsers offer
 * it only to secure contexts; getRandomValues works everywhere. */
function newKey() {
	const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
	return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function checkItem(item) {
	if (typeof item !== 'string' || !ITEM_RE.test(item))
		throw new TypeError(`not an item (type:id): ${item}`);
}

function checkCounter(counter) {
	if (typeof counter !== 'string' || !COUNTER_RE.test(counter))
		throw new TypeError(`not a counter name: ${counter}`);
}

function isObject(v) {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v) {
	return Number.isSafeInteger(v) && v >= 0;
}
