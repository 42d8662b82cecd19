// cdp.mjs - a small Chrome DevTools Protocol client over a pipe, enough
// to drive Debian's headless Chromium from a test with no npm packages.
//
// Chromium started with --remote-debugging-pipe reads commands on its fd
// 3 and writes replies and events on its fd 4, each message one JSON
// object followed by a NUL byte. A command is {id, method, params
// [, sessionId]}; its reply carries the same id, with result or error.
// Events carry method and params (and the sessionId of the page they
// come from). Pages are reached through the Target domain with flat
// sessions: one connection, each command tagged with its page's session.

import { spawn } from 'node:child_process';

export class Browser {
	#proc;
	#out;
	#nextId = 1;
	#waiting = new Map(); // id -> {resolve, reject, method}
	#listeners = new Set(); // fn(message) for every event
	#buf = Buffer.alloc(0);
	exited;

	// Starts the browser at path (headless) with its profile in userDir.
	static launch(path, userDir) {
		const args = [
			'--headless=new',
			'--remote-debugging-pipe',
			`--user-data-dir=${userDir}`,
			'--no-first-run',
			'--no-default-browser-check',
			'--disable-gpu',
			// Containers often give /dev/shm only 64 MB, which Chromium
			// can run out of; its temp dir is used instead.
			'--disable-dev-shm-usage',
			'--disable-extensions',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			'--window-size=900,1000',
		];
		// Chromium's sandbox refuses to run as root (CI runs as root).
		if (process.getuid && process.getuid() === 0)
			args.push('--no-sandbox');
		args.push('about:blank');
		const proc = spawn(path, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
		return new Browser(proc);
	}

	constructor(proc) {
		this.#proc = proc;
		this.#out = proc.stdio[3];
		this.stderr = '';
		proc.stdio[2].on('data', (d) => {
			// Keep the tail only: enough to explain a failure.
			this.stderr = (this.stderr + d.toString()).slice(-8000);
		});
		proc.stdio[4].on('data', (d) => this.#read(d));
		this.exited = new Promise((resolve) => proc.on('exit', (code, sig) => {
			const why = new Error(`browser exited (${sig ?? code}): ${this.stderr.slice(-2000)}`);
			for (const w of this.#waiting.values())
				w.reject(why);
			this.#waiting.clear();
			resolve();
		}));
		// A write after the browser died must not crash the test runner.
		this.#out.on('error', () => {});
	}

	get pid() {
		return this.#proc.pid;
	}

	#read(chunk) {
		this.#buf = Buffer.concat([this.#buf, chunk]);
		let end;
		while ((end = this.#buf.indexOf(0)) >= 0) {
			const text = this.#buf.subarray(0, end).toString('utf8');
			this.#buf = this.#buf.subarray(end + 1);
			this.#dispatch(JSON.parse(text));
		}
	}

	#dispatch(msg) {
		if (msg.id !== undefined) {
			const w = this.#waiting.get(msg.id);
			if (!w)
				return;
			this.#waiting.delete(msg.id);
			if (msg.error)
				w.reject(new Error(`${w.method}: ${msg.error.message}`));
			else
				w.resolve(msg.result);
			return;
		}
		for (const fn of this.#listeners)
			fn(msg);
	}

	// Sends one command; resolves with its result.
	send(method, params = {}, sessionId = undefined) {
		const id = this.#nextId++;
		const msg = { id, method, params };
		if (sessionId)
			msg.sessionId = sessionId;
		return new Promise((resolve, reject) => {
			this.#waiting.set(id, { resolve, reject, method });
			this.#out.write(JSON.stringify(msg) + '\0');
		});
	}

	// Calls fn for every event; returns a function that stops it.
	listen(fn) {
		this.#listeners.add(fn);
		return () => this.#listeners.delete(fn);
	}

	// A new tab with a flat session of its own.
	async newPage() {
		const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
		const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
		return new Page(this, sessionId);
	}

	// Asks the browser to close, then kills it if it has not within 5 s.
	async close() {
		if (this.#proc.exitCode !== null || this.#proc.signalCode !== null)
			return;
		this.send('Browser.close').catch(() => {});
		const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 5000);
		await this.exited;
		clearTimeout(timer);
	}
}

export class Page {
	constructor(browser, sessionId) {
		this.browser = browser;
		this.sessionId = sessionId;
	}

	send(method, params = {}) {
		return this.browser.send(method, params, this.sessionId);
	}

	// Calls fn(method, params) for this page's events.
	on(fn) {
		return this.browser.listen((m) => {
			if (m.sessionId === this.sessionId)
				fn(m.method, m.params);
		});
	}

	// Evaluates a JavaScript expression in the page; its value (awaited
	// when it is a promise). A thrown exception rejects.
	async eval(expression) {
		const r = await this.send('Runtime.evaluate', {
			expression,
			awaitPromise: true,
			returnByValue: true,
		});
		if (r.exceptionDetails) {
			const d = r.exceptionDetails;
			throw new Error(`in page: ${d.exception?.description ?? d.text}`);
		}
		return r.result.value;
	}

	// Navigates and waits for the load event.
	async goto(url) {
		await this.send('Page.enable');
		const loaded = new Promise((resolve) => {
			const stop = this.on((method) => {
				if (method === 'Page.loadEventFired') {
					stop();
					resolve();
				}
			});
		});
		const r = await this.send('Page.navigate', { url });
		if (r.errorText)
			throw new Error(`navigate ${url}: ${r.errorText}`);
		await loaded;
	}

	// A real mouse click (press and release) at the centre of the first
	// element matching selector, as a user's would be.
	async click(selector) {
		const box = await this.eval(`(() => {
			const el = document.querySelector(${JSON.stringify(selector)});
			if (!el) return null;
			el.scrollIntoView({block: 'center'});
			const r = el.getBoundingClientRect();
			return {x: r.left + r.width / 2, y: r.top + r.height / 2};
		})()`);
		if (!box)
			throw new Error(`no element ${selector}`);
		const ev = { x: box.x, y: box.y, button: 'left', clickCount: 1 };
		await this.send('Input.dispatchMouseEvent', { type: 'mousePressed', ...ev });
		await this.send('Input.dispatchMouseEvent', { type: 'mouseReleased', ...ev });
	}

	// Polls a page expression until it is truthy; its value. Throws with
	// what (and the last value seen) after timeoutMs.
	async waitFor(expression, what, timeoutMs = 10000) {
		const end = Date.now() + timeoutMs;
		let last;
		for (;;) {
			last = await this.eval(expression);
			if (last)
				return last;
			if (Date.now() > end)
				throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
			await new Promise((r) => setTimeout(r, 25));
		}
	}

	// A PNG of the whole page (beyond the viewport), drawn at scale, as
	// a Buffer.
	async screenshot(scale = 1) {
		const size = await this.eval(`({width: document.documentElement.scrollWidth,
			height: document.documentElement.scrollHeight})`);
		const { data } = await this.send('Page.captureScreenshot', {
			format: 'png',
			captureBeyondViewport: true,
			clip: { x: 0, y: 0, ...size, scale },
		});
		return Buffer.from(data, 'base64');
	}
}
