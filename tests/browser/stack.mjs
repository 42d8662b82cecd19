// stack.mjs - the local stack of `make run` for a browser test: the
// embedded Kafka (build/sim broker), central and one edge with the demo
// page on, started from the same configs/local files with the ports,
// data and logs moved into a temp dir of the test's own. Only processes
// it started are stopped, by PID; the temp dir goes with them.

import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A port free on 127.0.0.1 now, below Linux's ephemeral range so that no
// outgoing connection takes it meanwhile.
async function freePort() {
	for (let i = 0; i < 100; i++) {
		const port = 20000 + Math.floor(Math.random() * 12000);
		const ok = await new Promise((resolve) => {
			const s = createServer();
			s.once('error', () => resolve(false));
			s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
		});
		if (ok)
			return port;
	}
	throw new Error('no free port');
}

async function until(what, timeoutMs, test) {
	const end = Date.now() + timeoutMs;
	while (!(await test())) {
		if (Date.now() > end)
			throw new Error(`timed out waiting for ${what}`);
		await sleep(100);
	}
}

async function answers(url) {
	try {
		const r = await fetch(url);
		return r.ok;
	} catch {
		return false;
	}
}

export class Stack {
	procs = new Map(); // name -> ChildProcess
	dir = mkdtempSync(join(tmpdir(), 'browser-test.'));

	#start(name, argv) {
		const log = openSync(join(this.dir, `${name}.log`), 'a');
		const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log, log] });
		closeSync(log);
		this.procs.set(name, p);
		return p;
	}

	// Starts everything and waits until the edge answers /healthz.
	async start() {
		const bootstrap = join(this.dir, 'kafka.bootstrap');
		this.#start('broker', ['build/sim', 'broker', '--bootstrap-file', bootstrap]);
		await until('the embedded Kafka', 20000, () => existsSync(bootstrap) &&
			readFileSync(bootstrap, 'utf8').length > 0);
		this.opsPort = await freePort();
		this.#start('central', ['build/central', '-c', 'configs/local/central.ini',
			'-s', `central.data_dir=${this.dir}/central`,
			'-s', `central.ops_listen=127.0.0.1:${this.opsPort}`,
			'-s', `bus.bootstrap_file=${bootstrap}`]);
		this.edgePort = await freePort();
		this.#start('edge', ['build/edge', '-c', 'configs/local/edge-virginia.ini',
			'-s', `edge.data_dir=${this.dir}/edge`,
			'-s', `http.listen=127.0.0.1:${this.edgePort}`,
			'-s', `central.ops=127.0.0.1:${this.opsPort}`,
			'-s', `bus.bootstrap_file=${bootstrap}`]);
		this.base = `http://127.0.0.1:${this.edgePort}`;
		await until('the edge', 30000, async () => {
			for (const [name, p] of this.procs)
				if (p.exitCode !== null)
					throw new Error(`${name} exited: ${this.log(name)}`);
			return answers(`${this.base}/healthz`);
		});
	}

	log(name) {
		try {
			return readFileSync(join(this.dir, `${name}.log`), 'utf8').slice(-3000);
		} catch {
			return '(no log)';
		}
	}

	// SIGKILLs one process (a crash, as the users see it) and waits for it.
	async kill(name) {
		const p = this.procs.get(name);
		if (!p || p.exitCode !== null || p.signalCode !== null)
			return;
		const gone = new Promise((r) => p.once('exit', r));
		p.kill('SIGKILL');
		await gone;
	}

	// Stops every process it started (SIGTERM, SIGKILL after 5 s), edges
	// first, and removes the temp dir.
	async stop() {
		for (const name of ['edge', 'central', 'broker']) {
			const p = this.procs.get(name);
			if (!p || p.exitCode !== null || p.signalCode !== null)
				continue;
			const gone = new Promise((r) => p.once('exit', r));
			p.kill('SIGTERM');
			const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
			await gone;
			clearTimeout(timer);
		}
		rmSync(this.dir, { recursive: true, force: true });
	}
}
